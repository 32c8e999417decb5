import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { routeOf } from '../../../src/metrics-api/paths.js';

const V = '/apis/external.metrics.k8s.io/v1beta1';

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
  ];
  for (const [path, expected] of cases) {
    it(`${path} -> ${expected.kind}`, () => assert.deepEqual(routeOf(path), expected));
  }
});
