/**
 * Rescales timed after a checkpoint, on the real API server, stand-in operator and MiniCluster: the
 * same in-place rescales (1 → 2 TaskManagers on a load step, 2 → 1 when it ends), written by the
 * scaler when it decides them (`rescale-after-checkpoint: "false"`: a moment as random as the
 * load's, relative to the checkpoints) and timed right after a checkpoint (the default). The job
 * checkpoints every 10 s and counts by sequence number the records its sink sees a second time;
 * a restart from a checkpoint replays what was read since it. Figures, printed: the records
 * reprocessed per rescale, how long after its latest checkpoint each rescale was written, and how
 * long after the write and after the checkpoint it restored the job restarted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { Scaler } from '../../src/runtime/start-scaler.js';
import { startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { flinkGet } from './harness/flink.js';
import { waitFor } from './harness/kube.js';
import { fastAnnotations, fastConfig, patchAnnotations, specOf, startTestScaler } from './scaler-helpers.js';

const CHECKPOINT_INTERVAL_MS = 10_000;
/** Busy 0.75 on 2 subtasks of 1,000 records/s: against 0.6, one TaskManager more. */
const HIGH_RATE = 1_500;
const LOW_RATE = 300;

interface Status {
  readonly lifecycleState?: string;
  readonly observedGeneration?: number;
}

/** One rescale as measured: records the sink saw twice, and the age of the checkpoint it restored. */
interface Measured {
  readonly from: number;
  readonly to: number;
  readonly reprocessedRecords: number;
  /** Seconds from the latest completed checkpoint to the write. */
  readonly writtenAfterCheckpointSeconds: number;
  /**
   * Seconds from the latest completed checkpoint to the restart (the job RUNNING again): the
   * checkpoint it restored, since the operator and the scheduler take seconds after the write.
   */
  readonly restartedAfterCheckpointSeconds: number;
  /** Seconds from the write to the restart. */
  readonly restartedAfterWriteSeconds: number;
}

describe('scaler: rescales timed right after a checkpoint', { timeout: 900_000 }, () => {
  let env: Environment;
  let scaler: Scaler;
  let path: string;
  const name = 'steerable-job';

  before(async () => {
    env = await startEnvironment({
      flink: {
        taskManagers: 1,
        slotsPerTaskManager: 2,
        recordsPerSecond: LOW_RATE,
        costMicros: 1000,
        checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
      },
      flinkDeploymentName: name,
      log: (message) => console.log(`# ${message}`),
    });
    path = `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${name}`;
    scaler = await startTestScaler(env.controlPlane, fastConfig());
    poller = pollCheckpoints();
  });

  after(async () => {
    polling.on = false;
    await poller;
    await scaler.stop();
    await env.stop();
  });

  const flink = () => {
    assert.ok(env.flink !== undefined, 'the environment runs a MiniCluster');
    return env.flink;
  };

  /** The replicas of the FlinkDeployment once the stand-in applied its spec; undefined meanwhile. */
  const settledReplicas = async (): Promise<number | undefined> => {
    const object = await env.getFlinkDeployment(name);
    const status = object.status as Status;
    if (status.lifecycleState !== 'STABLE' || status.observedGeneration !== object.metadata.generation)
      return undefined;
    return specOf(object).replicas;
  };

  /**
   * Completion times of the job's checkpoints, polled every 250 ms: the adaptive scheduler starts a
   * new execution graph on every rescale, and the REST API's checkpoint history with it, so the
   * checkpoint a restart restored is no longer listed afterwards.
   */
  const completedAtMs = new Set<number>();
  const polling = { on: true };
  const pollCheckpoints = async (): Promise<void> => {
    while (polling.on) {
      try {
        const state = await flink().state();
        const body = (await flinkGet(state.restUrl, `/jobs/${state.jobId}/checkpoints`)) as {
          history: { status: string; latest_ack_timestamp: number }[];
        };
        for (const entry of body.history)
          if (entry.status === 'COMPLETED') completedAtMs.add(entry.latest_ack_timestamp);
      } catch {
        // The REST API fails briefly while the job restarts: the next poll sees the rest.
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  let poller: Promise<void> = Promise.resolve();

  /** The latest checkpoint that completed at or before `atMs` (both on this machine's clock); null: none. */
  const latestCheckpointAtMs = (atMs: number): number | null => {
    const before = [...completedAtMs].filter((ackMs) => ackMs <= atMs);
    return before.length === 0 ? null : Math.max(...before);
  };

  /** Sets the rate, waits for the scaler's next write to reach `to` TaskManagers and the replay to pass. */
  async function rescaleTo(rate: number, to: number): Promise<Measured> {
    const writesBefore = scaler.loop.writes.length;
    const reprocessedBefore = (await flink().state()).reprocessedRecords;
    await flink().setRate(rate);
    const write = await waitFor(
      `the scaler to write ${to} TaskManagers`,
      () => {
        const last = scaler.loop.writes.at(-1);
        return Promise.resolve(
          scaler.loop.writes.length > writesBefore && last?.toReplicas === to ? last : undefined,
        );
      },
      { timeoutMs: 180_000, intervalMs: 200 },
    );
    await waitFor(
      'the stand-in to apply it',
      () => settledReplicas().then((r) => (r === to ? true : undefined)),
      {
        timeoutMs: 180_000,
      },
    );
    // The replay goes through the sink within seconds of the restart: wait until the count stays put.
    let last = -1;
    const reprocessedAfter = await waitFor(
      'the replay to pass',
      async () => {
        const state = await flink().state();
        const steady = state.jobState === 'RUNNING' && state.reprocessedRecords === last;
        last = state.reprocessedRecords;
        return steady ? state.reprocessedRecords : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 3_000 },
    );
    // Read now, seconds after the write: the REST API may show a checkpoint up to 3 s late.
    const checkpointAtMs = latestCheckpointAtMs(write.atMs);
    assert.ok(checkpointAtMs !== null, 'a checkpoint completed before the write');
    const writtenAfterCheckpointSeconds = (write.atMs - checkpointAtMs) / 1000;
    const state = await flink().state();
    const details = (await flinkGet(state.restUrl, `/jobs/${state.jobId}`)) as {
      timestamps: { RUNNING: number };
    };
    const restartedAtMs = details.timestamps.RUNNING;
    const restoredAtMs = latestCheckpointAtMs(restartedAtMs);
    assert.ok(restoredAtMs !== null && restartedAtMs > write.atMs, 'the job restarted after the write');
    return {
      from: write.fromReplicas,
      to,
      reprocessedRecords: reprocessedAfter - reprocessedBefore,
      writtenAfterCheckpointSeconds,
      restartedAfterCheckpointSeconds: (restartedAtMs - restoredAtMs) / 1000,
      restartedAfterWriteSeconds: (restartedAtMs - write.atMs) / 1000,
    };
  }

  /** A load step up and back down with the checkpoint timing on or off: two rescales. */
  async function stepUpAndDown(timed: boolean): Promise<Measured[]> {
    await patchAnnotations(
      env.controlPlane,
      path,
      fastAnnotations(env.flink?.restUrl ?? '', {
        'slotscaler.dev/rescale-after-checkpoint': String(timed),
      }),
    );
    await waitFor('the target at 1 TaskManager, registered', async () =>
      scaler.registry.list().length === 1 && (await settledReplicas()) === 1 ? true : undefined,
    );
    // A job that has run a while: a checkpoint completed since it last started, so a restore
    // replays from one rather than from the start.
    await waitFor(
      'a checkpoint since the job last started',
      async () => {
        const state = await flink().state();
        const details = (await flinkGet(state.restUrl, `/jobs/${state.jobId}`)) as {
          timestamps: { RUNNING: number };
        };
        const latest = latestCheckpointAtMs(Date.now());
        return latest !== null && latest > details.timestamps.RUNNING ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );
    const up = await rescaleTo(HIGH_RATE, 2);
    const down = await rescaleTo(LOW_RATE, 1);
    return [up, down];
  }

  it('writes the rescale right after a checkpoint, and says what each way replays', async () => {
    const untimed = await stepUpAndDown(false);
    const timed = await stepUpAndDown(true);
    for (const [label, runs] of [
      ['written when decided', untimed],
      ['after a checkpoint', timed],
    ] as const) {
      for (const run of runs) {
        console.log(
          `# ${label}: ${run.from} → ${run.to} TaskManagers, written ${run.writtenAfterCheckpointSeconds.toFixed(1)} s after the latest checkpoint (every ${CHECKPOINT_INTERVAL_MS / 1000} s), restarted ${run.restartedAfterWriteSeconds.toFixed(1)} s after the write and ${run.restartedAfterCheckpointSeconds.toFixed(1)} s after the checkpoint it restored, ${run.reprocessedRecords} records reprocessed`,
        );
      }
    }
    const total = (runs: readonly Measured[]): number =>
      runs.reduce((sum, run) => sum + run.reprocessedRecords, 0);
    console.log(
      `# reprocessed in all: ${total(untimed)} written when decided, ${total(timed)} after a checkpoint`,
    );
    // Timed, every rescale is written on a tick (1 s) after the JobManager's REST API showed a new
    // checkpoint (within its cache time, 3 s): early in the interval, whatever the moment the load
    // changed. What it replays is what was read between the checkpoint the job restored and its
    // restart, and the restart comes seconds after the write (the operator applies the spec, the
    // scheduler waits for the new slots): so the figures are printed, not compared.
    for (const run of timed) {
      assert.ok(
        run.writtenAfterCheckpointSeconds < CHECKPOINT_INTERVAL_MS / 2000,
        `written ${run.writtenAfterCheckpointSeconds} s after the checkpoint`,
      );
    }
    for (const run of [...untimed, ...timed]) {
      assert.ok(
        run.reprocessedRecords <= HIGH_RATE * (run.restartedAfterCheckpointSeconds + 1),
        `${run.reprocessedRecords} records reprocessed, restarted ${run.restartedAfterCheckpointSeconds} s after the checkpoint`,
      );
    }
  });
});
