/**
 * The ceilings every number from a JobManager is held to before Slotscaler uses it. A JobManager is
 * not trusted: a lying or broken one must cost its own target its metrics, never the process its
 * memory or the other targets their readings. Each ceiling is one no real Flink job reaches, or the
 * limit of Flink's own type for the value:
 *
 * - parallelism and max parallelism ≤ 32,768, Flink's own ceiling (flink-core
 *   `org.apache.flink.api.dag.Transformation.UPPER_BOUND_MAX_PARALLELISM = 1 << 15`), and a vertex's
 *   parallelism ≤ its max parallelism (the scheduler refuses anything else);
 * - at most 1,000 job vertices and 64 source operators (`pendingRecords` gauges) per source vertex,
 *   so the calls and the work of one tick are bounded by these numbers, never by a claim;
 * - timestamps before 2100 and not after the JobManager's own `now`;
 * - record counts (records read and written, `numRecordsIn`/`Out`, `pendingRecords`) within
 *   2^53 − 1: the largest integer a JSON number decodes to exactly, which a job reading a billion
 *   records a second would take 104 days to count to;
 * - accumulated task times (busy, idle, back-pressured, in ms summed over subtasks) within
 *   parallelism × the time since the job last switched to RUNNING (plus 1 % and a minute for the
 *   TaskManagers' clocks): a task cannot have run longer than its job;
 * - time gauges (`busyTimeMsPerSecond`...) within 0..1,100 ms per second (1,000 plus 10 % for the
 *   edges of the gauge's measuring window);
 * - counts Flink keeps in a Java `int` (TaskManagers, slots) within 2^31 − 1, task slots of one
 *   TaskManager within 32,768.
 *
 * A structural bound broken in an answer is a `FlinkImplausibleResponseError` (the target is skipped
 * and reported); a reading out of bounds drops the sample before it enters the metric window
 * (`implausibleReading`).
 */
import type { JobDetails, JobSnapshot } from '../domain/flink.js';
import { FlinkImplausibleResponseError } from '../errors.js';

/** Flink's ceiling on parallelism and max parallelism (`Transformation.UPPER_BOUND_MAX_PARALLELISM`). */
export const FLINK_MAX_PARALLELISM = 32_768;

/** Job vertices of one job Slotscaler reads at most (each source vertex costs a REST call per tick). */
export const MAX_JOB_VERTICES = 1_000;

/** `pendingRecords` gauges (one per source operator) of one source vertex, at most. */
export const MAX_SOURCE_OPERATORS = 64;

/** Ceiling of any record count: 2^53 − 1, the largest integer a JSON number decodes to exactly. */
export const MAX_RECORDS = Number.MAX_SAFE_INTEGER;

/**
 * Records one source subtask (one thread) can read per second, at most: one a nanosecond, beyond
 * what any source reaches (a record costs Flink tens of nanoseconds at least).
 */
export const MAX_RECORDS_PER_SECOND_PER_SUBTASK = 1e9;

/** Timestamps (epoch ms) must be before 2100-01-01. */
export const MAX_TIMESTAMP_MS = Date.UTC(2100, 0, 1);

/** Counts Flink keeps in a Java `int`. */
export const JAVA_INT_MAX = 2_147_483_647;

/** Task time may exceed parallelism × the time since RUNNING by this fraction and this many ms per subtask. */
const TASK_TIME_TOLERANCE = 0.01;
const TASK_TIME_SLACK_MS = 60_000;

/** The time gauges are ms per second: 1,000 at most, plus 10 % for the edges of their window. */
export const MAX_GAUGE_MS_PER_SECOND = 1_100;

function implausible(
  url: string,
  field: string,
  value: number,
  bound: string,
): FlinkImplausibleResponseError {
  return new FlinkImplausibleResponseError(url, field, value, bound);
}

/** Throws `FlinkImplausibleResponseError` when `value` is above `max`. */
export function checkAtMost(url: string, field: string, value: number, max: number, what: string): void {
  if (value > max) throw implausible(url, field, value, `above ${what} of ${max}`);
}

/** Throws `FlinkImplausibleResponseError` when a ratio (back-pressure, busy, idle) is outside 0..1. */
export function checkRatio(url: string, field: string, value: number | null): void {
  if (value !== null && (value < 0 || value > 1))
    throw implausible(url, field, value, 'outside the ratio range 0..1');
}

/** Throws `FlinkImplausibleResponseError` when a timestamp (epoch ms) is on or after 2100-01-01. */
export function checkTimestamp(url: string, field: string, valueMs: number | null): void {
  if (valueMs !== null && valueMs >= MAX_TIMESTAMP_MS)
    throw implausible(url, field, valueMs, 'a time after 2100-01-01');
}

/**
 * The structural bounds of `GET /jobs/{jid}`: vertex count, parallelism against Flink's ceiling and
 * the vertex's (or else the job's) max parallelism, timestamps. Counters are readings, checked by
 * `implausibleReading` when the snapshot enters a window.
 */
export function checkJobDetails(details: JobDetails, url: string): void {
  checkAtMost(
    url,
    'vertices.length',
    details.vertices.length,
    MAX_JOB_VERTICES,
    'the job vertices Slotscaler reads',
  );
  checkTimestamp(url, 'now', details.nowMs);
  for (const [field, valueMs] of [
    ['start-time', details.startTimeMs],
    ['timestamps.RUNNING', details.runningSinceMs],
  ] as const) {
    checkTimestamp(url, field, valueMs);
    if (valueMs !== null && valueMs > details.nowMs)
      throw implausible(url, field, valueMs, `after the JobManager's own now of ${details.nowMs}`);
  }
  if (details.maxParallelism !== null) {
    checkAtMost(
      url,
      'maxParallelism',
      details.maxParallelism,
      FLINK_MAX_PARALLELISM,
      "Flink's maximum parallelism",
    );
  }
  details.vertices.forEach((vertex, index) => {
    const at = `vertices[${index}]`;
    if (vertex.maxParallelism !== null) {
      checkAtMost(
        url,
        `${at}.maxParallelism`,
        vertex.maxParallelism,
        FLINK_MAX_PARALLELISM,
        "Flink's maximum parallelism",
      );
    }
    checkAtMost(
      url,
      `${at}.parallelism`,
      vertex.parallelism,
      FLINK_MAX_PARALLELISM,
      "Flink's maximum parallelism",
    );
    const ceiling = vertex.maxParallelism ?? details.maxParallelism;
    if (ceiling !== null) {
      const whose = vertex.maxParallelism !== null ? "the vertex's" : "the job's";
      checkAtMost(url, `${at}.parallelism`, vertex.parallelism, ceiling, `${whose} max parallelism`);
    }
  });
}

/** A reading out of bounds: where, its value, and the bound it broke (as a phrase). */
export interface ImplausibleReading {
  readonly field: string;
  readonly value: number;
  readonly bound: string;
}

/** `field = value, bound`: how an implausible reading is reported. */
export function describeImplausible(reading: ImplausibleReading): string {
  return `${reading.field} = ${reading.value}, ${reading.bound}`;
}

/** Within `0..max`, or how the value is out. */
function outOf(field: string, value: number, max: number, what: string): ImplausibleReading | null {
  if (!Number.isFinite(value)) return { field, value, bound: 'not a finite number' };
  if (value < 0) return { field, value, bound: 'below 0' };
  if (value > max) return { field, value, bound: `above ${what} of ${max}` };
  return null;
}

/**
 * The one validation of a snapshot's readings before it enters a metric window: every number
 * finite and within the ceiling of its kind (see the file comment). Returns the first reading out of
 * bounds, naming the vertex and the field; `null` when everything is within.
 */
export function implausibleReading(snapshot: JobSnapshot): ImplausibleReading | null {
  if (!Number.isFinite(snapshot.takenAtMs))
    return { field: 'sample time', value: snapshot.takenAtMs, bound: 'not a finite number' };
  const clock = outOf('now', snapshot.jobManagerNowMs, MAX_TIMESTAMP_MS, 'the time of 2100-01-01');
  if (clock !== null) return clock;
  // How long any task of the job can have run, on the JobManager's clock.
  const ranForMs =
    snapshot.runningSinceMs === null
      ? snapshot.jobManagerNowMs
      : Math.max(0, snapshot.jobManagerNowMs - snapshot.runningSinceMs);
  for (const vertex of snapshot.vertices) {
    const where = `vertex "${vertex.name}"`;
    if (
      !Number.isInteger(vertex.parallelism) ||
      vertex.parallelism < 1 ||
      vertex.parallelism > FLINK_MAX_PARALLELISM
    ) {
      const bound = `outside Flink's parallelism range 1..${FLINK_MAX_PARALLELISM}`;
      return { field: `${where} parallelism`, value: vertex.parallelism, bound };
    }
    const maxTaskTimeMs = vertex.parallelism * (ranForMs * (1 + TASK_TIME_TOLERANCE) + TASK_TIME_SLACK_MS);
    const taskTime = `parallelism × time since RUNNING (ms)`;
    const records = 'the ceiling of a record count';
    const gauge = 'the ms per second a gauge can show';
    const { counters, source, gauges } = vertex;
    const readings: readonly [string, number | null, number, string][] = [
      ['read-records', counters.recordsRead, MAX_RECORDS, records],
      ['write-records', counters.recordsWritten, MAX_RECORDS, records],
      ['accumulated-busy-time', counters.busyTimeMs, maxTaskTimeMs, taskTime],
      ['accumulated-backpressured-time', counters.backPressuredTimeMs, maxTaskTimeMs, taskTime],
      ['accumulated-idle-time', counters.idleTimeMs, maxTaskTimeMs, taskTime],
      ['pendingRecords', source?.pendingRecords ?? null, MAX_RECORDS, records],
      ['numRecordsIn', source?.recordsIn ?? null, MAX_RECORDS, records],
      ['numRecordsOut', source?.recordsOut ?? null, MAX_RECORDS, records],
      ['accumulated task time', source?.taskTimeMs ?? null, maxTaskTimeMs, taskTime],
      ['busyTimeMsPerSecond', gauges?.busyTimeMsPerSecond ?? null, MAX_GAUGE_MS_PER_SECOND, gauge],
      [
        'backPressuredTimeMsPerSecond',
        gauges?.backPressuredTimeMsPerSecond ?? null,
        MAX_GAUGE_MS_PER_SECOND,
        gauge,
      ],
      ['idleTimeMsPerSecond', gauges?.idleTimeMsPerSecond ?? null, MAX_GAUGE_MS_PER_SECOND, gauge],
    ];
    for (const [field, value, max, what] of readings) {
      if (value === null) continue;
      const problem = outOf(`${where} ${field}`, value, max, what);
      if (problem !== null) return problem;
    }
  }
  return null;
}
