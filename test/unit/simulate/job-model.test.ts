import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { MetricWindow } from '../../../src/metrics/metric-window.js';
import { JobModel } from '../../../src/simulate/job-model.js';

const T0 = Date.UTC(2026, 0, 1);

describe('JobModel', () => {
  it('conserves records: records in = records processed + backlog change, at every step', () => {
    const model = new JobModel({ startMs: T0, initialTaskManagers: 1, taskSlots: 2 });
    // Above capacity (2000/s), then below, with a rescale (and its downtime) in between.
    const rate = (seconds: number): number => (seconds < 300 ? 3500 + 500 * Math.sin(seconds / 7) : 800);
    let before = model.state();
    for (let t = 1; t <= 900; t += 7) {
      if (t === 120) model.rescale(3, 6);
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
      restartDowntimeSeconds: 45,
    });
    const rate = (): number => 1000;
    model.advance(T0 + 60_000, rate);
    assert.equal(model.state().backlogRecords, 0);
    model.rescale(2, 4);
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
});
