// The binary's errors, as users see them: one line, a stable exit status, never a stack trace.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const bin = fileURLToPath(new URL('../../bin/slotscaler.js', import.meta.url));

function slotscaler(args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, SLOTSCALER_DEBUG: '' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('slotscaler errors', () => {
  it('serve lists every bad setting at once and exits 2', () => {
    const { code, stderr } = slotscaler([
      'serve',
      '--tick-interval',
      'soon',
      '--write-qps',
      'fast',
      '--max-taskmanagers',
      '0',
    ]);
    assert.equal(code, 2);
    assert.match(stderr, /--tick-interval: "soon": expected a duration/);
    assert.match(stderr, /--write-qps: "fast": expected a number/);
    assert.match(stderr, /--max-taskmanagers: "0": expected a value from 1 to 10000/);
    assert.doesNotMatch(stderr, /at .*\.js:\d+/);
  });

  it('serve and explain with an unreadable kubeconfig exit 1 with one line', () => {
    for (const args of [
      ['serve', '--kubeconfig', '/nonexistent/kubeconfig'],
      ['explain', 'flink/job', '--kubeconfig', '/nonexistent/kubeconfig'],
    ]) {
      const { code, stderr } = slotscaler(args);
      assert.equal(code, 1, args.join(' '));
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.match(stderr, /^slotscaler: ENOENT/);
    }
  });

  it('explain refuses a reference that is not NAMESPACE/NAME, on stderr', () => {
    const { code, stdout, stderr } = slotscaler(['explain', 'just-a-name', '-o', 'json']);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.equal(stderr, 'slotscaler explain: expected NAMESPACE/NAME, got "just-a-name"\n');
  });

  it('explain refuses a --context the kubeconfig does not have, naming the ones it has', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slotscaler-cli-'));
    try {
      const kubeconfig = join(dir, 'kubeconfig');
      await writeFile(
        kubeconfig,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
          users: [{ name: 'u', user: { token: 'none' } }],
          contexts: [
            { name: 'prod', context: { cluster: 'c', user: 'u' } },
            { name: 'staging', context: { cluster: 'c', user: 'u' } },
          ],
          'current-context': 'prod',
        }),
      );
      const { code, stdout, stderr } = slotscaler([
        'explain',
        'flink/job',
        '--kubeconfig',
        kubeconfig,
        '--context',
        'dev',
      ]);
      assert.equal(code, 2);
      assert.equal(stdout, '');
      assert.equal(
        stderr,
        'slotscaler explain: no context "dev" in the kubeconfig (it has: prod, staging)\n',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('explain refuses an output format it does not have', () => {
    const { code, stderr } = slotscaler(['explain', 'flink/job', '-o', 'xml']);
    assert.equal(code, 2);
    assert.match(stderr, /argument 'xml' is invalid\. Allowed choices are table, json, yaml/);
  });
});
