// The README's own commands, run as written, so its examples cannot rot.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const bin = join(repo, 'bin', 'slotscaler.js');

/** The text of a README section, from its `## ` heading to the next. */
function section(heading: string): string {
  const start = readme.indexOf(`## ${heading}`);
  assert.ok(start >= 0, `README has no section "${heading}"`);
  const end = readme.indexOf('\n## ', start + 3);
  return readme.slice(start, end < 0 ? undefined : end);
}

describe("the README's commands", () => {
  it('decide: the input of its example gives the output it shows', () => {
    const text = section('Ask it what it would do');
    const input =
      /cat > input\.json <<'JSON'\n([\s\S]*?)\nJSON\nnpx slotscaler decide --pretty < input\.json/.exec(
        text,
      )?.[1];
    assert.ok(input, 'the decide example is not where the test looks for it');
    const shown = /```json\n([\s\S]*?)\n```/.exec(text)?.[1];
    assert.ok(shown, 'the README shows no output of the decide example');
    const printed = execFileSync(process.execPath, [bin, 'decide', '--pretty'], { input, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(printed), JSON.parse(shown));
  });

  it('simulate: the built-in trace command prints the comparison and writes the report', () => {
    const text = section('See it before you trust it');
    const command = /npx slotscaler (simulate --trace builtin:step --compare --report report\.html)/.exec(
      text,
    )?.[1];
    assert.ok(command, 'the simulate example is not where the test looks for it');
    const dir = mkdtempSync(join(tmpdir(), 'slotscaler-readme-'));
    const printed = execFileSync(process.execPath, [bin, ...command.split(' ')], {
      cwd: dir,
      encoding: 'utf8',
    });
    assert.match(printed, /^slotscaler\s+\d+/m);
    assert.match(printed, /^hpa-cpu\s+\d+/m);
    assert.ok(existsSync(join(dir, 'report.html')));
    assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /<svg/);
  });
});
