import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { MetricsSnapshot } from '../../../src/domain/metrics-snapshot.js';
import type { ServedTarget } from '../../../src/domain/metrics.js';

function target(
  namespace: string,
  name: string,
  kind: string,
  metrics: ServedTarget['metrics'],
): ServedTarget {
  return {
    id: `${kind}/${namespace}/${name}`,
    kind,
    namespace,
    name,
    jobId: null,
    windowSeconds: 60,
    timestampMs: null,
    freshUntilMs: null,
    metrics,
    object: {
      apiVersion: 'flink.apache.org/v1beta1',
      kind: 'FlinkDeployment',
      resource: 'flinkdeployments.flink.apache.org',
    },
    labels: {},
  };
}

const targets = [
  target('flink', 'orders', 'flinkdeployment', { flink_busy_ratio: { value: 0.5 }, pressure: { value: 1 } }),
  target('flink', 'orders', 'deployment', { flink_busy_ratio: { value: 0.2 } }),
  target('flink', 'payments', 'flinkdeployment', { zeta: { unavailable: 'no-data' } }),
  target('other', 'orders', 'flinkdeployment', {}),
];

describe('MetricsSnapshot', () => {
  const snapshot = new MetricsSnapshot(targets, { tick: 3, builtAtMs: 1000 });

  it('finds the targets of a namespace, and of a name in it (several kinds may share one)', () => {
    assert.deepEqual(
      snapshot.inNamespace('flink').map((one) => one.id),
      ['flinkdeployment/flink/orders', 'deployment/flink/orders', 'flinkdeployment/flink/payments'],
    );
    assert.deepEqual(
      snapshot.named('flink', 'orders').map((one) => one.id),
      ['flinkdeployment/flink/orders', 'deployment/flink/orders'],
    );
    assert.deepEqual(snapshot.named('other', 'payments'), []);
    assert.deepEqual(snapshot.inNamespace('nowhere'), []);
  });

  it('lists every metric name some target has a reading of, sorted, also an unavailable one', () => {
    assert.deepEqual(snapshot.metricNames, ['flink_busy_ratio', 'pressure', 'zeta']);
    assert.deepEqual(MetricsSnapshot.EMPTY.metricNames, []);
    assert.equal(MetricsSnapshot.EMPTY.tick, 0);
  });

  it('cannot be changed after it is built, nor through what it was built from', () => {
    const source = [target('flink', 'x', 'flinkdeployment', { flink_busy_ratio: { value: 1 } })];
    const built = new MetricsSnapshot(source, { tick: 1, builtAtMs: 0 });
    source.push(target('flink', 'y', 'flinkdeployment', {}));
    assert.equal(built.targets.length, 1);
    const record = built.targets[0];
    assert.ok(Object.isFrozen(built.targets) && Object.isFrozen(record) && Object.isFrozen(record?.metrics));
  });
});
