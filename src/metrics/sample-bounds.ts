/**
 * The ceilings every number from a JobManager is held to, and the one validation of a snapshot's
 * readings before it enters a metric window. A JobManager is not trusted: a lying or broken one must
 * cost its own target its metrics, never the process its memory or the other targets their readings.
 * Each ceiling is one no real Flink job reaches, or the limit of Flink's own type for the value:
 *
 * - parallelism and max parallelism ≤ 32,768, Flink's own ceiling (flink-core
 *   `org.apache.flink.api.dag.Transformation.UPPER_BOUND_MAX_PARALLELISM = 1 << 15`);
 * - timestamps before 2100 and not after the JobManager's own `now`;
 * - record counts (records read and written, `numRecordsIn`/`Out`, `pendingRecords`) within
 *   2^53 − 1: the largest integer a JSON number decodes to exactly, which a job reading a billion
 *   records a second would take 104 days to count to;
 * - accumulated task times (busy, idle, back-pressured, in ms summed over subtasks) within
 *   parallelism × the time since the job last switched to RUNNING (plus 1 % and a minute for the
 *   TaskManagers' clocks): a task cannot have run longer than its job;
 * - time gauges (`busyTimeMsPerSecond`...) within 0..1,100 ms per second (1,000 plus 10 % for the
 *   edges of the gauge's measuring window).
 *
 * A reading out of bounds drops the sample before it enters the metric window
 * (`implausibleReading`). The structural bounds of an answer (vertex counts, parallelism against max
 * parallelism), which the Flink parsers check as they read, are in src/flink/bounds.ts.
 */
import type { JobSnapshot } from '../domain/flink.js';

/** Flink's ceiling on parallelism and max parallelism (`Transformation.UPPER_BOUND_MAX_PARALLELISM`). */
export const FLINK_MAX_PARALLELISM = 32_768;

/** Ceiling of any record count: 2^53 − 1, the largest integer a JSON number decodes to exactly. */
export const MAX_RECORDS = Number.MAX_SAFE_INTEGER;

/**
 * Records one source subtask (one thread) can read per second, at most: one a nanosecond, beyond
 * what any source reaches (a record costs Flink tens of nanoseconds at least).
 */
export const MAX_RECORDS_PER_SECOND_PER_SUBTASK = 1e9;

/** Timestamps (epoch ms) must be before 2100-01-01 (`Date.UTC(2100, 0, 1)`: the core uses no `Date`). */
export const MAX_TIMESTAMP_MS = 4_102_444_800_000;

/** The time gauges are ms per second: 1,000 at most, plus 10 % for the edges of their window. */
export const MAX_GAUGE_MS_PER_SECOND = 1_100;

/** Task time may exceed parallelism × the time since RUNNING by this fraction and this many ms per subtask. */
const TASK_TIME_TOLERANCE = 0.01;
const TASK_TIME_SLACK_MS = 60_000;

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
