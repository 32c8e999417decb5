import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseLabelSelector } from '../../../src/metrics-api/label-selector.js';
import { TargetsMetricsProvider } from '../../../src/metrics-api/targets-provider.js';
import { MetricsSnapshot } from '../../../src/domain/metrics-snapshot.js';
import type { ServedTarget } from '../../../src/domain/metrics.js';
import type { MetricsSnapshotSource } from '../../../src/domain/ports.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function target(name: string, metrics: ServedTarget['metrics'], namespace = 'flink'): ServedTarget {
  return {
    id: `flinkdeployment/${namespace}/${name}`,
    kind: 'FlinkDeployment',
    namespace,
    name,
    jobId: `${name}-job`,
    windowSeconds: 60,
    timestampMs: NOW - 5000,
    freshUntilMs: NOW + 55_000,
    metrics,
    object: {
      apiVersion: 'flink.apache.org/v1beta1',
      kind: 'FlinkDeployment',
      resource: 'flinkdeployments.flink.apache.org',
    },
    labels: {},
  };
}

/** A source that always serves one snapshot of these targets. */
function published(served: readonly ServedTarget[]): MetricsSnapshotSource {
  const snapshot = new MetricsSnapshot(served, { tick: 1, builtAtMs: NOW });
  return { snapshot: () => snapshot };
}

const targets: ServedTarget[] = [
  target('orders', { flink_busy_ratio: { value: 0.9304 }, pressure: { value: 1.5 } }),
  target('payments', {
    flink_busy_ratio: { value: 0.2 },
    flink_source_lag_seconds: { unavailable: 'unknown-lag', detail: 'x' },
  }),
  target('orders', { flink_busy_ratio: { value: 0.5 } }, 'other'),
];

const provider = new TargetsMetricsProvider(published(targets), () => NOW);

describe('TargetsMetricsProvider', () => {
  it('lists the catalogue, the recommendation and the expression metrics targets define', () => {
    const names = provider.listMetrics().map((metric) => metric.name);
    for (const name of [
      'flink_busy_ratio',
      'flink_backpressure_ratio',
      'flink_source_lag_seconds',
      'flink_recommended_taskmanagers',
      'pressure',
    ]) {
      assert.ok(names.includes(name), name);
    }
  });

  it("answers one target's value in milli-units with its labels, window and time", async () => {
    const items = await provider.getMetric('flink', 'flink_busy_ratio', parseLabelSelector('target=orders'));
    assert.deepEqual(items, [
      {
        metricName: 'flink_busy_ratio',
        metricLabels: { target: 'orders', kind: 'flinkdeployment', job_id: 'orders-job' },
        timestampMs: NOW - 5000,
        windowSeconds: 60,
        valueMilli: 930,
      },
    ]);
  });

  it('matches the full selector grammar and stays in the namespace', async () => {
    const items = await provider.getMetric(
      'flink',
      'flink_busy_ratio',
      parseLabelSelector('kind=flinkdeployment,target notin (x)'),
    );
    assert.deepEqual(items.map((item) => item.metricLabels['target']).sort(), ['orders', 'payments']);
  });

  it('refuses a metric it does not serve', async () => {
    await assert.rejects(provider.getMetric('flink', 'cpu', []), { code: 'METRIC_UNKNOWN' });
  });

  it('says when no target matches', async () => {
    await assert.rejects(provider.getMetric('flink', 'flink_busy_ratio', parseLabelSelector('target=nope')), {
      code: 'METRIC_TARGET_NOT_FOUND',
      message: /matches the selector "target=nope"/,
    });
    await assert.rejects(provider.getMetric('empty', 'flink_busy_ratio', []), {
      code: 'METRIC_TARGET_NOT_FOUND',
    });
  });

  it('fails the whole read when a matching target has no value, with the reason', async () => {
    await assert.rejects(
      provider.getMetric('flink', 'flink_source_lag_seconds', parseLabelSelector('target=payments')),
      {
        code: 'METRIC_UNAVAILABLE',
        message: /payments is unavailable \(unknown-lag\)/,
      },
    );
    // pressure is an expression metric of orders only; a selector that also matches payments fails.
    await assert.rejects(provider.getMetric('flink', 'pressure', []), {
      code: 'METRIC_UNAVAILABLE',
      message: /no-data/,
    });
  });

  // Found by fuzzing the server: NaN was served as `NaNm` (later a 500), an infinity as a number.
  for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    it(`says a reading of ${value} is unavailable, not a value`, async () => {
      const one = new TargetsMetricsProvider(
        published([target('odd', { flink_busy_ratio: { value } })]),
        () => NOW,
      );
      await assert.rejects(one.getMetric('flink', 'flink_busy_ratio', []), {
        code: 'METRIC_UNAVAILABLE',
        message: `metric flink_busy_ratio of target flink/odd is unavailable (not-finite): the value is ${value}`,
      });
    });
  }

  // Found by fuzzing the server: `constructor` (a valid expression metric name) was looked up on
  // targets that do not define it too, and found Object's constructor: "unavailable (undefined)".
  it('reads only metrics a target defines itself, whatever their name', async () => {
    const two = new TargetsMetricsProvider(
      published([
        target('defines', { constructor: { value: 2 } }),
        target('does-not', { flink_busy_ratio: { value: 0.5 } }),
      ]),
      () => NOW,
    );
    assert.equal(
      (await two.getMetric('flink', 'constructor', parseLabelSelector('target=defines')))[0]?.valueMilli,
      2000,
    );
    await assert.rejects(two.getMetric('flink', 'constructor', []), {
      code: 'METRIC_UNAVAILABLE',
      message:
        'metric constructor of target flink/does-not is unavailable (no-data): the target does not define this metric',
    });
  });

  it('answers a repeated read with the same frozen list until another snapshot is published', async () => {
    let snapshot = new MetricsSnapshot(targets, { tick: 1, builtAtMs: NOW });
    const subject = new TargetsMetricsProvider({ snapshot: () => snapshot }, () => NOW);
    const selector = parseLabelSelector('target=orders');
    const first = await subject.getMetric('flink', 'flink_busy_ratio', selector);
    assert.ok(Object.isFrozen(first));
    assert.equal(
      await subject.getMetric('flink', 'flink_busy_ratio', parseLabelSelector('target=orders')),
      first,
    );
    snapshot = new MetricsSnapshot(
      [target('orders', { flink_busy_ratio: { value: 0.1 }, pressure: { value: 1.5 } })],
      { tick: 2, builtAtMs: NOW },
    );
    const second = await subject.getMetric('flink', 'flink_busy_ratio', selector);
    assert.notEqual(second, first);
    assert.equal(second[0]?.valueMilli, 100);
  });

  it('says the Flink and expression metrics of a target past its maximum sample age are stale, not its recommendation', async () => {
    let now = NOW;
    const subject = new TargetsMetricsProvider(
      published([
        target('orders', { flink_busy_ratio: { value: 0.5 }, flink_recommended_taskmanagers: { value: 3 } }),
      ]),
      () => now,
    );
    const selector = parseLabelSelector('target=orders');
    assert.equal((await subject.getMetric('flink', 'flink_busy_ratio', selector))[0]?.valueMilli, 500);
    now = NOW + 55_000;
    assert.equal((await subject.getMetric('flink', 'flink_busy_ratio', selector))[0]?.valueMilli, 500);
    now = NOW + 55_001;
    await assert.rejects(subject.getMetric('flink', 'flink_busy_ratio', selector), {
      code: 'METRIC_UNAVAILABLE',
      message: /orders is unavailable \(stale\): the last sample is 60 s old/,
    });
    assert.equal(
      (await subject.getMetric('flink', 'flink_recommended_taskmanagers', selector))[0]?.valueMilli,
      3000,
    );
  });

  it('stamps a value without a sample with the time of its snapshot', async () => {
    const subject = new TargetsMetricsProvider(
      published([
        {
          ...target('new', { flink_recommended_taskmanagers: { value: 2 } }),
          timestampMs: null,
          freshUntilMs: null,
        },
      ]),
      () => NOW + 7_000,
    );
    const items = await subject.getMetric('flink', 'flink_recommended_taskmanagers', []);
    assert.equal(items[0]?.timestampMs, NOW);
  });
});
