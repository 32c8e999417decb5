/**
 * Our Prometheus metrics on their own plain-HTTP port.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Registry } from 'prom-client';

import { createMetricsApiMetrics } from '../../../src/metrics-api/metrics.js';
import { startMetricsHttpServer } from '../../../src/observability/metrics-server.js';

describe('Prometheus metrics port', () => {
  it('serves the registry at /metrics over plain HTTP, and 404 elsewhere', async () => {
    const registry = new Registry();
    const metrics = createMetricsApiMetrics(registry);
    metrics.observeRequest('flink_busy_ratio', 200, 0.002);
    metrics.observeAuthFailure('no_credentials');
    metrics.observeUpstreamForward('error');
    const server = await startMetricsHttpServer({ registry, port: 0, host: '127.0.0.1' });
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
      const text = await response.text();
      for (const line of [
        'slotscaler_metrics_api_requests_total{metric="flink_busy_ratio",code="200"} 1',
        'slotscaler_metrics_api_request_duration_seconds_bucket{le="0.0025"} 1',
        'slotscaler_metrics_api_auth_failures_total{reason="no_credentials"} 1',
        'slotscaler_metrics_api_upstream_forwards_total{code="error"} 1',
      ]) {
        assert.ok(text.includes(line), line);
      }
      assert.equal((await fetch(`http://127.0.0.1:${server.port}/other`)).status, 404);
    } finally {
      await server.close();
    }
  });
});
