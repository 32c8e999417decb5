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
 * A rescale (`rescale`) costs `restartDowntimeSeconds` of downtime: nothing is processed, input
 * accumulates, the job reports RESTARTING. Then the job is RUNNING again under a new RUNNING
 * timestamp with counters from zero (new tasks), and catches up at full capacity.
 *
 * What it leaves out, on purpose:
 * - one bottleneck vertex and linear scaling: no data skew, no hot keys, no key-group or partition
 *   alignment (a parallelism that does not divide the partitions), no coordination overhead;
 * - capacity is constant per slot: no GC pauses, no checkpoint alignment, no state growth, no warm-up
 *   after a restart (RocksDB cache, JIT), no throughput lost while a checkpoint is taken;
 * - the restart is a fixed downtime: no savepoint whose duration grows with state, no failed
 *   restarts, no TaskManager pods that take longer to schedule than others;
 * - the JobManager's REST metrics are exact at every snapshot (no 10 s metric-fetcher cache), and the
 *   source registers `pendingRecords` from the start;
 * - the Kafka source never runs dry of partitions and reads instantly whatever is pending;
 * - the TaskManager count changes at the moment of the write, and every pod is ready at once.
 *
 * Pure: the time is simulated (epoch ms given by the caller); nothing here reads a clock.
 */
import type { JobSnapshot, VertexSnapshot } from '../domain/flink.js';

export interface JobModelOptions {
  /** Task slots per TaskManager. */
  readonly taskSlots: number;
  /** Records per second one slot (one subtask of the bottleneck vertex) processes at most. */
  readonly capacityPerSlotRecordsPerSecond: number;
  /** TaskManagers at the start; the parallelism is TaskManagers × slots (capped by max parallelism). */
  readonly initialTaskManagers: number;
  /** Seconds a rescale stops the job (savepoint, redeploy, restore): input accumulates meanwhile. */
  readonly restartDowntimeSeconds: number;
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
  restartDowntimeSeconds: 60,
  maxParallelism: 128,
  sourceBusyFraction: 0.1,
  /** 2026-01-01T00:00:00Z. */
  startMs: 1_767_225_600_000,
});

/** The job as it is at one moment: the truth the report plots beside what the metrics say. */
export interface JobModelState {
  readonly nowMs: number;
  readonly taskManagers: number;
  readonly parallelism: number;
  readonly restarting: boolean;
  /** Records per second the job can process now (0 while restarting). */
  readonly capacityRecordsPerSecond: number;
  /** Records pending in the source. */
  readonly backlogRecords: number;
  /** Records that arrived since the start. */
  readonly inputRecordsTotal: number;
  /** Records processed since the start. */
  readonly processedRecordsTotal: number;
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
    const { taskSlots, capacityPerSlotRecordsPerSecond, initialTaskManagers, restartDowntimeSeconds } =
      this.options;
    if (!Number.isInteger(taskSlots) || taskSlots < 1)
      throw new RangeError('taskSlots must be an integer ≥ 1');
    if (!(capacityPerSlotRecordsPerSecond > 0)) throw new RangeError('capacity per slot must be > 0');
    if (!Number.isInteger(initialTaskManagers) || initialTaskManagers < 1)
      throw new RangeError('initialTaskManagers must be an integer ≥ 1');
    if (!(restartDowntimeSeconds >= 0)) throw new RangeError('restartDowntimeSeconds must be ≥ 0');
    this.nowMs = this.options.startMs;
    // Running for a while already: the window's restart hold must not apply at the start.
    this.runningSinceMs = this.options.startMs - 3_600_000;
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
      // A restart ends on a step boundary: downtime is exact.
      if (this.restartUntilMs !== null && this.restartUntilMs > this.nowMs)
        stepMs = Math.min(stepMs, this.restartUntilMs - this.nowMs);
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
    } else {
      const capacity = this.capacityFor(this.parallelism) * dt;
      const processed = Math.min(available, capacity);
      this.backlog = available - processed;
      if (this.backlog < 1e-9 * Math.max(1, available)) this.backlog = 0;
      this.processedTotal += processed;
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
      // RUNNING again: new tasks, counters from zero, a new RUNNING timestamp.
      this.restartUntilMs = null;
      this.runningSinceMs = this.nowMs;
      this.runRecords = 0;
      this.source = zeroCounters();
      this.process = zeroCounters();
    }
  }

  /**
   * Writes a new TaskManager count and parallelism: the job restarts now and is down for
   * `restartDowntimeSeconds` (from now, also when a restart was under way).
   */
  rescale(taskManagers: number, parallelism: number): void {
    if (!Number.isInteger(taskManagers) || taskManagers < 1)
      throw new RangeError(`cannot run ${taskManagers} TaskManagers`);
    const slots = taskManagers * this.options.taskSlots;
    if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > slots)
      throw new RangeError(`parallelism ${parallelism} does not fit ${slots} slots`);
    this.taskManagers = taskManagers;
    this.parallelism = parallelism;
    if (this.options.restartDowntimeSeconds > 0) {
      this.restartUntilMs = this.nowMs + this.options.restartDowntimeSeconds * 1000;
    } else {
      this.runningSinceMs = this.nowMs;
      this.runRecords = 0;
      this.source = zeroCounters();
      this.process = zeroCounters();
    }
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

  /** What the Flink REST client would report now: `GET /jobs/{jid}` and the source's `pendingRecords`. */
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
  'A rescale is a fixed downtime: no savepoint whose duration grows with state, no failed restarts, no slow pod scheduling.',
  'Exact REST metrics at every tick (no JobManager metric-fetcher cache) and pendingRecords known from the start.',
  'The source never runs out of partitions and reads whatever is pending at once.',
  'The TaskManager count changes at the moment of the write and every pod is ready at once.',
];
