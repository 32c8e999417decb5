/**
 * Snapshots of a made-up job, for the pure window tests: counters grow with time at given rates.
 */
import type { JobSnapshot, VertexCounters, VertexSnapshot } from '../../../src/domain/flink.js';

export interface SyntheticVertex {
  readonly id: string;
  readonly parallelism: number;
  readonly busyRatio: number;
  readonly backPressureRatio: number;
  readonly recordsPerSecond: number;
  readonly isSource?: boolean;
  /** Pending records of the whole vertex; `null` = unknown. */
  readonly pendingRecords?: number | null;
  /** Pending records as of the counters' time (overrides `pendingRecords`). */
  readonly pendingRecordsAt?: (countersAtMs: number) => number | null;
}

export const T0 = Date.UTC(2026, 0, 1);

/** A snapshot of the job at `atMs` whose tasks have been running since `runningSinceMs`. */
export function snapshotAt(
  atMs: number,
  vertices: readonly SyntheticVertex[],
  options: {
    readonly runningSinceMs?: number;
    readonly state?: string;
    readonly jobId?: string;
    /** Counters as of this time (the JobManager's metric cache), default `atMs`. */
    readonly countersAtMs?: number;
    readonly counters?: (vertex: SyntheticVertex, counters: VertexCounters) => VertexCounters;
  } = {},
): JobSnapshot {
  const runningSinceMs = options.runningSinceMs ?? T0 - 600_000;
  const countersAt = options.countersAtMs ?? atMs;
  const elapsedMs = Math.max(0, countersAt - runningSinceMs);
  return {
    jobId: options.jobId ?? 'job-1',
    jobName: 'synthetic',
    state: options.state ?? 'RUNNING',
    runningSinceMs,
    jobManagerNowMs: atMs,
    takenAtMs: atMs,
    maxParallelism: 128,
    taskSlots: 2,
    restCalls: { job_details: 1 },
    vertices: vertices.map((vertex): VertexSnapshot => {
      const taskMs = elapsedMs * vertex.parallelism;
      const records = Math.floor((vertex.recordsPerSecond * elapsedMs) / 1000);
      let counters: VertexCounters = {
        busyTimeMs: vertex.busyRatio * taskMs,
        backPressuredTimeMs: vertex.backPressureRatio * taskMs,
        idleTimeMs: (1 - vertex.busyRatio - vertex.backPressureRatio) * taskMs,
        recordsRead: vertex.isSource === true ? 0 : records,
        recordsReadComplete: true,
        recordsWritten: records,
        recordsWrittenComplete: true,
      };
      if (options.counters !== undefined) counters = options.counters(vertex, counters);
      return {
        id: vertex.id,
        name: vertex.id,
        parallelism: vertex.parallelism,
        maxParallelism: 128,
        status: 'RUNNING',
        isSource: vertex.isSource === true,
        counters,
        gauges: null,
        source:
          vertex.isSource === true
            ? {
                pendingRecords:
                  vertex.pendingRecordsAt !== undefined
                    ? vertex.pendingRecordsAt(countersAt)
                    : vertex.pendingRecords === undefined
                      ? 0
                      : vertex.pendingRecords,
                recordsIn: records,
                recordsOut: records,
                // The subtasks' clock, read with the source's metrics (from the same counters).
                taskTimeMs:
                  counters.busyTimeMs === null ||
                  counters.idleTimeMs === null ||
                  counters.backPressuredTimeMs === null
                    ? null
                    : counters.busyTimeMs + counters.idleTimeMs + counters.backPressuredTimeMs,
              }
            : null,
      };
    }),
  };
}

export const SOURCE: SyntheticVertex = {
  id: 'source',
  parallelism: 2,
  busyRatio: 0.1,
  backPressureRatio: 0.8,
  recordsPerSecond: 1000,
  isSource: true,
  pendingRecords: 5000,
};

export const MAP: SyntheticVertex = {
  id: 'map',
  parallelism: 4,
  busyRatio: 0.95,
  backPressureRatio: 0,
  recordsPerSecond: 1000,
};

export const SINK: SyntheticVertex = {
  id: 'sink',
  parallelism: 1,
  busyRatio: 0.3,
  backPressureRatio: 0,
  recordsPerSecond: 1000,
};
