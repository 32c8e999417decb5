/**
 * The serving certificate: reloaded from files without dropping open connections, bad files
 * ignored, self-signed mode, and writing its CA into the APIService's caBundle.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';

import { KubeApiError } from '../../../src/errors.js';
import { startMetricsApiServer } from '../../../src/metrics-api/server.js';
import { writeApiServiceCaBundle } from '../../../src/kube/api-service.js';
import type { KubeClient, KubeRequest, KubeResponse, WatchEnd } from '../../../src/kube/kube-client.js';
import { issueCertificate } from '../../../src/metrics-api/tls/certificates.js';
import { FakeMetricsProvider } from '../../fakes/metrics-provider.js';
import { createTestPki, recordingLogger, request, startTestServer } from './harness.js';
import type { TestPki, TestServer } from './harness.js';

function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('serving certificate from files', () => {
  let pki: TestPki;
  let api: TestServer;

  before(async () => {
    pki = await createTestPki();
    api = await startTestServer(pki, { reloadIntervalMs: 100 });
  });
  after(() => api.close());

  it('serves a new certificate on new connections and keeps an open keep-alive connection', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await request(pki, api.port, '/healthz', { agent });
      assert.equal(first.serverFingerprint, fingerprintOf(pki.serving.certPem));

      const renewed = await issueCertificate(pki.servingCa, {
        commonName: 'localhost',
        usage: 'server',
        hosts: ['localhost', '127.0.0.1'],
      });
      await writeFile(api.keyFile, renewed.keyPem);
      await writeFile(api.certFile, renewed.certPem);
      await waitFor(
        async () =>
          (await request(pki, api.port, '/healthz')).serverFingerprint === fingerprintOf(renewed.certPem),
      );

      const again = await request(pki, api.port, '/healthz', { agent });
      assert.equal(again.status, 200);
      assert.equal(again.localPort, first.localPort, 'the open connection was not dropped');
      assert.equal(again.serverFingerprint, fingerprintOf(pki.serving.certPem), 'it keeps its handshake');
      assert.ok(api.logger.entries.some((entry) => entry.msg === 'serving certificate reloaded'));
    } finally {
      agent.destroy();
    }
  });

  it('keeps the current certificate when the new files do not go together', async () => {
    const current = (await request(pki, api.port, '/healthz')).serverFingerprint;
    const other = await issueCertificate(pki.servingCa, {
      commonName: 'localhost',
      usage: 'server',
      hosts: ['localhost'],
    });
    await writeFile(api.certFile, other.certPem); // the key stays the old one: a mismatch
    await api.server.reloadCertificate();
    assert.equal((await request(pki, api.port, '/healthz')).serverFingerprint, current);
    // A certificate file caught empty (truncated mid-write) is not "no certificate".
    await writeFile(api.certFile, '');
    await api.server.reloadCertificate();
    assert.equal((await request(pki, api.port, '/healthz')).serverFingerprint, current);
    await writeFile(api.certFile, other.certPem.slice(0, 200));
    await api.server.reloadCertificate();
    assert.equal((await request(pki, api.port, '/healthz')).serverFingerprint, current);
    assert.ok(
      api.logger.entries.some(
        (entry) => entry.level === 'error' && /keeping the current one/.test(entry.msg),
      ),
    );
  });

  it('refuses to start with unusable files', async () => {
    await assert.rejects(
      startMetricsApiServer({
        provider: new FakeMetricsProvider(),
        tls: { kind: 'files', certFile: '/nonexistent/tls.crt', keyFile: '/nonexistent/tls.key' },
        auth: { disabled: true },
        port: 0,
      }),
      { name: 'TlsCertificateError', code: 'TLS_CERTIFICATE_INVALID' },
    );
  });
});

describe('self-signed serving certificate', () => {
  it('is generated at start for the given hosts and verifies against caPem', async () => {
    const pki = await createTestPki();
    const server = await startMetricsApiServer({
      provider: new FakeMetricsProvider(),
      tls: { kind: 'self-signed', hosts: ['localhost', 'slotscaler.slotscaler.svc', '127.0.0.1'] },
      auth: { disabled: true },
      port: 0,
      host: '127.0.0.1',
      logger: recordingLogger(),
    });
    try {
      assert.ok(server.caPem?.includes('BEGIN CERTIFICATE'));
      const response = await request(pki, server.port, '/healthz', { caPem: server.caPem ?? '' });
      assert.equal(response.status, 200);
      await assert.rejects(
        request(pki, server.port, '/healthz'),
        /self[- ]signed|unable to verify|certificate/i,
      );
    } finally {
      await server.close();
    }
  });
});

interface ApiService {
  spec: Record<string, unknown>;
}

/** An in-memory APIService registry for writeApiServiceCaBundle: GET and merge PATCH of one object. */
class FakeApiServices implements KubeClient {
  readonly patches: { name: string; body: unknown }[] = [];
  constructor(readonly services: Map<string, ApiService>) {}

  request(request: KubeRequest): Promise<KubeResponse> {
    const prefix = '/apis/apiregistration.k8s.io/v1/apiservices/';
    const name = request.path.startsWith(prefix) ? decodeURIComponent(request.path.slice(prefix.length)) : '';
    const service = this.services.get(name);
    if (request.method === 'PATCH') this.patches.push({ name, body: request.body });
    if (service === undefined) {
      return Promise.resolve({ status: 404, headers: {}, body: { kind: 'Status', message: 'not found' } });
    }
    if (request.method === 'PATCH') {
      assert.equal(request.contentType, 'application/merge-patch+json');
      const spec = (request.body as { spec: Record<string, unknown> }).spec;
      service.spec = { ...service.spec, ...spec };
    }
    return Promise.resolve({ status: 200, headers: {}, body: structuredClone(service) });
  }

  watch(): Promise<WatchEnd> {
    return Promise.reject(new Error('writeApiServiceCaBundle does not watch'));
  }
}

describe('writeApiServiceCaBundle', () => {
  const name = 'v1beta1.external.metrics.k8s.io';
  const caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

  it('patches when the caBundle differs, then leaves it alone', async () => {
    const fake = new FakeApiServices(
      new Map([
        [name, { spec: { groupPriorityMinimum: 100, versionPriority: 100, insecureSkipTLSVerify: true } }],
      ]),
    );
    assert.equal(await writeApiServiceCaBundle(fake, name, caPem), 'patched');
    assert.deepEqual(fake.patches, [
      {
        name,
        body: { spec: { caBundle: Buffer.from(caPem).toString('base64'), insecureSkipTLSVerify: false } },
      },
    ]);
    assert.equal(await writeApiServiceCaBundle(fake, name, caPem.replace(/\n/g, '\r\n')), 'unchanged');
    assert.equal(fake.patches.length, 1);
    assert.equal(await writeApiServiceCaBundle(fake, name, caPem.replace('MIIB', 'MIIC')), 'patched');
  });

  it('fails with a KubeApiError when the APIService does not exist', async () => {
    await assert.rejects(writeApiServiceCaBundle(new FakeApiServices(new Map()), name, caPem), KubeApiError);
  });
});
