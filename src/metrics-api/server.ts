/**
 * `startMetricsApiServer`: the external and custom metrics API on node:https (HTTP/1.1; node:http2
 * with h2 too when `http2` is on), with its serving certificate,
 * client-certificate trust from extension-apiserver-authentication, token and access reviews, the
 * optional upstream, its Prometheus metrics, and the connection limits that keep room for the
 * aggregator (connection-guard.ts). Everything it talks to comes in through its options, so a test
 * starts it on port 0 with fakes.
 */
import { createSecureServer } from 'node:http2';
import type { Http2SecureServer } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';

import type { Registry } from 'prom-client';

import type { Clock, CustomMetricsProvider, MetricsProvider } from '../domain/ports.js';
import type { Logger } from '../observability/logger.js';
import { silentLogger } from '../observability/logger.js';
import { createMetricsApiApp } from './app.js';
import type { Readiness } from '../domain/ports.js';
import { RequestAuthenticator } from './auth/authenticator.js';
import { CachingAuthorizer } from './auth/authorizer.js';
import { parseAuthenticationConfig } from './auth/config.js';
import type { AuthenticationConfig } from './auth/config.js';
import type {
  AuthenticationConfigData,
  AuthenticationConfigSource,
  SubjectAccessReviewer,
  TokenReviewer,
} from '../domain/auth.js';
import { ConnectionGuard, hasVerifiedClientCertificate } from './connection-guard.js';
import type { ConnectionLimits } from './connection-guard.js';
import { createMetricsApiMetrics, noopMetricsApiObserver } from './metrics.js';
import { DEFAULT_CONNECTION_LIMITS } from './options.js';
import { ServingCertificate } from './tls/serving.js';
import type { ServingCertificateOptions } from './tls/serving.js';
import { UpstreamClient } from './upstream.js';
import type { UpstreamOptions } from './upstream.js';

export type { Readiness } from '../domain/ports.js';

/** Authentication and authorization, or (local development only) neither. */
export type MetricsApiAuthOptions =
  | { readonly disabled: true }
  | {
      readonly disabled?: false;
      /** The ConfigMap kube-system/extension-apiserver-authentication, as it changes. */
      readonly configSource: AuthenticationConfigSource;
      /** Bearer tokens; without it only client certificates are accepted. */
      readonly tokenReviewer?: TokenReviewer;
      readonly subjectAccessReviewer: SubjectAccessReviewer;
      /** TTL of the TokenReview and SubjectAccessReview caches. Default 10 s. */
      readonly cacheTtlMs?: number;
    };

export interface MetricsApiServerOptions {
  /** Where metric values come from. */
  readonly provider: MetricsProvider;
  /** Where custom metrics (custom.metrics.k8s.io) come from; without it that API is not served. */
  readonly customProvider?: CustomMetricsProvider;
  readonly tls: ServingCertificateOptions;
  readonly auth: MetricsApiAuthOptions;
  /** Where reads of metric names we do not own go (`--upstream-external-metrics`). */
  readonly upstream?: UpstreamOptions;
  /** Default 6443; 0 picks a free port (tests). */
  readonly port?: number;
  /** Default: every address. */
  readonly host?: string;
  /** `/readyz`: caches synced and at least one collection done. Default: always ready. */
  readonly readiness?: () => Readiness;
  /** Our request metrics are registered here; none without it. */
  readonly registry?: Registry;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Connection, time and size limits (connection-guard.ts). Default: the config schema's defaults. */
  readonly limits?: ConnectionLimits;
  /** Oldest TLS version accepted. Default TLSv1.2. */
  readonly tlsMinVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Offer h2 to the clients over ALPN. Default false: HTTP/1.1 only. */
  readonly http2?: boolean;
  /** The node:tls `ciphers` string (TLS 1.2 and 1.3 suites); default Node.js's. */
  readonly tlsCiphers?: string;
}

export interface MetricsApiServer {
  /** The port it listens on. */
  readonly port: number;
  /** The CA of a self-signed serving certificate (for the APIService's caBundle); else undefined. */
  readonly caPem: string | undefined;
  /** Reads the certificate files again now (they are also watched). */
  reloadCertificate(): Promise<void>;
  /** Stops listening, closes every connection and stops the watchers. */
  close(): Promise<void>;
}

const systemClock: Clock = { nowMs: () => Date.now() };

function clientCaPems(config: AuthenticationConfig | undefined): string | undefined {
  if (config === undefined) return undefined;
  const pems = [config.clientCaPem, config.requestHeader?.caPem ?? ''].filter((pem) => pem.trim() !== '');
  return pems.length === 0 ? undefined : pems.join('\n');
}

/** Starts the server; resolves once it listens. Throws a TlsCertificateError for unusable cert files. */
export async function startMetricsApiServer(options: MetricsApiServerOptions): Promise<MetricsApiServer> {
  const logger = (options.logger ?? silentLogger).child({ component: 'metrics-api' });
  const clock = options.clock ?? systemClock;
  const serving = await ServingCertificate.create(options.tls, logger);
  const upstream =
    options.upstream === undefined ? undefined : await UpstreamClient.create(options.upstream, clock, logger);

  let authConfig: AuthenticationConfig | undefined;
  let authentication: { authenticator: RequestAuthenticator; authorizer: CachingAuthorizer } | undefined;
  let unsubscribe: (() => void) | undefined;
  const auth = options.auth;
  if (auth.disabled === true) {
    logger.warn(
      {},
      'authentication and authorization are DISABLED: anyone who reaches this port reads every metric; for local development only',
    );
  } else {
    authentication = {
      authenticator: new RequestAuthenticator({
        tokenReviewer: auth.tokenReviewer,
        clock,
        logger,
        ...(auth.cacheTtlMs === undefined ? {} : { tokenCacheTtlMs: auth.cacheTtlMs }),
      }),
      authorizer: new CachingAuthorizer(auth.subjectAccessReviewer, clock, auth.cacheTtlMs),
    };
  }

  const secureContext = (): SecureContextOptions => {
    const { certPem, keyPem } = serving.current();
    const ca = clientCaPems(authConfig);
    // OpenSSL verifies a client certificate against `ca` (both bundles) during the handshake; one it
    // refuses still connects (rejectUnauthorized: false), and the authenticator reads the verdict
    // and which bundle the chain ends at (auth/x509.ts).
    // Protocol settings go in every context: setSecureContext replaces all of them.
    return {
      cert: certPem,
      key: keyPem,
      ...(ca === undefined ? {} : { ca }),
      minVersion: options.tlsMinVersion ?? 'TLSv1.2',
      ...(options.tlsCiphers === undefined ? {} : { ciphers: options.tlsCiphers }),
    };
  };

  const observer =
    options.registry === undefined ? noopMetricsApiObserver : createMetricsApiMetrics(options.registry);
  // The aggregator's connections are the ones whose client certificate OpenSSL verified at the
  // handshake against `ca`: the CAs of extension-apiserver-authentication, once read.
  const guard = new ConnectionGuard(options.limits ?? DEFAULT_CONNECTION_LIMITS, {
    isVerified: (socket) => clientCaPems(authConfig) !== undefined && hasVerifiedClientCertificate(socket),
    observer,
    logger,
  });
  // HTTP/1.1 (node:https), or h2 and HTTP/1.1 (node:http2, h2 offered over ALPN) with `http2`.
  // The aggregator takes h2 when offered: its proxy transport comes from client-go
  // (k8s.io/client-go transport/cache.go), whose `utilnet.SetTransportDefaults`
  // (k8s.io/apimachinery pkg/util/net/http.go) enables HTTP/2 unless DISABLE_HTTP2 is set, as
  // metrics-server serves it. Not by default: on Node.js a read over h2 (a stream of the
  // compatibility layer) costs about twice the CPU of one over a keep-alive HTTP/1.1 connection,
  // with a higher p99 at the same rate (`npm run bench -- metrics-api` measures both); without h2
  // the aggregator opens more connections and keeps them alive. node:http2 always offers h2
  // (it sets ALPNProtocols itself), so HTTP/1.1 alone is node:https.
  const listener = guard.requestListener(
    createMetricsApiApp({
      tlsSocketOf: (request) => guard.tlsSocketOf(request),
      provider: options.provider,
      customProvider: options.customProvider,
      authentication,
      upstream,
      readiness: options.readiness ?? (() => ({ ready: true })),
      observer,
      clock,
      logger,
    }),
  );
  const serverOptions = {
    ...guard.serverOptions(),
    ...secureContext(),
    requestCert: true,
    rejectUnauthorized: false,
  };
  const server: Http2SecureServer | HttpsServer =
    options.http2 === true
      ? createSecureServer({ ...serverOptions, allowHTTP1: true }, listener)
      : createHttpsServer({ ...serverOptions, ...guard.http1ServerOptions() }, listener);
  server.on('tlsClientError', (err) => logger.debug({ err }, 'TLS handshake failed'));
  guard.attach(server);

  const applySecureContext = (): void => {
    try {
      server.setSecureContext(secureContext());
    } catch (err) {
      logger.error({ err }, 'cannot apply the new TLS settings; keeping the current ones');
    }
  };
  const stopCertificateListener = serving.onChange(applySecureContext);

  if (authentication !== undefined && auth.disabled !== true) {
    const { authenticator } = authentication;
    const apply = (data: AuthenticationConfigData): void => {
      try {
        authConfig = parseAuthenticationConfig(data);
      } catch (err) {
        logger.error(
          { err },
          'extension-apiserver-authentication has an invalid value; keeping the last good settings',
        );
        if (authConfig !== undefined) return;
        authConfig = { clientCa: [], clientCaPem: '' };
      }
      authenticator.setConfig(authConfig);
      logger.info(
        {
          clientCa: authConfig.clientCa.length > 0,
          requestHeaderCa: authConfig.requestHeader !== undefined,
          allowedNames: authConfig.requestHeader?.allowedNames ?? [],
        },
        'client authentication settings loaded from extension-apiserver-authentication',
      );
      applySecureContext();
    };
    unsubscribe = auth.configSource.onChange(apply);
    const initial = auth.configSource.current();
    if (initial !== undefined) apply(initial);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const address = options.host === undefined ? {} : { host: options.host };
    server.listen({ port: options.port ?? 6443, ...address, backlog: guard.listenBacklog() }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, upstream: upstream?.url }, 'external metrics API listening');

  return {
    port,
    caPem: serving.caPem,
    reloadCertificate: () => serving.reload(),
    close: async () => {
      unsubscribe?.();
      stopCertificateListener();
      serving.close();
      upstream?.close();
      guard.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        guard.destroyConnections();
      });
    },
  };
}
