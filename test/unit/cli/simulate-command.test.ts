import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseAnnotationsFile, runSimulate } from '../../../src/cli/simulate-command.js';
import type { SimulateCommandOptions } from '../../../src/cli/simulate-command.js';

function runWith(
  options: SimulateCommandOptions,
  files: Record<string, string> = {},
): { code: number; out: string; err: string; written: Record<string, string> } {
  let out = '';
  let err = '';
  const written: Record<string, string> = {};
  const code = runSimulate(options, {
    write: (text) => {
      out += `${text}\n`;
    },
    writeError: (line) => {
      err += `${line}\n`;
    },
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: ${path}`);
      return text;
    },
    writeFile: (path, text) => {
      written[path] = text;
    },
  });
  return { code, out, err, written };
}

describe('slotscaler simulate', () => {
  it('prints the summary table and the rescales of a built-in trace', () => {
    const { code, out, err } = runWith({ trace: 'builtin:step' });
    assert.equal(code, 0, err);
    assert.match(out, /^policy\s+rescales\s+up\s+down/);
    assert.match(out, /slotscaler: \d+ rescales/);
    // Written at the second reading after the step (600 s): the first may have seen part of it.
    assert.match(
      out,
      /645 s {2}2 → 5 TaskManagers \(parallelism 10\), DesiredWithinRange: flink_demand_ratio 1.75 \(target 0.7\)/,
    );
  });

  it('--compare --json --report: every policy, JSON on stdout, a self-contained report', () => {
    const { code, out, written } = runWith(
      {
        trace: 'load.csv',
        annotations: 'target.yaml',
        compare: true,
        json: true,
        report: 'out.html',
      },
      {
        'load.csv': 'seconds,records_per_second\n0,3000\n600,3000\n600,9000\n1800,9000\n',
        'target.yaml':
          'apiVersion: flink.apache.org/v1beta1\nkind: FlinkDeployment\nmetadata:\n  name: job\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: "{}"\n    slotscaler.dev/max-taskmanagers: 12\n    slotscaler.dev/metrics-hold-after-restart: 5m\n',
      },
    );
    assert.equal(code, 0);
    const document = JSON.parse(out) as {
      results: { policy: string; summary: { rescales: number }; timeline: unknown[] }[];
    };
    assert.deepEqual(
      document.results.map((result) => result.policy),
      [
        'slotscaler (annotations, in place)',
        'slotscaler (annotations, redeploy)',
        'slotscaler (defaults, in place)',
        'hpa-cpu',
        'flink-operator-autoscaler (model)',
      ],
    );
    assert.ok(document.results.every((result) => result.timeline.length > 100));
    const html = written['out.html'];
    assert.ok(html !== undefined);
    assert.match(html, /^<!DOCTYPE html>/);
    assert.doesNotMatch(html, /<script|src="http|href="http/);
    assert.equal((html.match(/<svg /g) ?? []).length, 6);
    assert.match(html, /Compare: TaskManagers by policy/);
    assert.match(html, /<title>\d+:\d\d: TaskManagers 2 → \d+ \(parallelism \d+\), \w+: /);
  });

  it('fails with one line and exit 2 on bad input', () => {
    const cases: [SimulateCommandOptions, Record<string, string>, RegExp][] = [
      [
        { trace: 'builtin:step', rescale: 'sometimes' },
        {},
        /^slotscaler simulate: --rescale: expected one of auto, in-place, redeploy, got "sometimes"/,
      ],
      [
        { trace: 'builtin:step', checkpointInterval: 'often' },
        {},
        /^slotscaler simulate: --checkpoint-interval: /,
      ],
      [{ trace: 'builtin:step', inPlaceDowntime: '-1s' }, {}, /^slotscaler simulate: --in-place-downtime: /],
      [{ trace: 'builtin:step', savepointDuration: 'x' }, {}, /^slotscaler simulate: --savepoint-duration: /],
      [{ trace: 'missing.csv' }, {}, /^slotscaler simulate: missing\.csv: cannot read the trace: ENOENT/],
      [
        { trace: 'bad.csv' },
        { 'bad.csv': '0,1\n5,x\n' },
        /^slotscaler simulate: bad\.csv:2: records_per_second/,
      ],
      [
        { trace: 'builtin:step', annotations: 'a.yaml' },
        { 'a.yaml': 'slotscaler.dev/max-taskmanagers: ten\n' },
        /^slotscaler simulate: a\.yaml: slotscaler\.dev\/max-taskmanagers: "ten": /,
      ],
      [
        { trace: 'builtin:step', annotations: 'a.yaml' },
        { 'a.yaml': 'max-taskmanagers: 4\n' },
        /must start with slotscaler\.dev\//,
      ],
      [{ trace: 'builtin:step', lagObjective: 'soon' }, {}, /^slotscaler simulate: --lag-objective: /],
      [{ trace: 'builtin:step', capacityPerSlot: '-3' }, {}, /--capacity-per-slot: expected a number > 0/],
      [
        { trace: 'builtin:step', initialTaskmanagers: '1.5' },
        {},
        /--initial-taskmanagers: expected a whole number/,
      ],
    ];
    for (const [options, files, message] of cases) {
      const { code, err, out } = runWith(options, files);
      assert.equal(code, 2, JSON.stringify(options));
      assert.match(err, message);
      assert.equal(err.trim().split('\n').length, 1);
      assert.equal(out, '');
    }
  });

  it('reads annotations from a plain map or an object, numbers and booleans as strings', () => {
    assert.deepEqual(
      parseAnnotationsFile(
        '{"slotscaler.dev/enabled": true, "slotscaler.dev/min-taskmanagers": 2}',
        'a.json',
      ),
      {
        'slotscaler.dev/enabled': 'true',
        'slotscaler.dev/min-taskmanagers': '2',
      },
    );
    assert.throws(() => parseAnnotationsFile('[1]', 'a.yaml'), /a\.yaml: expected a mapping/);
    assert.throws(() => parseAnnotationsFile('slotscaler.dev/metrics: [a]', 'a.yaml'), /expected a string/);
  });

  it('--rescale picks the path of every rescale; --compare runs the other path beside it', () => {
    type Summary = {
      rescales: number;
      rescalesByPath: Record<string, number>;
      restartDowntimeSeconds: number;
      recordsReprocessed: number;
    };
    type Document = {
      settings: Record<string, string>;
      results: { policy: string; summary: Summary; decisions: { rescale?: { path: string } }[] }[];
    };
    const parse = (options: Partial<SimulateCommandOptions>): Document => {
      const { code, out, err } = runWith({ trace: 'builtin:step', json: true, ...options });
      assert.equal(code, 0, err);
      return JSON.parse(out) as Document;
    };
    const byDefault = parse({});
    assert.equal(byDefault.settings['rescale'], 'auto (in place)');
    assert.match(
      byDefault.settings['rescale costs'] ?? '',
      /^in place 3.3 s up, 3.1 s down, .*redeploy 2 s savepoint \+ 60 s restart/,
    );
    assert.equal(byDefault.settings['checkpoints'], 'every 60 s');
    const inPlace = byDefault.results[0]?.summary;
    assert.deepEqual(inPlace?.rescalesByPath, { 'in-place': 1, redeploy: 0, scale: 0 });
    assert.equal(inPlace.restartDowntimeSeconds, 3.3);
    assert.ok(inPlace.recordsReprocessed > 0);

    const redeploy = parse({ rescale: 'redeploy', redeployDowntime: '90s', savepointDuration: '5s' })
      .results[0];
    assert.equal(redeploy?.policy, 'slotscaler');
    assert.deepEqual(redeploy.summary.rescalesByPath, { 'in-place': 0, redeploy: 1, scale: 0 });
    assert.equal(redeploy.summary.restartDowntimeSeconds, 95);
    assert.equal(redeploy.summary.recordsReprocessed, 0);
    assert.ok(redeploy.decisions.every((decision) => decision.rescale?.path !== 'in-place'));

    // No checkpoints: nothing to go back to; a slower in-place rescale.
    const tuned = parse({ checkpointInterval: '0', inPlaceDowntime: '10s' });
    assert.equal(tuned.settings['checkpoints'], 'off: a restart resumes where the job stopped');
    const slower = tuned.results[0]?.summary;
    assert.equal(slower?.recordsReprocessed, 0);
    assert.equal(slower.restartDowntimeSeconds, 10);

    // The chosen path first (charted in detail), the other next, then the baseline and the peer's model.
    const compared = parse({ rescale: 'redeploy', compare: true });
    assert.deepEqual(
      compared.results.map((result) => result.policy),
      ['slotscaler (redeploy)', 'slotscaler (in place)', 'hpa-cpu', 'flink-operator-autoscaler (model)'],
    );
    assert.deepEqual(
      compared.results.map((result) => result.summary.rescalesByPath),
      [
        { 'in-place': 0, redeploy: 1, scale: 0 },
        { 'in-place': 1, redeploy: 0, scale: 0 },
        { 'in-place': 0, redeploy: 0, scale: compared.results[2]?.summary.rescales },
        // The peer rescales in place whatever Slotscaler's path is.
        { 'in-place': compared.results[3]?.summary.rescales, redeploy: 0, scale: 0 },
      ],
    );
  });

  it("--compare prints in place and redeploy side by side, and the report tables them with every rescale's cost", () => {
    const { code, out, written } = runWith({ trace: 'builtin:step', compare: true, report: 'out.html' });
    assert.equal(code, 0);
    const row = (policy: string): string[] => {
      const line = out.split('\n').find((candidate) => candidate.startsWith(`${policy}  `));
      assert.ok(line !== undefined, `no row for ${policy} in\n${out}`);
      return line
        .slice(policy.length)
        .trim()
        .split(/\s{2,}/);
    };
    // rescales, up, down, downtime, reprocessed, over the lag objective, peak lag, TM-hours, peak TMs, by path
    assert.deepEqual(row('slotscaler (in place)').slice(0, 5), ['1', '1', '0', '3.3', '31,672']);
    assert.deepEqual(row('slotscaler (redeploy)').slice(0, 5), ['1', '1', '0', '62.0', '0']);
    assert.equal(row('slotscaler (in place)').at(-1), 'in place 1');
    assert.equal(row('slotscaler (redeploy)').at(-1), 'redeploy 1');
    assert.match(row('hpa-cpu').at(-1) ?? '', /^scale \d+$/);
    assert.match(row('flink-operator-autoscaler (model)').at(-1) ?? '', /^in place \d+$/);
    // Fewer seconds over the lag objective in place: 3.3 s down instead of 62.
    assert.ok(Number(row('slotscaler (in place)')[5]) < Number(row('slotscaler (redeploy)')[5]), out);
    assert.match(out, /645 s {2}2 → 5 TaskManagers .*\(in place, 3\.3 s down, 31,672 records reprocessed\)/);

    const html = written['out.html'];
    assert.ok(html !== undefined);
    assert.match(html, /<th>records reprocessed<\/th>/);
    assert.match(
      html,
      /<td>slotscaler \(redeploy\)<\/td><td>1<\/td><td>1<\/td><td>0<\/td><td>62\.0<\/td><td>0<\/td>/,
    );
    // The detailed decisions are the in-place run's, with the path and cost of the rescale.
    assert.match(html, /<td>2 → 5<\/td><td>10<\/td><td>in place<\/td><td>3\.3<\/td><td>31,672<\/td>/);
    assert.match(
      html,
      /<title>10:45: TaskManagers 2 → 5 \(parallelism 10\), [^<]*; in place, 3\.3 s down, 31,672 records reprocessed<\/title>/,
    );
    assert.equal((html.match(/<svg /g) ?? []).length, 6);
  });
});
