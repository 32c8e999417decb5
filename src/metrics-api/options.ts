/**
 * The metrics API's settings from the global config, with the checks that span several fields
 * (a certificate needs its key, upstream credentials need an upstream). The composition root adds
 * the provider, the Kubernetes clients, the logger and the registry.
 */
import { DEFAULT_CIPHERS } from 'node:tls';

import type { ConfigIssue } from '../config/annotations.js';
import { formatIssue } from '../config/annotations.js';
import { GlobalConfigSchema } from '../config/schema.js';
import type { GlobalConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
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
  /** Write the self-signed CA into the APIService (leader only); false with certificate files. */
  readonly writeApiServiceCaBundle: boolean;
  readonly limits: ConnectionLimits;
  readonly tlsMinVersion: 'TLSv1.2' | 'TLSv1.3';
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

/** Throws a ConfigError listing every inconsistency. */
export function metricsApiSettingsFromConfig(config: Fields): MetricsApiSettings {
  const issues: ConfigIssue[] = [];
  const pair = (a: string, aValue: string | undefined, b: string, bValue: string | undefined): void => {
    if ((aValue === undefined) !== (bValue === undefined)) {
      const [given, missing] = aValue === undefined ? [b, a] : [a, b];
      issues.push({ key: `--${given}`, value: undefined, message: `needs --${missing} too` });
    }
  };
  pair('tls-cert-file', config.tlsCertFile, 'tls-key-file', config.tlsKeyFile);
  pair(
    'upstream-client-cert-file',
    config.upstreamClientCertFile,
    'upstream-client-key-file',
    config.upstreamClientKeyFile,
  );
  if (config.upstreamExternalMetrics === undefined) {
    for (const [key, value] of [
      ['upstream-ca-file', config.upstreamCaFile],
      ['upstream-token-file', config.upstreamTokenFile],
      ['upstream-client-cert-file', config.upstreamClientCertFile],
    ] as const) {
      if (value !== undefined) {
        issues.push({ key: `--${key}`, value: undefined, message: 'needs --upstream-external-metrics' });
      }
    }
  }
  if (config.writeApiServiceCaBundle && config.tlsCertFile !== undefined) {
    issues.push({
      key: '--write-api-service-ca-bundle',
      value: undefined,
      message: 'only applies to a self-signed certificate (without --tls-cert-file)',
    });
  }
  if (config.metricsApiRequestTimeout < config.metricsApiHeadersTimeout) {
    issues.push({
      key: '--metrics-api-request-timeout',
      value: undefined,
      message: `must be at least --metrics-api-headers-timeout (${config.metricsApiHeadersTimeout}s): the headers are part of the request`,
    });
  }
  if (issues.length > 0) {
    throw new ConfigError(
      `invalid configuration:\n${issues.map((issue) => `  ${formatIssue(issue)}`).join('\n')}`,
      issues,
    );
  }
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
    writeApiServiceCaBundle: config.writeApiServiceCaBundle,
    limits: connectionLimitsFromConfig(config),
    tlsMinVersion: config.tlsMinVersion,
    tlsCiphers: tlsCipherString(config.tlsCipherSuites),
  };
}
