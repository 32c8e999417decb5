import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { metricValues, valueOf } from '../../../src/metrics/expression-metric.js';
import type { EvaluableMetric } from '../../../src/metrics/expression-metric.js';
import type { WindowReadings } from '../../../src/metrics/metric-window.js';
import { parseTargetAnnotations } from '../../../src/config/annotations.js';
import { observeMetrics, postRescaleHold, targetDecisionInput } from '../../../src/scaler/target-decision.js';

const T0 = Date.UTC(2026, 0, 1);

function config(annotations: Record<string, string> = {}) {
  const result = parseTargetAnnotations(annotations);
  assert.ok(result.ok);
  return result.config;
}

const metrics: WindowReadings['metrics'] = {
  flink_busy_ratio: { value: 0.9 },
  flink_backpressure_ratio: { value: 0.2 },
  flink_source_pending_records: { value: 1200 },
  flink_source_lag_seconds: { unavailable: 'zero-rate' },
  flink_records_in_per_second: { value: 40 },
  flink_demand_ratio: { value: 0.9 },
};

const readings: WindowReadings = {
  jobId: 'j',
  jobName: 'n',
  state: 'RUNNING',
  maxParallelism: 128,
  taskSlots: 2,
  sampleCount: 5,
  spanSeconds: 60,
  lastSampleAtMs: T0,
  metrics,
  vertices: [],
  job: null,
};

describe('target decision mapping', () => {
  it('reads catalogue metrics, expression metrics, and says why a metric is missing', () => {
    const values = (expressions: readonly EvaluableMetric[]) => metricValues(readings.metrics, expressions);
    assert.deepEqual(valueOf('flink_busy_ratio', values([])), { value: 0.9 });
    assert.deepEqual(valueOf('flink_busy_ratio', undefined), { unavailable: 'no-data' });
    assert.deepEqual(valueOf('mine', values([])), { unavailable: 'no-data', detail: 'unknown metric' });
    const doubled = {
      name: 'mine',
      source: '2 * flink_busy_ratio',
      evaluate: (m: WindowReadings['metrics']) => ({
        value: 2 * ('value' in m.flink_busy_ratio ? m.flink_busy_ratio.value : 0),
      }),
    };
    assert.deepEqual(valueOf('mine', values([doubled])), { value: 1.8 });
  });

  it('maps the config, replicas, observations and histories to a DecisionInput', () => {
    const target = config({
      'slotscaler.dev/metrics': 'flink_busy_ratio=0.7,flink_source_lag_seconds=60:AverageValue',
      'slotscaler.dev/max-taskmanagers': '8',
      'slotscaler.dev/scale-down-select-policy': 'Disabled',
    });
    const observations = observeMetrics(
      target.metrics.map((spec) => ({ spec, reading: valueOf(spec.name, readings.metrics) })),
    );
    assert.deepEqual(observations, [
      { name: 'flink_busy_ratio', type: 'Value', usageMilli: 900, targetMilli: 700 },
      { name: 'flink_source_lag_seconds', type: 'AverageValue', usageMilli: null, targetMilli: 60_000 },
    ]);
    const input = targetDecisionInput(
      target,
      { currentReplicas: 3, readyReplicas: 2, statusReplicas: 3 },
      observations,
      { recommendations: null, scaleEvents: [{ replicaChange: 1, timestampMs: T0 - 1000 }] },
      2,
      64,
      T0,
    );
    assert.equal(input.maxReplicas, 8);
    assert.equal(input.readyReplicas, 2);
    assert.equal(input.maxParallelism, 64);
    assert.equal(input.behavior.scaleDown.selectPolicy, 'Disabled');
    assert.equal(input.behavior.scaleUp.selectPolicy, 'Max');
    assert.equal(input.recommendations, null);
    assert.equal(input.scaleEvents.length, 1);
    const capped = targetDecisionInput(
      config({ 'slotscaler.dev/max-parallelism': '12' }),
      { currentReplicas: 1, readyReplicas: 1, statusReplicas: 1 },
      [],
      { recommendations: [], scaleEvents: [] },
      2,
      64,
      T0,
    );
    assert.equal(capped.maxParallelism, 12);
  });

  it('holds after a rescale until fresh RUNNING metrics, and scale-ups through the cooldown', () => {
    const base = {
      lastRescaleAtMs: T0 - 120_000,
      readings,
      currentReplicas: 2,
      desiredReplicas: 3,
      cooldownAfterRescaleSeconds: 60,
      nowMs: T0,
    };
    assert.equal(postRescaleHold({ ...base, lastRescaleAtMs: null }), null);
    assert.equal(postRescaleHold(base), null);
    assert.match(postRescaleHold({ ...base, readings: undefined }) ?? '', /not RUNNING with fresh metrics/);
    assert.match(
      postRescaleHold({ ...base, readings: { ...readings, state: 'RESTARTING' } }) ?? '',
      /not RUNNING/,
    );
    assert.match(
      postRescaleHold({ ...base, readings: { ...readings, lastSampleAtMs: null } }) ?? '',
      /not RUNNING/,
    );
    // The window still spans the rescale.
    assert.match(postRescaleHold({ ...base, lastRescaleAtMs: T0 - 30_000 }) ?? '', /not RUNNING/);
    const fresh = { ...readings, spanSeconds: 20 };
    assert.equal(
      postRescaleHold({ ...base, readings: fresh, lastRescaleAtMs: T0 - 30_000 }),
      'cooldown after rescale (60s)',
    );
    // Scale-downs are not held by the cooldown.
    assert.equal(
      postRescaleHold({ ...base, readings: fresh, lastRescaleAtMs: T0 - 30_000, desiredReplicas: 1 }),
      null,
    );
  });
});
