/**
 * The holds after the HPA algorithm that make one load change one rescale, and the restart budget:
 * plain numbers in, the hold (or none) out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { TimestampedRecommendation } from '../../../src/domain/decision.js';
import type { VertexWindowStats } from '../../../src/metrics/metric-window.js';
import {
  backlogOf,
  budgetHold,
  lagDemandsScaleUp,
  loadChangeHold,
  rescalesWithin,
  settleHorizonMs,
} from '../../../src/scaler/target-decision.js';
import type { Backlog, LoadChangeArgs } from '../../../src/scaler/target-decision.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const ago = (seconds: number): number => NOW - seconds * 1000;
const rec = (replicas: number, secondsAgo: number): TimestampedRecommendation => ({
  replicas,
  timestampMs: ago(secondsAgo),
});

function args(overrides: Partial<LoadChangeArgs>): LoadChangeArgs {
  return {
    currentReplicas: 2,
    desiredReplicas: 5,
    proposedReplicas: 5,
    previousRecommendations: [rec(5, 15)],
    recommendations: [rec(5, 15), rec(5, 0)],
    backlog: null,
    catchUpSeconds: 300,
    scaleDownWindowSeconds: 300,
    settleSeconds: 60,
    nowMs: NOW,
    ...overrides,
  };
}

function source(overrides: Partial<VertexWindowStats>): VertexWindowStats {
  return {
    id: 's',
    name: 'Source',
    parallelism: 2,
    isSource: true,
    busyRatio: 0.9,
    backPressureRatio: 0,
    pendingRecords: 30_000,
    recordsInPerSecond: 1000,
    backlogGrowthPerRecord: -0.5,
    newestBacklogGrowthPerRecord: -0.5,
    newestArrivalOverRead: null,
    newestBusyRatio: null,
    timeCountersReported: true,
    ...overrides,
  };
}

describe('a scale-up', () => {
  it('waits when the previous reading did not ask for more: the first may have seen part of the change', () => {
    const hold = loadChangeHold(args({ previousRecommendations: [rec(2, 15), rec(3, 30)] }));
    assert.equal(hold?.kind, 'partial-reading');
  });
  it('goes once the previous reading asked for more too', () => {
    assert.equal(loadChangeHold(args({ previousRecommendations: [rec(4, 15), rec(2, 30)] })), null);
  });
  it('goes on a target’s first reading (nothing to compare) and takes a new history’s proposal over its seed', () => {
    assert.equal(loadChangeHold(args({ previousRecommendations: null })), null);
    assert.equal(loadChangeHold(args({ previousRecommendations: [rec(2, 15), rec(4, 15)] })), null);
  });
  it('is catch-up alone while the current capacity drains the backlog within catch-up-duration', () => {
    // 30 000 records pending, shrinking by 500 records/s: 60 s to drain.
    const backlog = backlogOf({ vertices: [source({})] });
    assert.deepEqual(backlog, { pendingRecords: 30_000, drainRecordsPerSecond: 500, growing: false });
    assert.equal(loadChangeHold(args({ backlog }))?.kind, 'catching-up');
    assert.equal(loadChangeHold(args({ backlog, catchUpSeconds: 59 })), null, 'too slow to drain in time');
  });
  it('is not catch-up when the backlog grows, or there is none', () => {
    const growing = backlogOf({ vertices: [source({ newestBacklogGrowthPerRecord: 0.2 })] });
    assert.equal(growing?.growing, true);
    assert.equal(loadChangeHold(args({ backlog: growing })), null);
    const empty = backlogOf({ vertices: [source({ pendingRecords: 0 })] });
    assert.equal(loadChangeHold(args({ backlog: empty })), null);
  });
});

describe('a scale-down', () => {
  const down = (recommendations: readonly TimestampedRecommendation[]) =>
    loadChangeHold(
      args({
        currentReplicas: 6,
        desiredReplicas: 4,
        proposedReplicas: 2,
        previousRecommendations: null,
        recommendations,
      }),
    );
  it('waits while the readings of a drop that hold it up age out within the settle time', () => {
    // The drop was read as 4, then 3 (partial readings), then 2 for good: 4 leaves the window in 15 s, 3 in 30 s.
    const hold = down([rec(6, 300), rec(4, 285), rec(3, 270), rec(2, 255), rec(2, 15), rec(2, 0)]);
    assert.equal(hold?.kind, 'settling');
    assert.match(hold.why, /settle in 30s/);
  });
  it('waits for readings the JobManager’s metric cache and the tick made late: the metric window alone is too short', () => {
    // Metric window 30 s, scale-down window 60 s, a tick every 15 s: the drop came just after the
    // last reading of the old load (8, now out of the window); the reading 45 s after it still held
    // part of it (the cache refreshes every 10 s). Letting go at 30 s would write 8 -> 6, then -> 2.
    const hold = loadChangeHold(
      args({
        currentReplicas: 8,
        desiredReplicas: 6,
        proposedReplicas: 2,
        previousRecommendations: [rec(8, 60), rec(6, 45), rec(4, 30), rec(3, 15)],
        recommendations: [rec(8, 60), rec(6, 45), rec(4, 30), rec(3, 15), rec(2, 0)],
        scaleDownWindowSeconds: 60,
        settleSeconds: 30,
      }),
    );
    assert.equal(hold?.kind, 'settling');
    assert.match(hold.why, /settle in 45s/);
    // The horizon: window 30 s + metrics as old as the 15 s since the previous request + that tick.
    assert.equal(settleHorizonMs(30, [rec(3, 15)], NOW), 60_000);
    assert.equal(settleHorizonMs(30, [rec(3, 5)], NOW), 45_000, 'a short tick: the 10 s fetch interval');
    assert.equal(settleHorizonMs(30, null, NOW), 40_000, 'no previous reading: no tick to add');
    assert.equal(settleHorizonMs(30, [rec(3, 600)], NOW), 90_000, 'a long gap counts as one window at most');
  });
  it('goes when the window holds nothing above this reading', () => {
    assert.equal(down([rec(2, 290), rec(2, 0)]), null);
  });
  it('goes on a ramp down: higher readings fill the window, each step is a change of load', () => {
    const ramp = Array.from({ length: 20 }, (_, i) => rec(6 - Math.floor(i / 5), 300 - i * 15));
    assert.equal(down([...ramp, rec(2, 0)]), null);
  });
});

describe('the restart budget', () => {
  const budget = (overrides: Partial<Parameters<typeof budgetHold>[0]>) =>
    budgetHold({
      maxPerHour: 3,
      rescalesAtMs: [ago(3000), ago(2000), ago(1000)],
      scalingUp: false,
      lagDemands: false,
      nowMs: NOW,
      ...overrides,
    });
  it('holds any change past the budget but a scale-up the lag demands', () => {
    assert.match(
      budget({}) ?? '',
      /^restart budget spent: 3 rescales in the last hour \(max-rescales-per-hour 3\)/,
    );
    assert.notEqual(budget({ scalingUp: true }), null);
    assert.equal(budget({ scalingUp: true, lagDemands: true }), null);
  });
  it('counts the last hour only, and holds nothing when unset', () => {
    assert.equal(budget({ rescalesAtMs: [ago(3600), ago(2000), ago(1000)] }), null);
    assert.equal(budget({ maxPerHour: undefined }), null);
    assert.deepEqual(rescalesWithin([ago(3600), ago(10), NOW + 1], NOW), [ago(10)]);
  });
  it('the lag demands a scale-up when the backlog grows or would not drain within catch-up-duration', () => {
    const draining: Backlog = { pendingRecords: 30_000, drainRecordsPerSecond: 500, growing: false };
    assert.equal(lagDemandsScaleUp(draining, 300), false);
    assert.equal(lagDemandsScaleUp(draining, 30), true);
    assert.equal(lagDemandsScaleUp({ ...draining, growing: true }, 300), true);
    assert.equal(lagDemandsScaleUp({ ...draining, pendingRecords: 0 }, 30), false);
    assert.equal(lagDemandsScaleUp(null, 300), false, 'an unknown backlog demands nothing');
  });
});
