import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { routeOf } from '../../../src/metrics-api/paths.js';

const V = '/apis/external.metrics.k8s.io/v1beta1';
const C = '/apis/custom.metrics.k8s.io/v1beta2';

describe('routeOf', () => {
  const cases: [string, ReturnType<typeof routeOf>][] = [
    ['/apis', { kind: 'apis' }],
    ['/apis/', { kind: 'apis' }],
    ['/apis/external.metrics.k8s.io', { kind: 'group' }],
    [V, { kind: 'version' }],
    [`${V}/`, { kind: 'version' }],
    [
      `${V}/namespaces/default/flink_busy_ratio`,
      { kind: 'metric', namespace: 'default', metricName: 'flink_busy_ratio' },
    ],
    [
      `${V}/namespaces/default/my%2Dmetric`,
      { kind: 'metric', namespace: 'default', metricName: 'my-metric' },
    ],
    [`${V}/namespaces/default/a%2Fb`, { kind: 'unknown' }],
    [`${V}/namespaces/default/a/b`, { kind: 'unknown' }],
    [`${V}/namespaces/default`, { kind: 'unknown' }],
    [`${V}/namespaces//m`, { kind: 'unknown' }],
    [`${V}/namespaces/default/%E0%A4%A`, { kind: 'unknown' }],
    [`${V}/flink_busy_ratio`, { kind: 'unknown' }],
    ['/healthz', { kind: 'health', check: 'healthz' }],
    ['/livez', { kind: 'health', check: 'livez' }],
    ['/readyz', { kind: 'health', check: 'readyz' }],
    ['/openapi/v2', { kind: 'openapi' }],
    ['/openapi/v3', { kind: 'openapi' }],
    ['/openapi/v3/apis/external.metrics.k8s.io/v1beta1', { kind: 'openapi' }],
    ['/', { kind: 'unknown' }],
    ['/api/v1', { kind: 'unknown' }],
    ['/apis/custom.metrics.k8s.io', { kind: 'customGroup' }],
    [C, { kind: 'customVersion' }],
    [`${C}/`, { kind: 'customVersion' }],
    [
      `${C}/namespaces/flink/flinkdeployments.flink.apache.org/clicks/flink_busy_ratio`,
      {
        kind: 'customMetric',
        scope: 'namespaced',
        namespace: 'flink',
        resource: 'flinkdeployments.flink.apache.org',
        name: 'clicks',
        metricName: 'flink_busy_ratio',
      },
    ],
    [
      `${C}/namespaces/flink/pods/%2A/flink_taskmanager_busy_ratio`,
      {
        kind: 'customMetric',
        scope: 'namespaced',
        namespace: 'flink',
        resource: 'pods',
        name: '*',
        metricName: 'flink_taskmanager_busy_ratio',
      },
    ],
    [
      `${C}/namespaces/flink/metrics/queue_depth`,
      {
        kind: 'customMetric',
        scope: 'namespace',
        namespace: 'flink',
        resource: 'namespaces',
        name: 'flink',
        metricName: 'queue_depth',
      },
    ],
    [
      `${C}/nodes/node-1/load`,
      {
        kind: 'customMetric',
        scope: 'cluster',
        namespace: '',
        resource: 'nodes',
        name: 'node-1',
        metricName: 'load',
      },
    ],
    [`${C}/namespaces/flink/pods/a/b/c`, { kind: 'unknown' }],
    [`${C}/namespaces/flink/pods/a%2Fb/m`, { kind: 'unknown' }],
    [`${C}/namespaces/flink/pods//m`, { kind: 'unknown' }],
    [`${C}/namespaces/flink/other/m`, { kind: 'unknown' }],
    [`${C}/namespaces/flink`, { kind: 'unknown' }],
    [`${C}/nodes/node-1`, { kind: 'unknown' }],
    ['/apis/custom.metrics.k8s.io/v1beta1', { kind: 'unknown' }],
  ];
  for (const [path, expected] of cases) {
    it(`${path} -> ${expected.kind}`, () => assert.deepEqual(routeOf(path), expected));
  }
});
