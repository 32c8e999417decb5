/**
 * One load change, one rescale: the built-in traces through `simulate` with Slotscaler's defaults,
 * counting rescales per change of load, both ways, and what waiting for a whole reading costs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { builtinTrace, parseTraceCsv } from '../../../src/simulate/traces.js';
import type { BuiltinTraceName, Trace } from '../../../src/simulate/traces.js';
import { defaultScalerConfig, simulate, slotscalerPolicy } from '../../../src/simulate/run.js';
import type { SimulationOptions, SimulationResult } from '../../../src/simulate/run.js';

const DEFAULTS = defaultScalerConfig();

function run(
  trace: Trace,
  annotations: Readonly<Record<string, string>> = {},
  extra: Partial<SimulationOptions> = {},
): SimulationResult {
  return simulate({
    trace,
    policy: slotscalerPolicy(annotations),
    tickIntervalSeconds: DEFAULTS.tickIntervalSeconds,
    lagObjectiveSeconds: 60,
    ...extra,
  });
}

/** The rescales written, as `seconds from→to`. */
function rescales(result: SimulationResult): string[] {
  return result.decisions
    .filter((decision) => decision.outcome === 'scaled')
    .map((decision) => `${decision.seconds} ${decision.fromTaskManagers}→${decision.toTaskManagers}`);
}

/** Rescales written within [fromSeconds, toSeconds). */
function between(result: SimulationResult, fromSeconds: number, toSeconds: number): string[] {
  return rescales(result).filter((entry) => {
    const seconds = Number(entry.split(' ')[0]);
    return seconds >= fromSeconds && seconds < toSeconds;
  });
}

describe('one load change, one rescale', () => {
  const changes: readonly {
    readonly trace: BuiltinTraceName;
    /** The load changes of the trace (seconds), with the start: each is answered by at most one rescale. */
    readonly at: readonly number[];
  }[] = [
    { trace: 'step', at: [0, 600] },
    { trace: 'step-down', at: [0, 1200] },
    { trace: 'up-down', at: [0, 607, 2407] },
    { trace: 'spike', at: [0, 1200, 1380] },
    { trace: 'flat-with-noise', at: [0] },
  ];
  for (const { trace, at } of changes) {
    it(`${trace}: at most one rescale per change of load`, (t) => {
      const result = run(builtinTrace(trace));
      t.diagnostic(`${trace}: ${rescales(result).join(', ')}`);
      const ends = [...at.slice(1), Number.POSITIVE_INFINITY];
      at.forEach((start, index) => {
        const written = between(result, start, ends[index] ?? Number.POSITIVE_INFINITY);
        assert.ok(written.length <= 1, `${trace} from ${start} s: ${written.join(', ')}`);
      });
    });
  }

  it('step-down: the drop is one scale-down, to where the recommendations settle', () => {
    const result = run(builtinTrace('step-down'));
    const down = between(result, 1200, 3600);
    assert.equal(down.length, 1, down.join(', '));
    // 1600 records/s at the default target needs 2 TaskManagers (4000 records/s) — not 4 then 3 then 2.
    assert.match(down[0] ?? '', /→2$/);
    const held = result.decisions.filter((decision) =>
      decision.outcome.startsWith('held: the recommendations settle'),
    );
    assert.ok(held.length > 0, 'the scale-down waited for the window to settle');
  });

  it('up-down: a step between two ticks is answered once, after the reading that saw it whole', () => {
    const result = run(builtinTrace('up-down'));
    const up = between(result, 607, 2407);
    assert.deepEqual(up.length, 1, up.join(', '));
    // 7000 records/s at the default target of 0.7: 5 TaskManagers (10 000 records/s); the first
    // reading, 8 s of the step in a 15 s interval, asked for 4.
    assert.match(up[0] ?? '', /→5$/);
    const partial = result.decisions.find((decision) =>
      decision.outcome.startsWith('held: the first reading'),
    );
    assert.ok(
      partial !== undefined && partial.seconds === 615 && partial.toTaskManagers < 5,
      'the first reading saw part of the step',
    );
  });

  it('the demo’s drop (4500 → 800 records/s, its annotations) is one scale-down', () => {
    // scripts/demo.ts: 2 slots of about 980 records/s, 3 s ticks, short windows.
    const demo = {
      'slotscaler.dev/max-taskmanagers': '4',
      'slotscaler.dev/metrics-window': '15s',
      'slotscaler.dev/metrics-hold-after-restart': '20s',
      'slotscaler.dev/metrics-max-age': '30s',
      'slotscaler.dev/cooldown-after-rescale': '15s',
      'slotscaler.dev/scale-down-stabilization': '60s',
    };
    const trace = parseTraceCsv('0,4500\n301,4500\n301,800\n900,800\n', 'demo-drop.csv');
    const result = run(trace, demo, {
      tickIntervalSeconds: 3,
      model: { capacityPerSlotRecordsPerSecond: 980, initialTaskManagers: 3 },
    });
    const down = between(result, 301, 900);
    assert.equal(down.length, 1, rescales(result).join(', '));
    assert.match(down[0] ?? '', /3→1$/);
  });

  it('a ramp is followed step by step: each step is a change of load, never waited out', () => {
    const result = run(builtinTrace('ramp'));
    const written = result.decisions.filter((decision) => decision.outcome === 'scaled');
    const ups = written.filter((decision) => decision.toTaskManagers > decision.fromTaskManagers);
    const downs = written.filter((decision) => decision.toTaskManagers < decision.fromTaskManagers);
    // Up while the load rises (to 3600 s), down while it falls, and the job ends small again.
    assert.ok(
      ups.length >= 3 && ups.every((decision) => decision.seconds <= 3600 + 300),
      rescales(result).join(', '),
    );
    assert.ok(
      downs.length >= 3 && downs.every((decision) => decision.seconds > 3600),
      rescales(result).join(', '),
    );
    assert.ok(result.summary.finalTaskManagers <= 2);
  });
});
