/**
 * `simulate` on the built-in traces: figures of Slotscaler and of the HPA baseline are printed as
 * test diagnostics (run with --test-reporter=spec to see them); only Slotscaler's are asserted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';

import { builtinTrace, parseTraceCsv, rateAt } from '../../../src/simulate/traces.js';
import type { BuiltinTraceName } from '../../../src/simulate/traces.js';
import { CHECKPOINT_PHASE, DEFAULT_JOB_MODEL_OPTIONS } from '../../../src/simulate/job-model.js';
import {
  defaultScalerConfig,
  hpaCpuPolicy,
  simulate,
  simulatedRescalePath,
  slotscalerPolicy,
} from '../../../src/simulate/run.js';
import type { Policy, RescaleOption, SimulationResult } from '../../../src/simulate/run.js';

const DEFAULTS = defaultScalerConfig();

/** The busy ratio alone, the default before the demand ratio: it stops at 1, so it under-sizes a step. */
const BUSY_ONLY: Readonly<Record<string, string>> = { 'slotscaler.dev/metrics': 'flink_busy_ratio=0.7' };

function run(name: BuiltinTraceName, policy: Policy, rescale: RescaleOption = 'auto'): SimulationResult {
  return simulate({
    trace: builtinTrace(name),
    policy,
    tickIntervalSeconds: DEFAULTS.tickIntervalSeconds,
    lagObjectiveSeconds: 60,
    rescale,
  });
}

function figures(result: SimulationResult): string {
  const s = result.summary;
  return `${result.trace} ${result.policy}: rescales ${s.rescales} (up ${s.scaleUps}, down ${s.scaleDowns}), downtime ${s.restartDowntimeSeconds.toFixed(1)} s, reprocessed ${(s.recordsReprocessed ?? 0).toFixed(0)}, over lag objective ${s.secondsOverLagObjective} s, peak lag ${s.peakLagSeconds.toFixed(0)} s, TM-hours ${s.taskManagerHours.toFixed(2)}, peak TMs ${s.peakTaskManagers}`;
}

/** Direction changes of the rescales (an up after a down, or a down after an up). */
function reversals(result: SimulationResult): number {
  const directions = result.decisions
    .filter((decision) => decision.outcome === 'scaled')
    .map((decision) => Math.sign(decision.toTaskManagers - decision.fromTaskManagers));
  return directions.filter((direction, index) => index > 0 && direction !== directions[index - 1]).length;
}

function report(t: TestContext, ...results: SimulationResult[]): void {
  for (const result of results) t.diagnostic(figures(result));
}

describe('simulate on the built-in traces', () => {
  it('step: Slotscaler defaults reach enough capacity in one rescale (no staircase)', (t) => {
    const ours = run('step', slotscalerPolicy({}, 'slotscaler (defaults)'));
    report(t, ours, run('step', slotscalerPolicy(BUSY_ONLY, 'slotscaler (busy ratio only)')));
    report(t, run('step', hpaCpuPolicy(DEFAULTS.target)));
    const scaled = ours.decisions.filter((decision) => decision.outcome === 'scaled');
    const first = scaled[0];
    assert.ok(first !== undefined);
    const capacity = first.parallelism * 1000;
    assert.ok(capacity >= rateAt(builtinTrace('step'), first.seconds), `${capacity} records/s`);
    assert.equal(ours.summary.scaleUps, 1, figures(ours));
    assert.equal(reversals(ours), 0);
    assert.ok(ours.summary.secondsOverLagObjective <= 60, figures(ours));
  });

  it('flat-with-noise: never oscillates, with the defaults and with the busy ratio only', (t) => {
    const hpa = run('flat-with-noise', hpaCpuPolicy(DEFAULTS.target));
    for (const policy of [
      slotscalerPolicy({}, 'slotscaler (defaults)'),
      slotscalerPolicy(BUSY_ONLY, 'slotscaler (busy ratio only)'),
    ]) {
      const ours = run('flat-with-noise', policy);
      report(t, ours);
      assert.equal(reversals(ours), 0, figures(ours));
      assert.ok(ours.summary.rescales <= 1, figures(ours));
    }
    report(t, hpa);
  });

  it('every built-in trace: both policies run; figures side by side', (t) => {
    for (const name of ['ramp', 'daily-sine', 'spike'] as const) {
      const defaults = run(name, slotscalerPolicy({}, 'slotscaler (defaults)'));
      const busyOnly = run(name, slotscalerPolicy(BUSY_ONLY, 'slotscaler (busy ratio only)'));
      const hpa = run(name, hpaCpuPolicy(DEFAULTS.target));
      report(t, defaults, busyOnly, hpa);
      for (const result of [defaults, busyOnly, hpa]) {
        const s = result.summary;
        assert.ok(s.taskManagerHours > 0);
        // Conservation over the whole run.
        assert.ok(Math.abs(s.recordsIn - s.recordsProcessed - s.finalBacklogRecords) < 1e-6 * s.recordsIn);
        // Each rescale costs its path's downtime (the last one may be cut by the trace's end), and
        // the records reprocessed are those of the rescales.
        const effects = result.decisions.flatMap((decision) =>
          decision.rescale === undefined ? [] : [decision.rescale],
        );
        assert.equal(effects.length, s.rescales);
        const downtime = effects.reduce((sum, effect) => sum + effect.downtimeSeconds, 0);
        assert.ok(s.restartDowntimeSeconds <= downtime + 1e-9, figures(result));
        assert.ok(s.restartDowntimeSeconds >= downtime - (effects.at(-1)?.downtimeSeconds ?? 0) - 1e-9);
        const reprocessed = effects.reduce((sum, effect) => sum + effect.reprocessedRecords, 0);
        assert.ok(
          Math.abs((s.recordsReprocessed ?? Number.NaN) - reprocessed) < 1e-6 * Math.max(1, reprocessed),
        );
      }
      // The defaults rescale in place; the baseline on TaskManagers is reactive mode.
      assert.equal(defaults.summary.rescalesByPath?.['in-place'], defaults.summary.rescales);
      assert.equal(hpa.summary.rescalesByPath?.scale, hpa.summary.rescales);
      // The demand ratio is the busy ratio until a backlog grows: never more rescales, never more lag.
      assert.ok(defaults.summary.rescales <= busyOnly.summary.rescales, figures(defaults));
      assert.ok(
        defaults.summary.secondsOverLagObjective <= busyOnly.summary.secondsOverLagObjective,
        figures(defaults),
      );
    }
  });

  it('catching up is not new load: steps with a slow restart, and a spike that leaves a large backlog', (t) => {
    /** Redeployed with a restart of `restartSeconds` (and no savepoint time), or in place by default. */
    const runOn = (
      csv: string,
      annotations: Record<string, string>,
      label: string,
      restartSeconds?: number,
    ) =>
      simulate({
        trace: parseTraceCsv(csv, 'test.csv'),
        policy: slotscalerPolicy({ ...annotations, 'slotscaler.dev/max-taskmanagers': '20' }, label),
        tickIntervalSeconds: DEFAULTS.tickIntervalSeconds,
        lagObjectiveSeconds: 60,
        ...(restartSeconds === undefined
          ? {}
          : {
              rescale: 'redeploy' as const,
              model: {
                rescaleCosts: {
                  ...DEFAULT_JOB_MODEL_OPTIONS.rescaleCosts,
                  redeploy: { upSeconds: restartSeconds, downSeconds: restartSeconds, savepointSeconds: 0 },
                },
              },
            }),
      });
    // A 120 s restart builds a backlog that takes longer than the hold after restart to drain.
    // Read as load, the catch-up scaled the job up and down for the rest of the trace (the busy
    // ratio, and a demand that never went below it, did: 8 rescales on the 7000 step).
    for (const to of [4500, 6000, 7000]) {
      const ours = runOn(`0,2400\n600,2400\n600,${to}\n3600,${to}\n`, {}, 'slotscaler (defaults)', 120);
      t.diagnostic(`step to ${to}, 120 s restart: ${figures(ours)}`);
      assert.equal(ours.summary.scaleUps, 1, figures(ours));
      assert.equal(ours.summary.scaleDowns, 0, figures(ours));
    }
    // 20,000 records/s for 5 min, then 500: a backlog of millions when the input falls. The input
    // alone would shrink the job at once; draining within catch-up-duration keeps what drains it.
    const spike = '0,2500\n1200,2500\n1200,20000\n1500,20000\n1500,500\n5400,500\n';
    // In place, and redeployed with a 60 s restart.
    for (const restartSeconds of [undefined, 60]) {
      const ours = runOn(spike, {}, 'slotscaler (defaults)', restartSeconds);
      const busyOnly = runOn(spike, BUSY_ONLY, 'slotscaler (busy ratio only)', restartSeconds);
      const inputOnly = runOn(
        spike,
        { 'slotscaler.dev/catch-up-duration': '24h' },
        'slotscaler (catch-up 24h)',
        restartSeconds,
      );
      report(t, ours, busyOnly, inputOnly);
      assert.ok(
        ours.summary.secondsOverLagObjective < busyOnly.summary.secondsOverLagObjective,
        figures(ours),
      );
      assert.ok(
        ours.summary.secondsOverLagObjective < inputOnly.summary.secondsOverLagObjective,
        figures(ours),
      );
      assert.ok(ours.summary.rescales <= busyOnly.summary.rescales, figures(ours));
    }
  });

  it('runs the annotations as the scaler parses them, and rejects bad ones with every problem', () => {
    assert.throws(
      () => slotscalerPolicy({ 'slotscaler.dev/max-taskmanagers': 'ten', 'slotscaler.dev/tolerence': '1' }),
      /max-taskmanagers.*ten.*tolerence|tolerence.*max-taskmanagers/,
    );
    assert.throws(() => slotscalerPolicy({ 'slotscaler.dev/min-taskmanagers': '0' }), /cannot scale to zero/);
    const recommend = run('step', slotscalerPolicy({ 'slotscaler.dev/mode': 'recommend' }));
    assert.equal(recommend.summary.rescales, 0);
    assert.ok(recommend.decisions.some((decision) => decision.outcome === 'held: mode recommend'));
    const capped = run('step', slotscalerPolicy({ 'slotscaler.dev/max-taskmanagers': '3' }));
    assert.ok(capped.summary.peakTaskManagers <= 3);
  });

  it('takes the path chosen for it: in place by default, redeploy when asked, each at its own cost', (t) => {
    assert.equal(simulatedRescalePath('auto'), 'in-place');
    assert.equal(simulatedRescalePath('in-place'), 'in-place');
    assert.equal(simulatedRescalePath('redeploy'), 'redeploy');
    const inPlace = run('step', slotscalerPolicy({}, 'slotscaler (in place)'));
    const redeploy = run('step', slotscalerPolicy({}, 'slotscaler (redeploy)'), 'redeploy');
    report(t, inPlace, redeploy);
    assert.deepEqual(inPlace.summary.rescalesByPath, { 'in-place': 1, redeploy: 0, scale: 0 });
    assert.deepEqual(redeploy.summary.rescalesByPath, { 'in-place': 0, redeploy: 1, scale: 0 });
    const costs = DEFAULT_JOB_MODEL_OPTIONS.rescaleCosts;
    // One scale-up each: its downtime is the path's, whole (the trace goes on long after it).
    assert.equal(inPlace.summary.restartDowntimeSeconds, costs['in-place'].upSeconds);
    assert.equal(
      redeploy.summary.restartDowntimeSeconds,
      (costs.redeploy.savepointSeconds ?? 0) + costs.redeploy.upSeconds,
    );
    // In place replays what the job processed since its latest checkpoint; a redeploy stops with a savepoint.
    const written = inPlace.decisions.find((decision) => decision.outcome === 'scaled');
    assert.ok(written?.rescale !== undefined);
    assert.ok(written.rescale.reprocessedRecords > 0);
    assert.equal(inPlace.summary.recordsReprocessed, written.rescale.reprocessedRecords);
    assert.equal(redeploy.summary.recordsReprocessed, 0);
    // The scale-up is decided two ticks after the step at 600 s (the first reading has seen only
    // part of it), at 630 s, and waits for the next checkpoint (every 60 s, on the phase the job
    // model starts with): it is written on the first tick after the one at 637.082 s, with the job
    // saturated at 4 × 1,000 records/s, and replays those 7.918 s.
    const checkpointAtSeconds = (Math.round(60_000 * CHECKPOINT_PHASE) + 600_000) / 1000;
    assert.equal(written.seconds, 645);
    assert.ok(Math.abs(written.rescale.reprocessedRecords - (645 - checkpointAtSeconds) * 4000) < 1e-6);
    // Written when decided (rescale-after-checkpoint off), it replays the 52.918 s since the one before.
    const untimed = run(
      'step',
      slotscalerPolicy({ 'slotscaler.dev/rescale-after-checkpoint': 'false' }, 'slotscaler (untimed)'),
    );
    const untimedWrite = untimed.decisions.find((decision) => decision.outcome === 'scaled');
    assert.equal(untimedWrite?.seconds, 630);
    assert.ok(
      (untimedWrite.rescale?.reprocessedRecords ?? 0) > 5 * written.rescale.reprocessedRecords,
      `${untimedWrite.rescale?.reprocessedRecords}`,
    );
    // Less downtime, less time over the lag objective.
    assert.ok(inPlace.summary.secondsOverLagObjective <= redeploy.summary.secondsOverLagObjective);
  });
});
