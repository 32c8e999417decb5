// The README's own commands, run as written, so its examples cannot rot.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { defaultScalerConfig, hpaCpuPolicy, simulate, slotscalerPolicy } from '../../src/simulate/run.js';
import type { Policy, RescaleOption, SimulationSummary } from '../../src/simulate/run.js';
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
const run = (trace: BuiltinTraceName, policy: Policy, rescale: RescaleOption = 'auto'): SimulationSummary =>
  simulate({
    trace: builtinTrace(trace),
    policy,
    tickIntervalSeconds: DEFAULTS.tickIntervalSeconds,
    lagObjectiveSeconds: 60,
    rescale,
  }).summary;

/** A count as the README writes it: `1,205,906`, `3.3`. */
const number = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pair = (a: number, b: number, digits = 0): string => `${number(a, digits)} vs ${number(b, digits)}`;

/** The rows of the table whose header starts with `header`, as trace name and cells. */
function tableRows(text: string, header: string): { trace: string; cells: string[] }[] {
  const start = text.indexOf(`\n${header}`);
  assert.ok(start >= 0, `no table headed "${header}"`);
  const rows: { trace: string; cells: string[] }[] = [];
  for (const line of text
    .slice(start + 1)
    .split('\n')
    .slice(2)) {
    if (!line.startsWith('|')) break;
    const [trace = '', ...cells] = line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim());
    rows.push({ trace, cells });
  }
  return rows;
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
    // The rescales column: what simulate gives for each policy on that trace.
    const rescales = (policy: string): number => {
      const line = printed.split('\n').find((candidate) => candidate.startsWith(`${policy}  `));
      assert.ok(line !== undefined, `no row for ${policy} in\n${printed}`);
      return Number(line.slice(policy.length).trim().split(/\s+/)[0]);
    };
    assert.equal(rescales('slotscaler (in place)'), run('step', slotscalerPolicy({})).rescales);
    assert.equal(rescales('slotscaler (redeploy)'), run('step', slotscalerPolicy({}), 'redeploy').rescales);
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
    const rows = tableRows(
      section('See it before you trust it'),
      '| trace           | rescales | seconds over the lag objective |',
    );
    assert.deepEqual(
      rows.map((row) => row.trace),
      Object.keys(TRACES),
      'one row per built-in trace',
    );
    for (const row of rows) {
      const name = TRACES[row.trace];
      assert.ok(name !== undefined);
      const ours = run(name, slotscalerPolicy({}));
      const hpa = run(name, hpaCpuPolicy(DEFAULTS.target));
      assert.deepEqual(
        row.cells,
        [
          pair(ours.rescales, hpa.rescales),
          pair(ours.secondsOverLagObjective, hpa.secondsOverLagObjective),
          pair(ours.taskManagerHours, hpa.taskManagerHours, 2),
        ],
        name,
      );
    }
  });

  it('the table of in place against redeploy is what simulate gives now', () => {
    const rows = tableRows(
      section('See it before you trust it'),
      '| trace           | rescales | restart downtime (s) |',
    );
    assert.deepEqual(
      rows.map((row) => row.trace),
      Object.keys(TRACES),
      'one row per built-in trace',
    );
    for (const row of rows) {
      const name = TRACES[row.trace];
      assert.ok(name !== undefined);
      const inPlace = run(name, slotscalerPolicy({}), 'in-place');
      const redeploy = run(name, slotscalerPolicy({}), 'redeploy');
      assert.deepEqual(
        row.cells,
        [
          pair(inPlace.rescales, redeploy.rescales),
          pair(inPlace.restartDowntimeSeconds, redeploy.restartDowntimeSeconds, 1),
          pair(inPlace.recordsReprocessed ?? Number.NaN, redeploy.recordsReprocessed ?? Number.NaN),
          pair(inPlace.secondsOverLagObjective, redeploy.secondsOverLagObjective),
          pair(inPlace.taskManagerHours, redeploy.taskManagerHours, 2),
        ],
        name,
      );
    }
    const ramp = run('ramp', slotscalerPolicy({}), 'in-place');
    assert.match(
      section('See it before you trust it'),
      new RegExp(
        `on the ramp about ${number(Math.round((ramp.recordsReprocessed ?? 0) / ramp.rescales / 10_000) * 10_000)} records per rescale`,
      ),
    );
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
    // The setting's description quotes the redeploy: a restart long enough to build a backlog.
    const defaults = run('step', slotscalerPolicy({}), 'redeploy');
    const redeployed = run('step', busyOnly, 'redeploy');
    assert.match(
      section('Configuration'),
      new RegExp(
        `simulate --rescale redeploy\`, step trace: ${defaults.scaleUps} scale-up, where flink_busy_ratio=0.7 takes ${redeployed.scaleUps}\\)`,
      ),
    );
  });

  it('the hold after restart: the rescales its description quotes', () => {
    const held = (hold: string): number =>
      run('step', slotscalerPolicy({ 'slotscaler.dev/metrics-hold-after-restart': hold }), 'redeploy')
        .rescales;
    assert.match(
      section('Configuration'),
      new RegExp(
        `simulate --rescale redeploy\`, step trace, default metrics: with 60s ${held('60s')} rescales?, with 5m ${held('5m')}[:)]`,
      ),
    );
  });
});
