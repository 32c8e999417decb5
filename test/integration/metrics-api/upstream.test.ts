/**
 * Forwarding to an upstream external metrics server: a second instance of the server plays KEDA or
 * prometheus-adapter. Owned metrics stay local, others are forwarded after our own authorization and
 * answered unchanged (errors included), discovery merges both lists, and a dead upstream neither
 * breaks discovery nor hangs reads.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';

import { FakeMetricsProvider } from '../../fakes/metrics-provider.js';
import {
  METRICS_PATH,
  authenticationConfigMap,
  createTestPki,
  proxyHeaders,
  request,
  scrape,
  startTestServer,
  status,
} from './harness.js';
import type { TestPki, TestServer } from './harness.js';

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('upstream external metrics server', () => {
  let pki: TestPki;
  let upstream: TestServer;
  let ours: TestServer;
  const upstreamProvider = new FakeMetricsProvider(['kafka_consumer_lag', 'flink_busy_ratio']);
  const ourProvider = new FakeMetricsProvider(['flink_busy_ratio']);
  const hpa = () => ({
    client: pki.frontProxy,
    headers: proxyHeaders('system:serviceaccount:kube-system:horizontal-pod-autoscaler'),
  });

  before(async () => {
    pki = await createTestPki();
    upstreamProvider.addTarget({
      namespace: 'apps',
      name: 'consumer',
      labels: { topic: 'orders' },
      readings: { kafka_consumer_lag: { valueMilli: 42_000 }, flink_busy_ratio: { valueMilli: 1 } },
    });
    ourProvider.addTarget({
      namespace: 'apps',
      name: 'job',
      readings: { flink_busy_ratio: { valueMilli: 500 } },
    });
    upstream = await startTestServer(pki, { provider: upstreamProvider });
    // The upstream knows Slotscaler by its token.
    upstream.tokenReviewer.tokens.set('slotscaler-token', {
      name: 'system:serviceaccount:slotscaler:slotscaler',
      groups: [],
      extra: {},
    });
    upstream.authorizer.rule = (user) => user.name === 'system:serviceaccount:slotscaler:slotscaler';
    const tokenFile = join(upstream.directory, 'token');
    await writeFile(tokenFile, 'slotscaler-token\n');
    await writeFile(join(upstream.directory, 'ca.crt'), pki.servingCa.certPem);
    ours = await startTestServer(pki, {
      provider: ourProvider,
      upstream: {
        url: `https://127.0.0.1:${upstream.port}`,
        caFile: join(upstream.directory, 'ca.crt'),
        tokenFile,
        timeoutMs: 2_000,
      },
    });
  });
  after(async () => {
    await ours.close();
    await upstream.close();
  });
  beforeEach(() => {
    ours.authorizer.rule = () => true;
    upstreamProvider.calls.length = 0;
    ourProvider.calls.length = 0;
  });

  it('answers owned metrics itself', async () => {
    const response = await request(pki, ours.port, `${METRICS_PATH}/namespaces/apps/flink_busy_ratio`, hpa());
    assert.equal(response.status, 200);
    assert.equal((response.json() as { items: { value: string }[] }).items[0]?.value, '500m');
    assert.equal(upstreamProvider.calls.length, 0);
  });

  it('forwards other metrics and returns the upstream’s answer unchanged', async () => {
    const path = `${METRICS_PATH}/namespaces/apps/kafka_consumer_lag?labelSelector=${encodeURIComponent('topic in (orders)')}`;
    const response = await request(pki, ours.port, path, hpa());
    const direct = await request(pki, upstream.port, path, {
      client: pki.frontProxy,
      headers: proxyHeaders('x', ['system:masters']),
    });
    assert.equal(response.status, 200);
    assert.equal(response.body, direct.body);
    assert.equal((response.json() as { items: { value: string }[] }).items[0]?.value, '42');
    assert.equal(upstreamProvider.calls[0]?.selector[0]?.key, 'topic');
    // The upstream saw Slotscaler's identity, not the caller's.
    assert.equal(upstream.authorizer.calls.at(-1)?.user.name, 'system:serviceaccount:slotscaler:slotscaler');
    assert.match(
      await scrape(ours.registry),
      /slotscaler_metrics_api_upstream_forwards_total\{code="200"\} 1/,
    );
  });

  it('passes the upstream’s errors through unchanged', async () => {
    const notFound = await request(
      pki,
      ours.port,
      `${METRICS_PATH}/namespaces/other/kafka_consumer_lag`,
      hpa(),
    );
    assert.equal(notFound.status, 404);
    assert.deepEqual(
      notFound.json(),
      status(
        404,
        'NotFound',
        'no scale target in namespace other matches an empty selector for metric kafka_consumer_lag',
        {
          group: 'external.metrics.k8s.io',
          kind: 'kafka_consumer_lag',
        },
      ),
    );
    const unknown = await request(pki, ours.port, `${METRICS_PATH}/namespaces/apps/nobody_has_this`, hpa());
    assert.equal(unknown.status, 404);
    assert.equal(
      (unknown.json() as { message: string }).message,
      'the server could not find the metric nobody_has_this',
    );
    const bad = await request(
      pki,
      ours.port,
      `${METRICS_PATH}/namespaces/apps/kafka_consumer_lag?labelSelector=${encodeURIComponent('topic in (')}`,
      hpa(),
    );
    assert.equal(bad.status, 400);
    assert.equal((bad.json() as { reason: string }).reason, 'BadRequest');
    assert.match(
      await scrape(ours.registry),
      /slotscaler_metrics_api_upstream_forwards_total\{code="404"\} 2/,
    );
  });

  it('authorizes the caller itself before forwarding', async () => {
    ours.authorizer.rule = (user, attributes) => attributes.kind === 'nonResource' || user.name !== 'mallory';
    const response = await request(pki, ours.port, `${METRICS_PATH}/namespaces/apps/kafka_consumer_lag`, {
      client: pki.frontProxy,
      headers: proxyHeaders('mallory'),
    });
    assert.equal(response.status, 403);
    assert.equal(upstreamProvider.calls.length, 0);
  });

  it('merges both resource lists in discovery', async () => {
    const response = await request(pki, ours.port, METRICS_PATH, hpa());
    assert.equal(response.status, 200);
    const names = (response.json() as { resources: { name: string }[] }).resources.map(
      (resource) => resource.name,
    );
    assert.deepEqual(names, ['flink_busy_ratio', 'kafka_consumer_lag']);
  });

  it('forwards with a client certificate instead of a token', async () => {
    const certFile = join(upstream.directory, 'client.crt');
    const keyFile = join(upstream.directory, 'client.key');
    await writeFile(certFile, pki.alice.certPem);
    await writeFile(keyFile, pki.alice.keyPem);
    const previousRule = upstream.authorizer.rule;
    upstream.authorizer.rule = (user) => user.name === 'alice';
    const viaCert = await startTestServer(pki, {
      provider: ourProvider,
      upstream: {
        url: `https://127.0.0.1:${upstream.port}`,
        caFile: join(upstream.directory, 'ca.crt'),
        clientCertFile: certFile,
        clientKeyFile: keyFile,
      },
    });
    try {
      viaCert.authorizer.rule = () => true;
      const response = await request(
        pki,
        viaCert.port,
        `${METRICS_PATH}/namespaces/apps/kafka_consumer_lag`,
        hpa(),
      );
      assert.equal(response.status, 200);
      assert.equal(upstream.authorizer.calls.at(-1)?.user.name, 'alice');
    } finally {
      upstream.authorizer.rule = previousRule;
      await viaCert.close();
    }
  });

  it('with the upstream down: reads of its metrics get 503, discovery still lists ours', async () => {
    const down = await startTestServer(pki, {
      provider: ourProvider,
      configMap: authenticationConfigMap(pki),
      upstream: {
        url: `https://127.0.0.1:${await unusedPort()}`,
        timeoutMs: 1_000,
        discoveryTimeoutMs: 1_000,
      },
    });
    try {
      down.authorizer.rule = () => true;
      const read = await request(pki, down.port, `${METRICS_PATH}/namespaces/apps/kafka_consumer_lag`, hpa());
      assert.equal(read.status, 503);
      assert.deepEqual(
        read.json(),
        status(
          503,
          'ServiceUnavailable',
          'the upstream external metrics server is unavailable; see the Slotscaler log',
        ),
      );
      const discovery = await request(pki, down.port, METRICS_PATH, hpa());
      assert.equal(discovery.status, 200);
      const names = (discovery.json() as { resources: { name: string }[] }).resources.map(
        (resource) => resource.name,
      );
      assert.deepEqual(names, ['flink_busy_ratio']);
      const owned = await request(pki, down.port, `${METRICS_PATH}/namespaces/apps/flink_busy_ratio`, hpa());
      assert.equal(owned.status, 200);
      assert.match(
        await scrape(down.registry),
        /slotscaler_metrics_api_upstream_forwards_total\{code="error"\} 1/,
      );
    } finally {
      await down.close();
    }
  });
});
