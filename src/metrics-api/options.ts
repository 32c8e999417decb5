/**
 * The metrics API's settings from the global config. The composition root adds the provider, the
 * Kubernetes clients, the logger and the registry.
 */
import { DEFAULT_CIPHERS } from 'node:tls';

import { GlobalConfigSchema } from '../config/schema.js';
import type { GlobalConfig } from '../config/schema.js';
import type { ConnectionLimits } from './connection-guard.js';
import type { ServingCertificateOptions } from './tls/serving.js';
import type { UpstreamOptions } from './upstream.js';

export interface MetricsApiSettings {
  readonly port: number;
  readonly metricsPort: number;
  readonly tls: ServingCertificateOptions;
  readonly authenticationDisabled: boolean;
  readonly upstream: UpstreamOptions | undefined;
  readonly apiServiceName: string;
  /** The custom metrics API's APIService (its CA is written as the external one's, when it exists). */
  readonly customApiServiceName: string;
  /** Write the self-signed CA into the APIService (leader only); false with certificate files. */
  readonly writeApiServiceCaBundle: boolean;
  readonly limits: ConnectionLimits;
  readonly tlsMinVersion: 'TLSv1.2' | 'TLSv1.3';
  /** Offer h2 over ALPN (else HTTP/1.1 only). */
  readonly http2: boolean;
  /** The node:tls `ciphers` string; undefined: Node.js's defaults. */
  readonly tlsCiphers: string | undefined;
}

type Fields = Pick<
  GlobalConfig,
  | 'metricsApiPort'
  | 'metricsPort'
  | 'tlsCertFile'
  | 'tlsKeyFile'
  | 'tlsSelfSignedHosts'
  | 'writeApiServiceCaBundle'
  | 'apiServiceName'
  | 'customApiServiceName'
  | 'authenticationDisabled'
  | 'upstreamExternalMetrics'
  | 'upstreamCaFile'
  | 'upstreamTokenFile'
  | 'upstreamClientCertFile'
  | 'upstreamClientKeyFile'
  | 'upstreamTimeout'
  | LimitFields
  | 'tlsMinVersion'
  | 'tlsCipherSuites'
  | 'metricsApiHttp2'
>;

/**
 * The node:tls `ciphers` string of the configured suites. node:tls takes TLS 1.3 suites (TLS_*)
 * from the same string and turns TLS 1.3 off when it names none, so a list of TLS 1.2 suites gets
 * the default TLS 1.3 suites added: like Kubernetes' --tls-cipher-suites, it leaves TLS 1.3 alone.
 */
export function tlsCipherString(suites: readonly string[] | undefined): string | undefined {
  if (suites === undefined || suites.length === 0) return undefined;
  if (suites.some((suite) => suite.toUpperCase().startsWith('TLS_'))) return suites.join(':');
  const tls13 = DEFAULT_CIPHERS.split(':').filter((suite) => suite.startsWith('TLS_'));
  return [...tls13, ...suites].join(':');
}

type LimitFields =
  | 'metricsApiMaxConnections'
  | 'metricsApiMaxConnectionsPerClient'
  | 'metricsApiRequestsPerSecondPerClient'
  | 'metricsApiHandshakeTimeout'
  | 'metricsApiHeadersTimeout'
  | 'metricsApiRequestTimeout'
  | 'metricsApiKeepAliveTimeout'
  | 'metricsApiMaxHeaderBytes';

/** The connection limits of the config (durations in seconds there, milliseconds here). */
export function connectionLimitsFromConfig(config: Pick<GlobalConfig, LimitFields>): ConnectionLimits {
  return {
    maxConnections: config.metricsApiMaxConnections,
    maxUnverifiedConnectionsPerClient: config.metricsApiMaxConnectionsPerClient,
    unverifiedRequestsPerSecondPerClient: config.metricsApiRequestsPerSecondPerClient,
    handshakeTimeoutMs: config.metricsApiHandshakeTimeout * 1000,
    headersTimeoutMs: config.metricsApiHeadersTimeout * 1000,
    requestTimeoutMs: config.metricsApiRequestTimeout * 1000,
    keepAliveTimeoutMs: config.metricsApiKeepAliveTimeout * 1000,
    maxHeaderBytes: config.metricsApiMaxHeaderBytes,
  };
}

/** The limits of the config schema's defaults (a server started without a config: tests, bench). */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = connectionLimitsFromConfig(
  GlobalConfigSchema.parse({}),
);

/**
 * The metrics API's settings of a parsed config. The checks that span several of them (a certificate
 * needs its key, upstream credentials need an upstream) are the schema's (src/config/schema.ts).
 */
export function metricsApiSettingsFromConfig(config: Fields): MetricsApiSettings {
  const tls: ServingCertificateOptions =
    config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined
      ? { kind: 'files', certFile: config.tlsCertFile, keyFile: config.tlsKeyFile }
      : { kind: 'self-signed', hosts: config.tlsSelfSignedHosts };
  const upstream: UpstreamOptions | undefined =
    config.upstreamExternalMetrics === undefined
      ? undefined
      : {
          url: config.upstreamExternalMetrics,
          timeoutMs: config.upstreamTimeout * 1000,
          ...(config.upstreamCaFile === undefined ? {} : { caFile: config.upstreamCaFile }),
          ...(config.upstreamTokenFile === undefined ? {} : { tokenFile: config.upstreamTokenFile }),
          ...(config.upstreamClientCertFile === undefined
            ? {}
            : { clientCertFile: config.upstreamClientCertFile }),
          ...(config.upstreamClientKeyFile === undefined
            ? {}
            : { clientKeyFile: config.upstreamClientKeyFile }),
        };
  return {
    port: config.metricsApiPort,
    metricsPort: config.metricsPort,
    tls,
    authenticationDisabled: config.authenticationDisabled,
    upstream,
    apiServiceName: config.apiServiceName,
    customApiServiceName: config.customApiServiceName,
    writeApiServiceCaBundle: config.writeApiServiceCaBundle,
    limits: connectionLimitsFromConfig(config),
    tlsMinVersion: config.tlsMinVersion,
    http2: config.metricsApiHttp2,
    tlsCiphers: tlsCipherString(config.tlsCipherSuites),
  };
}
