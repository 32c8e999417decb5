// The model of the Flink operator's autoscaler: its formulas with plain numbers, one job fed tick
// by tick, and its place in `simulate --compare`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { JobSnapshot } from '../../../src/domain/flink.js';
import {
  PEER_DEFAULT_KNOBS,
  PeerModel,
  peerParallelism,
  targetProcessingCapacity,
} from '../../../src/simulate/peer-model.js';
import type { PeerModelKnobs } from '../../../src/simulate/peer-model.js';
import { defaultScalerConfig, peerModelPolicy, simulate } from '../../../src/simulate/run.js';
import { builtinTrace } from '../../../src/simulate/traces.js';

describe('peer model: formulas', () => {
  it('target capacity: backlog / catch-up + rate × restart / catch-up + rate / utilization, rounded', () => {
    const knobs = { catchUpSeconds: 60, restartSeconds: 300 };
    // 6000 / 60 + 1000 × 300 / 60 + 1000 / 0.7 = 100 + 5000 + 1428.57
    assert.equal(targetProcessingCapacity(1000, 6000, 0.7, true, knobs), 6529);
    assert.equal(targetProcessingCapacity(1000, 6000, 0.7, false, knobs), 1529);
    assert.equal(targetProcessingCapacity(1000, 0, 1.5, false, knobs), 1000, 'utilization is capped at 1');
    assert.equal(targetProcessingCapacity(1000, 0, 0, false, knobs), Number.POSITIVE_INFINITY);
  });

  it('parallelism: ceil(p × capacity / true rate), scale-down limited by the max factor, within bounds', () => {
    const knobs = { scaleDownMaxFactor: 0.6, minParallelism: 1, maxParallelism: 10 };
    assert.equal(peerParallelism(2, 7143, 2000, knobs), 8);
    assert.equal(peerParallelism(2, 20_000, 2000, knobs), 10, 'at most the max parallelism');
    assert.equal(peerParallelism(10, 1429, 10_000, knobs), 4, 'down to p × 0.4 at most');
    assert.equal(peerParallelism(4, 2000, 2000, knobs), 4);
  });
});

/** A job of one source and one process vertex, whose counters grow at the given rates since 0. */
function snapshot(
  atSeconds: number,
  job: {
    parallelism: number;
    busyRatio: number;
    processedPerSecond: number;
    pending: number;
    runningSinceMs?: number;
  },
): JobSnapshot {
  const ms = atSeconds * 1000;
  const records = job.processedPerSecond * atSeconds;
  const vertex = (isSource: boolean): JobSnapshot['vertices'][number] => ({
    id: isSource ? 'a'.repeat(32) : 'b'.repeat(32),
    name: isSource ? 'Source' : 'Process',
    parallelism: job.parallelism,
    maxParallelism: 128,
    status: 'RUNNING',
    isSource,
    counters: {
      busyTimeMs: ms * job.parallelism * (isSource ? 0 : job.busyRatio),
      backPressuredTimeMs: 0,
      idleTimeMs: ms * job.parallelism * (isSource ? 1 : 1 - job.busyRatio),
      recordsRead: isSource ? 0 : records,
      recordsReadComplete: true,
      recordsWritten: records,
      recordsWrittenComplete: true,
    },
    gauges: null,
    source: isSource
      ? { pendingRecords: job.pending, recordsIn: records, recordsOut: records, taskTimeMs: ms }
      : null,
  });
  return {
    jobId: 'c'.repeat(32),
    jobName: 'test',
    state: 'RUNNING',
    runningSinceMs: job.runningSinceMs ?? 0,
    jobManagerNowMs: ms,
    takenAtMs: ms,
    maxParallelism: 128,
    taskSlots: 2,
    vertices: [vertex(true), vertex(false)],
    restCalls: {},
  };
}

const KNOBS: PeerModelKnobs = {
  ...PEER_DEFAULT_KNOBS,
  metricsWindowSeconds: 30,
  stabilizationSeconds: 20,
  catchUpSeconds: 60,
  restartSeconds: 0,
  scaleDownIntervalSeconds: 60,
  maxParallelism: 10,
};

describe('peer model: one job tick by tick', () => {
  it('waits for stabilization and a full window, then scales up at once', () => {
    const peer = new PeerModel(KNOBS);
    // Two subtasks busy all the time at 2000 records/s: the true rate is 2000/s; 4000/s arrive
    // (pending grows by 2000/s).
    const job = (seconds: number): JobSnapshot =>
      snapshot(seconds, { parallelism: 2, busyRatio: 1, processedPerSecond: 2000, pending: 2000 * seconds });
    assert.deepEqual(peer.tick(job(10), 10_000), {
      action: 'collecting',
      why: 'stabilizing after the (re)start',
    });
    assert.equal(peer.tick(job(20), 20_000).action, 'collecting');
    assert.equal(peer.tick(job(35), 35_000).action, 'collecting', 'the window spans 15 s of 30');
    const tick = peer.tick(job(50), 50_000);
    assert.equal(tick.action, 'rescale');
    assert.equal(Math.round(tick.evaluation.targetDataRate), 4000);
    assert.equal(Math.round(tick.evaluation.trueProcessingRate), 2000);
    // 100000 / 60 + 4000 / 0.7 = 1666.7 + 5714.3 = 7381 → ceil(2 × 7381 / 2000) = 8
    assert.equal(tick.evaluation.targetCapacity, 7381);
    assert.equal(tick.parallelism, 8);
  });

  it('keeps a parallelism inside the utilization band, and delays a scale-down by the interval', () => {
    const peer = new PeerModel(KNOBS);
    // 8 subtasks at 1000/s true rate each, 4000/s arriving: busy 0.5, inside the 0.4-1.0 band.
    const steady = (seconds: number): JobSnapshot =>
      snapshot(seconds, { parallelism: 8, busyRatio: 0.5, processedPerSecond: 4000, pending: 0 });
    for (const seconds of [20, 50]) peer.tick(steady(seconds), seconds * 1000);
    assert.equal(peer.tick(steady(55), 55_000).action, 'keep');
    // 1000/s from second 60 on (counters continue from the steady run): busy 0.125, true rate 8000/s.
    const low = (seconds: number): JobSnapshot =>
      snapshot(seconds, { parallelism: 8, busyRatio: 0.125, processedPerSecond: 1000, pending: 0 });
    const fresh = new PeerModel(KNOBS);
    for (const seconds of [20, 50]) fresh.tick(low(seconds), seconds * 1000);
    const first = fresh.tick(low(60), 60_000);
    assert.equal(first.action, 'delayed-scale-down');
    // 1000 / 0.7 = 1429 → ceil(8 × 1429 / 8000) = 2, but at most a 0.6 drop: ceil(8 × 0.4) = 4.
    assert.equal(first.parallelism, 4);
    assert.equal(fresh.tick(low(100), 100_000).action, 'delayed-scale-down');
    const done = fresh.tick(low(120), 120_000);
    assert.deepEqual(done.action === 'rescale' ? done.parallelism : done.action, 4);
  });

  it('starts over after a restart', () => {
    const peer = new PeerModel(KNOBS);
    const job = (seconds: number, since: number): JobSnapshot =>
      snapshot(seconds, {
        parallelism: 2,
        busyRatio: 1,
        processedPerSecond: 2000,
        pending: 0,
        runningSinceMs: since,
      });
    for (const seconds of [20, 50]) peer.tick(job(seconds, 0), seconds * 1000);
    assert.deepEqual(peer.tick(job(60, 55_000), 60_000), {
      action: 'collecting',
      why: 'stabilizing after the (re)start',
    });
  });
});

describe('peer model in simulate', () => {
  it('rescales the step trace in place, labelled as a model, within the same bounds', () => {
    const ours = defaultScalerConfig();
    const policy = peerModelPolicy(ours.target, 2);
    assert.equal(policy.label, 'flink-operator-autoscaler (model)');
    const result = simulate({
      trace: builtinTrace('step'),
      policy,
      tickIntervalSeconds: ours.tickIntervalSeconds,
      lagObjectiveSeconds: 60,
    });
    assert.equal(result.policyKind, 'peer-model');
    assert.ok(result.summary.scaleUps >= 1, 'the step up is followed');
    assert.deepEqual(result.summary.rescalesByPath, {
      'in-place': result.summary.rescales,
      redeploy: 0,
      scale: 0,
    });
    assert.ok(result.summary.peakTaskManagers <= ours.target.maxTaskmanagers);
  });
});
