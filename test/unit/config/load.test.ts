import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { parseTargetAnnotations } from '../../../src/config/annotations.js';
import { ConfigError, loadConfig, resolveConfig } from '../../../src/config/load.js';

describe('global config', () => {
  it('has a default for every setting', () => {
    const { config } = resolveConfig({});
    assert.equal(config.tickInterval, 15);
    assert.deepEqual(config.namespaces, []);
    assert.equal(config.dryRun, false);
    assert.equal(config.writeQps, 5);
    assert.equal(config.writeBurst, 10);
    assert.equal(config.leaderElect, true);
    assert.equal(config.maxTaskmanagers, 10);
    assert.ok(Object.isFrozen(config));
  });

  it('takes flags over environment over file over defaults', () => {
    const { config } = resolveConfig({
      file: {
        path: 'slotscaler.yaml',
        content: { tickInterval: '30s', writeQps: 2, 'dry-run': true, namespaces: ['a', 'b'] },
      },
      env: { SLOTSCALER_TICK_INTERVAL: '20s', SLOTSCALER_WRITE_BURST: '3', UNRELATED: 'x' },
      flags: { tickInterval: '10s', leaderElect: false, notASetting: 'ignored' },
    });
    assert.equal(config.tickInterval, 10);
    assert.equal(config.writeQps, 2);
    assert.equal(config.writeBurst, 3);
    assert.equal(config.dryRun, true);
    assert.equal(config.leaderElect, false);
    assert.deepEqual(config.namespaces, ['a', 'b']);
  });

  it('reads a list setting once per item: blanks and repeats dropped (one informer, one RoleBinding each)', () => {
    for (const namespaces of ['a, ,b,a', ['a', 'b,a', ' ']]) {
      const { config } = resolveConfig({ file: { path: 'slotscaler.yaml', content: { namespaces } } });
      assert.deepEqual(config.namespaces, ['a', 'b'], JSON.stringify(namespaces));
    }
  });

  it('passes target-scope settings to every target as defaults, with their origin', () => {
    const loaded = resolveConfig({ env: { SLOTSCALER_MAX_TASKMANAGERS: '40' } });
    assert.equal(loaded.config.maxTaskmanagers, 40);
    const target = parseTargetAnnotations(
      {},
      { defaults: loaded.targetDefaults, describeDefaultKey: loaded.describeKey },
    );
    if (!target.ok) assert.fail('expected the defaults to parse');
    assert.equal(target.config.maxTaskmanagers, 40);
    assert.equal(loaded.describeKey('maxTaskmanagers'), 'SLOTSCALER_MAX_TASKMANAGERS');
  });

  it('lists every problem, naming where each value came from', () => {
    assert.throws(
      () =>
        resolveConfig({
          file: { path: 'slotscaler.yaml', content: { tickIntervall: '5s', writeQps: 'fast' } },
          env: { SLOTSCALER_DRY_RUN: 'maybe' },
          flags: { namespaces: 'flink,Bad_NS' },
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.deepEqual(err.issues.map((issue) => issue.key).sort(), [
          '--namespaces',
          'SLOTSCALER_DRY_RUN',
          'slotscaler.yaml: tickIntervall',
          'slotscaler.yaml: writeQps',
        ]);
        assert.match(err.message, /tickIntervall: unknown setting; did you mean tickInterval\?/);
        assert.match(err.message, /"Bad_NS" is not a namespace name/);
        return true;
      },
    );
  });

  it('checks the settings that span several, naming each where it was set', () => {
    assert.throws(
      () =>
        resolveConfig({
          flags: {
            tlsCertFile: '/tls/tls.crt',
            upstreamTokenFile: '/t',
            upstreamClientKeyFile: '/k',
            writeApiServiceCaBundle: 'true',
          },
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.issues.map((issue) => `${issue.key}: ${issue.message}`),
          [
            '--tls-cert-file: needs tls-key-file too',
            '--upstream-client-key-file: needs upstream-client-cert-file too',
            '--upstream-token-file: needs upstream-external-metrics',
            '--write-api-service-ca-bundle: only applies to a self-signed certificate (without tls-cert-file)',
          ],
        );
        return true;
      },
    );
    assert.throws(
      () =>
        resolveConfig({
          file: { path: 'slotscaler.yaml', content: { metricsApiHeadersTimeout: '20s' } },
          env: { SLOTSCALER_METRICS_API_REQUEST_TIMEOUT: '10s' },
        }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /SLOTSCALER_METRICS_API_REQUEST_TIMEOUT: "10s": must be at least metrics-api-headers-timeout \(20s\)/.test(
          err.message,
        ),
    );
  });

  it('takes the peer certificate with its key and CA, and only with shards', () => {
    assert.throws(
      () => resolveConfig({ flags: { peerTlsCertFile: '/p/tls.crt' } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.issues.map((issue) => `${issue.key}: ${issue.message}`),
          [
            '--peer-tls-cert-file: needs peer-tls-key-file too',
            '--peer-tls-cert-file: needs peer-tls-ca-file too',
            '--peer-tls-cert-file: needs shards: without it every replica has every target',
          ],
        );
        return true;
      },
    );
    const { config } = resolveConfig({
      flags: {
        shards: 'true',
        peerTlsCertFile: '/p/tls.crt',
        peerTlsKeyFile: '/p/tls.key',
        peerTlsCaFile: '/p/ca.crt',
      },
    });
    assert.equal(config.peerTlsCaFile, '/p/ca.crt');
    assert.equal(config.peerPort, 6444);
  });

  it('refuses a config file that is not a mapping', () => {
    assert.throws(
      () => resolveConfig({ file: { path: 'c.yaml', content: ['a'] } }),
      /c.yaml: expected a mapping/,
    );
    assert.equal(resolveConfig({ file: { path: 'c.yaml', content: null } }).config.tickInterval, 15);
  });

  it('reads a YAML file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slotscaler-config-'));
    const path = join(dir, 'config.yaml');
    await writeFile(path, 'tickInterval: 5s\nscale-down-stabilization: 10m\nnamespaces: [flink]\n');
    const { config } = await loadConfig({ path, env: {}, flags: {} });
    assert.equal(config.tickInterval, 5);
    assert.equal(config.scaleDownStabilization, 600);
    assert.deepEqual(config.namespaces, ['flink']);
    assert.equal((await loadConfig({ env: {}, flags: {} })).config.tickInterval, 15);
  });

  it('says which file it could not read', async () => {
    await assert.rejects(loadConfig({ path: '/nonexistent/slotscaler.yaml', env: {}, flags: {} }), {
      name: 'ConfigError',
      message: /cannot read the config file \/nonexistent\/slotscaler.yaml/,
    });
    const dir = await mkdtemp(join(tmpdir(), 'slotscaler-config-'));
    const path = join(dir, 'bad.yaml');
    await writeFile(path, 'a: [unclosed\n');
    await assert.rejects(loadConfig({ path, env: {}, flags: {} }), /cannot read the config file/);
  });
});
