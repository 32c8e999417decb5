/**
 * A model of one Flink job for `slotscaler simulate`: TaskManagers × task slots × a per-slot
 * capacity (records/s), an input rate from a trace, a backlog in the source (Kafka records not read
 * yet), and a restart on every rescale. From those it produces the same `JobSnapshot`s the Flink
 * REST client produces (cumulative busy, back-pressured and idle time, source `pendingRecords`,
 * records read), so the real `MetricWindow` derives the metrics exactly as it does in the cluster.
 *
 * The job has two vertices, each at the job's parallelism:
 * - `source` reads what the next vertex can take. It spends `sourceBusyFraction` of its time per unit
 *   of the processing vertex's load; while records stay pending it is back-pressured the rest of the
 *   time (it could read more, the next vertex does not take them), otherwise idle.
 * - `process` is the bottleneck: `parallelism × capacityPerSlot` records/s at most. Busy the fraction
 *   of its capacity it used, idle the rest; never back-pressured (its output is a sink that keeps up).
 *
 * Time advances in steps of at most one second. In a step of `dt` seconds, the input is
 * `rate(t + dt/2) × dt` records; the job processes `min(backlog + input, capacity × dt)`; the rest
 * stays pending. So records in = records processed + backlog change, exactly (up to floating point).
 *
 * A rescale (`rescale`) takes one of the paths of `RescalePath`, each with its own cost
 * (`RescaleCost`):
 * - downtime: nothing is processed, input accumulates, the job reports RESTARTING. Then the job is
 *   RUNNING again under a new RUNNING timestamp with counters from zero (new tasks), and catches up
 *   at full capacity;
 * - replay: a job restores its state from its latest completed checkpoint, and the source rewinds
 *   to the offsets in it, so what it processed since that checkpoint is processed again: those
 *   records go back into the backlog, their age intact (the oldest pending record is older again).
 *   A redeploy stops the job with a savepoint (stop-with-savepoint, the Flink operator's
 *   `upgradeMode: savepoint`) and resumes from it: it replays nothing but the savepoint's time is
 *   downtime too.
 *
 * Checkpoints complete every `checkpointIntervalSeconds` while the job runs (Flink's periodic
 * trigger, `execution.checkpointing.interval`): at simulated time 0 the next is due 0.618 of an
 * interval later (so no tick interval lines up with them), after a restart one interval after it
 * (a restore is where the next interval starts). The snapshots report the interval and the
 * latest completed checkpoint as `GET /jobs/{jid}/checkpoints` does, so the planner times its
 * rescales on them as it does in the cluster.
 *
 * What it leaves out, on purpose:
 * - one bottleneck vertex and linear scaling: no data skew, no hot keys, no key-group or partition
 *   alignment (a parallelism that does not divide the partitions), no coordination overhead;
 * - capacity is constant per slot: no GC pauses, no checkpoint alignment, no state growth, no warm-up
 *   after a restart (RocksDB cache, JIT), no throughput lost while a checkpoint is taken;
 * - a checkpoint completes the moment it is due (no duration, no failed or declined checkpoint), on
 *   a fixed phase (Flink's `CheckpointCoordinator` draws the first one's delay at random, between
 *   the minimum pause and the interval);
 * - each path's downtime is fixed: no savepoint whose duration grows with state, no failed
 *   restarts, no TaskManager pods that take longer to schedule than others;
 * - a redeploy always stops with a savepoint (`upgradeMode: savepoint`); one with
 *   `upgradeMode: last-state` resumes from the latest checkpoint and would replay like in place;
 * - the JobManager's REST metrics are exact at every snapshot (no 10 s metric-fetcher cache), and the
 *   source registers `pendingRecords` from the start;
 * - the Kafka source never runs dry of partitions and reads instantly whatever is pending;
 * - the TaskManager count changes at the moment of the write, and every pod is ready at once.
 *
 * Pure: the time is simulated (epoch ms given by the caller); nothing here reads a clock.
 */
import type { CheckpointingSeen, JobSnapshot, VertexSnapshot } from '../domain/flink.js';
import type { RescalePath } from '../domain/target.js';

/**
 * What one rescale by one path costs the job. Downtime is time without processing while input
 * keeps arriving; a path without a savepoint also replays what was processed since the latest
 * completed checkpoint.
 */
export interface RescaleCost {
  /** Seconds without processing after a rescale to a higher parallelism. */
  readonly upSeconds: number;
  /** Seconds without processing after a rescale to the same or a lower parallelism. */
  readonly downSeconds: number;
  /**
   * Seconds a savepoint takes before the job stops, counted as downtime: the job resumes from it
   * and replays nothing. null: no savepoint, the job resumes from its latest completed checkpoint.
   */
  readonly savepointSeconds: number | null;
}

// The default cost of each path, one constant each. Which figure is measured where is in the
// README's simulate section.

/**
 * In place, up: the adaptive scheduler's rescale from 2 to 3 on the MiniCluster, `/rescale` until
 * every vertex is RUNNING at the new parallelism (test/e2e/flink-workload/README.md, "Rescale").
 */
export const IN_PLACE_UP_SECONDS = 3.3;
/** In place, down: the same measurement from 3 to 1. */
export const IN_PLACE_DOWN_SECONDS = 3.1;
/**
 * Redeploy: JobManager and TaskManagers deleted and created again. Not measured here: 30 to 120 s
 * on a real cluster (pods scheduled, images pulled, JVMs started, state restored); 60 s lies
 * within that range.
 */
export const REDEPLOY_RESTART_SECONDS = 60;
/**
 * The savepoint a redeploy takes before it stops the job (stop-with-savepoint). Not measured: a
 * guess for a job with little state; it grows with the state.
 */
export const REDEPLOY_SAVEPOINT_SECONDS = 2;
/**
 * Scale (reactive mode: Flink follows the TaskManagers): the MiniCluster restarts the job at the
 * new parallelism about 3 s after a TaskManager is added or lost (test/e2e/flink-workload/README.md,
 * "Rescale").
 */
export const SCALE_RESTART_SECONDS = 3;
/** Checkpoint interval: once a minute, as Flink users commonly set `execution.checkpointing.interval`. */
export const DEFAULT_CHECKPOINT_INTERVAL_SECONDS = 60;

/** The default cost of every path. */
export const DEFAULT_RESCALE_COSTS: Readonly<Record<RescalePath, RescaleCost>> = Object.freeze({
  'in-place': { upSeconds: IN_PLACE_UP_SECONDS, downSeconds: IN_PLACE_DOWN_SECONDS, savepointSeconds: null },
  redeploy: {
    upSeconds: REDEPLOY_RESTART_SECONDS,
    downSeconds: REDEPLOY_RESTART_SECONDS,
    savepointSeconds: REDEPLOY_SAVEPOINT_SECONDS,
  },
  scale: { upSeconds: SCALE_RESTART_SECONDS, downSeconds: SCALE_RESTART_SECONDS, savepointSeconds: null },
});

export interface JobModelOptions {
  /** Task slots per TaskManager. */
  readonly taskSlots: number;
  /** Records per second one slot (one subtask of the bottleneck vertex) processes at most. */
  readonly capacityPerSlotRecordsPerSecond: number;
  /** TaskManagers at the start; the parallelism is TaskManagers × slots (capped by max parallelism). */
  readonly initialTaskManagers: number;
  /** What a rescale costs, by the path it takes. */
  readonly rescaleCosts: Readonly<Record<RescalePath, RescaleCost>>;
  /**
   * Seconds between two completed checkpoints while the job runs; 0: no checkpoints, and a restart
   * resumes where the job stopped (replays nothing, as if every record were committed the moment it
   * was processed).
   */
  readonly checkpointIntervalSeconds: number;
  /** The job's max parallelism (as Flink reports it). */
  readonly maxParallelism: number;
  /** Busy fraction of the source per unit of load of the processing vertex. */
  readonly sourceBusyFraction: number;
  /** Epoch ms of simulated time 0. */
  readonly startMs: number;
}

export const DEFAULT_JOB_MODEL_OPTIONS: JobModelOptions = Object.freeze({
  taskSlots: 2,
  capacityPerSlotRecordsPerSecond: 1000,
  initialTaskManagers: 2,
  rescaleCosts: DEFAULT_RESCALE_COSTS,
  checkpointIntervalSeconds: DEFAULT_CHECKPOINT_INTERVAL_SECONDS,
  maxParallelism: 128,
  sourceBusyFraction: 0.1,
  /** 2026-01-01T00:00:00Z. */
  startMs: 1_767_225_600_000,
});

/** What one rescale cost the job. */
export interface RescaleEffect {
  readonly path: RescalePath;
  /** Seconds the job is down for it (savepoint and restart), from the moment of the write. */
  readonly downtimeSeconds: number;
  /** Records processed since the latest completed checkpoint, back in the backlog to be processed again. */
  readonly reprocessedRecords: number;
}

/** The job as it is at one moment: the truth the report plots beside what the metrics say. */
export interface JobModelState {
  readonly nowMs: number;
  readonly taskManagers: number;
  readonly parallelism: number;
  readonly restarting: boolean;
  /** Records per second the job can process now (0 while restarting). */
  readonly capacityRecordsPerSecond: number;
  /** Records pending in the source (replayed ones included). */
  readonly backlogRecords: number;
  /** Records that arrived since the start. */
  readonly inputRecordsTotal: number;
  /** Distinct records processed since the start: a replayed record counts once, when processed again. */
  readonly processedRecordsTotal: number;
  /** Records processed since the start that a restore sent back to be processed again. */
  readonly reprocessedRecordsTotal: number;
  /** Seconds the job was down (restarting or taking a savepoint to stop) since the start. */
  readonly downtimeSecondsTotal: number;
  /** Age of the oldest pending record, seconds (0 with nothing pending). */
  readonly lagSeconds: number;
}

/** Cumulative time counters of one vertex within the current run, ms summed over subtasks. */
interface TimeCounters {
  busyMs: number;
  backPressuredMs: number;
  idleMs: number;
}

const STEP_MS = 1000;
/** Where in its interval the running job's checkpoints are at simulated time 0: (√5 − 1) / 2. */
export const CHECKPOINT_PHASE = (Math.sqrt(5) - 1) / 2;
const JOB_ID = '5105c41e00000000000000000000000a';

function zeroCounters(): TimeCounters {
  return { busyMs: 0, backPressuredMs: 0, idleMs: 0 };
}

export class JobModel {
  readonly options: JobModelOptions;
  private nowMs: number;
  private taskManagers: number;
  private parallelism: number;
  private restartUntilMs: number | null = null;
  private runningSinceMs: number;
  private backlog = 0;
  private inputTotal = 0;
  private processedTotal = 0;
  private reprocessedTotal = 0;
  private downtimeMs = 0;
  /** When the next checkpoint completes (null: no checkpoints, or none due while restarting). */
  private nextCheckpointMs: number | null;
  /** Records processed since the latest completed checkpoint (or the restore): what a restore replays. */
  private sinceCheckpoint = 0;
  /** Checkpoints completed, and the latest one: what `GET /jobs/{jid}/checkpoints` reports. */
  private checkpointsCompleted = 0;
  private latestCheckpointAtMs: number | null = null;
  /** Records the source read within the current run. */
  private runRecords = 0;
  private source: TimeCounters = zeroCounters();
  private process: TimeCounters = zeroCounters();
  /** Cumulative input at the end of each step, for the age of the oldest pending record. */
  private readonly arrivals: { atMs: number; total: number }[] = [];
  /** Index into `arrivals` of the first step whose input is not all processed. */
  private arrivalCursor = 0;

  constructor(options: Partial<JobModelOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULT_JOB_MODEL_OPTIONS, ...options });
    const { taskSlots, capacityPerSlotRecordsPerSecond, initialTaskManagers, checkpointIntervalSeconds } =
      this.options;
    if (!Number.isInteger(taskSlots) || taskSlots < 1)
      throw new RangeError('taskSlots must be an integer ≥ 1');
    if (!(capacityPerSlotRecordsPerSecond > 0)) throw new RangeError('capacity per slot must be > 0');
    if (!Number.isInteger(initialTaskManagers) || initialTaskManagers < 1)
      throw new RangeError('initialTaskManagers must be an integer ≥ 1');
    if (!(checkpointIntervalSeconds >= 0)) throw new RangeError('checkpointIntervalSeconds must be ≥ 0');
    for (const [path, cost] of Object.entries(this.options.rescaleCosts)) {
      if (!(cost.upSeconds >= 0 && cost.downSeconds >= 0 && (cost.savepointSeconds ?? 0) >= 0))
        throw new RangeError(`the ${path} rescale cost must be ≥ 0 seconds`);
    }
    this.nowMs = this.options.startMs;
    // Running for a while already: the window's restart hold must not apply at the start.
    this.runningSinceMs = this.options.startMs - 3_600_000;
    // The job has run for a while: its checkpoints are on a phase of their own, which no tick
    // interval lines up with (the golden ratio of an interval), as a real job's do not either.
    const intervalMs = checkpointIntervalSeconds * 1000;
    this.nextCheckpointMs = intervalMs > 0 ? this.nowMs + Math.round(intervalMs * CHECKPOINT_PHASE) : null;
    this.latestCheckpointAtMs = this.nextCheckpointMs === null ? null : this.nextCheckpointMs - intervalMs;
    this.checkpointsCompleted = this.latestCheckpointAtMs === null ? 0 : 1;
    this.taskManagers = initialTaskManagers;
    this.parallelism = Math.min(initialTaskManagers * taskSlots, this.options.maxParallelism);
    this.arrivals.push({ atMs: this.nowMs, total: 0 });
  }

  /** Records per second the job processes at most with `parallelism` subtasks. */
  capacityFor(parallelism: number): number {
    return parallelism * this.options.capacityPerSlotRecordsPerSecond;
  }

  /**
   * Runs the job until `toMs`, with the input rate (records/s) at simulated second `t` given by
   * `rateAt(t)` (seconds since the start).
   */
  advance(toMs: number, rateAt: (seconds: number) => number): void {
    while (this.nowMs < toMs) {
      let stepMs = Math.min(STEP_MS, toMs - this.nowMs);
      // A restart ends, and a checkpoint completes, on a step boundary: downtime and replay are exact.
      for (const boundaryMs of [this.restartUntilMs, this.nextCheckpointMs]) {
        if (boundaryMs !== null && boundaryMs > this.nowMs)
          stepMs = Math.min(stepMs, boundaryMs - this.nowMs);
      }
      this.step(stepMs, rateAt);
    }
  }

  private step(stepMs: number, rateAt: (seconds: number) => number): void {
    const dt = stepMs / 1000;
    const midSeconds = (this.nowMs - this.options.startMs + stepMs / 2) / 1000;
    const input = Math.max(0, rateAt(midSeconds)) * dt;
    this.inputTotal += input;
    const available = this.backlog + input;
    const endMs = this.nowMs + stepMs;

    if (this.restartUntilMs !== null) {
      this.backlog = available;
      this.downtimeMs += stepMs;
    } else {
      const capacity = this.capacityFor(this.parallelism) * dt;
      const processed = Math.min(available, capacity);
      this.backlog = available - processed;
      if (this.backlog < 1e-9 * Math.max(1, available)) this.backlog = 0;
      this.processedTotal += processed;
      this.sinceCheckpoint += processed;
      this.runRecords += processed;
      const load = capacity > 0 ? processed / capacity : 0;
      const taskMs = stepMs * this.parallelism;
      this.process.busyMs += load * taskMs;
      this.process.idleMs += (1 - load) * taskMs;
      const sourceBusy = Math.min(1, this.options.sourceBusyFraction * load);
      const pending = this.backlog > 0;
      this.source.busyMs += sourceBusy * taskMs;
      this.source.backPressuredMs += pending ? (1 - sourceBusy) * taskMs : 0;
      this.source.idleMs += pending ? 0 : (1 - sourceBusy) * taskMs;
    }
    this.nowMs = endMs;
    this.arrivals.push({ atMs: endMs, total: this.inputTotal });
    if (this.restartUntilMs !== null && this.nowMs >= this.restartUntilMs) {
      this.restartUntilMs = null;
      this.startRun();
    } else if (this.nextCheckpointMs !== null && this.nowMs >= this.nextCheckpointMs) {
      // Everything processed so far is in this checkpoint: a restore from it replays nothing before it.
      this.sinceCheckpoint = 0;
      this.checkpointsCompleted += 1;
      this.latestCheckpointAtMs = this.nowMs;
      this.nextCheckpointMs = this.checkpointDueAfter(this.nowMs);
    }
  }

  /** The first checkpoint of a run that starts at `startMs`. */
  private checkpointDueAfter(startMs: number): number | null {
    const intervalSeconds = this.options.checkpointIntervalSeconds;
    return intervalSeconds > 0 ? startMs + intervalSeconds * 1000 : null;
  }

  /** RUNNING again: new tasks, counters from zero, a new RUNNING timestamp, the checkpoint timer anew. */
  private startRun(): void {
    this.runningSinceMs = this.nowMs;
    this.runRecords = 0;
    this.source = zeroCounters();
    this.process = zeroCounters();
    this.sinceCheckpoint = 0;
    this.nextCheckpointMs = this.checkpointDueAfter(this.nowMs);
  }

  /**
   * Writes a new TaskManager count and parallelism, reaching the job by `path`: the job stops now
   * (also when a restart was under way), is down for the path's cost, and, unless the path takes a
   * savepoint, replays what it processed since its latest completed checkpoint.
   */
  rescale(taskManagers: number, parallelism: number, path: RescalePath): RescaleEffect {
    if (!Number.isInteger(taskManagers) || taskManagers < 1)
      throw new RangeError(`cannot run ${taskManagers} TaskManagers`);
    const slots = taskManagers * this.options.taskSlots;
    if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > slots)
      throw new RangeError(`parallelism ${parallelism} does not fit ${slots} slots`);
    const cost = this.options.rescaleCosts[path];
    const restartSeconds = parallelism > this.parallelism ? cost.upSeconds : cost.downSeconds;
    // A savepoint holds everything processed up to the stop; a checkpoint only what came before it.
    const reprocessedRecords =
      cost.savepointSeconds === null && this.options.checkpointIntervalSeconds > 0 ? this.sinceCheckpoint : 0;
    this.rewind(reprocessedRecords);
    // The job resumes from the state it stopped with: nothing since then is to be replayed.
    this.sinceCheckpoint = 0;
    this.taskManagers = taskManagers;
    this.parallelism = parallelism;
    this.nextCheckpointMs = null;
    const downtimeSeconds = (cost.savepointSeconds ?? 0) + restartSeconds;
    if (downtimeSeconds > 0) {
      this.restartUntilMs = this.nowMs + Math.round(downtimeSeconds * 1000);
    } else {
      this.restartUntilMs = null;
      this.startRun();
    }
    return { path, downtimeSeconds, reprocessedRecords };
  }

  /** The source goes back `records` records: they are pending again, the oldest first. */
  private rewind(records: number): void {
    if (records <= 0) return;
    this.processedTotal -= records;
    this.reprocessedTotal += records;
    this.backlog += records;
    while (this.arrivalCursor > 0 && (this.arrivals[this.arrivalCursor]?.total ?? 0) > this.processedTotal)
      this.arrivalCursor -= 1;
  }

  state(): JobModelState {
    const restarting = this.restartUntilMs !== null;
    return {
      nowMs: this.nowMs,
      taskManagers: this.taskManagers,
      parallelism: this.parallelism,
      restarting,
      capacityRecordsPerSecond: restarting ? 0 : this.capacityFor(this.parallelism),
      backlogRecords: this.backlog,
      inputRecordsTotal: this.inputTotal,
      processedRecordsTotal: this.processedTotal,
      reprocessedRecordsTotal: this.reprocessedTotal,
      downtimeSecondsTotal: this.downtimeMs / 1000,
      lagSeconds: this.lagSeconds(),
    };
  }

  /** Age of the oldest pending record: the input is first in, first out. */
  private lagSeconds(): number {
    if (this.backlog <= 0) return 0;
    const processed = this.processedTotal;
    while (this.arrivalCursor < this.arrivals.length - 1) {
      const next = this.arrivals[this.arrivalCursor + 1];
      if (next === undefined || next.total > processed) break;
      this.arrivalCursor += 1;
    }
    const before = this.arrivals[this.arrivalCursor];
    const after = this.arrivals[this.arrivalCursor + 1];
    if (before === undefined) return 0;
    let arrivedAtMs = before.atMs;
    if (after !== undefined && after.total > before.total) {
      const fraction = Math.min(1, Math.max(0, (processed - before.total) / (after.total - before.total)));
      arrivedAtMs = before.atMs + fraction * (after.atMs - before.atMs);
    }
    return Math.max(0, (this.nowMs - arrivedAtMs) / 1000);
  }

  /** The job's checkpointing as the JobManager reports it: a checkpoint takes no time, so trigger = completion. */
  private checkpointing(): CheckpointingSeen {
    const intervalSeconds = this.options.checkpointIntervalSeconds;
    if (intervalSeconds <= 0) return { intervalMs: null, stats: null };
    const atMs = this.latestCheckpointAtMs;
    return {
      intervalMs: intervalSeconds * 1000,
      stats: {
        completed: this.checkpointsCompleted,
        inProgress: 0,
        failed: 0,
        latestCompleted:
          atMs === null ? null : { id: this.checkpointsCompleted, triggeredAtMs: atMs, completedAtMs: atMs },
      },
    };
  }

  /**
   * What the Flink REST client would report now: `GET /jobs/{jid}`, the source's `pendingRecords`
   * and, while the job runs, its checkpointing (the collector reads it of a RUNNING job only).
   */
  snapshot(): JobSnapshot {
    const restarting = this.restartUntilMs !== null;
    const records = Math.floor(this.runRecords);
    const vertex = (id: string, name: string, counters: TimeCounters, isSource: boolean): VertexSnapshot => ({
      id,
      name,
      parallelism: this.parallelism,
      maxParallelism: this.options.maxParallelism,
      status: restarting ? 'DEPLOYING' : 'RUNNING',
      isSource,
      counters: {
        busyTimeMs: counters.busyMs,
        backPressuredTimeMs: counters.backPressuredMs,
        idleTimeMs: counters.idleMs,
        recordsRead: isSource ? 0 : records,
        recordsReadComplete: true,
        recordsWritten: records,
        recordsWrittenComplete: true,
      },
      gauges: null,
      source: isSource
        ? {
            pendingRecords: Math.round(this.backlog),
            recordsIn: records,
            recordsOut: records,
            taskTimeMs: counters.busyMs + counters.idleMs + counters.backPressuredMs,
          }
        : null,
    });
    return {
      jobId: JOB_ID,
      jobName: 'simulated',
      state: restarting ? 'RESTARTING' : 'RUNNING',
      runningSinceMs: this.runningSinceMs,
      jobManagerNowMs: this.nowMs,
      takenAtMs: this.nowMs,
      maxParallelism: this.options.maxParallelism,
      taskSlots: this.options.taskSlots,
      checkpointing: restarting ? null : this.checkpointing(),
      vertices: [
        vertex('0a448493b4782967b150582570326227', 'Source: Kafka', this.source, true),
        vertex('ea632d67b7d595e5b851708ae9ad79d6', 'Process', this.process, false),
      ],
      restCalls: {},
    };
  }
}

/** What the model leaves out (the doc comment above), for the report. */
export const MODEL_LIMITATIONS: readonly string[] = [
  'One bottleneck vertex and linear scaling: no data skew, hot keys, key-group or partition alignment, or coordination overhead.',
  'Constant capacity per slot: no GC pauses, checkpoint alignment, state growth, or warm-up after a restart.',
  'Each rescale path costs a fixed downtime: no savepoint whose duration grows with state, no failed restarts, no slow pod scheduling.',
  'A checkpoint completes the moment it is due, every interval from the (re)start: no duration, no failed checkpoints, no random first delay.',
  'A redeploy always stops with a savepoint (upgradeMode savepoint); with last-state it would resume from the latest checkpoint and replay like an in-place rescale.',
  'Exact REST metrics at every tick (no JobManager metric-fetcher cache) and pendingRecords known from the start.',
  'The source never runs out of partitions and reads whatever is pending at once.',
  'The TaskManager count changes at the moment of the write and every pod is ready at once.',
];
