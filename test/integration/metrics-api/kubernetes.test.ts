/**
 * The Kubernetes implementations of the auth ports and writeApiServiceCaBundle, through the
 * process's HttpKubeClient against a small fake API server over HTTP: the requests they send
 * (paths, bodies, the merge-patch content type, the field selector and the watch, the user agent),
 * how they read the answers, how the watch recovers and how a review that gets no answer ends. The
 * real API server is exercised by the e2e tests.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';

import { KubeApiError } from '../../../src/errors.js';
import { HttpKubeClient, USER_AGENT } from '../../../src/kube/kube-client.js';
import {
  KubernetesAuthenticationConfigSource,
  KubernetesSubjectAccessReviewer,
  KubernetesTokenReviewer,
} from '../../../src/kube/auth-reviews.js';
import { writeApiServiceCaBundle } from '../../../src/kube/api-service.js';
import { createKubeRequestMetrics } from '../../../src/observability/metrics.js';
import { recordingLogger } from './harness.js';

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly contentType: string | undefined;
  readonly userAgent: string | undefined;
  readonly body: unknown;
}

/** Just enough of an API server for these calls. */
class FakeKubeApi {
  readonly requests: Recorded[] = [];
  configMapData: Record<string, string> | undefined = { 'client-ca-file': 'first' };
  resourceVersion = 1;
  caBundle: string | undefined;
  /** Watches to refuse with a 500 before serving one. */
  refuseWatches = 0;
  /** LISTs to refuse with a 403 (no RBAC yet) before serving one. */
  refuseLists = 0;
  /** TokenReviews go unanswered while set. */
  silentTokenReviews = false;
  /** Requests whose connection closed before they were answered. */
  readonly abandoned: string[] = [];
  private watchers: ServerResponse[] = [];
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    const server = createServer((request, response) => void this.handle(request, response));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const watcher of this.watchers) watcher.end();
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** Cuts every open watch stream mid-way, as a restarting API server or a load balancer does. */
  dropWatchers(): void {
    for (const watcher of this.watchers.splice(0)) watcher.destroy();
  }

  get watcherCount(): number {
    return this.watchers.filter((watcher) => !watcher.destroyed).length;
  }

  /** Changes the ConfigMap and tells the watchers. */
  updateConfigMap(data: Record<string, string>): void {
    this.configMapData = data;
    this.resourceVersion++;
    const event = JSON.stringify({ type: 'MODIFIED', object: this.configMap() });
    for (const watcher of this.watchers) watcher.write(`${event}\n`);
  }

  private configMap(): object {
    return {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'extension-apiserver-authentication',
        namespace: 'kube-system',
        resourceVersion: String(this.resourceVersion),
      },
      data: this.configMapData,
    };
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(request.url ?? '/', 'http://fake');
    this.requests.push({
      method: request.method ?? '',
      url: request.url ?? '',
      contentType: request.headers['content-type'],
      userAgent: request.headers['user-agent'],
      body: text === '' ? undefined : (JSON.parse(text) as unknown),
    });
    response.once('close', () => {
      if (!response.writableFinished) this.abandoned.push(url.pathname);
    });
    const json = (code: number, body: unknown): void => {
      response.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const body = (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
    if (url.pathname === '/api/v1/namespaces/kube-system/configmaps') {
      if (url.searchParams.get('watch') === 'true') {
        if (this.refuseWatches > 0) {
          this.refuseWatches--;
          json(500, { kind: 'Status', code: 500, message: 'etcd is having a bad day' });
          return;
        }
        response.writeHead(200, { 'content-type': 'application/json' });
        response.flushHeaders();
        this.watchers.push(response);
        return;
      }
      if (this.refuseLists > 0) {
        this.refuseLists--;
        json(403, { kind: 'Status', code: 403, message: 'configmaps is forbidden' });
        return;
      }
      json(200, {
        apiVersion: 'v1',
        kind: 'ConfigMapList',
        metadata: { resourceVersion: String(this.resourceVersion) },
        items: this.configMapData === undefined ? [] : [this.configMap()],
      });
      return;
    }
    if (url.pathname === '/apis/authentication.k8s.io/v1/tokenreviews') {
      if (this.silentTokenReviews) return;
      const token = (body.spec as { token?: string } | undefined)?.token;
      json(201, {
        ...body,
        status:
          token === 'good'
            ? { authenticated: true, user: { username: 'u', uid: 'id', groups: ['g'], extra: { e: ['1'] } } }
            : { authenticated: false, error: 'invalid bearer token' },
      });
      return;
    }
    if (url.pathname === '/apis/authorization.k8s.io/v1/subjectaccessreviews') {
      const spec = body.spec as { user?: string } | undefined;
      json(201, { ...body, status: { allowed: spec?.user === 'allowed', reason: 'decided by the fake' } });
      return;
    }
    if (url.pathname === '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io') {
      if (request.method === 'PATCH') {
        this.caBundle = (body.spec as { caBundle?: string } | undefined)?.caBundle;
      }
      json(200, {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: 'v1beta1.external.metrics.k8s.io' },
        spec: {
          group: 'external.metrics.k8s.io',
          version: 'v1beta1',
          groupPriorityMinimum: 100,
          versionPriority: 100,
          ...(this.caBundle === undefined ? { insecureSkipTLSVerify: true } : { caBundle: this.caBundle }),
        },
      });
      return;
    }
    json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('Kubernetes implementations of the metrics API ports', () => {
  const api = new FakeKubeApi();
  let kubeConfig: KubeConfig;
  let client: HttpKubeClient;
  const registry = new Registry();
  const observer = createKubeRequestMetrics(registry);

  before(async () => {
    await api.start();
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${api.port}`, skipTLSVerify: true }],
      users: [{ name: 'slotscaler', token: 'slotscaler-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'slotscaler' }],
      currentContext: 'fake',
    });
    client = new HttpKubeClient(kubeConfig, { requestTimeoutMs: 2_000, observer });
  });
  after(async () => {
    client.close();
    await api.stop();
    // Each call went through the one client, with its user agent, and was counted.
    assert.ok(api.requests.length > 0);
    for (const request of api.requests) assert.equal(request.userAgent, USER_AGENT, request.url);
    const counted = (await registry.getSingleMetric('slotscaler_kube_requests_total')?.get())?.values ?? [];
    assert.equal(
      counted.reduce((sum, sample) => sum + sample.value, 0),
      api.requests.length,
    );
  });

  it('KubernetesAuthenticationConfigSource lists the ConfigMap by name, then follows the watch', async () => {
    const source = new KubernetesAuthenticationConfigSource(client, recordingLogger());
    const seen: Record<string, string>[] = [];
    source.onChange((data) => seen.push({ ...data }));
    try {
      await source.start();
      assert.deepEqual(source.current(), { 'client-ca-file': 'first' });
      const list = api.requests.find((request) =>
        request.url.startsWith('/api/v1/namespaces/kube-system/configmaps'),
      );
      assert.match(list?.url ?? '', /fieldSelector=metadata\.name%3Dextension-apiserver-authentication/);
      await waitFor(() => api.requests.some((request) => request.url.includes('watch=true')));
      api.updateConfigMap({ 'client-ca-file': 'second', 'requestheader-allowed-names': '["a"]' });
      await waitFor(() => source.current()?.['client-ca-file'] === 'second');
      assert.deepEqual(seen, [
        { 'client-ca-file': 'first' },
        { 'client-ca-file': 'second', 'requestheader-allowed-names': '["a"]' },
      ]);
    } finally {
      await source.stop();
    }
  });

  it('KubernetesAuthenticationConfigSource resumes the watch after a refusal and a cut stream', async () => {
    const source = new KubernetesAuthenticationConfigSource(client, recordingLogger(), {
      backoffInitialMs: 10,
      backoffMaxMs: 50,
    });
    const watches = (): number => api.requests.filter((request) => request.url.includes('watch=true')).length;
    try {
      api.refuseWatches = 2;
      const before = watches();
      await source.start();
      await waitFor(() => api.watcherCount === 1);
      assert.equal(watches() - before, 3, 'two refused watches, then one served');
      api.updateConfigMap({ 'client-ca-file': 'after-refusal' });
      await waitFor(() => source.current()?.['client-ca-file'] === 'after-refusal');

      api.dropWatchers();
      await waitFor(() => api.watcherCount === 1);
      api.updateConfigMap({ 'client-ca-file': 'after-cut' });
      await waitFor(() => source.current()?.['client-ca-file'] === 'after-cut');
    } finally {
      await source.stop();
    }
  });

  it('KubernetesAuthenticationConfigSource starts without waiting for a ConfigMap it may not read yet', async () => {
    const source = new KubernetesAuthenticationConfigSource(client, recordingLogger(), {
      backoffInitialMs: 10,
      backoffMaxMs: 50,
    });
    const data = api.configMapData;
    api.configMapData = undefined;
    api.refuseLists = 2;
    try {
      await source.start();
      assert.equal(source.current(), undefined, 'the first LIST was refused');
      // The ConfigMap does not exist: once a LIST is allowed, that reads as empty data.
      await waitFor(() => source.current() !== undefined);
      assert.deepEqual(source.current(), {});
      assert.equal(api.refuseLists, 0);
    } finally {
      await source.stop();
      api.configMapData = data;
    }
  });

  it('KubernetesTokenReviewer gives up on an API server that does not answer, closing the connection', async () => {
    const impatient = new HttpKubeClient(kubeConfig, { requestTimeoutMs: 200, observer });
    api.silentTokenReviews = true;
    try {
      await assert.rejects(
        new KubernetesTokenReviewer(impatient).review('good'),
        (err: unknown) =>
          err instanceof KubeApiError && /TokenReview failed: .*within 200 ms/.test(err.message),
      );
      await waitFor(() => api.abandoned.includes('/apis/authentication.k8s.io/v1/tokenreviews'));
    } finally {
      api.silentTokenReviews = false;
      impatient.close();
    }
  });

  it('KubernetesTokenReviewer sends a TokenReview and reads the user', async () => {
    const reviewer = new KubernetesTokenReviewer(client);
    assert.deepEqual(await reviewer.review('good'), {
      authenticated: true,
      user: { name: 'u', uid: 'id', groups: ['g'], extra: { e: ['1'] } },
    });
    assert.deepEqual(await reviewer.review('bad'), { authenticated: false, error: 'invalid bearer token' });
    const sent = api.requests.filter((request) => request.url.startsWith('/apis/authentication.k8s.io'));
    assert.deepEqual(sent[0]?.body, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: 'good' },
    });
  });

  it('KubernetesSubjectAccessReviewer sends resource and non-resource reviews', async () => {
    const reviewer = new KubernetesSubjectAccessReviewer(client);
    const user = {
      name: 'allowed',
      uid: 'id-1',
      groups: ['g', 'system:authenticated'],
      extra: { scopes: ['x'] },
    };
    assert.deepEqual(
      await reviewer.review(user, {
        kind: 'resource',
        verb: 'list',
        group: 'external.metrics.k8s.io',
        version: 'v1beta1',
        resource: 'flink_busy_ratio',
        namespace: 'flink',
      }),
      { allowed: true, reason: 'decided by the fake' },
    );
    const denied = await reviewer.review(
      { name: 'other', groups: [], extra: {} },
      { kind: 'nonResource', verb: 'get', path: '/apis' },
    );
    assert.equal(denied.allowed, false);
    const sent = api.requests.filter((request) => request.url.startsWith('/apis/authorization.k8s.io'));
    assert.deepEqual(
      sent.map((request) => request.body),
      [
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: 'allowed',
            uid: 'id-1',
            groups: ['g', 'system:authenticated'],
            extra: { scopes: ['x'] },
            resourceAttributes: {
              verb: 'list',
              group: 'external.metrics.k8s.io',
              version: 'v1beta1',
              resource: 'flink_busy_ratio',
              namespace: 'flink',
            },
          },
        },
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: 'other',
            groups: [],
            extra: {},
            nonResourceAttributes: { verb: 'get', path: '/apis' },
          },
        },
      ],
    );
  });

  it('writeApiServiceCaBundle sends one merge patch, then none while the bundle is the same', async () => {
    const caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    assert.equal(await writeApiServiceCaBundle(client, 'v1beta1.external.metrics.k8s.io', caPem), 'patched');
    assert.equal(
      await writeApiServiceCaBundle(client, 'v1beta1.external.metrics.k8s.io', caPem),
      'unchanged',
    );
    const patches = api.requests.filter((request) => request.method === 'PATCH');
    assert.equal(patches.length, 1);
    const [patch] = patches;
    assert.ok(patch);
    assert.equal(patch.contentType, 'application/merge-patch+json');
    assert.deepEqual(patch.body, {
      spec: { caBundle: Buffer.from(caPem).toString('base64'), insecureSkipTLSVerify: false },
    });
  });

  it('writeApiServiceCaBundle takes an APIService that does not exist as absent when it may be, else fails', async () => {
    const caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const patchesBefore = api.requests.filter((request) => request.method === 'PATCH').length;
    assert.equal(
      await writeApiServiceCaBundle(client, 'v1beta2.custom.metrics.k8s.io', caPem, { absentOk: true }),
      'absent',
    );
    await assert.rejects(writeApiServiceCaBundle(client, 'v1beta2.custom.metrics.k8s.io', caPem), {
      code: 'KUBE_API_FAILED',
      message: /read APIService v1beta2\.custom\.metrics\.k8s\.io failed: HTTP 404/,
    });
    assert.equal(api.requests.filter((request) => request.method === 'PATCH').length, patchesBefore);
  });
});
