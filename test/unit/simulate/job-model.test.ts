import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { MetricWindow } from '../../../src/metrics/metric-window.js';
import {
  CHECKPOINT_PHASE,
  DEFAULT_RESCALE_COSTS,
  IN_PLACE_DOWN_SECONDS,
  IN_PLACE_UP_SECONDS,
  JobModel,
  REDEPLOY_RESTART_SECONDS,
  REDEPLOY_SAVEPOINT_SECONDS,
  SCALE_RESTART_SECONDS,
} from '../../../src/simulate/job-model.js';

const T0 = Date.UTC(2026, 0, 1);

describe('JobModel', () => {
  it('conserves records: records in = records processed + backlog change, at every step', () => {
    const model = new JobModel({ startMs: T0, initialTaskManagers: 1, taskSlots: 2 });
    // Above capacity (2000/s), then below, with a rescale (and its downtime) in between.
    const rate = (seconds: number): number => (seconds < 300 ? 3500 + 500 * Math.sin(seconds / 7) : 800);
    let before = model.state();
    for (let t = 1; t <= 900; t += 7) {
      if (t === 120) model.rescale(3, 6, 'in-place');
      model.advance(T0 + t * 1000, rate);
      const after = model.state();
      const inflow = after.inputRecordsTotal - before.inputRecordsTotal;
      const outflow = after.processedRecordsTotal - before.processedRecordsTotal;
      const backlogChange = after.backlogRecords - before.backlogRecords;
      assert.ok(Math.abs(inflow - (outflow + backlogChange)) < 1e-6 * Math.max(1, inflow), `at ${t}s`);
      assert.ok(after.backlogRecords >= 0);
      before = after;
    }
    const end = model.state();
    assert.ok(
      Math.abs(end.inputRecordsTotal - end.processedRecordsTotal - end.backlogRecords) <
        1e-6 * end.inputRecordsTotal,
    );
  });

  it('has a capacity proportional to the slots', () => {
    for (const [taskManagers, slots] of [
      [1, 1],
      [1, 2],
      [3, 2],
      [4, 4],
    ] as const) {
      const model = new JobModel({
        startMs: T0,
        initialTaskManagers: taskManagers,
        taskSlots: slots,
        capacityPerSlotRecordsPerSecond: 750,
      });
      // Far more input than it can take: it processes exactly its capacity.
      model.advance(T0 + 100_000, () => 1_000_000);
      const state = model.state();
      assert.equal(state.capacityRecordsPerSecond, taskManagers * slots * 750);
      assert.ok(Math.abs(state.processedRecordsTotal - taskManagers * slots * 750 * 100) < 1e-6);
    }
  });

  it('restarts on a rescale: down for the downtime, input accumulates, then catches up at full capacity', () => {
    const model = new JobModel({
      startMs: T0,
      initialTaskManagers: 1,
      taskSlots: 2,
      capacityPerSlotRecordsPerSecond: 1000,
      // A redeploy without a savepoint's time: only the restart.
      rescaleCosts: {
        ...DEFAULT_RESCALE_COSTS,
        redeploy: { upSeconds: 45, downSeconds: 45, savepointSeconds: 0 },
      },
    });
    const rate = (): number => 1000;
    model.advance(T0 + 60_000, rate);
    assert.equal(model.state().backlogRecords, 0);
    model.rescale(2, 4, 'redeploy');
    model.advance(T0 + 60_000 + 44_000, rate);
    let state = model.state();
    assert.equal(state.restarting, true);
    assert.equal(state.capacityRecordsPerSecond, 0);
    assert.equal(model.snapshot().state, 'RESTARTING');
    model.advance(T0 + 105_000, rate);
    state = model.state();
    assert.equal(state.restarting, false);
    // 45 s of input, nothing processed: 45 000 pending, the oldest 45 s old.
    assert.ok(Math.abs(state.backlogRecords - 45_000) < 1e-6);
    assert.ok(Math.abs(state.lagSeconds - 45) < 1e-6);
    const snapshot = model.snapshot();
    assert.equal(snapshot.state, 'RUNNING');
    assert.equal(snapshot.runningSinceMs, T0 + 105_000);
    // Catch-up at 4000/s with 1000/s coming in: 15 s to drain.
    model.advance(T0 + 119_000, rate);
    assert.ok(model.state().backlogRecords > 0);
    model.advance(T0 + 121_000, rate);
    assert.equal(model.state().backlogRecords, 0);
    assert.equal(model.state().lagSeconds, 0);
  });

  it('feeds the real MetricWindow: busy ratio = load, back-pressure while records pend, lag and rate', () => {
    const model = new JobModel({ startMs: T0, initialTaskManagers: 2, taskSlots: 2 });
    const window = new MetricWindow({ windowSeconds: 60 });
    for (let t = 15; t <= 120; t += 15) {
      model.advance(T0 + t * 1000, () => 3000);
      window.add(model.snapshot());
    }
    const metrics = window.readings(T0 + 120_000).metrics;
    assert.deepEqual(metrics.flink_busy_ratio, { value: 0.75 });
    assert.deepEqual(metrics.flink_backpressure_ratio, { value: 0 });
    assert.deepEqual(metrics.flink_source_pending_records, { value: 0 });
    assert.deepEqual(metrics.flink_source_lag_seconds, { value: 0 });
    const rate = metrics.flink_records_in_per_second;
    assert.ok('value' in rate && Math.abs(rate.value - 3000) < 1);

    for (let t = 135; t <= 240; t += 15) {
      model.advance(T0 + t * 1000, () => 6000);
      window.add(model.snapshot());
    }
    const saturated = window.readings(T0 + 240_000).metrics;
    assert.deepEqual(saturated.flink_busy_ratio, { value: 1 });
    const backPressure = saturated.flink_backpressure_ratio;
    assert.ok('value' in backPressure && backPressure.value > 0.85);
    const lag = saturated.flink_source_lag_seconds;
    // 120 s at 2000/s over capacity: 240 000 pending, drained at 4000/s: 60 s.
    assert.ok('value' in lag && Math.abs(lag.value - 60) < 1);
  });

  it('costs each path its own downtime, up and down: no processing while input keeps arriving', () => {
    const cases = [
      ['in-place', 3, IN_PLACE_UP_SECONDS],
      ['in-place', 1, IN_PLACE_DOWN_SECONDS],
      ['redeploy', 3, REDEPLOY_SAVEPOINT_SECONDS + REDEPLOY_RESTART_SECONDS],
      ['redeploy', 1, REDEPLOY_SAVEPOINT_SECONDS + REDEPLOY_RESTART_SECONDS],
      ['scale', 3, SCALE_RESTART_SECONDS],
      ['scale', 1, SCALE_RESTART_SECONDS],
    ] as const;
    for (const [path, taskManagers, downtimeSeconds] of cases) {
      const label = `${path} 2 → ${taskManagers}`;
      // Checkpoints off: only the downtime is measured here.
      const model = new JobModel({
        startMs: T0,
        initialTaskManagers: 2,
        taskSlots: 1,
        checkpointIntervalSeconds: 0,
      });
      const rate = (): number => 500;
      model.advance(T0 + 30_000, rate);
      const effect = model.rescale(taskManagers, taskManagers, path);
      assert.deepEqual(effect, { path, downtimeSeconds, reprocessedRecords: 0 }, label);
      const endMs = T0 + 30_000 + Math.round(downtimeSeconds * 1000);
      model.advance(endMs - 1, rate);
      assert.equal(model.state().restarting, true, label);
      model.advance(endMs, rate);
      const state = model.state();
      assert.equal(state.restarting, false, label);
      assert.ok(
        Math.abs(state.downtimeSecondsTotal - downtimeSeconds) < 1e-9,
        `${label}: ${state.downtimeSecondsTotal}`,
      );
      // Everything that arrived during the downtime waits, nothing else.
      assert.ok(Math.abs(state.backlogRecords - 500 * downtimeSeconds) < 1e-6, label);
      assert.equal(state.reprocessedRecordsTotal, 0, label);
    }
  });

  it('in place: resumes from the latest checkpoint, so what was processed since goes back into the backlog', () => {
    const model = new JobModel({
      startMs: T0,
      initialTaskManagers: 2,
      taskSlots: 1,
      checkpointIntervalSeconds: 60,
    });
    const rate = (): number => 1000;
    // The job's checkpoints are on their own phase: times below are shifted by it, so that one
    // completes at "120 s" (and at "60 s"). 40 s of processing since it.
    const SHIFT_MS = Math.round(60_000 * CHECKPOINT_PHASE) + 60_000 - 120_000;
    model.advance(T0 + SHIFT_MS + 160_000, rate);
    assert.equal(model.state().backlogRecords, 0);
    const effect = model.rescale(3, 3, 'in-place');
    assert.equal(effect.downtimeSeconds, IN_PLACE_UP_SECONDS);
    assert.ok(Math.abs(effect.reprocessedRecords - 40_000) < 1e-6, `${effect.reprocessedRecords}`);
    let state = model.state();
    assert.ok(Math.abs(state.backlogRecords - 40_000) < 1e-6);
    assert.ok(Math.abs(state.processedRecordsTotal - (120_000 + SHIFT_MS)) < 1e-6);
    // The oldest pending record is the first one after the checkpoint: it arrived at 120 s.
    assert.ok(Math.abs(state.lagSeconds - 40) < 1e-6, `lag ${state.lagSeconds}`);
    assert.equal(model.snapshot().vertices[0]?.source?.pendingRecords, 40_000);
    // Conservation still holds with the replay: records in = distinct records processed + backlog.
    model.advance(T0 + SHIFT_MS + 200_000, rate);
    state = model.state();
    assert.ok(Math.abs(state.inputRecordsTotal - state.processedRecordsTotal - state.backlogRecords) < 1e-6);
    assert.ok(Math.abs(state.reprocessedRecordsTotal - 40_000) < 1e-6);

    // The checkpoint timer starts anew when the job runs again (163.3 s): the next one is at 223.3 s.
    // A rescale just before it replays almost a whole interval, one just after it almost nothing.
    const before = new JobModel({ startMs: T0, initialTaskManagers: 2, taskSlots: 1 });
    const after = new JobModel({ startMs: T0, initialTaskManagers: 2, taskSlots: 1 });
    for (const twin of [before, after]) {
      twin.advance(T0 + SHIFT_MS + 160_000, rate);
      twin.rescale(3, 3, 'in-place');
    }
    before.advance(T0 + SHIFT_MS + 223_000, rate);
    after.advance(T0 + SHIFT_MS + 224_000, rate);
    const late = before.rescale(2, 2, 'in-place').reprocessedRecords;
    const early = after.rescale(2, 2, 'in-place').reprocessedRecords;
    // Everything processed since the restore: 59.7 s of input, and the backlog the first rescale
    // left (40 s replayed, 3.3 s of downtime), drained meanwhile.
    assert.ok(Math.abs(late - (59_700 + 40_000 + 3_300)) < 1e-6, `${late}`);
    assert.ok(Math.abs(early - 700) < 1e-6, `${early}`);
  });

  it('redeploy: stops with a savepoint, so it replays nothing and costs the savepoint time plus the restart', () => {
    const model = new JobModel({
      startMs: T0,
      initialTaskManagers: 2,
      taskSlots: 1,
      checkpointIntervalSeconds: 60,
    });
    const rate = (): number => 1000;
    model.advance(T0 + 119_000, rate);
    const effect = model.rescale(3, 3, 'redeploy');
    assert.deepEqual(effect, {
      path: 'redeploy',
      downtimeSeconds: REDEPLOY_SAVEPOINT_SECONDS + REDEPLOY_RESTART_SECONDS,
      reprocessedRecords: 0,
    });
    assert.equal(model.state().backlogRecords, 0);
    assert.equal(model.state().lagSeconds, 0);
    // A second rescale while the job is still down has nothing to replay either.
    model.advance(T0 + 130_000, rate);
    assert.equal(model.rescale(2, 2, 'in-place').reprocessedRecords, 0);
    assert.equal(model.state().reprocessedRecordsTotal, 0);
  });

  it('without checkpoints a restart resumes where the job stopped', () => {
    const model = new JobModel({
      startMs: T0,
      initialTaskManagers: 2,
      taskSlots: 1,
      checkpointIntervalSeconds: 0,
    });
    model.advance(T0 + 170_000, () => 1000);
    assert.equal(model.rescale(3, 3, 'in-place').reprocessedRecords, 0);
    assert.throws(() => new JobModel({ checkpointIntervalSeconds: -1 }), /checkpointIntervalSeconds/);
    assert.throws(
      () =>
        new JobModel({
          rescaleCosts: {
            ...DEFAULT_RESCALE_COSTS,
            scale: { upSeconds: -1, downSeconds: 0, savepointSeconds: null },
          },
        }),
      /scale rescale cost/,
    );
  });
});
