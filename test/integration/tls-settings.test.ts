// tls-min-version and tls-cipher-suites, from the config to a real handshake with the metrics API, and
// kept when the serving certificate is reloaded (a reload builds a new TLS context).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { after, before, describe, it } from 'node:test';

import { ConfigError, resolveConfig } from '../../src/config/load.js';
import { metricsApiSettingsFromConfig } from '../../src/metrics-api/options.js';
import { startMetricsApiServer } from '../../src/metrics-api/server.js';
import type { MetricsApiServer } from '../../src/metrics-api/server.js';
import { createCertificateAuthority, issueCertificate } from '../../src/metrics-api/tls/certificates.js';
import type { CertificateAuthority } from '../../src/metrics-api/tls/certificates.js';
import { FakeMetricsProvider } from '../fakes/metrics-provider.js';

interface Handshake {
  readonly protocol: string | null;
  readonly cipher: string;
}

/** One TLS handshake with the server; resolves to what was agreed, rejects when it fails. */
function handshake(port: number, options: ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.setTimeout(5_000, () => socket.destroy(new Error('handshake timed out')));
    socket.once('secureConnect', () => {
      const agreed = { protocol: socket.getProtocol(), cipher: socket.getCipher().standardName };
      socket.end();
      resolve(agreed);
    });
    socket.once('error', reject);
  });
}

/** The metrics API started from these settings (flags, as `serve` takes them), on certificate files. */
async function serve(
  dir: string,
  ca: CertificateAuthority,
  flags: Record<string, string>,
): Promise<MetricsApiServer> {
  const serving = await issueCertificate(ca, {
    commonName: 'localhost',
    usage: 'server',
    hosts: ['localhost'],
  });
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  await writeFile(certFile, serving.certPem);
  await writeFile(keyFile, serving.keyPem);
  const settings = metricsApiSettingsFromConfig(
    resolveConfig({ flags: { ...flags, tlsCertFile: certFile, tlsKeyFile: keyFile } }).config,
  );
  return startMetricsApiServer({
    provider: new FakeMetricsProvider(),
    tls: settings.tls,
    tlsMinVersion: settings.tlsMinVersion,
    ...(settings.tlsCiphers === undefined ? {} : { tlsCiphers: settings.tlsCiphers }),
    auth: { disabled: true },
    host: '127.0.0.1',
    port: 0,
  });
}

/** New certificate files, read again at once: the server builds a new TLS context. */
async function renew(server: MetricsApiServer, dir: string, ca: CertificateAuthority): Promise<void> {
  const renewed = await issueCertificate(ca, {
    commonName: 'localhost',
    usage: 'server',
    hosts: ['localhost'],
  });
  await writeFile(join(dir, 'tls.key'), renewed.keyPem);
  await writeFile(join(dir, 'tls.crt'), renewed.certPem);
  await server.reloadCertificate();
}

describe('metrics API TLS settings', () => {
  let ca: CertificateAuthority;
  const dirs: string[] = [];
  const servers: MetricsApiServer[] = [];
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'slotscaler-tls-'));
    dirs.push(dir);
    return dir;
  };

  before(async () => {
    ca = await createCertificateAuthority({ commonName: 'test-ca' });
  });
  after(async () => {
    for (const server of servers) await server.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('by default accepts TLS 1.2 and 1.3', async () => {
    const server = await serve(await tempDir(), ca, {});
    servers.push(server);
    assert.equal((await handshake(server.port, { maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
    assert.equal((await handshake(server.port)).protocol, 'TLSv1.3');
  });

  it('tls-min-version TLSv1.3 refuses TLS 1.2, also after the certificate is reloaded', async () => {
    const dir = await tempDir();
    const server = await serve(dir, ca, { tlsMinVersion: 'TLSv1.3' });
    servers.push(server);
    assert.equal((await handshake(server.port)).protocol, 'TLSv1.3');
    await assert.rejects(handshake(server.port, { maxVersion: 'TLSv1.2' }));
    await renew(server, dir, ca);
    await assert.rejects(handshake(server.port, { maxVersion: 'TLSv1.2' }), 'still refused after a reload');
    assert.equal((await handshake(server.port)).protocol, 'TLSv1.3');
  });

  it('tls-cipher-suites limits the TLS 1.2 suites and leaves TLS 1.3 on, also after a reload', async () => {
    const dir = await tempDir();
    const server = await serve(dir, ca, { tlsCipherSuites: 'ECDHE-ECDSA-AES256-GCM-SHA384' });
    servers.push(server);
    const check = async (): Promise<void> => {
      const tls12 = { maxVersion: 'TLSv1.2' } as const;
      assert.equal((await handshake(server.port, tls12)).cipher, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
      await assert.rejects(handshake(server.port, { ...tls12, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }));
      assert.equal((await handshake(server.port)).protocol, 'TLSv1.3');
    };
    await check();
    await renew(server, dir, ca);
    await check();
  });

  it('refuses a cipher suite OpenSSL does not know, naming it, and an unknown version', () => {
    assert.throws(
      () =>
        resolveConfig({
          flags: { tlsCipherSuites: 'ECDHE-RSA-AES128-GCM-SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256' },
        }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /tls-cipher-suites.*"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" is not a cipher suite OpenSSL knows/.test(
          err.message,
        ),
    );
    assert.throws(
      () => resolveConfig({ flags: { tlsMinVersion: 'TLSv1.1' } }),
      (err: unknown) => err instanceof ConfigError && /tls-min-version.*TLSv1\.2, TLSv1\.3/.test(err.message),
    );
  });
});
