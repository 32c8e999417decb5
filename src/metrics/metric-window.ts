/**
 * The per-target window of snapshots, and the job-level metrics computed from it. Pure: the time is
 * always an argument; nothing here reads a clock, logs or does I/O.
 *
 * Averages come from the differences of Flink's cumulative counters between the oldest and the
 * newest sample of the window, so one call per tick gives every vertex's average over the whole
 * window (the same source the Apache Flink autoscaler uses: `ScalingMetricEvaluator` divides the
 * difference of `ACCUMULATED_BUSY_TIME` by the time between its samples).
 *
 * A value is never invented: a missing counter, a restart, a stale target or an unknown
 * `pendingRecords` make the metric unavailable, with a reason.
 */
import type { CapacityUnits } from '../domain/decision.js';
import type { JobSnapshot, VertexSnapshot } from '../domain/flink.js';
import type {
  FlinkMetricName,
  MetricReading,
  SampleDropReason,
  UnavailableReason,
} from '../domain/metrics.js';
import { describeImplausible, implausibleReading } from './sample-bounds.js';
import type { ImplausibleReading } from './sample-bounds.js';
import { FLINK_METRIC_NAMES } from './catalogue.js';
import { boundJobMetrics } from './metric-bounds.js';

/** Window tuning, per target. */
export interface MetricWindowOptions {
  /** The span the averages cover. */
  readonly windowSeconds: number;
  /** After a restart (RUNNING timestamp moved, counters went back, job changed), no metric for this long. */
  readonly restartHoldoffSeconds: number;
  /** A target whose last good sample is older than this has no metrics at all. */
  readonly maxSampleAgeSeconds: number;
  /** Samples kept at most (memory bound); the oldest go first. */
  readonly maxSamples: number;
  /** The demand ratio counts a backlog as load to drain within this long (see `demandRatio`). */
  readonly catchUpSeconds: number;
}

export const DEFAULT_METRIC_WINDOW_OPTIONS: MetricWindowOptions = Object.freeze({
  windowSeconds: 60,
  restartHoldoffSeconds: 60,
  maxSampleAgeSeconds: 60,
  maxSamples: 64,
  catchUpSeconds: 300,
});

/** A vertex's averages over the window; `null` where they cannot be known. */
export interface VertexWindowStats {
  readonly id: string;
  readonly name: string;
  readonly parallelism: number;
  readonly isSource: boolean;
  /** Mean fraction of time the subtasks were busy, 0..1. */
  readonly busyRatio: number | null;
  /** Mean fraction of time the subtasks were back-pressured, 0..1. */
  readonly backPressureRatio: number | null;
  /** Sources: `pendingRecords` summed over subtasks (latest known). */
  readonly pendingRecords: number | null;
  /** Sources: records read per second over the window. */
  readonly recordsInPerSecond: number | null;
  /**
   * Sources: records added to `pendingRecords` per record read over the window (negative while a
   * backlog drains). A ratio of two readings of the same REST call, so no clock is involved.
   */
  readonly backlogGrowthPerRecord: number | null;
  /** Sources: the same over the newest interval in which the source's readings changed. */
  readonly newestBacklogGrowthPerRecord: number | null;
  /**
   * Sources: records that arrived (read + added to the backlog) per second over that newest interval,
   * over the records read per second in the window, both timed by the subtasks' clock read with the
   * source's metrics (`SourceReadings.taskTimeMs`). Null where that clock was not read.
   */
  readonly newestArrivalOverRead: number | null;
  /** The busy ratio over the newest interval in which the vertex's time counters changed. */
  readonly newestBusyRatio: number | null;
  /** Flink reported busy or back-pressured time for the vertex (even if it did not change). */
  readonly timeCountersReported: boolean;
}

/** What a window says about its target at a given time. */
/**
 * The job as the newest snapshot saw it, whether or not its metrics can be used: what an in-place
 * rescale writes (its vertices) and what confirms one (same job, vertices RUNNING at the new
 * parallelism, since when).
 */
export interface JobAsSeen {
  readonly jobId: string;
  readonly state: string;
  /** `timestamps.RUNNING` converted to our clock: when the job last started running; null if unknown. */
  readonly runningSinceMs: number | null;
  /** Our clock when the snapshot was taken. */
  readonly seenAtMs: number;
  readonly vertices: readonly {
    readonly id: string;
    readonly name: string;
    readonly parallelism: number;
    readonly maxParallelism: number | null;
    readonly status: string;
  }[];
}

/**
 * The job's checkpointing as the newest snapshot read it, times on our clock: what the checkpoint
 * hold of the planner needs to time a rescale right after a completed checkpoint.
 */
export interface CheckpointsAsSeen {
  /** Milliseconds between checkpoints; null: periodic checkpoints are off. */
  readonly intervalMs: number | null;
  /** The latest completed checkpoint's id; null before the first (or when not read). */
  readonly latestCompletedId: number | null;
  /** When it completed (its `latest_ack_timestamp` moved to our clock); null before the first. */
  readonly latestCompletedAtMs: number | null;
  /** Our clock when the newest snapshot was taken. */
  readonly seenAtMs: number;
  /** Our clock at the snapshot before it; null when there was none. */
  readonly previousSnapshotAtMs: number | null;
  /**
   * The latest completed checkpoint's id as the snapshot before saw it (null: none yet; undefined:
   * not read then). A newer one is new this tick: a rescale written now comes right after it. Ids,
   * not times, tell it: the JobManager may show a completion a few seconds late (its statistics
   * cache), after a tick that came after the completion itself.
   */
  readonly previousLatestCompletedId: number | null | undefined;
}

export interface WindowReadings {
  readonly jobId: string | null;
  readonly jobName: string | null;
  readonly state: string | null;
  readonly maxParallelism: number | null;
  /**
   * What deals the job's work out in whole units, from the latest snapshot: its key groups when the
   * plan has a keyed exchange, the fewest partitions a source reports. Absent where never read.
   */
  readonly capacityUnits?: CapacityUnits;
  readonly taskSlots: number | null;
  /** Samples the averages span, and the span in seconds. */
  readonly sampleCount: number;
  readonly spanSeconds: number;
  /** Our clock at the last good sample. */
  readonly lastSampleAtMs: number | null;
  readonly metrics: Readonly<Record<FlinkMetricName, MetricReading>>;
  readonly vertices: readonly VertexWindowStats[];
  /** The job as last seen; null before the first snapshot. */
  readonly job: JobAsSeen | null;
  /** The job's checkpointing as last seen; absent or null where it was not read. */
  readonly checkpoints?: CheckpointsAsSeen | null;
}

/** What `add` did with a snapshot. */
export interface AddResult {
  /** A restart was detected and the window dropped. */
  readonly restart: boolean;
  /** The snapshot was refused: what in it is out of bounds (see `implausibleReading`). */
  readonly implausible?: ImplausibleReading;
  /** Samples removed before their time, by reason (for `slotscaler_collector_samples_dropped_total`). */
  readonly dropped: Readonly<Partial<Record<SampleDropReason, number>>>;
}

/** A failure to take a snapshot, as the window remembers it. */
export interface SampleFailure {
  readonly atMs: number;
  readonly code: string;
  readonly message: string;
}

/** Failures that mean "there is no job to read", as opposed to "could not read it". */
const NO_JOB_CODES: readonly string[] = [
  'FLINK_NO_RUNNING_JOB',
  'FLINK_JOB_NOT_FOUND',
  'FLINK_MULTIPLE_RUNNING_JOBS',
];

/** Failures that mean "the JobManager answered beyond the bounds": its target has no metric at once. */
const IMPLAUSIBLE_CODES: readonly string[] = ['FLINK_IMPLAUSIBLE_VALUE'];

function allUnavailable(reason: UnavailableReason, detail?: string): Record<FlinkMetricName, MetricReading> {
  const reading: MetricReading =
    detail === undefined ? { unavailable: reason } : { unavailable: reason, detail };
  const metrics = {} as Record<FlinkMetricName, MetricReading>;
  for (const name of FLINK_METRIC_NAMES) metrics[name] = reading;
  return metrics;
}

/** The key groups (keyed plans) and the fewest partitions over the sources that report them. */
export function capacityUnitsOf(snapshot: JobSnapshot | null): CapacityUnits {
  const partitions = (snapshot?.vertices ?? [])
    .map((vertex) => vertex.source?.partitions ?? null)
    .filter((count): count is number => count !== null && count > 0);
  return {
    keyGroups: snapshot?.keyed === true ? snapshot.maxParallelism : null,
    sourcePartitions: partitions.length === 0 ? null : Math.min(...partitions),
  };
}

/** The samples of one target's job, and what they say. */
export class MetricWindow {
  readonly options: MetricWindowOptions;
  private samples: JobSnapshot[] = [];
  /** The last good snapshot, kept even when it is not a sample (job not running). */
  private latest: JobSnapshot | null = null;
  /** The good snapshot before `latest`, for what completed between the two. */
  private previous: JobSnapshot | null = null;
  private lastFailure: SampleFailure | null = null;
  /** Our clock when a restart without a new RUNNING timestamp was seen (counters went back). */
  private restartSeenAtMs: number | null = null;
  /** The latest snapshot refused as implausible, or failure of that kind: no metric for a window after it. */
  private implausible: { readonly atMs: number; readonly detail: string } | null = null;

  constructor(options: Partial<MetricWindowOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULT_METRIC_WINDOW_OPTIONS, ...options });
    if (!(this.options.catchUpSeconds > 0))
      throw new RangeError(`catchUpSeconds must be positive, got ${this.options.catchUpSeconds}`);
  }

  /** Samples held now. */
  get size(): number {
    return this.samples.length;
  }

  /** Adds one snapshot (taken at `snapshot.takenAtMs`). */
  add(snapshot: JobSnapshot): AddResult {
    const dropped: Partial<Record<SampleDropReason, number>> = {};
    const drop = (reason: SampleDropReason, count: number): void => {
      if (count > 0) dropped[reason] = (dropped[reason] ?? 0) + count;
    };
    const previous = this.latest;
    if (previous !== null && snapshot.takenAtMs <= previous.takenAtMs) {
      drop('out_of_order', 1);
      return { restart: false, dropped };
    }
    const problem = implausibleReading(snapshot);
    if (problem !== null) {
      drop('implausible', 1);
      this.implausible = { atMs: snapshot.takenAtMs, detail: describeImplausible(problem) };
      return { restart: false, dropped, implausible: problem };
    }
    this.previous = previous;
    this.latest = snapshot;
    this.lastFailure = null;

    if (snapshot.state !== 'RUNNING') {
      drop('job_not_running', this.samples.length);
      this.samples = [];
      return { restart: false, dropped };
    }

    const last = this.samples.at(-1);
    let restart = false;
    if (
      previous !== null &&
      (previous.jobId !== snapshot.jobId || previous.runningSinceMs !== snapshot.runningSinceMs)
    ) {
      // A new job, or the same job RUNNING again since a new time: the holdoff runs from that
      // timestamp (see `isRestarting`).
      restart = true;
    } else if (last !== undefined && countersWentBack(last, snapshot)) {
      // Tasks restarted (region failover) under the same RUNNING timestamp: hold off from now.
      restart = true;
      this.restartSeenAtMs = snapshot.takenAtMs;
    }
    if (restart) {
      drop('restart', this.samples.length);
      this.samples = [];
    }
    this.samples.push(snapshot);
    this.trim(snapshot.takenAtMs, drop);
    return { restart, dropped };
  }

  /** Remembers that a snapshot could not be taken. */
  recordFailure(failure: SampleFailure): void {
    this.lastFailure = failure;
    if (IMPLAUSIBLE_CODES.includes(failure.code))
      this.implausible = { atMs: failure.atMs, detail: failure.message };
  }

  /** The metrics as of `nowMs` (our clock). */
  readings(nowMs: number): WindowReadings {
    const latest = this.latest;
    const base = {
      jobId: latest?.jobId ?? null,
      jobName: latest?.jobName ?? null,
      state: latest?.state ?? null,
      maxParallelism: latest?.maxParallelism ?? null,
      capacityUnits: capacityUnitsOf(latest),
      taskSlots: latest?.taskSlots ?? null,
      lastSampleAtMs: latest?.takenAtMs ?? null,
      job: latest === null ? null : jobAsSeen(latest),
      checkpoints: latest === null ? null : checkpointsAsSeen(latest, this.previous),
    };
    const unavailable = (reason: UnavailableReason, detail?: string): WindowReadings => ({
      ...base,
      sampleCount: 0,
      spanSeconds: 0,
      metrics: allUnavailable(reason, detail),
      vertices: [],
    });

    // A JobManager that answered beyond the bounds is not believed for a window: the samples
    // around a lie may hold half of it.
    const implausible = this.implausible;
    if (implausible !== null && nowMs - implausible.atMs < this.options.windowSeconds * 1000)
      return unavailable('implausible', implausible.detail);
    const failure = this.lastFailure;
    if (failure !== null && NO_JOB_CODES.includes(failure.code))
      return unavailable('job-not-running', failure.message);
    if (latest === null) return unavailable(failure === null ? 'no-data' : 'stale', failure?.message);
    if (nowMs - latest.takenAtMs > this.options.maxSampleAgeSeconds * 1000) {
      return unavailable('stale', failure?.message);
    }
    if (latest.state !== 'RUNNING') return unavailable('job-not-running', `job state ${latest.state}`);
    if (this.isRestarting(latest)) return unavailable('restarting');

    const samples = this.windowSamples(nowMs);
    const first = samples[0];
    const newest = samples.at(-1);
    if (first === undefined || newest === undefined || samples.length < 2) {
      return { ...unavailable('not-enough-samples'), sampleCount: samples.length };
    }
    const vertices = newest.vertices.map((vertex) => vertexStats(samples, vertex));
    return {
      ...base,
      sampleCount: samples.length,
      spanSeconds: (newest.takenAtMs - first.takenAtMs) / 1000,
      metrics: jobMetrics(vertices, this.options.catchUpSeconds),
      vertices,
    };
  }

  /** Restarting while the job's RUNNING timestamp, or a counter reset we saw, is younger than the holdoff. */
  private isRestarting(latest: JobSnapshot): boolean {
    const holdoffMs = this.options.restartHoldoffSeconds * 1000;
    if (latest.runningSinceMs !== null && latest.jobManagerNowMs - latest.runningSinceMs < holdoffMs)
      return true;
    return this.restartSeenAtMs !== null && latest.takenAtMs - this.restartSeenAtMs < holdoffMs;
  }

  /** The samples the averages use: from the newest one at or before the window's start (or the oldest) to the newest. */
  private windowSamples(nowMs: number): readonly JobSnapshot[] {
    const startMs = nowMs - this.options.windowSeconds * 1000;
    let from = 0;
    for (let index = 0; index < this.samples.length; index += 1) {
      const sample = this.samples[index];
      if (sample !== undefined && sample.takenAtMs <= startMs) from = index;
    }
    return this.samples.slice(from);
  }

  /** Keeps one sample at or before the window's start and everything after it, at most `maxSamples`. */
  private trim(nowMs: number, drop: (reason: SampleDropReason, count: number) => void): void {
    const startMs = nowMs - this.options.windowSeconds * 1000;
    let keepFrom = 0;
    for (let index = 0; index < this.samples.length; index += 1) {
      const sample = this.samples[index];
      if (sample !== undefined && sample.takenAtMs <= startMs) keepFrom = index;
    }
    if (keepFrom > 0) this.samples.splice(0, keepFrom);
    const excess = this.samples.length - this.options.maxSamples;
    if (excess > 0) {
      drop('capacity', excess);
      this.samples.splice(0, excess);
    }
  }
}

/**
 * busy + idle + back-pressured: the time since each subtask started, summed over subtasks. Flink
 * derives busy time as the rest (`TaskIOMetricGroup.getAccumulatedBusyTime`: time since the task
 * started − accumulated idle − accumulated back-pressured), so the sum only grows within one run.
 */
function totalTimeMs(vertex: VertexSnapshot): number | null {
  const { busyTimeMs, idleTimeMs, backPressuredTimeMs } = vertex.counters;
  if (busyTimeMs === null || idleTimeMs === null || backPressuredTimeMs === null) return null;
  return busyTimeMs + idleTimeMs + backPressuredTimeMs;
}

/**
 * A restart under the same RUNNING timestamp shows as counters going back: a different vertex set or
 * parallelism, fewer records, or less total task time. (Busy time alone may dip a little when an idle
 * period is booked late, so it is judged through the total, which only grows within one run.)
 */
export function countersWentBack(older: JobSnapshot, newer: JobSnapshot): boolean {
  if (older.vertices.length !== newer.vertices.length) return true;
  const olderById = new Map(older.vertices.map((vertex) => [vertex.id, vertex]));
  for (const vertex of newer.vertices) {
    const before = olderById.get(vertex.id);
    if (before === undefined || before.parallelism !== vertex.parallelism) return true;
    const decreased = (a: number | null, b: number | null): boolean => a !== null && b !== null && b < a;
    if (decreased(before.counters.recordsRead, vertex.counters.recordsRead)) return true;
    if (decreased(before.counters.recordsWritten, vertex.counters.recordsWritten)) return true;
    if (decreased(before.source?.recordsIn ?? null, vertex.source?.recordsIn ?? null)) return true;
    if (decreased(before.source?.recordsOut ?? null, vertex.source?.recordsOut ?? null)) return true;
    if (decreased(totalTimeMs(before), totalTimeMs(vertex))) return true;
  }
  return false;
}

/** The oldest and newest samples where `pick` gives a value for the vertex, if they are two different samples. */
function span<T>(
  samples: readonly JobSnapshot[],
  vertexId: string,
  pick: (vertex: VertexSnapshot) => T | null,
): { first: { sample: JobSnapshot; value: T }; last: { sample: JobSnapshot; value: T } } | null {
  let first: { sample: JobSnapshot; value: T } | null = null;
  let last: { sample: JobSnapshot; value: T } | null = null;
  for (const sample of samples) {
    const vertex = sample.vertices.find((candidate) => candidate.id === vertexId);
    const value = vertex === undefined ? null : pick(vertex);
    if (value === null) continue;
    first ??= { sample, value };
    last = { sample, value };
  }
  if (first === null || last === null || first.sample === last.sample) return null;
  return { first, last };
}

function clampRatio(value: number): number {
  return Math.min(1, Math.max(0, value));
}

interface TimeCounters {
  readonly busy: number;
  readonly idle: number;
  readonly backPressured: number;
}

/**
 * A vertex's averages over the window.
 *
 * busyRatio = Δaccumulated-busy-time / Δ(busy + idle + back-pressured time). The denominator is
 * Δt × parallelism as the TaskManagers measured it, which keeps the ratio right even though the
 * JobManager serves metrics from a cache refreshed every `metrics.fetcher.update-interval` (10 s):
 * Δt between our requests would be off by up to that much. Where idle or back-pressured time is
 * missing: Δaccumulated-busy-time / (Δt_ms × parallelism), with Δt from the JobManager's `now`; where
 * the counters are missing altogether: the mean of the `busyTimeMsPerSecond` gauges / 1000.
 * Back-pressure likewise.
 */
export function vertexStats(samples: readonly JobSnapshot[], vertex: VertexSnapshot): VertexWindowStats {
  const times = timeRatios(samples, vertex);
  let busyRatio = times?.busyRatio ?? null;
  let backPressureRatio = times?.backPressureRatio ?? null;
  if (times === null) {
    // Only when the time counters are incomplete: unchanged ones (Δ total = 0) mean the JobManager's
    // metric cache did not refresh within the window, and say nothing.
    busyRatio =
      ratioOverWallClock(samples, vertex, (v) => v.counters.busyTimeMs) ??
      gaugeMean(samples, vertex.id, 'busy');
    backPressureRatio =
      ratioOverWallClock(samples, vertex, (v) => v.counters.backPressuredTimeMs) ??
      gaugeMean(samples, vertex.id, 'bp');
  }

  let pendingRecords: number | null = null;
  let recordsInPerSecond: number | null = null;
  let backlogGrowthPerRecord: number | null = null;
  let newestBacklogGrowthPerRecord: number | null = null;
  let newestArrivalOverRead: number | null = null;
  if (vertex.isSource) {
    recordsInPerSecond = consumptionRate(samples, vertex);
    // The samples whose source reported pendingRecords; the latest known is the backlog.
    const readings = samples
      .map((sample) => sourceCounts(sample, vertex.id))
      .filter((counts): counts is SourceCounts => counts !== null);
    const oldest = readings[0];
    const newest = readings.at(-1);
    if (oldest !== undefined && newest !== undefined) {
      pendingRecords = newest.pending;
      backlogGrowthPerRecord = growthPerRecord(oldest, newest);
      const before = readings.findLast(
        (counts) => counts.pending !== newest.pending || counts.consumed !== newest.consumed,
      );
      if (before !== undefined) {
        newestBacklogGrowthPerRecord = growthPerRecord(before, newest);
        const arrival = perSecondOfTaskTime(before, newest, vertex.parallelism, 'arrived');
        const read = perSecondOfTaskTime(oldest, newest, vertex.parallelism, 'read');
        if (arrival !== null && read !== null && read > 0) newestArrivalOverRead = arrival / read;
      }
    }
  }
  const newestTimes = newestInterval(samples, vertex);
  const newestBusyRatio = newestTimes === null ? null : (timeRatios(newestTimes, vertex)?.busyRatio ?? null);
  return {
    id: vertex.id,
    name: vertex.name,
    parallelism: vertex.parallelism,
    isSource: vertex.isSource,
    busyRatio,
    backPressureRatio,
    pendingRecords,
    recordsInPerSecond,
    backlogGrowthPerRecord,
    newestBacklogGrowthPerRecord,
    newestArrivalOverRead,
    newestBusyRatio,
    timeCountersReported: vertex.counters.busyTimeMs !== null || vertex.counters.backPressuredTimeMs !== null,
  };
}

/** Busy and back-pressured fractions from the time counters' differences over the samples. */
function timeRatios(
  samples: readonly JobSnapshot[],
  vertex: VertexSnapshot,
): { readonly busyRatio: number; readonly backPressureRatio: number } | null {
  const times = span(samples, vertex.id, (v): TimeCounters | null => {
    const { busyTimeMs, idleTimeMs, backPressuredTimeMs } = v.counters;
    return busyTimeMs === null || idleTimeMs === null || backPressuredTimeMs === null
      ? null
      : { busy: busyTimeMs, idle: idleTimeMs, backPressured: backPressuredTimeMs };
  });
  if (times === null) return null;
  const busy = Math.max(0, times.last.value.busy - times.first.value.busy);
  const idle = Math.max(0, times.last.value.idle - times.first.value.idle);
  const backPressured = Math.max(0, times.last.value.backPressured - times.first.value.backPressured);
  const total = busy + idle + backPressured;
  if (total <= 0) return null;
  return { busyRatio: clampRatio(busy / total), backPressureRatio: clampRatio(backPressured / total) };
}

/** A source's backlog and records read so far, as one REST call reported them. */
interface SourceCounts {
  readonly pending: number;
  /** The source operator's numRecordsIn and numRecordsOut, and the vertex's write-records. */
  readonly recordsIn: number | null;
  readonly recordsOut: number | null;
  readonly written: number | null;
  /** For telling readings apart: the largest of the three. */
  readonly consumed: number;
  /** The subtasks' clock read with them (see `SourceReadings.taskTimeMs`). */
  readonly taskTimeMs: number | null;
}

function sourceCounts(sample: JobSnapshot, vertexId: string): SourceCounts | null {
  const vertex = sample.vertices.find((v) => v.id === vertexId);
  const pending = vertex?.source?.pendingRecords ?? null;
  if (vertex === undefined || pending === null) return null;
  const recordsIn = vertex.source?.recordsIn ?? null;
  const recordsOut = vertex.source?.recordsOut ?? null;
  const written = vertex.counters.recordsWrittenComplete ? vertex.counters.recordsWritten : null;
  const consumed = Math.max(recordsIn ?? 0, recordsOut ?? 0, written ?? 0);
  return { pending, recordsIn, recordsOut, written, consumed, taskTimeMs: vertex.source?.taskTimeMs ?? null };
}

/**
 * Δpending / Δrecords read between two readings: records read from the source operator's counters
 * (the larger Δ of numRecordsIn and numRecordsOut, which come with pendingRecords in one REST call),
 * else the vertex's write-records.
 * - An idle source (nothing read, backlog unchanged): 0, it adds no arrival; it must not hide the
 *   other sources' growth.
 * - Null, unknown, when nothing was read while the backlog moved, or when the backlog shrank by more
 *   than was read (-1 per record at most by conservation; beyond it records left the backlog unread:
 *   retention, compaction, an offset reset), so the demand falls back to the busy ratio rather than
 *   reading such a loss as no arrival at all.
 */
function growthPerRecord(older: SourceCounts, newer: SourceCounts): number | null {
  const read = recordsRead(older, newer);
  const growth = newer.pending - older.pending;
  if (read === 0 && growth === 0) return 0;
  if (read === null || read <= 0) return null;
  return growth / read < -1 ? null : growth / read;
}

/** Records read between two readings (see `growthPerRecord`). */
function recordsRead(older: SourceCounts, newer: SourceCounts): number | null {
  const delta = (a: number | null, b: number | null): number | null =>
    a === null || b === null ? null : b - a;
  const operator = [
    delta(older.recordsIn, newer.recordsIn),
    delta(older.recordsOut, newer.recordsOut),
  ].filter((value): value is number => value !== null);
  return operator.length > 0 ? Math.max(...operator) : delta(older.written, newer.written);
}

/**
 * Records read, or arrived (read + added to the backlog), per second between two readings, timed by
 * the subtasks' clock read in the same calls: Δ accumulated task time / parallelism. What arrived is
 * exact by conservation even when the job read less in that interval (a GC pause, a noisy
 * neighbour): the backlog grew by what it did not read.
 */
function perSecondOfTaskTime(
  older: SourceCounts,
  newer: SourceCounts,
  parallelism: number,
  what: 'read' | 'arrived',
): number | null {
  if (older.taskTimeMs === null || newer.taskTimeMs === null) return null;
  const elapsedMs = (newer.taskTimeMs - older.taskTimeMs) / parallelism;
  const read = recordsRead(older, newer);
  if (elapsedMs <= 0 || read === null || read < 0) return null;
  const records = what === 'read' ? read : read + newer.pending - older.pending;
  return (Math.max(0, records) / elapsedMs) * 1000;
}

/** Δcounter / (Δt_ms × parallelism), Δt from the JobManager's clock. */
function ratioOverWallClock(
  samples: readonly JobSnapshot[],
  vertex: VertexSnapshot,
  pick: (vertex: VertexSnapshot) => number | null,
): number | null {
  const ends = span(samples, vertex.id, pick);
  if (ends === null) return null;
  const elapsedMs = ends.last.sample.jobManagerNowMs - ends.first.sample.jobManagerNowMs;
  if (elapsedMs <= 0) return null;
  const delta = ends.last.value - ends.first.value;
  if (delta === 0 && !recordsMoved(ends.first.sample, ends.last.sample, vertex.id)) return null;
  return clampRatio(Math.max(0, delta) / (elapsedMs * vertex.parallelism));
}

/** Whether the vertex's record counts changed between two samples (if not, the metric cache may not have either). */
function recordsMoved(first: JobSnapshot, last: JobSnapshot, vertexId: string): boolean {
  const before = first.vertices.find((v) => v.id === vertexId)?.counters;
  const after = last.vertices.find((v) => v.id === vertexId)?.counters;
  if (before === undefined || after === undefined) return false;
  return before.recordsRead !== after.recordsRead || before.recordsWritten !== after.recordsWritten;
}

function gaugeMean(samples: readonly JobSnapshot[], vertexId: string, which: 'busy' | 'bp'): number | null {
  let sum = 0;
  let count = 0;
  for (const sample of samples) {
    const gauges = sample.vertices.find((v) => v.id === vertexId)?.gauges ?? null;
    const value =
      gauges === null
        ? null
        : which === 'busy'
          ? gauges.busyTimeMsPerSecond
          : gauges.backPressuredTimeMsPerSecond;
    if (value === null) continue;
    sum += value;
    count += 1;
  }
  return count === 0 ? null : clampRatio(sum / count / 1000);
}

/**
 * Records the source read per second: its operator's numRecordsIn, or its numRecordsOut where a
 * reader never counts numRecordsIn (it stays 0 while records flow); the larger of the two witnesses.
 * Without either, the vertex's write-records.
 */
function consumptionRate(samples: readonly JobSnapshot[], vertex: VertexSnapshot): number | null {
  const operatorRates = [
    rate(samples, vertex, (v) => v.source?.recordsIn ?? null),
    rate(samples, vertex, (v) => v.source?.recordsOut ?? null),
  ].filter((value): value is number => value !== null);
  return operatorRates.length > 0
    ? Math.max(...operatorRates)
    : rate(samples, vertex, (v) => (v.counters.recordsWrittenComplete ? v.counters.recordsWritten : null));
}

/**
 * The newest interval of the window for a vertex: the newest sample and the newest earlier one the
 * JobManager's metric cache had refreshed since (its total task time differs). Null without time
 * counters or with fewer than two such samples.
 */
function newestInterval(
  samples: readonly JobSnapshot[],
  vertex: VertexSnapshot,
): readonly JobSnapshot[] | null {
  const newest = samples.at(-1);
  const newestVertex = newest?.vertices.find((v) => v.id === vertex.id);
  if (newest === undefined || newestVertex === undefined) return null;
  const newestTotal = totalTimeMs(newestVertex);
  if (newestTotal === null) return null;
  for (let index = samples.length - 2; index >= 0; index -= 1) {
    const earlier = samples[index];
    const earlierVertex = earlier?.vertices.find((v) => v.id === vertex.id);
    if (earlier === undefined || earlierVertex === undefined) return null;
    if (totalTimeMs(earlierVertex) !== newestTotal) return [earlier, newest];
  }
  return null;
}

/**
 * Δcounter per second between the oldest and newest samples that have it. The time is the subtasks'
 * own (Δ total task time / parallelism) when the time counters are known at the same two samples, so
 * the JobManager's metric cache cannot skew it; else the JobManager's clock.
 */
function rate(
  samples: readonly JobSnapshot[],
  vertex: VertexSnapshot,
  pick: (vertex: VertexSnapshot) => number | null,
): number | null {
  const ends = span(samples, vertex.id, pick);
  if (ends === null) return null;
  const delta = ends.last.value - ends.first.value;
  if (delta < 0) return null;
  const firstVertex = ends.first.sample.vertices.find((v) => v.id === vertex.id);
  const lastVertex = ends.last.sample.vertices.find((v) => v.id === vertex.id);
  const firstTotal = firstVertex === undefined ? null : totalTimeMs(firstVertex);
  const lastTotal = lastVertex === undefined ? null : totalTimeMs(lastVertex);
  let elapsedMs = ends.last.sample.jobManagerNowMs - ends.first.sample.jobManagerNowMs;
  if (firstTotal !== null && lastTotal !== null) {
    // Unchanged task time: the metric cache did not refresh in between, the counts say nothing.
    if (lastTotal <= firstTotal) return null;
    elapsedMs = (lastTotal - firstTotal) / vertex.parallelism;
  }
  if (elapsedMs <= 0) return null;
  return (delta / elapsedMs) * 1000;
}

/**
 * The job-level metrics of the catalogue from the vertices' window averages:
 * - `flink_busy_ratio`, `flink_backpressure_ratio`: max over vertices (those whose value is known);
 * - `flink_source_pending_records`: sum over sources, unknown if any source's is;
 * - `flink_records_in_per_second`: sum over sources of records read per second;
 * - `flink_source_lag_seconds`: pending / records in per second (0 when nothing is pending);
 * - `flink_demand_ratio`: see `demandRatio`.
 * Each then within its range (src/metrics/metric-bounds.ts), else unavailable (`implausible`).
 */
export function jobMetrics(
  vertices: readonly VertexWindowStats[],
  catchUpSeconds = DEFAULT_METRIC_WINDOW_OPTIONS.catchUpSeconds,
): Record<FlinkMetricName, MetricReading> {
  // No value while the counters are reported: they did not move within the window (the JobManager
  // refreshes REST metrics every metrics.fetcher.update-interval, 10 s by default).
  const missing: MetricReading = vertices.some((vertex) => vertex.timeCountersReported)
    ? { unavailable: 'not-enough-samples', detail: 'the counters did not change within the window' }
    : { unavailable: 'counters-missing' };
  const maxOf = (values: readonly (number | null)[]): MetricReading => {
    const known = values.filter((value): value is number => value !== null);
    return known.length === 0 ? missing : { value: Math.max(...known) };
  };
  const sources = vertices.filter((vertex) => vertex.isSource);

  let pending: MetricReading;
  let rate: MetricReading;
  let lag: MetricReading;
  if (sources.length === 0) {
    pending = rate = lag = { unavailable: 'no-source' };
  } else {
    const unknownPending = sources.filter((source) => source.pendingRecords === null);
    pending =
      unknownPending.length > 0
        ? {
            unavailable: 'unknown-lag',
            detail: `no pendingRecords from ${unknownPending.map((s) => s.name).join(', ')}`,
          }
        : { value: sources.reduce((sum, source) => sum + (source.pendingRecords ?? 0), 0) };
    const unknownRate = sources.filter((source) => source.recordsInPerSecond === null);
    rate =
      unknownRate.length > 0
        ? {
            unavailable: 'counters-missing',
            detail: `no record counts from ${unknownRate.map((s) => s.name).join(', ')}`,
          }
        : { value: sources.reduce((sum, source) => sum + (source.recordsInPerSecond ?? 0), 0) };
    if (!('value' in pending)) lag = pending;
    else if (pending.value === 0) lag = { value: 0 };
    else if (!('value' in rate)) lag = { unavailable: 'unknown-lag', detail: 'no consumption rate' };
    else if (rate.value <= 0)
      lag = { unavailable: 'zero-rate', detail: `${pending.value} records pending, none read` };
    else lag = { value: pending.value / rate.value };
  }
  const busy = maxOf(vertices.map((vertex) => vertex.busyRatio));
  return boundJobMetrics(
    {
      flink_busy_ratio: busy,
      flink_backpressure_ratio: maxOf(vertices.map((vertex) => vertex.backPressureRatio)),
      flink_source_pending_records: pending,
      flink_source_lag_seconds: lag,
      flink_records_in_per_second: rate,
      flink_demand_ratio: demandRatio(
        busy,
        maxOf(vertices.map((vertex) => vertex.newestBusyRatio)),
        sources,
        catchUpSeconds,
      ),
    },
    vertices,
  );
}

/** A backlog that grows by less than this per record read is jitter, not a job falling behind. */
const FALLING_BEHIND_GROWTH_PER_RECORD = 0.05;

/**
 * The load offered to the job over its capacity. Unlike the busy ratio it does not stop at 1 when
 * the job falls behind: a job at busy 1 that reads 1000 records/s while its backlog grows by 2000
 * more has a demand of 3, so one ceil-ratio step sizes it for the whole load (no staircase). And it
 * does not count catching up on a backlog as load, beyond draining it within `catchUpSeconds`.
 *
 * What arrives is what was read plus what piled up (conservation), so over the window
 * arrival / capacity is busy × (1 + Δpending / Δread): the backlog's growth per record read, both
 * from one REST call (the source's metrics), so no clock is involved. Then
 *
 *     need   = busy × (1 + growth per record)              over the window; or, where a source's
 *              backlog grows by FALLING_BEHIND_GROWTH_PER_RECORD per record read or more in the
 *              newest interval (a step shows at the first tick after it), arrival over that
 *              interval / capacity, arrival timed by the subtasks' clock read in the same call
 *              (`SourceReadings.taskTimeMs`), which stays exact when the job read less in that
 *              interval; without that clock, busy × (1 + growth per record) of that interval
 *     drain  = need + busy × backlog / (catchUpSeconds × records read per second)
 *     demand = max(need, min(busy, drain))
 *
 * The capacity this assumes (records read / busy) holds while the bottleneck vertex's load grows
 * with the records the sources read, as the Apache Flink autoscaler's "true processing rate" does.
 * A job that keeps up has no growth: its demand is its busy ratio, with the window's smoothing.
 * While a backlog drains, the demand is what the input needs plus what draining the backlog within
 * `catchUpSeconds` needs, but never above the busy ratio: catching up alone does not scale up, nor
 * down below the pace that drains it. Where the backlog cannot be known (a source without
 * `pendingRecords`), nothing was read, or nothing was busy, the demand is the busy ratio.
 */
export function demandRatio(
  busy: MetricReading,
  newestBusy: MetricReading,
  sources: readonly VertexWindowStats[],
  catchUpSeconds: number,
): MetricReading {
  if (!('value' in busy) || sources.length === 0) return busy;
  let read = 0;
  let arriving = 0;
  let backlog = 0;
  // The newest interval, where a source falls behind: timed by the subtasks' clock (exact even if
  // the job read less then), else per record read with that interval's busy ratio.
  let fallingBehind = false;
  let timed = true;
  let newestArriving = 0;
  let newestArrivingPerRecord = 0;
  for (const source of sources) {
    const { recordsInPerSecond, backlogGrowthPerRecord, newestBacklogGrowthPerRecord, pendingRecords } =
      source;
    if (recordsInPerSecond === null || backlogGrowthPerRecord === null || pendingRecords === null)
      return busy;
    read += recordsInPerSecond;
    // Arrival in units of the records read per second over the window.
    const windowArriving = recordsInPerSecond * Math.max(0, 1 + backlogGrowthPerRecord);
    arriving += windowArriving;
    backlog += pendingRecords;
    if (
      newestBacklogGrowthPerRecord !== null &&
      newestBacklogGrowthPerRecord >= FALLING_BEHIND_GROWTH_PER_RECORD
    ) {
      fallingBehind = true;
      if (source.newestArrivalOverRead === null) timed = false;
      newestArriving += recordsInPerSecond * (source.newestArrivalOverRead ?? 0);
      newestArrivingPerRecord += recordsInPerSecond * (1 + newestBacklogGrowthPerRecord);
    } else {
      newestArriving += windowArriving;
      newestArrivingPerRecord += windowArriving;
    }
  }
  if (read <= 0 || busy.value <= 0) return busy;
  let need = (busy.value * arriving) / read;
  if (fallingBehind) {
    const newestNeed = timed
      ? (busy.value * newestArriving) / read
      : (('value' in newestBusy ? newestBusy.value : busy.value) * newestArrivingPerRecord) / read;
    need = Math.max(need, newestNeed);
  }
  const drain = need + (busy.value * backlog) / (catchUpSeconds * read);
  return { value: Math.max(need, Math.min(busy.value, drain)) };
}

/**
 * The checkpointing of a snapshot, its times moved from the JobManager's clock to ours, with what
 * the snapshot before it saw; null when not read.
 */
export function checkpointsAsSeen(
  snapshot: JobSnapshot,
  previous: JobSnapshot | null,
): CheckpointsAsSeen | null {
  const checkpointing = snapshot.checkpointing;
  if (checkpointing === undefined || checkpointing === null) return null;
  const latest = checkpointing.stats?.latestCompleted ?? null;
  const before = previous?.checkpointing;
  return {
    intervalMs: checkpointing.intervalMs,
    latestCompletedId: latest?.id ?? null,
    latestCompletedAtMs:
      latest === null ? null : snapshot.takenAtMs - (snapshot.jobManagerNowMs - latest.completedAtMs),
    seenAtMs: snapshot.takenAtMs,
    previousSnapshotAtMs: previous?.takenAtMs ?? null,
    previousLatestCompletedId:
      before === undefined || before === null || before.stats === null
        ? undefined
        : (before.stats.latestCompleted?.id ?? null),
  };
}

/** The job of a snapshot, its RUNNING timestamp moved from the JobManager's clock to ours. */
export function jobAsSeen(snapshot: JobSnapshot): JobAsSeen {
  return {
    jobId: snapshot.jobId,
    state: snapshot.state,
    runningSinceMs:
      snapshot.runningSinceMs === null
        ? null
        : snapshot.takenAtMs - (snapshot.jobManagerNowMs - snapshot.runningSinceMs),
    seenAtMs: snapshot.takenAtMs,
    vertices: snapshot.vertices.map(({ id, name, parallelism, maxParallelism, status }) => ({
      id,
      name,
      parallelism,
      maxParallelism,
      status,
    })),
  };
}
