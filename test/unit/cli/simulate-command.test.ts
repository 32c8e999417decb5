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
      /630 s {2}2 → 5 TaskManagers \(parallelism 10\), DesiredWithinRange: flink_demand_ratio 1.75 \(target 0.7\)/,
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
      ['slotscaler (annotations)', 'slotscaler (defaults)', 'hpa-cpu'],
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
});
