/**
 * The per-TaskManager figures behind the custom metrics API's Pods metrics: how busy, and how
 * back-pressured, the subtasks each TaskManager runs are. One call per vertex
 * (`GET /jobs/{jid}/vertices/{vid}/taskmanagers`) gives, per TaskManager, the summed time counters
 * of the vertex's subtasks there; two such samples give each TaskManager's ratios over the time
 * between them.
 *
 * The ratios are the job-level ones (src/metrics/catalogue.ts `flink_busy_ratio`,
 * `flink_backpressure_ratio`: max over vertices of the mean fraction of their subtasks) restricted
 * to one TaskManager's subtasks. Each vertex's fraction is busy time over busy + idle +
 * back-pressured time, all read in the same call, so the subtasks' own clock times it and neither
 * our clock nor the JobManager's metric cache refresh skews it.
 */
import type { TaskManagerVertexTimes } from '../domain/flink.js';
import type { FlinkClient } from '../domain/ports.js';

/** One read of every vertex's per-TaskManager counters of one job. */
export interface TaskManagerTimesSample {
  readonly jobId: string;
  /** Our clock when the last answer came. */
  readonly takenAtMs: number;
  /** Vertex id → that vertex's TaskManagers. */
  readonly vertices: ReadonlyMap<string, readonly TaskManagerVertexTimes[]>;
}

/** One TaskManager's ratios between two samples. */
export interface TaskManagerLoad {
  readonly taskManagerId: string;
  /** `<hostname>:<data port>` as the JobManager reports it. */
  readonly host: string;
  /** Max over the vertices it runs subtasks of of their mean busy fraction there, 0..1; null: unknown. */
  readonly busyRatio: number | null;
  /** The same for back-pressured time. */
  readonly backPressureRatio: number | null;
}

/** Reads every vertex's per-TaskManager counters: one call per vertex, all at once (the pool bounds them). */
export async function readTaskManagerTimes(
  client: FlinkClient,
  jobId: string,
  vertexIds: readonly string[],
  nowMs: () => number,
): Promise<TaskManagerTimesSample> {
  const answers = await Promise.all(
    vertexIds.map(
      async (vertexId) => [vertexId, await client.getVertexTaskManagers(jobId, vertexId)] as const,
    ),
  );
  return { jobId, takenAtMs: nowMs(), vertices: new Map(answers) };
}

/**
 * Each TaskManager's ratios between two samples of the same job. A TaskManager (or a vertex of it)
 * missing from either sample, or whose counters are unknown or went backwards (a restarted task),
 * adds no figure; a TaskManager with no figure at all has null ratios.
 */
export function taskManagerLoads(
  previous: TaskManagerTimesSample,
  current: TaskManagerTimesSample,
): readonly TaskManagerLoad[] {
  if (previous.jobId !== current.jobId) return [];
  const loads = new Map<string, { host: string; busy: number | null; backPressure: number | null }>();
  for (const [vertexId, taskManagers] of current.vertices) {
    const before = new Map(
      (previous.vertices.get(vertexId) ?? []).map((times) => [times.taskManagerId, times] as const),
    );
    for (const now of taskManagers) {
      const load = loads.get(now.taskManagerId) ?? { host: now.host, busy: null, backPressure: null };
      loads.set(now.taskManagerId, load);
      const then = before.get(now.taskManagerId);
      if (then === undefined) continue;
      const busy = delta(then.busyTimeMs, now.busyTimeMs);
      const backPressure = delta(then.backPressuredTimeMs, now.backPressuredTimeMs);
      const idle = delta(then.idleTimeMs, now.idleTimeMs);
      if (busy === null || backPressure === null || idle === null) continue;
      const total = busy + backPressure + idle;
      if (total <= 0) continue;
      load.busy = Math.max(load.busy ?? 0, busy / total);
      load.backPressure = Math.max(load.backPressure ?? 0, backPressure / total);
    }
  }
  return [...loads.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([taskManagerId, load]) => ({
      taskManagerId,
      host: load.host,
      busyRatio: load.busy,
      backPressureRatio: load.backPressure,
    }));
}

/** The growth of a counter, or null when either reading is unknown or it went backwards. */
function delta(before: number | null, after: number | null): number | null {
  if (before === null || after === null || after < before) return null;
  return after - before;
}
