import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resolveConfig } from '../../../src/config/load.js';
import { DEFAULT_CONNECTION_LIMITS, metricsApiSettingsFromConfig } from '../../../src/metrics-api/options.js';

function settings(flags: Record<string, unknown>) {
  return metricsApiSettingsFromConfig(resolveConfig({ flags }).config);
}

describe('metrics API connection limits from the config', () => {
  it('a server started without a config gets the schema defaults', () => {
    assert.deepEqual(DEFAULT_CONNECTION_LIMITS, settings({}).limits);
  });

  it('reads every limit, durations in milliseconds', () => {
    assert.deepEqual(
      settings({
        metricsApiMaxConnections: '200',
        metricsApiMaxConnectionsPerClient: '4',
        metricsApiRequestsPerSecondPerClient: '2.5',
        metricsApiHandshakeTimeout: '5s',
        metricsApiHeadersTimeout: '3s',
        metricsApiRequestTimeout: '1m',
        metricsApiKeepAliveTimeout: '100s',
        metricsApiMaxHeaderBytes: '65536',
      }).limits,
      {
        maxConnections: 200,
        maxUnverifiedConnectionsPerClient: 4,
        unverifiedRequestsPerSecondPerClient: 2.5,
        handshakeTimeoutMs: 5000,
        headersTimeoutMs: 3000,
        requestTimeoutMs: 60_000,
        keepAliveTimeoutMs: 100_000,
        maxHeaderBytes: 65_536,
      },
    );
  });

  it('refuses limits out of bounds', () => {
    assert.throws(() => settings({ metricsApiMaxConnections: '8' }), /expected a value from 16 to 1000000/);
    assert.throws(() => settings({ metricsApiMaxHeaderBytes: '100' }), /expected a value from 4096/);
  });
});
