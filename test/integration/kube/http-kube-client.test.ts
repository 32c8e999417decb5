/**
 * HttpKubeClient against a real HTTP server on port 0: the user agent of every request, timeouts
 * that close the connection (the server sees it go, so the API server stops working on it), and
 * one count per request in slotscaler_kube_requests_total by verb, resource and code.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';

import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';

import { KubeApiError, KubeUnreachableError } from '../../../src/errors.js';
import { HttpKubeClient, USER_AGENT, requestSuccess } from '../../../src/kube/kube-client.js';
import type { WatchEvent } from '../../../src/kube/kube-client.js';
import { createKubeRequestMetrics } from '../../../src/observability/metrics.js';
import type { KubeRequestObserver } from '../../../src/observability/metrics.js';
import { SLOTSCALER_VERSION } from '../../../src/version.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** A server that answers each request with the handler given for its path, recording what came. */
class ScriptedApiServer {
  readonly seen: { method: string; url: string; userAgent: string | undefined }[] = [];
  /** Requests whose connection closed before the server answered them. */
  readonly closedUnanswered: string[] = [];
  handlers = new Map<string, Handler>();
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      const url = request.url ?? '/';
      this.seen.push({ method: request.method ?? '', url, userAgent: request.headers['user-agent'] });
      response.once('close', () => {
        if (!response.writableFinished) this.closedUnanswered.push(url);
      });
      const handler = this.handlers.get(new URL(url, 'http://x').pathname);
      if (handler === undefined) {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ kind: 'Status', code: 404, message: 'not found here' }));
        return;
      }
      handler(request, response);
    });
    this.server = server;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

const json =
  (status: number, body: unknown): Handler =>
  (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('HttpKubeClient', () => {
  const server = new ScriptedApiServer();
  let kubeConfig: KubeConfig;
  let registry: Registry;
  let observer: KubeRequestObserver;
  let client: HttpKubeClient;
  /** A new client counting into this test's registry. */
  const clientWith = (requestTimeoutMs: number): void => {
    client.close();
    client = new HttpKubeClient(kubeConfig, { observer, requestTimeoutMs });
  };

  before(async () => {
    await server.start();
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${server.port}`, skipTLSVerify: true }],
      users: [{ name: 'slotscaler', token: 'slotscaler-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'slotscaler' }],
      currentContext: 'fake',
    });
    client = new HttpKubeClient(kubeConfig);
  });
  after(async () => {
    client.close();
    await server.stop();
  });
  beforeEach(() => {
    server.handlers.clear();
    server.seen.length = 0;
    server.closedUnanswered.length = 0;
    registry = new Registry();
    observer = createKubeRequestMetrics(registry);
    clientWith(2_000);
  });

  it('sends User-Agent slotscaler/<version> on requests and watches', async () => {
    server.handlers.set('/api/v1/namespaces/ns/configmaps', (request, response) => {
      if (request.url?.includes('watch=true')) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } })}\n`);
        return;
      }
      json(200, { items: [] })(request, response);
    });
    await client.request({ method: 'GET', path: '/api/v1/namespaces/ns/configmaps' });
    const events: WatchEvent[] = [];
    const end = await client.watch('/api/v1/namespaces/ns/configmaps', {}, (event) => events.push(event), {
      signal: new AbortController().signal,
      idleTimeoutMs: 2_000,
    });
    assert.deepEqual(end, { kind: 'closed' });
    assert.equal(events.length, 1);
    assert.equal(USER_AGENT, `slotscaler/${SLOTSCALER_VERSION}`);
    assert.deepEqual(
      server.seen.map((request) => request.userAgent),
      [USER_AGENT, USER_AGENT],
    );
  });

  it('gives up on a request with no answer, closing its connection', async () => {
    clientWith(200);
    server.handlers.set('/apis/authentication.k8s.io/v1/tokenreviews', () => undefined);
    const started = Date.now();
    await assert.rejects(
      client.request({ method: 'POST', path: '/apis/authentication.k8s.io/v1/tokenreviews', body: {} }),
      (err: unknown) => err instanceof KubeUnreachableError && /within 200 ms/.test(err.message),
    );
    assert.ok(Date.now() - started < 1_500, 'the timeout did not fire in time');
    await waitFor(() => server.closedUnanswered.length === 1);
    assert.deepEqual(server.closedUnanswered, ['/apis/authentication.k8s.io/v1/tokenreviews']);
  });

  it('gives up on an answer that trickles in past the deadline, closing its connection', async () => {
    clientWith(300);
    const ticks: NodeJS.Timeout[] = [];
    server.handlers.set('/apis/apiregistration.k8s.io/v1/apiservices/x', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"spec": {');
      // A byte every 50 ms: the idle timeout never fires, the deadline must.
      ticks.push(setInterval(() => response.write(' '), 50));
    });
    try {
      await assert.rejects(
        client.request({ method: 'GET', path: '/apis/apiregistration.k8s.io/v1/apiservices/x' }),
        KubeUnreachableError,
      );
      await waitFor(() => server.closedUnanswered.length === 1);
    } finally {
      for (const tick of ticks) clearInterval(tick);
    }
  });

  it('ends a silent watch after its idle timeout, closing its connection', async () => {
    server.handlers.set('/api/v1/namespaces/kube-system/configmaps', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.flushHeaders();
    });
    await assert.rejects(
      client.watch('/api/v1/namespaces/kube-system/configmaps', {}, () => undefined, {
        signal: new AbortController().signal,
        idleTimeoutMs: 200,
      }),
      (err: unknown) => err instanceof KubeUnreachableError && /idle for 200 ms/.test(err.message),
    );
    await waitFor(() => server.closedUnanswered.length === 1);
  });

  it('ends a watch whose listener throws with that error, closing its connection', async () => {
    server.handlers.set('/api/v1/namespaces/kube-system/configmaps', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } })}\n`);
    });
    const broken = new Error('listener broke');
    await assert.rejects(
      client.watch(
        '/api/v1/namespaces/kube-system/configmaps',
        {},
        () => {
          throw broken;
        },
        { signal: new AbortController().signal, idleTimeoutMs: 2_000 },
      ),
      (err: unknown) => err === broken,
    );
    await waitFor(() => server.closedUnanswered.length === 1);
  });

  it('counts every request by verb, resource and code, failures included', async () => {
    clientWith(300);
    server.handlers.set('/apis/authentication.k8s.io/v1/tokenreviews', json(201, { status: {} }));
    server.handlers.set('/apis/authorization.k8s.io/v1/subjectaccessreviews', () => undefined);
    server.handlers.set(
      '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io',
      json(200, {}),
    );
    server.handlers.set('/api/v1/namespaces/kube-system/configmaps', (request, response) => {
      if (request.url?.includes('watch=true')) response.writeHead(200).end();
      else json(200, { items: [] })(request, response);
    });
    await client.request({ method: 'POST', path: '/apis/authentication.k8s.io/v1/tokenreviews', body: {} });
    await client.request({ method: 'POST', path: '/apis/authentication.k8s.io/v1/tokenreviews', body: {} });
    await assert.rejects(
      client.request({
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: {},
      }),
    );
    const apiService = '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io';
    await client.request({ method: 'GET', path: apiService });
    await client.request({ method: 'PATCH', path: apiService, body: {} });
    await client.request({ method: 'GET', path: '/api/v1/namespaces/kube-system/configmaps?limit=500' });
    await client.watch('/api/v1/namespaces/kube-system/configmaps', {}, () => undefined, {
      signal: new AbortController().signal,
      idleTimeoutMs: 2_000,
    });
    await client.request({
      method: 'GET',
      path: '/apis/flink.apache.org/v1beta1/namespaces/a/flinkdeployments/b',
    });

    const unreachable = new KubeConfig();
    unreachable.loadFromOptions({
      clusters: [{ name: 'gone', server: 'http://127.0.0.1:1' }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'gone', cluster: 'gone', user: 'u' }],
      currentContext: 'gone',
    });
    const nowhereRegistry = new Registry();
    const counted = new HttpKubeClient(unreachable, { observer: createKubeRequestMetrics(nowhereRegistry) });
    try {
      await assert.rejects(
        counted.watch('/apis/coordination.k8s.io/v1/namespaces/ns/leases', {}, () => undefined, {
          signal: new AbortController().signal,
          idleTimeoutMs: 1_000,
        }),
      );
    } finally {
      counted.close();
    }

    const text = await registry.metrics();
    const counts = text.split('\n').filter((line) => line.startsWith('slotscaler_kube_requests_total{'));
    assert.deepEqual(counts.sort(), [
      'slotscaler_kube_requests_total{verb="GET",resource="apiservices",code="200"} 1',
      'slotscaler_kube_requests_total{verb="GET",resource="flinkdeployments",code="404"} 1',
      'slotscaler_kube_requests_total{verb="LIST",resource="configmaps",code="200"} 1',
      'slotscaler_kube_requests_total{verb="PATCH",resource="apiservices",code="200"} 1',
      'slotscaler_kube_requests_total{verb="POST",resource="subjectaccessreviews",code="error"} 1',
      'slotscaler_kube_requests_total{verb="POST",resource="tokenreviews",code="201"} 2',
      'slotscaler_kube_requests_total{verb="WATCH",resource="configmaps",code="200"} 1',
    ]);
    assert.match(
      await nowhereRegistry.metrics(),
      /^slotscaler_kube_requests_total\{verb="WATCH",resource="leases",code="error"\} 1$/m,
    );
  });

  it('requestSuccess gives the body of a 2xx answer and a KubeApiError with the message otherwise', async () => {
    server.handlers.set('/apis/authentication.k8s.io/v1/tokenreviews', json(201, { status: { ok: 1 } }));
    server.handlers.set(
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      json(403, { kind: 'Status', code: 403, message: 'forbidden: no auth-delegator' }),
    );
    assert.deepEqual(
      await requestSuccess(client, 'TokenReview', {
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/tokenreviews',
        body: {},
      }),
      { status: { ok: 1 } },
    );
    await assert.rejects(
      requestSuccess(client, 'SubjectAccessReview', {
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: {},
      }),
      (err: unknown) =>
        err instanceof KubeApiError &&
        err.message === 'Kubernetes API: SubjectAccessReview failed: HTTP 403: forbidden: no auth-delegator',
    );
  });
});
