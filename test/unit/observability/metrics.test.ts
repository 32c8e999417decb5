// Slotscaler's process-wide metrics: the standard process metrics unprefixed, build info, Kubernetes
// and JobManager request metrics, and the naming rules every metric keeps.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Registry } from 'prom-client';

import { createMetricsApiMetrics } from '../../../src/metrics-api/metrics.js';
import {
  createCollectorMetrics,
  createKubeRequestMetrics,
  kubeResourceOf,
  registerProcessMetrics,
} from '../../../src/observability/metrics.js';
import { createScalerMetrics } from '../../../src/runtime/scaler-metrics.js';

async function samples(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

/** `name type` of every metric, from the exposition's TYPE lines. */
async function types(registry: Registry): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  for (const line of (await registry.metrics()).split('\n')) {
    const match = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (match !== null) map.set(match[1] ?? '', match[2] ?? '');
  }
  return map;
}

describe('registerProcessMetrics', () => {
  it('registers the standard process and Node.js metrics without a prefix, and build info', async () => {
    const registry = new Registry();
    registerProcessMetrics(registry, { version: '1.2.3', nodeVersion: 'v20.0.0' });
    const registered = await types(registry);
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds',
    ])
      assert.ok(registered.has(name), name);
    assert.ok(![...registered.keys()].some((name) => name.startsWith('slotscaler_process_')));
    const lines = await samples(registry);
    assert.ok(
      lines.includes(
        `slotscaler_build_info{version="1.2.3",node_version="v20.0.0",platform="${process.platform}/${process.arch}"} 1`,
      ),
    );
  });
});

describe('metric names', () => {
  it('every metric of serve is slotscaler_<what>_<unit> or standard; counters and only counters end in _total', async () => {
    const registry = new Registry();
    registerProcessMetrics(registry, { version: '0.0.0', nodeVersion: process.version });
    createScalerMetrics(registry);
    createMetricsApiMetrics(registry);
    const registered = await types(registry);
    assert.ok(registered.size > 40);
    for (const [name, type] of registered) {
      assert.match(name, /^(slotscaler|process|nodejs)_[a-z0-9_]+$/, name);
      assert.equal(name.endsWith('_total'), type === 'counter', `${name} is a ${type}`);
    }
  });
});

describe('kubeResourceOf', () => {
  it('names the resource and subresource of an API path, and whether it names one object', () => {
    const cases: [string, string, boolean][] = [
      ['/apis/flink.apache.org/v1beta1/namespaces/flink/flinkdeployments', 'flinkdeployments', false],
      [
        '/apis/flink.apache.org/v1beta1/flinkdeployments?watch=true&resourceVersion=5',
        'flinkdeployments',
        false,
      ],
      ['/apis/flink.apache.org/v1beta1/namespaces/flink/flinkdeployments/job', 'flinkdeployments', true],
      ['/apis/apps/v1/namespaces/flink/deployments/tm/scale', 'deployments/scale', true],
      ['/apis/coordination.k8s.io/v1/namespaces/default/leases/slotscaler', 'leases', true],
      ['/api/v1/namespaces', 'namespaces', false],
      ['/api/v1/namespaces/flink', 'namespaces', true],
      ['/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication', 'configmaps', true],
      ['/apis/authentication.k8s.io/v1/tokenreviews', 'tokenreviews', false],
      ['/version', 'other', false],
      ['/apis', 'other', false],
    ];
    for (const [path, resource, named] of cases)
      assert.deepEqual(kubeResourceOf(path), { resource, named }, path);
  });
});

describe('createKubeRequestMetrics', () => {
  it('counts requests by verb (a GET of a collection is a LIST), resource and code, and times them', async () => {
    const registry = new Registry();
    const observer = createKubeRequestMetrics(registry);
    observer.observeKubeRequest('GET', '/apis/flink.apache.org/v1beta1/flinkdeployments', 200, 0.02);
    observer.observeKubeRequest(
      'GET',
      '/apis/flink.apache.org/v1beta1/namespaces/a/flinkdeployments/x',
      404,
      0.01,
    );
    observer.observeKubeRequest('PATCH', '/apis/apps/v1/namespaces/a/deployments/x/scale', 'error', 10);
    observer.observeKubeRequest('WATCH', '/apis/coordination.k8s.io/v1/namespaces/a/leases', 200, 0.005);
    const lines = await samples(registry);
    for (const expected of [
      'slotscaler_kube_requests_total{verb="LIST",resource="flinkdeployments",code="200"} 1',
      'slotscaler_kube_requests_total{verb="GET",resource="flinkdeployments",code="404"} 1',
      'slotscaler_kube_requests_total{verb="PATCH",resource="deployments/scale",code="error"} 1',
      'slotscaler_kube_requests_total{verb="WATCH",resource="leases",code="200"} 1',
      'slotscaler_kube_request_duration_seconds_bucket{le="10",verb="PATCH",resource="deployments/scale"} 1',
      'slotscaler_kube_request_duration_seconds_bucket{le="5",verb="PATCH",resource="deployments/scale"} 0',
    ])
      assert.ok(lines.includes(expected), `${expected} in\n${lines.join('\n')}`);
  });
  it('keeps one series per verb, resource and code whatever the namespaces and names', async () => {
    const registry = new Registry();
    const observer = createKubeRequestMetrics(registry);
    for (let i = 0; i < 100; i++) {
      observer.observeKubeRequest('GET', `/apis/apiregistration.k8s.io/v1/apiservices/v${i}.x.io`, 200, 0.01);
      observer.observeKubeRequest(
        'GET',
        `/api/v1/namespaces/ns-${i}/configmaps?fieldSelector=x%3D${i}`,
        200,
        0.01,
      );
    }
    const counts = (await samples(registry)).filter((line) =>
      line.startsWith('slotscaler_kube_requests_total'),
    );
    assert.deepEqual(counts, [
      'slotscaler_kube_requests_total{verb="GET",resource="apiservices",code="200"} 100',
      'slotscaler_kube_requests_total{verb="LIST",resource="configmaps",code="200"} 100',
    ]);
  });
});

describe('createCollectorMetrics', () => {
  it('times JobManager requests by endpoint and status code; counts them by outcome', async () => {
    const registry = new Registry();
    const metrics = createCollectorMetrics(registry);
    metrics.observeFlinkRequest('job_details', 'ok', { code: 200, seconds: 0.03 });
    metrics.observeFlinkRequest('job_details', 'timeout', { code: 'error', seconds: 5 });
    metrics.observeFlinkRequest('jobs_overview', 'ok');
    const lines = await samples(registry);
    for (const expected of [
      'slotscaler_flink_requests_total{endpoint="job_details",outcome="ok"} 1',
      'slotscaler_flink_requests_total{endpoint="job_details",outcome="timeout"} 1',
      'slotscaler_flink_requests_total{endpoint="jobs_overview",outcome="ok"} 1',
      'slotscaler_flink_request_duration_seconds_count{endpoint="job_details",code="200"} 1',
      'slotscaler_flink_request_duration_seconds_count{endpoint="job_details",code="error"} 1',
      'slotscaler_flink_request_duration_seconds_bucket{le="0.05",endpoint="job_details",code="200"} 1',
    ])
      assert.ok(lines.includes(expected), `${expected} in\n${lines.join('\n')}`);
  });
});
