// The binary's errors, as users see them: one line, a stable exit status, never a stack trace.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const bin = fileURLToPath(new URL('../../bin/slotscaler.js', import.meta.url));

function slotscaler(args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
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

  it('explain refuses a reference that is not NAMESPACE/NAME', () => {
    const { code, stdout } = slotscaler(['explain', 'just-a-name']);
    assert.equal(code, 2);
    assert.match(stdout, /expected NAMESPACE\/NAME/);
  });
});
