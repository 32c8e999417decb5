/**
 * The checkpoint hold: a rescale that restores from a checkpoint is written on the first tick after
 * one completed, waiting at most one interval, and not at all when the wait would cost the lag more
 * than the replay it saves. Plain numbers in, the hold (or none) out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { CheckpointsAsSeen } from '../../../src/metrics/metric-window.js';
import {
  CHECKPOINT_STATS_CACHE_MS,
  checkpointHold,
  checkpointWaitBreaksLag,
  checkpointWaitPays,
} from '../../../src/scaler/target-decision.js';
import type { Backlog, CheckpointHoldArgs } from '../../../src/scaler/target-decision.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const ago = (seconds: number): number => NOW - seconds * 1000;

/**
 * Ticks every 15 s, checkpoints every 60 s, the latest completed `latestAgo` seconds ago; the tick
 * before saw it already unless told otherwise.
 */
function seen(latestAgo: number | null, overrides: Partial<CheckpointsAsSeen> = {}): CheckpointsAsSeen {
  return {
    intervalMs: 60_000,
    latestCompletedId: latestAgo === null ? null : 7,
    latestCompletedAtMs: latestAgo === null ? null : ago(latestAgo),
    seenAtMs: NOW,
    previousSnapshotAtMs: ago(15),
    previousLatestCompletedId: latestAgo === null ? null : 7,
    ...overrides,
  };
}

function args(overrides: Partial<CheckpointHoldArgs>): CheckpointHoldArgs {
  return {
    enabled: true,
    path: 'in-place',
    checkpoints: seen(40),
    runningSinceMs: ago(3600),
    currentReplicas: 2,
    desiredReplicas: 4,
    backlog: null,
    readRecordsPerSecond: 4000,
    catchUpSeconds: 300,
    nowMs: NOW,
    ...overrides,
  };
}

const backlog = (pendingRecords: number, growthPerSecond: number): Backlog => ({
  pendingRecords,
  drainRecordsPerSecond: -growthPerSecond,
  growing: growthPerSecond > 0,
});

describe('checkpointHold', () => {
  it('waits for the next checkpoint, saying when it is due and what writing now would replay', () => {
    assert.equal(
      checkpointHold(args({})),
      'waiting for the next checkpoint (due in 20s, every 60s): written now it would replay the last 40s of input',
    );
  });

  it('goes on the first tick that shows a new checkpoint', () => {
    assert.equal(checkpointHold(args({ checkpoints: seen(14, { previousLatestCompletedId: 6 }) })), null);
    // The first of the job's run, too.
    assert.equal(checkpointHold(args({ checkpoints: seen(14, { previousLatestCompletedId: null }) })), null);
    // Shown late by the JobManager's cache: it completed before the previous tick, it is new now.
    assert.equal(checkpointHold(args({ checkpoints: seen(16, { previousLatestCompletedId: 6 }) })), null);
    // Seen by the previous tick already: that tick was the one right after it.
    assert.notEqual(checkpointHold(args({ checkpoints: seen(14) })), null);
    // The previous tick did not read the checkpoints: completed after it is new.
    assert.equal(
      checkpointHold(args({ checkpoints: seen(14, { previousLatestCompletedId: undefined }) })),
      null,
    );
    assert.notEqual(
      checkpointHold(args({ checkpoints: seen(16, { previousLatestCompletedId: undefined }) })),
      null,
    );
  });

  it('waits at most one interval, a tick and the REST cache time: a late or failing checkpoint does not hold it longer', () => {
    // Due 60 s after the latest, seen at most one tick (15 s) and the JobManager's cache time (3 s)
    // later: 77 s ago it is still waited for.
    assert.equal(CHECKPOINT_STATS_CACHE_MS, 3_000);
    assert.notEqual(checkpointHold(args({ checkpoints: seen(77) })), null);
    assert.equal(checkpointHold(args({ checkpoints: seen(78) })), null);
    assert.equal(checkpointHold(args({ checkpoints: seen(600) })), null);
  });

  it('counts the interval from a restart when that is later than the latest checkpoint', () => {
    // Restarted 30 s ago (an earlier rescale): the timer starts anew, the next is due in 30 s.
    const held = checkpointHold(args({ checkpoints: seen(100), runningSinceMs: ago(30) }));
    assert.match(held ?? '', /due in 30s/);
    // Before the first checkpoint of a run, the run's start stands in for the latest.
    assert.match(
      checkpointHold(args({ checkpoints: seen(null), runningSinceMs: ago(50) })) ?? '',
      /due in 10s/,
    );
    assert.match(
      checkpointHold(args({ checkpoints: seen(null), runningSinceMs: ago(50) })) ?? '',
      /everything since the job started/,
    );
  });

  it('writes at once when off, by a savepoint, or without checkpoints to wait for', () => {
    assert.equal(checkpointHold(args({ enabled: false })), null);
    assert.equal(checkpointHold(args({ path: 'redeploy' })), null);
    assert.notEqual(
      checkpointHold(args({ path: 'scale' })),
      null,
      'reactive mode restores from a checkpoint',
    );
    assert.equal(checkpointHold(args({ checkpoints: null })), null);
    assert.equal(checkpointHold(args({ checkpoints: undefined })), null);
    assert.equal(checkpointHold(args({ checkpoints: seen(40, { intervalMs: null }) })), null);
    assert.equal(checkpointHold(args({ checkpoints: seen(null), runningSinceMs: null })), null);
  });

  it('holds a scale-down whatever the backlog: waiting keeps the larger capacity', () => {
    const down = { currentReplicas: 4, desiredReplicas: 2, backlog: backlog(10_000, 0) };
    assert.notEqual(checkpointHold(args(down)), null);
  });

  it('does not hold a scale-up whose backlog, grown over the wait, would outlast catch-up-duration', () => {
    // Reading 4,000/s on 2 TaskManagers, 6,000/s arriving: 4 TaskManagers give 8,000/s, 2,000/s to drain.
    // The wait: 20 s to the checkpoint, a tick and the cache time: 38 s.
    // 500,000 pending + 2,000/s × 38 s = 576,000: 288 s, within 300 s.
    assert.notEqual(checkpointHold(args({ backlog: backlog(500_000, 2000) })), null);
    // 540,000 + 76,000 = 616,000: 308 s, past it.
    assert.equal(checkpointHold(args({ backlog: backlog(540_000, 2000) })), null);
  });
});

describe('checkpointWaitBreaksLag', () => {
  const base = {
    backlog: backlog(100_000, 2000),
    readRecordsPerSecond: 4000,
    currentReplicas: 2,
    desiredReplicas: 4,
    waitSeconds: 30,
    catchUpSeconds: 300,
  };
  it('projects the backlog over the wait against the capacity the scale-up brings', () => {
    assert.equal(checkpointWaitBreaksLag(base), false);
    // Twice the TaskManagers is not enough when arrivals are above twice what is read.
    assert.equal(checkpointWaitBreaksLag({ ...base, backlog: backlog(1, 4000) }), true);
    assert.equal(checkpointWaitBreaksLag({ ...base, waitSeconds: 3000 }), true);
  });
  it('never breaks for a scale-down, an unknown backlog or rate, or nothing pending', () => {
    assert.equal(checkpointWaitBreaksLag({ ...base, desiredReplicas: 1 }), false);
    assert.equal(checkpointWaitBreaksLag({ ...base, backlog: null }), false);
    assert.equal(checkpointWaitBreaksLag({ ...base, readRecordsPerSecond: null }), false);
    assert.equal(checkpointWaitBreaksLag({ ...base, backlog: backlog(0, -100) }), false);
  });
});

describe('checkpointWaitPays', () => {
  it('pays while the backlog it lets grow is below the replay it saves', () => {
    const read = 4000;
    // 2,000/s more pending for 20 s = 40,000 < 4,000/s read over the 40 s since the checkpoint.
    assert.equal(
      checkpointWaitPays({
        backlog: backlog(0, 2000),
        readRecordsPerSecond: read,
        waitSeconds: 20,
        replaySeconds: 40,
      }),
      true,
    );
    // 2,000/s for 50 s = 100,000 > 4,000/s × 10 s.
    assert.equal(
      checkpointWaitPays({
        backlog: backlog(0, 2000),
        readRecordsPerSecond: read,
        waitSeconds: 50,
        replaySeconds: 10,
      }),
      false,
    );
    assert.equal(
      checkpointWaitPays({ backlog: null, readRecordsPerSecond: read, waitSeconds: 50, replaySeconds: 10 }),
      true,
    );
  });
});
