/**
 * Discovery, health, OpenAPI and path handling of the external metrics API over real TLS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { FakeMetricsProvider } from '../../fakes/metrics-provider.js';
import { METRICS_PATH, createTestPki, proxyHeaders, request, startTestServer, status } from './harness.js';
import type { TestPki, TestServer } from './harness.js';

const GROUP_VERSION = { groupVersion: 'external.metrics.k8s.io/v1beta1', version: 'v1beta1' };

describe('external metrics API discovery', () => {
  let pki: TestPki;
  let api: TestServer;
  let ready: { ready: true } | { ready: false; reason: string } = { ready: true };
  // What the aggregator's legacy discovery fallback sends: its user, no groups.
  const aggregator = () => ({ client: pki.frontProxy, headers: proxyHeaders('system:kube-aggregator') });

  before(async () => {
    pki = await createTestPki();
    api = await startTestServer(pki, {
      provider: new FakeMetricsProvider(['flink_source_lag_seconds', 'flink_busy_ratio']),
      readiness: () => ready,
    });
  });
  after(() => api.close());

  it('GET /apis is the APIGroupList, also when aggregated discovery is asked for', async () => {
    const expected = {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [
        { name: 'external.metrics.k8s.io', versions: [GROUP_VERSION], preferredVersion: GROUP_VERSION },
      ],
    };
    for (const accept of [
      undefined,
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList',
    ]) {
      const response = await request(pki, api.port, '/apis', {
        client: pki.frontProxy,
        headers: {
          ...proxyHeaders('system:kube-aggregator', ['system:masters']),
          ...(accept ? { accept } : {}),
        },
      });
      assert.equal(response.status, 200);
      // Not the aggregated type: the aggregator falls back to the legacy documents.
      assert.equal(response.headers['content-type'], 'application/json');
      assert.deepEqual(response.json(), expected);
    }
  });

  it('GET /apis/external.metrics.k8s.io is the APIGroup', async () => {
    const response = await request(pki, api.port, '/apis/external.metrics.k8s.io', aggregator());
    assert.equal(response.status, 200);
    assert.deepEqual(response.json(), {
      kind: 'APIGroup',
      apiVersion: 'v1',
      name: 'external.metrics.k8s.io',
      versions: [GROUP_VERSION],
      preferredVersion: GROUP_VERSION,
    });
  });

  it('GET /apis/external.metrics.k8s.io/v1beta1 lists our metrics (sorted) as namespaced resources', async () => {
    const response = await request(pki, api.port, METRICS_PATH, aggregator());
    assert.equal(response.status, 200);
    const resource = (name: string) => ({
      name,
      singularName: '',
      namespaced: true,
      kind: 'ExternalMetricValueList',
      verbs: ['get'],
    });
    assert.deepEqual(response.json(), {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: 'external.metrics.k8s.io/v1beta1',
      resources: [resource('flink_busy_ratio'), resource('flink_source_lag_seconds')],
    });
    // With a trailing slash too.
    assert.equal((await request(pki, api.port, `${METRICS_PATH}/`, aggregator())).status, 200);
  });

  it('authorizes discovery as a non-resource GET of its path (RBAC system:discovery)', async () => {
    const before = api.authorizer.calls.length;
    await request(pki, api.port, '/apis/external.metrics.k8s.io', {
      client: pki.frontProxy,
      headers: proxyHeaders('someone-new'),
    });
    const call = api.authorizer.calls[before];
    assert.deepEqual(call?.attributes, {
      kind: 'nonResource',
      verb: 'get',
      path: '/apis/external.metrics.k8s.io',
    });
    assert.deepEqual(call.user.groups, ['system:authenticated']);
  });

  it('answers 403 for discovery the authorizer denies', async () => {
    const rule = api.authorizer.rule;
    api.authorizer.rule = () => false;
    try {
      const response = await request(pki, api.port, '/apis', {
        client: pki.frontProxy,
        headers: proxyHeaders('denied-user'),
      });
      assert.equal(response.status, 403);
      assert.deepEqual(
        response.json(),
        status(403, 'Forbidden', 'forbidden: User "denied-user" cannot get path "/apis"', {}),
      );
    } finally {
      api.authorizer.rule = rule;
    }
  });

  it('serves /healthz, /livez and /readyz without credentials', async () => {
    for (const path of ['/healthz', '/livez', '/readyz']) {
      const response = await request(pki, api.port, path);
      assert.equal(response.status, 200, path);
      assert.equal(response.body, 'ok');
    }
  });

  it('/readyz fails (500) until the readiness callback says ready', async () => {
    ready = { ready: false, reason: 'informer caches not synced' };
    try {
      const response = await request(pki, api.port, '/readyz');
      assert.equal(response.status, 500);
      assert.equal(response.body, '[-]informer caches not synced\nreadyz check failed\n');
      assert.equal((await request(pki, api.port, '/livez')).status, 200);
    } finally {
      ready = { ready: true };
    }
  });

  it('/readyz fails while extension-apiserver-authentication has not been read', async () => {
    const fresh = await startTestServer(pki, { configMap: null });
    try {
      const response = await request(pki, fresh.port, '/readyz');
      assert.equal(response.status, 500);
      assert.match(response.body, /extension-apiserver-authentication not read yet/);
      fresh.configSource.set({});
      assert.equal((await request(pki, fresh.port, '/readyz')).status, 200);
    } finally {
      await fresh.close();
    }
  });

  it('answers /openapi/v2 and /openapi/v3 with 404 (the aggregator skips the spec), after authentication', async () => {
    for (const path of ['/openapi/v2', '/openapi/v3', '/openapi/v3/apis/external.metrics.k8s.io/v1beta1']) {
      const anonymous = await request(pki, api.port, path);
      assert.equal(anonymous.status, 401, path);
      const response = await request(pki, api.port, path, {
        client: pki.frontProxy,
        headers: proxyHeaders('system:aggregator'),
      });
      assert.equal(response.status, 404, path);
      assert.deepEqual(
        response.json(),
        status(404, 'NotFound', 'the server could not find the requested resource'),
      );
    }
  });

  it('answers 404 for paths it does not serve, with a Status body', async () => {
    for (const path of [
      '/',
      '/api',
      '/apis/other.group.k8s.io',
      '/apis/external.metrics.k8s.io/v1',
      `${METRICS_PATH}/flink_busy_ratio`, // not namespaced
      `${METRICS_PATH}/namespaces/default`, // no metric
      `${METRICS_PATH}/namespaces/default/flink/busy_ratio`, // a slash in the name
      `${METRICS_PATH}/namespaces/default/flink%2Fbusy_ratio`, // an encoded slash
      `${METRICS_PATH}/namespaces/default/flink_busy_ratio/extra`,
      `${METRICS_PATH}/namespaces//flink_busy_ratio`,
      '/metrics',
    ]) {
      const response = await request(pki, api.port, path, {
        client: pki.frontProxy,
        headers: proxyHeaders('system:kube-aggregator', ['system:masters']),
      });
      assert.equal(response.status, 404, path);
      assert.equal(response.headers['content-type'], 'application/json', path);
      assert.deepEqual(
        response.json(),
        status(404, 'NotFound', 'the server could not find the requested resource'),
      );
    }
  });

  it('answers 405 for methods other than GET', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const response = await request(pki, api.port, `${METRICS_PATH}/namespaces/default/flink_busy_ratio`, {
        method,
        client: pki.frontProxy,
        headers: proxyHeaders('system:kube-aggregator', ['system:masters']),
      });
      assert.equal(response.status, 405, method);
      assert.deepEqual(
        response.json(),
        status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
      );
    }
  });

  it('gives every answer an Audit-Id (the caller’s when it sends one)', async () => {
    const response = await request(pki, api.port, '/apis', {
      client: pki.frontProxy,
      headers: { ...proxyHeaders('system:kube-aggregator', ['system:masters']), 'Audit-Id': 'abc-123' },
    });
    assert.equal(response.headers['audit-id'], 'abc-123');
    assert.match(String((await request(pki, api.port, '/healthz')).headers['audit-id']), /^[0-9a-f-]{36}$/);
  });
});
