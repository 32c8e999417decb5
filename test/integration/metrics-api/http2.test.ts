/**
 * The metrics API over HTTP/2 (`metrics-api-http2`), as the aggregator reaches it when offered
 * (client-go's transport offers h2 over ALPN): the same answers as over HTTP/1.1, many reads on one
 * connection, the front-proxy client certificate and headers checked per request, and HTTP/1.1
 * clients still served on the same port. Off by default: a client offering h2 gets HTTP/1.1.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';
import type { ClientHttp2Session, OutgoingHttpHeaders } from 'node:http2';
import { after, before, describe, it } from 'node:test';

import type { ConnectionLimits } from '../../../src/metrics-api/connection-guard.js';
import { DEFAULT_CONNECTION_LIMITS } from '../../../src/metrics-api/options.js';
import type { CertificateAndKey } from '../../../src/metrics-api/tls/certificates.js';
import { FakeMetricsProvider } from '../../fakes/metrics-provider.js';
import { METRICS_PATH, createTestPki, proxyHeaders, request, scrape, startTestServer } from './harness.js';
import type { TestPki, TestServer } from './harness.js';

const BUSY = `${METRICS_PATH}/namespaces/flink/flink_busy_ratio`;

interface H2Response {
  readonly status: number;
  readonly body: string;
}

/** One HTTP/2 connection to the server, offering only h2 (as a client that requires it). */
function openSession(pki: TestPki, port: number, client?: CertificateAndKey): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://127.0.0.1:${port}`, {
      servername: 'localhost',
      ca: pki.servingCa.certPem,
      ...(client === undefined ? {} : { cert: client.certPem, key: client.keyPem }),
    });
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

function get(
  session: ClientHttp2Session,
  path: string,
  headers: OutgoingHttpHeaders = {},
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers });
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on('response', (responseHeaders) => {
      status = Number(responseHeaders[':status']);
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }));
    stream.on('error', reject);
    stream.end();
  });
}

function close(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => session.close(() => resolve()));
}

describe('the metrics API over HTTP/2', () => {
  let pki: TestPki;
  let api: TestServer;
  let provider: FakeMetricsProvider;

  before(async () => {
    pki = await createTestPki();
    provider = new FakeMetricsProvider(['flink_busy_ratio']);
    for (const [name, valueMilli] of [
      ['orders', 930],
      ['payments', 2000],
    ] as const) {
      provider.addTarget({
        namespace: 'flink',
        name,
        labels: { target: name },
        readings: { flink_busy_ratio: { valueMilli } },
      });
    }
    api = await startTestServer(pki, { provider, extra: { http2: true } });
  });
  after(() => api.close());

  it('offers HTTP/1.1 alone by default: a client offering h2 and HTTP/1.1 gets HTTP/1.1', async () => {
    const plain = await startTestServer(pki, { provider });
    try {
      const protocol = await new Promise<string | false | null>((resolve, reject) => {
        const socket = tls.connect(
          {
            host: '127.0.0.1',
            port: plain.port,
            servername: 'localhost',
            ca: pki.servingCa.certPem,
            ALPNProtocols: ['h2', 'http/1.1'],
          },
          () => {
            resolve(socket.alpnProtocol);
            socket.destroy();
          },
        );
        socket.once('error', reject);
      });
      assert.equal(protocol, 'http/1.1');
      const answer = await request(pki, plain.port, BUSY, {
        client: pki.frontProxy,
        headers: proxyHeaders('system:kube-controller-manager', ['system:masters']),
      });
      assert.equal(answer.status, 200);
    } finally {
      await plain.close();
    }
  });

  it('answers the aggregator over h2 with the body it gives over HTTP/1.1', async () => {
    const path = `${BUSY}?labelSelector=${encodeURIComponent('target=orders')}`;
    const headers = proxyHeaders('system:kube-controller-manager', ['system:masters']);
    const http1 = await request(pki, api.port, path, { client: pki.frontProxy, headers });
    const session = await openSession(pki, api.port, pki.frontProxy);
    try {
      assert.equal(session.alpnProtocol, 'h2');
      const h2 = await get(session, path, headers);
      assert.equal(http1.status, 200);
      assert.equal(h2.status, 200);
      assert.equal(h2.body, http1.body);
    } finally {
      await close(session);
    }
  });

  it('answers many reads at once on one connection, each authorized as the user its headers name', async () => {
    api.authorizer.rule = (user) => user.name.startsWith('reader-');
    api.authorizer.calls.length = 0;
    const session = await openSession(pki, api.port, pki.frontProxy);
    try {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, index) =>
          get(session, `${BUSY}?labelSelector=${encodeURIComponent('target=payments')}`, {
            ...proxyHeaders(index % 2 === 0 ? `reader-${index}` : `nobody-${index}`, ['team-a', 'team-b'], {
              scope: `s${index}`,
            }),
          }),
        ),
      );
      answers.forEach((answer, index) =>
        assert.equal(answer.status, index % 2 === 0 ? 200 : 403, `read ${index}`),
      );
      const reader = api.authorizer.calls.find((call) => call.user.name === 'reader-4');
      assert.ok(reader !== undefined);
      assert.deepEqual(reader.user.groups, ['team-a', 'team-b', 'system:authenticated']);
      assert.deepEqual(reader.user.extra, { scope: ['s4'] });
    } finally {
      await close(session);
    }
  });

  it('refuses h2 requests without a verified client certificate, and a front proxy with a name not allowed', async () => {
    const headers = proxyHeaders('system:kube-controller-manager', ['system:masters']);
    for (const client of [undefined, pki.stranger, pki.frontProxyWrongName]) {
      const session = await openSession(pki, api.port, client);
      try {
        assert.equal((await get(session, BUSY, headers)).status, 401);
      } finally {
        await close(session);
      }
    }
  });

  it('answers each request on one HTTP/1.1 keep-alive connection as the user its own headers name', async () => {
    api.authorizer.rule = (user) => user.name === 'reader';
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ports = new Set<number>();
      for (const [user, expected] of [
        ['reader', 200],
        ['reader', 200],
        ['nobody', 403],
        ['reader', 200],
        ['nobody', 403],
      ] as const) {
        const response = await request(pki, api.port, BUSY, {
          client: pki.frontProxy,
          headers: proxyHeaders(user),
          agent,
        });
        assert.equal(response.status, expected, user);
        ports.add(response.localPort);
      }
      assert.equal(ports.size, 1, 'one connection');
    } finally {
      agent.destroy();
    }
  });

  it('still serves HTTP/1.1 clients on the same port', async () => {
    const response = await request(pki, api.port, BUSY, {
      client: pki.frontProxy,
      headers: proxyHeaders('system:kube-controller-manager', ['system:masters']),
    });
    assert.equal(response.status, 200);
  });
});

describe('the connection limits over HTTP/2', { timeout: 60_000 }, () => {
  let pki: TestPki;
  let api: TestServer | undefined;

  const start = async (limits: Partial<ConnectionLimits>): Promise<TestServer> => {
    const provider = new FakeMetricsProvider(['flink_busy_ratio']);
    provider.addTarget({
      namespace: 'flink',
      name: 'job-a',
      readings: { flink_busy_ratio: { valueMilli: 1 } },
    });
    api = await startTestServer(pki, {
      provider,
      extra: { http2: true, limits: { ...DEFAULT_CONNECTION_LIMITS, ...limits } },
    });
    api.authorizer.rule = () => true;
    return api;
  };

  before(async () => {
    pki = await createTestPki();
  });
  after(async () => {
    await api?.close();
  });

  it('limits the requests of an unverified client per request, whichever stream of one connection they come on', async () => {
    const server = await start({ unverifiedRequestsPerSecondPerClient: 2 });
    const session = await openSession(pki, server.port);
    try {
      // Burst 4: ten streams at once with tokens the fake reviewer does not know: 4 × 401, 6 × 429.
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => get(session, BUSY, { authorization: `Bearer made-up-${i}` })),
      );
      assert.deepEqual(
        answers.map((answer) => answer.status).sort(),
        [401, 401, 401, 401, 429, 429, 429, 429, 429, 429],
      );
      assert.equal(server.tokenReviewer.calls, 4, 'no TokenReview for a refused request');
      const aggregator = await openSession(pki, server.port, pki.frontProxy);
      try {
        for (let i = 0; i < 10; i++)
          assert.equal(
            (await get(aggregator, BUSY, proxyHeaders('system:kube-controller-manager'))).status,
            200,
          );
      } finally {
        await close(aggregator);
      }
    } finally {
      await close(session);
      await server.close();
      api = undefined;
    }
  });

  it('closes an unverified h2 connection that sends no request within the headers timeout; a verified one stays', async () => {
    const server = await start({ headersTimeoutMs: 1000, requestTimeoutMs: 1000 });
    const idle = await openSession(pki, server.port);
    const verified = await openSession(pki, server.port, pki.frontProxy);
    try {
      await new Promise<void>((resolve) => idle.once('close', () => resolve()));
      assert.equal(verified.closed, false);
      assert.equal((await get(verified, BUSY, proxyHeaders('system:kube-controller-manager'))).status, 200);
      const text = await scrape(server.registry);
      assert.match(text, /slotscaler_metrics_api_connections_limited_total\{reason="idle"\} [1-9]/);
    } finally {
      await close(verified);
      await server.close();
      api = undefined;
    }
  });
});
