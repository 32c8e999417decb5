// The README's own commands, run as written, so its examples cannot rot.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { defaultScalerConfig, hpaCpuPolicy, simulate, slotscalerPolicy } from '../../src/simulate/run.js';
import type { Policy, SimulationSummary } from '../../src/simulate/run.js';
import { builtinTrace } from '../../src/simulate/traces.js';
import type { BuiltinTraceName } from '../../src/simulate/traces.js';
import { readmeSection } from '../support/readme.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repo, 'bin', 'slotscaler.js');

const README_HEADINGS = readFileSync(join(repo, 'README.md'), 'utf8')
  .split('\n')
  .filter((line) => line.startsWith('## '));

/** The text of a README section (`## ` heading), subsections included. */
function section(heading: string): string {
  const start = README_HEADINGS.find((line) => line.startsWith(`## ${heading}`));
  assert.ok(start !== undefined, `README has no section "${heading}"`);
  return readmeSection(start);
}

const DEFAULTS = defaultScalerConfig();
const run = (trace: BuiltinTraceName, policy: Policy): SimulationSummary =>
  simulate({
    trace: builtinTrace(trace),
    policy,
    tickIntervalSeconds: DEFAULTS.tickIntervalSeconds,
    lagObjectiveSeconds: 60,
  }).summary;

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
    // The rescales column: what simulate gives for each policy on that trace.
    const rescales = (policy: string): number =>
      Number(new RegExp(`^${policy}\\s+(\\d+)`, 'm').exec(printed)?.[1]);
    assert.equal(rescales('slotscaler'), run('step', slotscalerPolicy({})).rescales);
    assert.equal(rescales('hpa-cpu'), run('step', hpaCpuPolicy(DEFAULTS.target)).rescales);
    assert.ok(existsSync(join(dir, 'report.html')));
    assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /<svg/);
  });
});

describe("the README's simulate figures", () => {
  const TRACES: Readonly<Record<string, BuiltinTraceName>> = {
    step: 'step',
    'step down': 'step-down',
    'up down': 'up-down',
    ramp: 'ramp',
    'daily sine': 'daily-sine',
    spike: 'spike',
    'flat with noise': 'flat-with-noise',
  };
  it('the table of Slotscaler defaults against the plain HPA is what simulate gives now', () => {
    const rows = [...section('See it before you trust it').matchAll(/^\| ([a-z ]+) \| (.+) \|$/gm)].filter(
      (row) => (row[1] ?? '').trim() in TRACES,
    );
    assert.equal(rows.length, Object.keys(TRACES).length, 'one row per built-in trace');
    for (const row of rows) {
      const name = TRACES[(row[1] ?? '').trim()];
      assert.ok(name !== undefined);
      const ours = run(name, slotscalerPolicy({}));
      const hpa = run(name, hpaCpuPolicy(DEFAULTS.target));
      const pair = (a: number, b: number, digits = 0): string =>
        `${a.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })} vs ${b.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
      const cells = (row[2] ?? '').split('|').map((cell) => cell.trim());
      assert.deepEqual(
        cells,
        [
          pair(ours.rescales, hpa.rescales),
          pair(ours.secondsOverLagObjective, hpa.secondsOverLagObjective),
          pair(ours.taskManagerHours, hpa.taskManagerHours, 2),
        ],
        name,
      );
    }
  });

  it('the busy ratio alone: the rescales the README and the metrics setting quote', () => {
    const busyOnly = slotscalerPolicy({ 'slotscaler.dev/metrics': 'flink_busy_ratio=0.7' });
    const step = run('step', busyOnly);
    const spike = run('spike', busyOnly);
    const text = section('See it before you trust it');
    assert.match(
      text,
      new RegExp(
        `takes ${step.rescales} rescales\\s+on the step \\(${step.scaleUps} scale-ups[^)]*\\) and ${spike.rescales} on the spike`,
      ),
    );
    // "the other traces are the same": ramp, daily sine and flat with noise rescale as often either way.
    assert.match(text, /the other traces are the same/);
    for (const trace of ['ramp', 'daily-sine', 'flat-with-noise'] as const)
      assert.equal(run(trace, busyOnly).rescales, run(trace, slotscalerPolicy({})).rescales, trace);
    const defaults = run('step', slotscalerPolicy({}));
    assert.match(
      section('Configuration'),
      new RegExp(
        `step trace: ${defaults.scaleUps} scale-up, where flink_busy_ratio=0.7 takes ${step.scaleUps}\\)`,
      ),
    );
  });

  it('the hold after restart: the rescales its description quotes', () => {
    const held = (hold: string): number =>
      run('step', slotscalerPolicy({ 'slotscaler.dev/metrics-hold-after-restart': hold })).rescales;
    assert.match(
      section('Configuration'),
      new RegExp(`default metrics: with 60s ${held('60s')} rescales?, with 5m ${held('5m')}[:)]`),
    );
  });
});
