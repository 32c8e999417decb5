/**
 * The structural bounds of a JobManager's answers, checked by the parsers as they read: a lying or
 * broken JobManager must cost its own target its metrics, never the process its memory or the other
 * targets their readings.
 *
 * - a vertex's parallelism ≤ its max parallelism (the scheduler refuses anything else), both ≤
 *   Flink's own ceiling of 32,768;
 * - at most 1,000 job vertices and 64 source operators (`pendingRecords` gauges) per source vertex,
 *   so the calls and the work of one tick are bounded by these numbers, never by a claim;
 * - timestamps before 2100 and not after the JobManager's own `now`;
 * - task slots of one TaskManager within 32,768, its free slots within its slots;
 * - a completed checkpoint triggered before 2100 and completed no earlier than it was triggered,
 *   and listed only when the counts have one.
 *
 * A bound broken in an answer is a `FlinkImplausibleResponseError` (the target is skipped and
 * reported). The ceilings of the readings themselves, shared with the metric window that checks
 * them, are in src/metrics/sample-bounds.ts.
 */
import type { CheckpointStats, JobDetails } from '../domain/flink.js';
import { FlinkImplausibleResponseError } from '../errors.js';
import { FLINK_MAX_PARALLELISM, MAX_TIMESTAMP_MS } from '../metrics/sample-bounds.js';

/** Job vertices of one job Slotscaler reads at most (each source vertex costs a REST call per tick). */
export const MAX_JOB_VERTICES = 1_000;

/** `pendingRecords` gauges (one per source operator) of one source vertex, at most. */
export const MAX_SOURCE_OPERATORS = 64;

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

/**
 * The bounds of `GET /jobs/{jid}/checkpoints`: the latest completed checkpoint's timestamps, and a
 * completed one listed only when one is counted. Its id is not bounded by the counts: a job
 * restored from a checkpoint counts on from the restored id.
 */
export function checkCheckpointStats(stats: CheckpointStats, url: string): void {
  const latest = stats.latestCompleted;
  if (latest === null) return;
  checkTimestamp(url, 'latest.completed.trigger_timestamp', latest.triggeredAtMs);
  checkTimestamp(url, 'latest.completed.latest_ack_timestamp', latest.completedAtMs);
  if (latest.completedAtMs < latest.triggeredAtMs) {
    throw implausible(
      url,
      'latest.completed.latest_ack_timestamp',
      latest.completedAtMs,
      `before its own trigger_timestamp of ${latest.triggeredAtMs}`,
    );
  }
  if (stats.completed === 0) {
    throw implausible(url, 'counts.completed', 0, 'while a completed checkpoint is listed');
  }
}
