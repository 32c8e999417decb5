/**
 * What the metrics API integration tests share: a test PKI (serving CA, front-proxy CA, client CA and
 * their client certificates), the server started on port 0 over real TLS with in-memory fakes, and
 * an HTTPS client.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { TLSSocket } from 'node:tls';
import { join } from 'node:path';

import { Registry } from 'prom-client';

import type { Clock } from '../../../src/domain/ports.js';
import type { Logger } from '../../../src/observability/logger.js';
import type { AuthenticationConfigData } from '../../../src/domain/auth.js';
import { startMetricsApiServer } from '../../../src/metrics-api/server.js';
import type {
  MetricsApiServer,
  MetricsApiServerOptions,
  Readiness,
} from '../../../src/metrics-api/server.js';
import { createCertificateAuthority, issueCertificate } from '../../../src/metrics-api/tls/certificates.js';
import type { CertificateAndKey, CertificateAuthority } from '../../../src/metrics-api/tls/certificates.js';
import type { UpstreamOptions } from '../../../src/metrics-api/upstream.js';
import {
  FakeAuthenticationConfigSource,
  FakeSubjectAccessReviewer,
  FakeTokenReviewer,
} from '../../fakes/auth.js';
import { FakeMetricsProvider } from '../../fakes/metrics-provider.js';

export const METRICS_PATH = '/apis/external.metrics.k8s.io/v1beta1';

export interface TestPki {
  readonly servingCa: CertificateAuthority;
  readonly serving: CertificateAndKey;
  readonly frontProxyCa: CertificateAuthority;
  /** The aggregator's front-proxy client certificate (CN front-proxy-client). */
  readonly frontProxy: CertificateAndKey;
  /** Signed by the front-proxy CA, but with a CN that is not allowed. */
  readonly frontProxyWrongName: CertificateAndKey;
  readonly clientCa: CertificateAuthority;
  /** An ordinary client certificate: user alice, groups dev and ops. */
  readonly alice: CertificateAndKey;
  /** An ordinary client certificate in system:masters. */
  readonly admin: CertificateAndKey;
  /** Signed by a CA nobody trusts. */
  readonly stranger: CertificateAndKey;
}

export async function createTestPki(): Promise<TestPki> {
  const [servingCa, frontProxyCa, clientCa, strangerCa] = await Promise.all([
    createCertificateAuthority({ commonName: 'test-serving-ca' }),
    createCertificateAuthority({ commonName: 'test-front-proxy-ca' }),
    createCertificateAuthority({ commonName: 'test-client-ca' }),
    createCertificateAuthority({ commonName: 'test-stranger-ca' }),
  ]);
  const [serving, frontProxy, frontProxyWrongName, alice, admin, stranger] = await Promise.all([
    issueCertificate(servingCa, {
      commonName: 'localhost',
      usage: 'server',
      hosts: ['localhost', '127.0.0.1'],
    }),
    issueCertificate(frontProxyCa, { commonName: 'front-proxy-client', usage: 'client' }),
    issueCertificate(frontProxyCa, { commonName: 'not-the-aggregator', usage: 'client' }),
    issueCertificate(clientCa, { commonName: 'alice', organizations: ['dev', 'ops'], usage: 'client' }),
    issueCertificate(clientCa, { commonName: 'admin', organizations: ['system:masters'], usage: 'client' }),
    issueCertificate(strangerCa, { commonName: 'front-proxy-client', usage: 'client' }),
  ]);
  return {
    servingCa,
    serving,
    frontProxyCa,
    frontProxy,
    frontProxyWrongName,
    clientCa,
    alice,
    admin,
    stranger,
  };
}

/** The ConfigMap kube-system/extension-apiserver-authentication as a kubeadm cluster has it. */
export function authenticationConfigMap(pki: TestPki): AuthenticationConfigData {
  return {
    'client-ca-file': pki.clientCa.certPem,
    'requestheader-client-ca-file': pki.frontProxyCa.certPem,
    'requestheader-allowed-names': '["front-proxy-client"]',
    'requestheader-username-headers': '["X-Remote-User"]',
    'requestheader-group-headers': '["X-Remote-Group"]',
    'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
  };
}

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** A Logger that keeps what it is given. */
export function recordingLogger(entries: LogEntry[] = []): Logger & { readonly entries: LogEntry[] } {
  const make = (bindings: Record<string, unknown>): Logger & { readonly entries: LogEntry[] } => ({
    entries,
    debug: (obj, msg) => entries.push({ level: 'debug', obj: { ...bindings, ...obj }, msg }),
    info: (obj, msg) => entries.push({ level: 'info', obj: { ...bindings, ...obj }, msg }),
    warn: (obj, msg) => entries.push({ level: 'warn', obj: { ...bindings, ...obj }, msg }),
    error: (obj, msg) => entries.push({ level: 'error', obj: { ...bindings, ...obj }, msg }),
    child: (more) => make({ ...bindings, ...more }),
  });
  return make({});
}

export interface TestServer {
  readonly server: MetricsApiServer;
  readonly port: number;
  readonly provider: FakeMetricsProvider;
  readonly configSource: FakeAuthenticationConfigSource;
  readonly tokenReviewer: FakeTokenReviewer;
  readonly authorizer: FakeSubjectAccessReviewer;
  readonly registry: Registry;
  readonly logger: ReturnType<typeof recordingLogger>;
  readonly certFile: string;
  readonly keyFile: string;
  readonly directory: string;
  close(): Promise<void>;
}

export interface TestServerOptions {
  readonly provider?: FakeMetricsProvider;
  readonly authDisabled?: boolean;
  /** The ConfigMap's data at start; undefined: not read yet. Default: authenticationConfigMap(pki). */
  readonly configMap?: AuthenticationConfigData | null;
  readonly upstream?: UpstreamOptions;
  readonly readiness?: () => Readiness;
  readonly clock?: Clock;
  readonly reloadIntervalMs?: number;
  readonly extra?: Partial<MetricsApiServerOptions>;
}

export async function startTestServer(pki: TestPki, options: TestServerOptions = {}): Promise<TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'slotscaler-metrics-api-'));
  const certFile = join(directory, 'tls.crt');
  const keyFile = join(directory, 'tls.key');
  await writeFile(certFile, pki.serving.certPem);
  await writeFile(keyFile, pki.serving.keyPem);
  const provider = options.provider ?? new FakeMetricsProvider();
  const configSource = new FakeAuthenticationConfigSource(
    options.configMap === null ? undefined : (options.configMap ?? authenticationConfigMap(pki)),
  );
  const tokenReviewer = new FakeTokenReviewer();
  const authorizer = new FakeSubjectAccessReviewer();
  const registry = new Registry();
  const logger = recordingLogger();
  const server = await startMetricsApiServer({
    provider,
    tls: { kind: 'files', certFile, keyFile, reloadIntervalMs: options.reloadIntervalMs ?? 60_000 },
    auth:
      options.authDisabled === true
        ? { disabled: true }
        : { configSource, tokenReviewer, subjectAccessReviewer: authorizer },
    port: 0,
    host: '127.0.0.1',
    registry,
    logger,
    ...(options.upstream === undefined ? {} : { upstream: options.upstream }),
    ...(options.readiness === undefined ? {} : { readiness: options.readiness }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...options.extra,
  });
  return {
    server,
    port: server.port,
    provider,
    configSource,
    tokenReviewer,
    authorizer,
    registry,
    logger,
    certFile,
    keyFile,
    directory,
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface TestResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The certificate the server presented (PEM-less: its fingerprint). */
  readonly serverFingerprint: string;
  /** The local port of the connection, to tell connections apart. */
  readonly localPort: number;
  json(): unknown;
}

export interface RequestOptions {
  /** A client certificate to present. */
  readonly client?: CertificateAndKey;
  readonly headers?: Record<string, string | string[]>;
  readonly method?: string;
  /** A keep-alive agent to reuse connections; default: a new connection per request. */
  readonly agent?: https.Agent;
  /** The CA the client trusts; default: the test serving CA. */
  readonly caPem?: string;
}

/** One HTTPS request to 127.0.0.1:port, trusting the serving CA, servername localhost. */
export function request(
  pki: TestPki,
  port: number,
  path: string,
  options: RequestOptions = {},
): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        servername: 'localhost',
        ca: options.caPem ?? pki.servingCa.certPem,
        ...(options.client === undefined ? {} : { cert: options.client.certPem, key: options.client.keyPem }),
        headers: options.headers ?? {},
        agent: options.agent ?? false,
      },
      (res) => {
        const socket = res.socket;
        assert.ok(socket instanceof TLSSocket);
        const serverFingerprint = socket.getPeerCertificate().fingerprint256;
        const localPort = socket.localPort ?? 0;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            serverFingerprint,
            localPort,
            json: () => JSON.parse(body) as unknown,
          });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Headers of a request the aggregator proxies for `user`. */
export function proxyHeaders(
  user: string,
  groups: readonly string[] = [],
  extra: Record<string, string> = {},
) {
  return {
    'X-Remote-User': user,
    ...(groups.length === 0 ? {} : { 'X-Remote-Group': [...groups] }),
    ...Object.fromEntries(Object.entries(extra).map(([key, value]) => [`X-Remote-Extra-${key}`, value])),
  };
}

/** The Prometheus text of the registry. */
export async function scrape(registry: Registry): Promise<string> {
  return registry.metrics();
}

/** A Status body as apimachinery builds it. */
export function status(code: number, reason: string, message: string, details?: object) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  };
}
