/**
 * The authentication and authorization matrix over real TLS: front-proxy certificates and headers,
 * ordinary client certificates, bearer tokens (fake TokenReview), SubjectAccessReview (fake) with its
 * cache and the system:masters shortcut, and the ConfigMap re-read.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import type { Socket } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';

import { issueCertificate } from '../../../src/metrics-api/tls/certificates.js';
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

const BUSY = `${METRICS_PATH}/namespaces/flink/flink_busy_ratio`;
const UNAUTHORIZED = status(401, 'Unauthorized', 'Unauthorized');

/** A clock the test moves; starts at the real time so certificates are valid. */
class TestClock {
  current = Date.now();
  nowMs(): number {
    return this.current;
  }
}

/** The keep-alive agent's one idle connection, once the last response has handed it back. */
async function freeSocketOf(agent: https.Agent): Promise<Socket> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const socket = Object.values(agent.freeSockets).flat()[0];
    if (socket !== undefined) return socket;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('the agent kept no idle connection');
}

function forbidden(user: string, metric = 'flink_busy_ratio', namespace = 'flink') {
  return status(
    403,
    'Forbidden',
    `${metric}.external.metrics.k8s.io is forbidden: User "${user}" cannot list resource "${metric}" in API group "external.metrics.k8s.io" in the namespace "${namespace}"`,
    { group: 'external.metrics.k8s.io', kind: metric },
  );
}

describe('external metrics API authentication and authorization', () => {
  let pki: TestPki;
  let api: TestServer;
  const clock = new TestClock();
  const provider = new FakeMetricsProvider(['flink_busy_ratio']);
  provider.addTarget({
    namespace: 'flink',
    name: 'orders',
    readings: { flink_busy_ratio: { valueMilli: 930 } },
  });
  const get = (options: Parameters<typeof request>[3] = {}) => request(pki, api.port, BUSY, options);

  before(async () => {
    pki = await createTestPki();
    api = await startTestServer(pki, { provider, clock });
  });
  after(() => api.close());
  beforeEach(() => {
    clock.current += 60_000; // past every cache
    api.authorizer.rule = (_user, attributes) => attributes.kind === 'nonResource';
    api.authorizer.failWith = undefined;
    api.authorizer.calls.length = 0;
    api.tokenReviewer.calls = 0;
    api.tokenReviewer.failWith = undefined;
    api.configSource.set(authenticationConfigMap(pki));
  });

  it('no credentials: 401', async () => {
    const response = await get();
    assert.equal(response.status, 401);
    assert.deepEqual(response.json(), UNAUTHORIZED);
    assert.equal(api.authorizer.calls.length, 0);
    assert.match(
      await scrape(api.registry),
      /slotscaler_metrics_api_auth_failures_total\{reason="no_credentials"\} \d+/,
    );
  });

  it('X-Remote headers without a client certificate: 401', async () => {
    const response = await get({ headers: proxyHeaders('admin', ['system:masters']) });
    assert.equal(response.status, 401);
  });

  it('front-proxy certificate with a CN not in requestheader-allowed-names: 401', async () => {
    const response = await get({
      client: pki.frontProxyWrongName,
      headers: proxyHeaders('admin', ['system:masters']),
    });
    assert.equal(response.status, 401);
    assert.deepEqual(response.json(), UNAUTHORIZED);
    assert.match(
      await scrape(api.registry),
      /slotscaler_metrics_api_auth_failures_total\{reason="proxy_name_not_allowed"\} \d+/,
    );
  });

  it('a certificate from a CA nobody trusts, with the right CN: 401', async () => {
    const response = await get({ client: pki.stranger, headers: proxyHeaders('admin', ['system:masters']) });
    assert.equal(response.status, 401);
    assert.match(
      await scrape(api.registry),
      /slotscaler_metrics_api_auth_failures_total\{reason="invalid_client_certificate"\} \d+/,
    );
  });

  it('the front proxy’s certificate without a user header: 401', async () => {
    assert.equal((await get({ client: pki.frontProxy })).status, 401);
  });

  it('valid front-proxy identity without RBAC (SubjectAccessReview denies): 403', async () => {
    const response = await get({
      client: pki.frontProxy,
      headers: proxyHeaders('bob', ['team-a', 'team-b'], { scopes: 'read', 'reason%2Fkey': 'x' }),
    });
    assert.equal(response.status, 403);
    assert.deepEqual(response.json(), forbidden('bob'));
    assert.deepEqual(api.authorizer.calls, [
      {
        user: {
          name: 'bob',
          groups: ['team-a', 'team-b', 'system:authenticated'],
          extra: { scopes: ['read'], 'reason/key': ['x'] },
        },
        attributes: {
          kind: 'resource',
          verb: 'list',
          group: 'external.metrics.k8s.io',
          version: 'v1beta1',
          resource: 'flink_busy_ratio',
          namespace: 'flink',
        },
      },
    ]);
  });

  it('the authorizer’s reason is appended to the Forbidden message', async () => {
    api.authorizer.review = (user, attributes) => {
      api.authorizer.calls.push({ user, attributes });
      return Promise.resolve({ allowed: false, reason: 'no RBAC policy matched' });
    };
    try {
      const response = await get({ client: pki.frontProxy, headers: proxyHeaders('carol') });
      assert.equal(
        (response.json() as { message: string }).message,
        `${forbidden('carol').message}: no RBAC policy matched`,
      );
    } finally {
      delete (api.authorizer as { review?: unknown }).review; // back to the prototype's
    }
  });

  it('valid front-proxy identity that RBAC allows: 200', async () => {
    api.authorizer.rule = (user, attributes) =>
      user.name === 'system:serviceaccount:kube-system:horizontal-pod-autoscaler' &&
      attributes.kind === 'resource';
    const response = await get({
      client: pki.frontProxy,
      headers: proxyHeaders('system:serviceaccount:kube-system:horizontal-pod-autoscaler', [
        'system:serviceaccounts',
      ]),
    });
    assert.equal(response.status, 200);
    assert.equal((response.json() as { items: unknown[] }).items.length, 1);
  });

  it('system:masters: 200 without a SubjectAccessReview', async () => {
    const response = await get({
      client: pki.frontProxy,
      headers: proxyHeaders('system:admin', ['system:masters']),
    });
    assert.equal(response.status, 200);
    assert.equal(api.authorizer.calls.length, 0);
  });

  it('caches SubjectAccessReview answers, allowed and denied, for 10 s', async () => {
    const asDave = { client: pki.frontProxy, headers: proxyHeaders('dave') };
    assert.equal((await get(asDave)).status, 403);
    assert.equal((await get(asDave)).status, 403);
    assert.equal(api.authorizer.calls.length, 1);
    api.authorizer.rule = () => true;
    clock.current += 9_000;
    assert.equal((await get(asDave)).status, 403); // still the cached denial
    clock.current += 2_000;
    assert.equal((await get(asDave)).status, 200);
    assert.equal((await get(asDave)).status, 200);
    assert.equal(api.authorizer.calls.length, 2);
    // A different metric (another resource) is another review.
    await request(pki, api.port, `${METRICS_PATH}/namespaces/flink/other_metric`, asDave);
    assert.equal(api.authorizer.calls.length, 3);
  });

  it('a failing SubjectAccessReview: 500, not cached', async () => {
    api.authorizer.failReviews();
    const response = await get({ client: pki.frontProxy, headers: proxyHeaders('erin') });
    assert.equal(response.status, 500);
    assert.equal((response.json() as { reason: string }).reason, 'InternalError');
    api.authorizer.failWith = undefined;
    api.authorizer.rule = () => true;
    assert.equal((await get({ client: pki.frontProxy, headers: proxyHeaders('erin') })).status, 200);
  });

  it('ordinary client certificate: user = CN, groups = O; X-Remote headers are ignored', async () => {
    api.authorizer.rule = () => true;
    const response = await get({ client: pki.alice, headers: proxyHeaders('admin', ['system:masters']) });
    assert.equal(response.status, 200);
    assert.deepEqual(api.authorizer.calls[0]?.user, {
      name: 'alice',
      groups: ['dev', 'ops', 'system:authenticated'],
      extra: {},
    });
  });

  it('client certificate in system:masters: 200 without a review', async () => {
    assert.equal((await get({ client: pki.admin })).status, 200);
    assert.equal(api.authorizer.calls.length, 0);
  });

  it('expired client certificate, or one not for client auth: 401', async () => {
    const expired = await issueCertificate(pki.clientCa, {
      commonName: 'old',
      organizations: ['system:masters'],
      usage: 'client',
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const serverOnly = await issueCertificate(pki.clientCa, {
      commonName: 'server',
      organizations: ['system:masters'],
      usage: 'server',
    });
    clock.current = Date.now();
    assert.equal((await get({ client: expired })).status, 401);
    assert.equal((await get({ client: serverOnly })).status, 401);
  });

  it('bearer token through TokenReview, cached 10 s; unknown tokens: 401', async () => {
    api.tokenReviewer.tokens.set('good-token', { name: 'frank', groups: ['system:masters'], extra: {} });
    const withToken = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });
    assert.equal((await get(withToken('good-token'))).status, 200);
    assert.equal((await get(withToken('good-token'))).status, 200);
    assert.equal(api.tokenReviewer.calls, 1);
    clock.current += 11_000;
    assert.equal((await get(withToken('good-token'))).status, 200);
    assert.equal(api.tokenReviewer.calls, 2);

    const bad = await get(withToken('bad-token'));
    assert.equal(bad.status, 401);
    assert.deepEqual(bad.json(), UNAUTHORIZED);
    assert.match(
      await scrape(api.registry),
      /slotscaler_metrics_api_auth_failures_total\{reason="invalid_token"\} \d+/,
    );
    // The token never reaches the log.
    assert.doesNotMatch(JSON.stringify(api.logger.entries), /good-token|bad-token/);
  });

  it('a token user without the groups system:masters goes through the SubjectAccessReview', async () => {
    api.tokenReviewer.tokens.set('sa-token', {
      name: 'system:serviceaccount:x:y',
      uid: 'u-1',
      groups: [],
      extra: {},
    });
    const response = await get({ headers: { authorization: 'bearer sa-token' } });
    assert.equal(response.status, 403);
    assert.deepEqual(api.authorizer.calls[0]?.user, {
      name: 'system:serviceaccount:x:y',
      uid: 'u-1',
      groups: ['system:authenticated'],
      extra: {},
    });
  });

  it('a failing TokenReview: 401, not cached', async () => {
    api.tokenReviewer.tokens.set('flaky', { name: 'g', groups: ['system:masters'], extra: {} });
    api.tokenReviewer.failWith = new Error('connection refused');
    assert.equal((await get({ headers: { authorization: 'Bearer flaky' } })).status, 401);
    api.tokenReviewer.failWith = undefined;
    assert.equal((await get({ headers: { authorization: 'Bearer flaky' } })).status, 200);
    assert.equal(api.tokenReviewer.calls, 2);
  });

  it('re-reads the ConfigMap: a CA removed applies to the next request on the same connection, a CA added to the next connection', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const { 'client-ca-file': _clientCa, ...withoutClientCa } = authenticationConfigMap(pki);
      api.configSource.set(withoutClientCa);
      const first = await get({ client: pki.admin, agent });
      assert.equal(first.status, 401);
      // The handshake refused the certificate and only a new handshake can verify it again: when
      // its CA is added, the server closes the connection and the client opens a new one.
      const refused = await freeSocketOf(agent);
      const closed = once(refused, 'close');
      api.configSource.set(authenticationConfigMap(pki));
      assert.ok(
        api.logger.entries.some((entry) => /^closing a connection whose client certificate/.test(entry.msg)),
        'closed by the server when the CA was added',
      );
      await closed;
      const second = await get({ client: pki.admin, agent });
      assert.equal(second.status, 200);
      assert.notEqual(second.localPort, first.localPort, 'a new connection');
      api.configSource.set(withoutClientCa);
      const third = await get({ client: pki.admin, agent });
      assert.equal(third.status, 401);
      assert.equal(third.localPort, second.localPort, 'the same keep-alive connection');
    } finally {
      agent.destroy();
    }
  });

  it('re-reads the ConfigMap: allowed names and header names', async () => {
    api.configSource.set({
      ...authenticationConfigMap(pki),
      'requestheader-allowed-names': '["not-the-aggregator"]',
      'requestheader-username-headers': '["X-Custom-User"]',
      'requestheader-group-headers': '["X-Custom-Group"]',
    });
    assert.equal(
      (
        await get({
          client: pki.frontProxy,
          headers: { 'X-Custom-User': 'x', 'X-Custom-Group': 'system:masters' },
        })
      ).status,
      401,
    );
    const response = await get({
      client: pki.frontProxyWrongName,
      headers: { 'X-Custom-User': 'x', 'X-Custom-Group': 'system:masters', 'X-Remote-User': 'ignored' },
    });
    assert.equal(response.status, 200);
    // An empty allowed-names list trusts every certificate of the request-header CA.
    api.configSource.set({ ...authenticationConfigMap(pki), 'requestheader-allowed-names': '' });
    assert.equal(
      (await get({ client: pki.frontProxyWrongName, headers: proxyHeaders('y', ['system:masters']) })).status,
      200,
    );
  });

  it('keeps the last good settings when the ConfigMap gets an invalid value', async () => {
    api.configSource.set({
      ...authenticationConfigMap(pki),
      'requestheader-allowed-names': 'front-proxy-client',
    });
    assert.ok(api.logger.entries.some((entry) => entry.level === 'error' && /invalid value/.test(entry.msg)));
    const response = await get({ client: pki.frontProxy, headers: proxyHeaders('z', ['system:masters']) });
    assert.equal(response.status, 200);
  });

  it('auth disabled (local development): anyone reads, and a warning is logged at start', async () => {
    const open = await startTestServer(pki, { provider, authDisabled: true });
    try {
      const response = await request(pki, open.port, BUSY);
      assert.equal(response.status, 200);
      assert.ok(open.logger.entries.some((entry) => entry.level === 'warn' && /DISABLED/.test(entry.msg)));
    } finally {
      await open.close();
    }
  });
});
