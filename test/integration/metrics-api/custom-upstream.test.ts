/**
 * Forwarding of the custom metrics API to an upstream (prometheus-adapter's role), played by a
 * small real HTTP server: its pairs join our discovery, reads of pairs we do not serve go there with
 * their query and come back unchanged, errors included, and ours never leave the process.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';

import { MetricsSnapshot } from '../../../src/domain/metrics-snapshot.js';
import { TargetsCustomMetricsProvider } from '../../../src/metrics-api/custom-provider.js';
import { createTestPki, proxyHeaders, request, startTestServer } from './harness.js';
import type { TestPki, TestServer } from './harness.js';

const CUSTOM = '/apis/custom.metrics.k8s.io/v1beta2';
const NOW = Date.UTC(2026, 0, 1, 0, 10, 30);

/** What the upstream answers to a read of pods/*\/http_requests_per_second, byte for byte. */
const PODS_ANSWER = JSON.stringify({
  kind: 'MetricValueList',
  apiVersion: 'custom.metrics.k8s.io/v1beta2',
  metadata: {},
  items: [
    {
      describedObject: { kind: 'Pod', namespace: 'apps', name: 'web-1', apiVersion: '/v1' },
      metric: { name: 'http_requests_per_second', selector: null },
      timestamp: '2026-01-01T00:10:00Z',
      windowSeconds: 60,
      value: '12500m',
    },
  ],
});

interface Seen {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** A prometheus-adapter stand-in: its discovery, one series, and a 404 Status for everything else. */
function startAdapter(seen: Seen[]): Promise<Server> {
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const path = (req.url ?? '').split('?')[0];
    res.setHeader('Content-Type', 'application/json');
    if (path === CUSTOM) {
      res.end(
        JSON.stringify({
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: 'custom.metrics.k8s.io/v1beta2',
          resources: [
            {
              name: 'pods/http_requests_per_second',
              namespaced: true,
              kind: 'MetricValueList',
              verbs: ['get'],
            },
            {
              name: 'flinkdeployments.flink.apache.org/kafka_consumergroup_lag',
              namespaced: true,
              kind: 'MetricValueList',
              verbs: ['get'],
            },
            { name: 'not a pair', namespaced: true, kind: 'MetricValueList', verbs: ['get'] },
          ],
        }),
      );
      return;
    }
    if (path === `${CUSTOM}/namespaces/apps/pods/*/http_requests_per_second`) {
      res.end(PODS_ANSWER);
      return;
    }
    res.statusCode = 404;
    res.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `the adapter has no ${path}`,
        reason: 'NotFound',
        code: 404,
      }),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('custom metrics API with an upstream', () => {
  let pki: TestPki;
  let adapter: Server;
  let ours: TestServer;
  let directory: string;
  const seen: Seen[] = [];
  const hpa = () => ({
    client: pki.frontProxy,
    headers: proxyHeaders('system:serviceaccount:kube-system:horizontal-pod-autoscaler'),
  });

  before(async () => {
    pki = await createTestPki();
    adapter = await startAdapter(seen);
    directory = await mkdtemp(join(tmpdir(), 'slotscaler-custom-upstream-'));
    const tokenFile = join(directory, 'token');
    await writeFile(tokenFile, 'slotscaler-token\n');
    const snapshot = new MetricsSnapshot(
      [
        {
          id: 'flinkdeployment/apps/job',
          kind: 'flinkdeployment',
          namespace: 'apps',
          name: 'job',
          jobId: 'j1',
          windowSeconds: 60,
          timestampMs: NOW - 1000,
          freshUntilMs: NOW + 60_000,
          metrics: { flink_busy_ratio: { value: 0.5 } },
          object: {
            apiVersion: 'flink.apache.org/v1beta1',
            kind: 'FlinkDeployment',
            resource: 'flinkdeployments.flink.apache.org',
          },
          labels: {},
        },
      ],
      { tick: 1, builtAtMs: NOW },
    );
    ours = await startTestServer(pki, {
      upstream: {
        url: `http://127.0.0.1:${(adapter.address() as AddressInfo).port}`,
        tokenFile,
        timeoutMs: 2_000,
      },
      extra: { customProvider: new TargetsCustomMetricsProvider({ snapshot: () => snapshot }, () => NOW) },
    });
  });
  after(async () => {
    await ours.close();
    await new Promise((resolve) => adapter.close(resolve));
    await rm(directory, { recursive: true, force: true });
  });
  beforeEach(() => {
    ours.authorizer.rule = () => true;
    seen.length = 0;
  });

  it('lists the upstream’s pairs next to ours, and skips what is not a pair', async () => {
    const response = await request(pki, ours.port, CUSTOM, hpa());
    assert.equal(response.status, 200);
    const names = (response.json() as { resources: { name: string }[] }).resources.map((r) => r.name);
    assert.ok(names.includes('flinkdeployments.flink.apache.org/flink_busy_ratio'));
    assert.ok(names.includes('pods/http_requests_per_second'));
    assert.ok(names.includes('flinkdeployments.flink.apache.org/kafka_consumergroup_lag'));
    assert.ok(!names.includes('not a pair'));
  });

  it('forwards a read of a pair it does not serve with its query, as itself, and returns the answer unchanged', async () => {
    const path = `${CUSTOM}/namespaces/apps/pods/*/http_requests_per_second?labelSelector=${encodeURIComponent('app=web')}`;
    const response = await request(pki, ours.port, path, hpa());
    assert.equal(response.status, 200);
    assert.equal(response.body, PODS_ANSWER);
    const forwarded = seen.find((entry) => entry.url.includes('http_requests_per_second'));
    assert.equal(forwarded?.url, path);
    assert.equal(forwarded.headers.authorization, 'Bearer slotscaler-token');
    assert.equal(forwarded.headers['x-remote-user'], undefined);
  });

  it('forwards an unknown metric of a kind it serves, and passes the upstream’s 404 through', async () => {
    const path = `${CUSTOM}/namespaces/apps/flinkdeployments.flink.apache.org/job/kafka_consumergroup_lag`;
    const response = await request(pki, ours.port, path, hpa());
    assert.equal(response.status, 404);
    assert.equal((response.json() as { message: string }).message, `the adapter has no ${path}`);
    assert.deepEqual(
      seen.map((entry) => entry.url),
      [path],
    );
  });

  it('forwards the namespace and cluster-scoped forms', async () => {
    for (const path of [`${CUSTOM}/namespaces/apps/metrics/queue_depth`, `${CUSTOM}/nodes/node-1/load`]) {
      const response = await request(pki, ours.port, path, hpa());
      assert.equal(response.status, 404);
      assert.equal((response.json() as { message: string }).message, `the adapter has no ${path}`);
    }
  });

  it('answers its own pairs itself', async () => {
    const response = await request(
      pki,
      ours.port,
      `${CUSTOM}/namespaces/apps/flinkdeployments.flink.apache.org/job/flink_busy_ratio`,
      hpa(),
    );
    assert.equal(response.status, 200);
    assert.equal((response.json() as { items: { value: string }[] }).items[0]?.value, '500m');
    assert.deepEqual(seen, []);
  });

  it('authorizes the caller itself before forwarding', async () => {
    ours.authorizer.rule = (_user, attributes) => attributes.kind === 'nonResource';
    // Another user: the HPA controller's decisions of the reads above are cached.
    const response = await request(
      pki,
      ours.port,
      `${CUSTOM}/namespaces/apps/pods/*/http_requests_per_second`,
      {
        client: pki.frontProxy,
        headers: proxyHeaders('mallory'),
      },
    );
    assert.equal(response.status, 403);
    assert.deepEqual(seen, []);
  });
});
