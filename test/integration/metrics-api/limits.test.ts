/**
 * The metrics API's connection limits on the real TLS server (src/metrics-api/connection-guard.ts):
 * a connection whose client certificate verified is never shed; unverified ones share what is left,
 * per remote address and in time. Every client here is 127.0.0.1, as on loopback in the e2e test,
 * so only the certificate tells the aggregator apart.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { TLSSocket, connect as connectTls } from 'node:tls';
import { afterEach, before, describe, it } from 'node:test';

import type { ConnectionLimits } from '../../../src/metrics-api/connection-guard.js';
import { DEFAULT_CONNECTION_LIMITS } from '../../../src/metrics-api/options.js';
import type { CertificateAndKey } from '../../../src/metrics-api/tls/certificates.js';
import { FakeMetricsProvider } from '../../fakes/metrics-provider.js';
import { METRICS_PATH, createTestPki, proxyHeaders, request, scrape, startTestServer } from './harness.js';
import type { TestPki, TestServer } from './harness.js';

const READ = `${METRICS_PATH}/namespaces/flink/flink_busy_ratio?labelSelector=target%3Djob-a`;
const HPA = 'system:serviceaccount:kube-system:horizontal-pod-autoscaler';

function provider(): FakeMetricsProvider {
  const fake = new FakeMetricsProvider(['flink_busy_ratio']);
  fake.addTarget({
    namespace: 'flink',
    name: 'job-a',
    labels: { target: 'job-a' },
    readings: { flink_busy_ratio: { valueMilli: 420 } },
  });
  return fake;
}

/** A TLS connection that is only opened (and optionally sends `text`), with a promise of its close. */
interface OpenConnection {
  readonly socket: TLSSocket;
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

async function openTls(pki: TestPki, port: number, client?: CertificateAndKey): Promise<OpenConnection> {
  const socket = connectTls({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca: pki.servingCa.certPem,
    ...(client === undefined ? {} : { cert: client.certPem, key: client.keyPem }),
  });
  let closed = false;
  const closedPromise = new Promise<void>((resolve) => {
    socket.on('close', () => {
      closed = true;
      resolve();
    });
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('close', () => reject(new Error('closed before the handshake completed')));
  });
  return { socket, closed: closedPromise, isClosed: () => closed };
}

/** A TCP connection that never starts its TLS handshake. */
function openSilentTcp(port: number): { socket: Socket; closed: Promise<void> } {
  const socket = connectTcp(port, '127.0.0.1');
  socket.on('error', () => undefined);
  return { socket, closed: new Promise((resolve) => socket.on('close', () => resolve())) };
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('metrics API connection limits', { timeout: 120_000 }, () => {
  let pki: TestPki;
  let api: TestServer | undefined;
  const open: { socket: Socket }[] = [];

  const start = async (limits: Partial<ConnectionLimits>): Promise<TestServer> => {
    api = await startTestServer(pki, {
      provider: provider(),
      extra: { limits: { ...DEFAULT_CONNECTION_LIMITS, ...limits } },
    });
    // The HPA controller may read external metrics (its bootstrap ClusterRole).
    api.authorizer.rule = () => true;
    return api;
  };
  const aggregatorRead = (server: TestServer, agent?: https.Agent) =>
    request(pki, server.port, READ, {
      client: pki.frontProxy,
      headers: proxyHeaders(HPA),
      ...(agent === undefined ? {} : { agent }),
    });

  before(async () => {
    pki = await createTestPki();
  });
  afterEach(async () => {
    for (const connection of open.splice(0)) connection.socket.destroy();
    await api?.close();
    api = undefined;
  });

  it('at the connection limit, a new aggregator connection replaces an unverified one, and open aggregator connections stay', async () => {
    const server = await start({ maxConnections: 16, maxUnverifiedConnectionsPerClient: 100 });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await aggregatorRead(server, agent);
      assert.equal(before.status, 200);
      // 15 unverified connections fill the server (16 with the aggregator's), 15 more keep coming.
      const unverified: OpenConnection[] = [];
      for (let i = 0; i < 30; i++) {
        const connection = await openTls(pki, server.port);
        open.push(connection);
        unverified.push(connection);
      }
      await sleep(100);
      assert.equal(unverified.filter((c) => !c.isClosed()).length, 15, 'the newest 15 unverified stay');
      assert.ok(
        unverified.slice(0, 15).every((c) => c.isClosed()),
        'the oldest ones were shed',
      );
      const during = await aggregatorRead(server, agent);
      assert.equal(during.status, 200);
      assert.equal(during.localPort, before.localPort, 'on the same keep-alive connection');
      // A second aggregator connection: it takes an unverified connection's place.
      const fresh = await aggregatorRead(server);
      assert.equal(fresh.status, 200);
      const text = await scrape(server.registry);
      assert.equal(
        sample(text, 'slotscaler_metrics_api_connections_limited_total', 'reason="max_connections"'),
        16,
      );
    } finally {
      agent.destroy();
    }
  });

  it('at the limit with only aggregator connections busy or open, a new unverified connection is refused', async () => {
    const server = await start({ maxConnections: 16 });
    const agents = Array.from({ length: 16 }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
    try {
      const first = await Promise.all(agents.map((agent) => aggregatorRead(server, agent)));
      assert.ok(first.every((response) => response.status === 200));
      const silent = openSilentTcp(server.port);
      open.push(silent);
      await within(silent.closed, 2000, 'the 17th connection to be refused');
      const again = await Promise.all(agents.map((agent) => aggregatorRead(server, agent)));
      assert.deepEqual(
        again.map((response) => response.localPort),
        first.map((response) => response.localPort),
        'every aggregator connection kept',
      );
    } finally {
      for (const agent of agents) agent.destroy();
    }
  });

  it('serves at most the per-client cap of unverified connections: the others get 429 and are kept open; verified ones are not counted', async () => {
    const server = await start({ maxUnverifiedConnectionsPerClient: 2 });
    const [first, second, third] = [1, 2, 3].map(() => new https.Agent({ keepAlive: true, maxSockets: 1 }));
    assert.ok(first !== undefined && second !== undefined && third !== undefined);
    const aggregator = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // A verified connection from the same address first: it does not count.
      assert.equal((await aggregatorRead(server, aggregator)).status, 200);
      const ask = (agent: https.Agent) =>
        request(pki, server.port, READ, { agent, headers: { Authorization: 'Bearer made-up' } });
      const answers = [];
      for (const agent of [first, second, third]) answers.push(await ask(agent));
      assert.deepEqual(
        answers.map((response) => response.status),
        [401, 401, 429],
        'the third unverified connection is over the cap',
      );
      assert.match((answers[2]?.json() as { message: string }).message, /Too many connections/);
      assert.equal(server.tokenReviewer.calls, 1, 'one TokenReview: "made-up" is cached, the 429 needs none');
      // Kept open: the next request comes on the same connection, and gets 429 again.
      const again = await ask(third);
      assert.equal(again.status, 429);
      assert.equal(again.localPort, answers[2]?.localPort);
      // Health checks still answer on it.
      assert.equal((await request(pki, server.port, '/healthz', { agent: third })).status, 200);
      const text = await scrape(server.registry);
      assert.equal(
        sample(text, 'slotscaler_metrics_api_connections_limited_total', 'reason="client_connections"'),
        1,
      );
    } finally {
      for (const agent of [first, second, third, aggregator]) agent.destroy();
    }
  });

  it('answers 429, a second late, beyond the per-client request rate on unverified connections; health checks and the aggregator are not limited', async () => {
    const server = await start({ unverifiedRequestsPerSecondPerClient: 2 });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 10 });
    try {
      // Burst 4: ten requests at once with tokens the fake reviewer does not know: 4 × 401, 6 × 429.
      const started = performance.now();
      const responses = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          request(pki, server.port, READ, { agent, headers: { Authorization: `Bearer made-up-${i}` } }),
        ),
      );
      const codes = responses.map((response) => response.status).sort();
      assert.deepEqual(codes, [401, 401, 401, 401, 429, 429, 429, 429, 429, 429]);
      assert.ok(performance.now() - started >= 900, 'the 429s come a second late');
      for (const response of responses.filter((r) => r.status === 429)) {
        assert.equal(response.headers['retry-after'], '1');
        const status = response.json() as { reason: string; code: number };
        assert.deepEqual(
          { reason: status.reason, code: status.code },
          { reason: 'TooManyRequests', code: 429 },
        );
      }
      assert.equal(server.tokenReviewer.calls, 4, 'no TokenReview for a refused request');
      for (let i = 0; i < 5; i++)
        assert.equal((await request(pki, server.port, '/healthz', { agent })).status, 200);
      for (let i = 0; i < 20; i++) assert.equal((await aggregatorRead(server, agent)).status, 200);
      const text = await scrape(server.registry);
      assert.equal(
        sample(text, 'slotscaler_metrics_api_requests_total', 'metric="_throttled",code="429"'),
        6,
      );
    } finally {
      agent.destroy();
    }
  });

  it('a resumed TLS 1.3 session without a client certificate is unverified (Node reports it authorized)', async () => {
    const server = await start({ unverifiedRequestsPerSecondPerClient: 0.1 });
    // A new connection per request; the agent resumes the TLS session of the last one.
    const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 10 });
    try {
      const answers: { status: number; reused: boolean }[] = [];
      for (let i = 0; i < 4; i++) {
        const response = await new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
          const req = https.request(
            {
              host: '127.0.0.1',
              port: server.port,
              path: READ,
              servername: 'localhost',
              ca: pki.servingCa.certPem,
              agent,
              headers: { Authorization: 'Bearer made-up' },
            },
            (res) => {
              const socket = res.socket;
              assert.ok(socket instanceof TLSSocket);
              const reused = socket.isSessionReused();
              res.resume();
              res.on('end', () => resolve({ status: res.statusCode ?? 0, reused }));
            },
          );
          req.on('error', reject);
          req.end();
        });
        answers.push(response);
        await sleep(50);
      }
      assert.ok(
        answers.slice(1).some((answer) => answer.reused),
        'a session was resumed',
      );
      // Burst 1, then 429: the resumed connections are unverified (a verified one would read: 200).
      assert.deepEqual(
        answers.map((answer) => answer.status),
        [401, 429, 429, 429],
      );
    } finally {
      agent.destroy();
    }
  });

  it('closes an unverified connection that sends no complete request within the headers timeout (idle or a byte at a time); a verified one stays', async () => {
    const server = await start({ headersTimeoutMs: 1500, requestTimeoutMs: 1500 });
    const idle = await openTls(pki, server.port);
    const slow = await openTls(pki, server.port);
    const verified = await openTls(pki, server.port, pki.frontProxy);
    open.push(idle, slow, verified);
    const request = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: ' + 'a'.repeat(200);
    let sent = 0;
    const trickle = setInterval(() => {
      if (!slow.isClosed() && sent < request.length) slow.socket.write(request.charAt(sent++));
    }, 50);
    try {
      const openedAt = Date.now();
      await within(Promise.all([idle.closed, slow.closed]), 6000, 'both unverified connections to close');
      const seconds = (Date.now() - openedAt) / 1000;
      assert.ok(seconds >= 1.4, `closed after ${seconds} s`);
      assert.equal(verified.isClosed(), false);
      const text = await scrape(server.registry);
      assert.ok(sample(text, 'slotscaler_metrics_api_connections_limited_total', 'reason="idle"') >= 1);
    } finally {
      clearInterval(trickle);
    }
  });

  it('closes a connection that does not complete its TLS handshake within the handshake timeout', async () => {
    const server = await start({ handshakeTimeoutMs: 1000 });
    const silent = openSilentTcp(server.port);
    open.push(silent);
    const openedAt = Date.now();
    await within(silent.closed, 5000, 'the silent connection to close');
    assert.ok(Date.now() - openedAt >= 900);
    await sleep(50);
    const text = await scrape(server.registry);
    assert.equal(
      sample(text, 'slotscaler_metrics_api_connections_limited_total', 'reason="handshake_timeout"'),
      1,
    );
  });

  it('answers 431 to request headers larger than the limit', async () => {
    const server = await start({ maxHeaderBytes: 8192 });
    const small = await aggregatorRead(server);
    assert.equal(small.status, 200);
    const large = await request(pki, server.port, READ, {
      client: pki.frontProxy,
      headers: { ...proxyHeaders(HPA), 'X-Remote-Extra-Padding': 'a'.repeat(9000) },
    });
    assert.equal(large.status, 431);
  });

  it('reports the open connections by whether the client certificate verified', async () => {
    const server = await start({});
    open.push(await openTls(pki, server.port, pki.frontProxy), await openTls(pki, server.port, pki.alice));
    open.push(await openTls(pki, server.port));
    await sleep(1300);
    const text = await scrape(server.registry);
    assert.equal(sample(text, 'slotscaler_metrics_api_open_connections', 'client="verified"'), 2);
    assert.equal(sample(text, 'slotscaler_metrics_api_open_connections', 'client="unverified"'), 1);
  });
});
