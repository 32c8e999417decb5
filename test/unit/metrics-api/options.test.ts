import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConfigError, resolveConfig } from '../../../src/config/load.js';
import { metricsApiSettingsFromConfig } from '../../../src/metrics-api/options.js';

function settings(flags: Record<string, unknown>) {
  return metricsApiSettingsFromConfig(resolveConfig({ flags }).config);
}

describe('metricsApiSettingsFromConfig', () => {
  it('defaults: port 6443, metrics 9090, a self-signed certificate for localhost, no upstream', () => {
    assert.deepEqual(settings({}), {
      port: 6443,
      metricsPort: 9090,
      tls: { kind: 'self-signed', hosts: ['localhost'] },
      authenticationDisabled: false,
      upstream: undefined,
      apiServiceName: 'v1beta1.external.metrics.k8s.io',
      customApiServiceName: 'v1beta2.custom.metrics.k8s.io',
      writeApiServiceCaBundle: false,
      tlsMinVersion: 'TLSv1.2',
      http2: false,
      tlsCiphers: undefined,
      limits: {
        maxConnections: 1000,
        maxUnverifiedConnectionsPerClient: 32,
        unverifiedRequestsPerSecondPerClient: 20,
        handshakeTimeoutMs: 10_000,
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 30_000,
        keepAliveTimeoutMs: 120_000,
        maxHeaderBytes: 32_768,
      },
    });
  });

  it('certificate files and an upstream with its credentials', () => {
    const result = settings({
      tlsCertFile: '/tls/tls.crt',
      tlsKeyFile: '/tls/tls.key',
      upstreamExternalMetrics: 'https://keda-operator-metrics-apiserver.keda:443',
      upstreamCaFile: '/up/ca.crt',
      upstreamTokenFile: '/var/run/token',
      upstreamTimeout: '2s',
      metricsApiPort: '8443',
    });
    assert.deepEqual(result.tls, { kind: 'files', certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' });
    assert.deepEqual(result.upstream, {
      url: 'https://keda-operator-metrics-apiserver.keda', // the default port is dropped
      timeoutMs: 2000,
      caFile: '/up/ca.crt',
      tokenFile: '/var/run/token',
    });
    assert.equal(result.port, 8443);
  });

  it('rejects a port out of range and a bad APIService name through the schema', () => {
    assert.throws(() => settings({ metricsApiPort: '70000' }), ConfigError);
    assert.throws(() => settings({ apiServiceName: 'external.metrics.k8s.io' }), ConfigError);
  });
});
