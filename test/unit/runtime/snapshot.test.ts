import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { FlinkMetricName, MetricReading } from '../../../src/domain/metrics.js';
import { parseLabelSelector } from '../../../src/metrics-api/label-selector.js';
import { TargetsMetricsProvider } from '../../../src/metrics-api/targets-provider.js';
import type { WindowReadings } from '../../../src/metrics/metric-window.js';
import type { EvaluableMetric } from '../../../src/metrics/expression-metric.js';
import type { Recommendation } from '../../../src/scaler/plan-target.js';
import { SnapshotStore, servedTargetOf, snapshotTargetOf } from '../../../src/runtime/snapshot.js';
import type { SnapshotTarget } from '../../../src/runtime/snapshot.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { flinkDeployment, register } from '../../fakes/flink-deployment-target.js';

const T0 = Date.UTC(2026, 0, 1);

const NAMES: readonly FlinkMetricName[] = [
  'flink_busy_ratio',
  'flink_backpressure_ratio',
  'flink_source_pending_records',
  'flink_source_lag_seconds',
  'flink_records_in_per_second',
  'flink_demand_ratio',
];

function readingsOf(busy: number, lastSampleAtMs: number): WindowReadings {
  const metrics = Object.fromEntries(
    NAMES.map((name): [FlinkMetricName, MetricReading] => [
      name,
      name === 'flink_busy_ratio' ? { value: busy } : { unavailable: 'no-source' },
    ]),
  ) as Record<FlinkMetricName, MetricReading>;
  return {
    jobId: 'a'.repeat(32),
    jobName: 'job',
    state: 'RUNNING',
    maxParallelism: 128,
    taskSlots: 2,
    sampleCount: 4,
    spanSeconds: 45,
    lastSampleAtMs,
    metrics,
    vertices: [],
    job: null,
  };
}

/** `busy_ratio * 2`, counting its evaluations. */
function countingExpression(): EvaluableMetric & { calls: number } {
  const expression = {
    name: 'pressure',
    source: 'busy_ratio * 2',
    calls: 0,
    evaluate(metrics: WindowReadings['metrics']): MetricReading {
      expression.calls += 1;
      const busy = metrics.flink_busy_ratio;
      return 'value' in busy ? { value: busy.value * 2 } : { unavailable: 'input-unavailable' };
    },
  };
  return expression;
}

function target(name: string, expressions: readonly EvaluableMetric[], namespace = 'flink'): SnapshotTarget {
  return {
    id: `flinkdeployment/${namespace}/${name}`,
    kind: 'FlinkDeployment',
    namespace,
    name,
    windowSeconds: 60,
    maxSampleAgeSeconds: 60,
    expressions,
    object: {
      apiVersion: 'flink.apache.org/v1beta1',
      kind: 'FlinkDeployment',
      resource: 'flinkdeployments.flink.apache.org',
    },
    labels: {},
  };
}

/** A store over fixed targets and readings, counting the window reads. */
function fixture() {
  const clock = new FakeClock(T0);
  const expression = countingExpression();
  const targets = [target('orders', [expression]), target('payments', []), target('orders', [], 'other')];
  const busy = new Map([
    ['flinkdeployment/flink/orders', 0.8],
    ['flinkdeployment/flink/payments', 0.3],
    ['flinkdeployment/other/orders', 0.5],
  ]);
  const windowReads: string[] = [];
  const recommended = new Map<string, number>();
  const store = new SnapshotStore({
    targets: () => targets,
    readings: (id, nowMs) => {
      windowReads.push(id);
      const value = busy.get(id);
      return value === undefined ? undefined : readingsOf(value, nowMs - 5_000);
    },
    recommendations: {
      recommendation: (id): Recommendation | undefined => {
        const replicas = recommended.get(id);
        return replicas === undefined
          ? undefined
          : { replicas, parallelism: replicas * 2, reason: 'test', atMs: clock.nowMs(), jobId: null };
      },
    },
    clock,
  });
  const provider = new TargetsMetricsProvider(store, () => clock.nowMs());
  return { clock, expression, busy, windowReads, recommended, store, provider };
}

const valueOf = async (
  provider: TargetsMetricsProvider,
  namespace: string,
  metric: string,
  selector: string,
): Promise<number | undefined> =>
  (await provider.getMetric(namespace, metric, parseLabelSelector(selector)))[0]?.valueMilli;

describe('SnapshotStore', () => {
  it('reads each window and evaluates each expression once per tick, however many reads follow', async () => {
    const { expression, windowReads, store, provider } = fixture();
    store.collected();
    store.publish();
    assert.equal(windowReads.length, 3);
    assert.equal(expression.calls, 1);
    for (let read = 0; read < 20; read += 1) {
      assert.equal(await valueOf(provider, 'flink', 'pressure', 'target=orders'), 1600);
      assert.equal(await valueOf(provider, 'flink', 'flink_busy_ratio', `target=payments`), 300);
      assert.ok(provider.listMetrics().some((metric) => metric.name === 'pressure'));
    }
    assert.equal(windowReads.length, 3, 'no window read on a request');
    assert.equal(expression.calls, 1, 'no expression evaluated on a request');
    store.collected();
    store.publish();
    assert.equal(windowReads.length, 6);
    assert.equal(expression.calls, 2);
  });

  it('serves nothing before the first tick, and the previous tick until the pass publishes', async () => {
    const { busy, recommended, store, provider } = fixture();
    assert.deepEqual(store.snapshot().targets, []);
    await assert.rejects(provider.getMetric('flink', 'flink_busy_ratio', []), {
      code: 'METRIC_TARGET_NOT_FOUND',
    });
    store.publish();
    assert.equal(store.snapshot().tick, 0, 'nothing collected: nothing to publish');

    store.collected();
    store.publish();
    const first = store.snapshot();
    assert.equal(first.tick, 1);
    busy.set('flinkdeployment/flink/orders', 0.9);
    recommended.set('flinkdeployment/flink/orders', 4);
    store.collected();
    // The loop plans on the new tick's readings while the API still serves the published tick.
    assert.deepEqual(store.readings('flinkdeployment/flink/orders')?.metrics.flink_busy_ratio, {
      value: 0.9,
    });
    assert.equal(store.snapshot(), first);
    assert.equal(await valueOf(provider, 'flink', 'flink_busy_ratio', 'target=orders'), 800);
    await assert.rejects(
      provider.getMetric('flink', 'flink_recommended_taskmanagers', parseLabelSelector('target=orders')),
      { code: 'METRIC_UNAVAILABLE', message: /no-data/ },
    );
    store.publish();
    assert.equal(store.snapshot().tick, 2);
    assert.equal(await valueOf(provider, 'flink', 'flink_busy_ratio', 'target=orders'), 900);
    assert.equal(await valueOf(provider, 'flink', 'flink_recommended_taskmanagers', 'target=orders'), 4000);
  });

  it('stays in the namespace and matches the selector', async () => {
    const { store, provider } = fixture();
    store.collected();
    store.publish();
    assert.equal(await valueOf(provider, 'other', 'flink_busy_ratio', 'target=orders'), 500);
    const all = await provider.getMetric(
      'flink',
      'flink_busy_ratio',
      parseLabelSelector('kind=flinkdeployment'),
    );
    assert.deepEqual(all.map((item) => item.metricLabels['target']).sort(), ['orders', 'payments']);
    const some = await provider.getMetric(
      'flink',
      'flink_busy_ratio',
      parseLabelSelector('target in (orders)'),
    );
    assert.deepEqual(
      some.map((item) => item.metricLabels['target']),
      ['orders'],
    );
    await assert.rejects(
      provider.getMetric('flink', 'flink_busy_ratio', parseLabelSelector('target=orders,kind=deployment')),
      { code: 'METRIC_TARGET_NOT_FOUND' },
    );
    await assert.rejects(provider.getMetric('nowhere', 'flink_busy_ratio', []), {
      code: 'METRIC_TARGET_NOT_FOUND',
    });
  });

  it('gives the readings of the tick being planned to the scaling loop, undefined for a target it does not know', () => {
    const { store } = fixture();
    assert.equal(store.readings('flinkdeployment/flink/orders'), undefined);
    store.collected();
    assert.equal(store.readings('flinkdeployment/flink/orders')?.taskSlots, 2);
    assert.equal(store.readings('flinkdeployment/flink/nope'), undefined);
    assert.deepEqual(store.values('flinkdeployment/flink/orders')?.['pressure'], { value: 1.6 });
    assert.equal(store.values('flinkdeployment/flink/nope'), undefined);
  });
});

describe('servedTargetOf', () => {
  it('holds the catalogue and expression metrics, the identity, the window and until when it is fresh', () => {
    const record = servedTargetOf(target('orders', [countingExpression()]), readingsOf(0.25, T0));
    assert.equal(record.kind, 'flinkdeployment');
    assert.equal(record.jobId, 'a'.repeat(32));
    assert.equal(record.timestampMs, T0);
    assert.equal(record.freshUntilMs, T0 + 60_000);
    assert.deepEqual(record.metrics['flink_busy_ratio'], { value: 0.25 });
    assert.deepEqual(record.metrics['pressure'], { value: 0.5 });
    assert.equal(record.metrics['flink_recommended_taskmanagers'], undefined, 'added when published');
  });

  it('has no metric and no freshness without readings', () => {
    const expression = countingExpression();
    const record = servedTargetOf(target('new', [expression]), undefined);
    assert.deepEqual(record.metrics, {});
    assert.equal(record.freshUntilMs, null);
    assert.equal(record.jobId, null);
    assert.equal(expression.calls, 0);
  });
});

describe('snapshotTargetOf', () => {
  it("takes a target's window, maximum sample age and expressions from its annotations", () => {
    const registered = register(
      flinkDeployment('orders', {
        annotations: {
          'slotscaler.dev/metrics-window': '90s',
          'slotscaler.dev/metrics-max-age': '45s',
          'slotscaler.dev/metric.pressure': 'busy_ratio * 2',
        },
      }),
    );
    const mapped = snapshotTargetOf(registered);
    assert.equal(mapped?.id, 'flinkdeployment/flink/orders');
    assert.equal(mapped.kind, 'FlinkDeployment');
    assert.equal(mapped.namespace, 'flink');
    assert.equal(mapped.windowSeconds, 90);
    assert.equal(mapped.maxSampleAgeSeconds, 45);
    assert.deepEqual(mapped.object, {
      apiVersion: 'flink.apache.org/v1beta1',
      kind: 'FlinkDeployment',
      resource: 'flinkdeployments.flink.apache.org',
    });
    assert.deepEqual(
      mapped.expressions.map((expression) => expression.name),
      ['pressure'],
    );
  });

  it('serves nothing of a target whose annotations are invalid', () => {
    const registered = register(
      flinkDeployment('bad', { annotations: { 'slotscaler.dev/max-taskmanagers': 'lots' } }),
    );
    assert.equal(snapshotTargetOf(registered), null);
  });
});
