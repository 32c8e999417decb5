// The installed `slotscaler` binary, as users call it (needs `npm run build`, which `npm test` runs first).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { DOCUMENTED_INPUT } from '../unit/cli/decide-command.test.js';

const bin = fileURLToPath(new URL('../../bin/slotscaler.js', import.meta.url));

function slotscaler(args: string[], stdin: string) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    input: stdin,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('slotscaler decide (binary)', () => {
  it('prints the decision for the documented input', () => {
    const { code, stdout, stderr } = slotscaler(['decide'], JSON.stringify(DOCUMENTED_INPUT, null, 2));
    assert.equal(stderr, '');
    assert.equal(code, 0);
    const decision = JSON.parse(stdout) as { desiredReplicas: number; parallelism: number };
    assert.equal(decision.desiredReplicas, 7);
    assert.equal(decision.parallelism, 14);
  });

  it('exits 2 with one line naming the field, never a stack trace', () => {
    const { code, stdout, stderr } = slotscaler(
      ['decide'],
      JSON.stringify({ ...DOCUMENTED_INPUT, currentReplicas: -2 }),
    );
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.equal(stderr, 'slotscaler decide: currentReplicas: expected a replica count of 0 or more\n');
  });

  it('answers NDJSON in order', () => {
    const line = JSON.stringify(DOCUMENTED_INPUT);
    const { code, stdout } = slotscaler(['decide'], `${line}\n{}\n${line}\n`);
    assert.equal(code, 2);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[1] ?? '', /^\{"error":"now: is required"\}$/);
  });

  it('exits 2 on an unknown command or option', () => {
    assert.equal(slotscaler(['frobnicate'], '').code, 2);
    assert.equal(slotscaler(['decide', '--bogus'], '').code, 2);
  });

  it('prints help and exits 0', () => {
    const { code, stdout } = slotscaler(['--help'], '');
    assert.equal(code, 0);
    assert.match(stdout, /decide/);
  });
});
