/**
 * How a decided rescale reaches the job, and whether it did. Pure: the planner chooses the path from
 * what the target's spec allows and what its annotation asks; the executor (and `simulate`) ask
 * `rescaleProgress` at every tick whether the job runs at the new parallelism yet.
 */
import type { RescalePath, RescaleSupport } from '../domain/target.js';
import type { JobAsSeen } from '../metrics/metric-window.js';

/** `slotscaler.dev/rescale`. */
export type RescaleRequest = 'auto' | 'in-place' | 'redeploy';

export type PathChoice =
  | { readonly ok: true; readonly path: RescalePath; readonly why: string }
  /** In place was asked for and the spec cannot do it: never a silent redeploy. */
  | { readonly ok: false; readonly why: string };

export function choosePath(support: RescaleSupport, request: RescaleRequest): PathChoice {
  switch (request) {
    case 'auto':
      return { ok: true, path: support.auto, why: support.autoWhy };
    case 'redeploy':
      return { ok: true, path: support.notInPlace, why: 'slotscaler.dev/rescale: redeploy' };
    case 'in-place':
      return support.inPlaceMissing === null
        ? { ok: true, path: 'in-place', why: 'slotscaler.dev/rescale: in-place' }
        : {
            ok: false,
            why: `slotscaler.dev/rescale: in-place, but the spec lacks ${support.inPlaceMissing}; not written (set it to auto or redeploy to allow a redeploy)`,
          };
  }
}

/** One vertex's parallelism in an in-place rescale. */
export interface VertexParallelism {
  readonly id: string;
  readonly parallelism: number;
}

/**
 * Every vertex of the running job at `parallelism`, each capped by its own max parallelism (a
 * vertex cannot run more subtasks than it has key groups).
 */
export function inPlaceVertices(job: JobAsSeen, parallelism: number): VertexParallelism[] {
  return job.vertices.map((vertex) => ({
    id: vertex.id,
    parallelism: Math.max(1, Math.min(parallelism, vertex.maxParallelism ?? parallelism)),
  }));
}

/** A rescale written and not yet seen on the JobManager. */
export interface RescaleInFlight {
  readonly path: RescalePath;
  /** When it was written (our clock). */
  readonly atMs: number;
  readonly replicas: number;
  readonly parallelism: number;
  /** The job running when it was written: an in-place rescale keeps it. */
  readonly jobId: string | null;
  /** What each vertex must reach; null: every vertex at `parallelism`, capped by its max. */
  readonly vertices: readonly VertexParallelism[] | null;
  /** After this time (our clock) it is reported as not taken. */
  readonly deadlineMs: number;
}

/**
 * How long a redeploy (or a write of the scale fields) may take to show on the JobManager before it
 * is reported as not taken: a savepoint, new pods and a JVM start. An in-place rescale has its own,
 * `slotscaler.dev/rescale-confirm-timeout`.
 */
export const REDEPLOY_CONFIRM_TIMEOUT_MS = 600_000;

/** The rescale a written plan puts in flight, followed until the job shows it. */
export function inFlightOf(
  write: {
    readonly path: RescalePath;
    readonly replicas: number;
    readonly parallelism: number;
    readonly jobId: string | null;
    readonly vertices: readonly VertexParallelism[] | null;
  },
  atMs: number,
  confirmTimeoutSeconds: number,
): RescaleInFlight {
  return {
    path: write.path,
    atMs,
    replicas: write.replicas,
    parallelism: write.parallelism,
    jobId: write.jobId,
    vertices: write.vertices,
    deadlineMs:
      atMs + (write.path === 'in-place' ? confirmTimeoutSeconds * 1000 : REDEPLOY_CONFIRM_TIMEOUT_MS),
  };
}

export type RescaleProgress =
  | { readonly state: 'waiting'; readonly seen: string }
  /**
   * The job runs at the new parallelism since `runningSinceMs` (our clock). `replaced`: an in-place
   * rescale that reached it under a new job id, i.e. the job was redeployed instead.
   */
  | { readonly state: 'done'; readonly runningSinceMs: number; readonly replaced: boolean }
  | { readonly state: 'timed-out'; readonly seen: string };

/** Whether the job shows the rescale: every vertex RUNNING at its new parallelism. */
export function rescaleProgress(
  inFlight: RescaleInFlight,
  job: JobAsSeen | null,
  nowMs: number,
): RescaleProgress {
  const seen = describeJob(job);
  const waiting = (): RescaleProgress =>
    nowMs >= inFlight.deadlineMs ? { state: 'timed-out', seen } : { state: 'waiting', seen };
  // Only a snapshot taken after the write can show it.
  if (job === null || job.seenAtMs <= inFlight.atMs || job.state !== 'RUNNING') return waiting();
  const wanted = new Map((inFlight.vertices ?? []).map((vertex) => [vertex.id, vertex.parallelism]));
  const reached =
    job.vertices.length > 0 &&
    job.vertices.every((vertex) => {
      const target =
        inFlight.vertices === null
          ? Math.min(inFlight.parallelism, vertex.maxParallelism ?? inFlight.parallelism)
          : wanted.get(vertex.id);
      return vertex.status === 'RUNNING' && (target === undefined || vertex.parallelism === target);
    });
  if (!reached) return waiting();
  return {
    state: 'done',
    runningSinceMs: Math.max(job.runningSinceMs ?? job.seenAtMs, inFlight.atMs),
    replaced: inFlight.path === 'in-place' && inFlight.jobId !== null && job.jobId !== inFlight.jobId,
  };
}

function describeJob(job: JobAsSeen | null): string {
  if (job === null) return 'no job seen';
  const vertices = job.vertices.map((vertex) => `${vertex.name} ${vertex.parallelism} ${vertex.status}`);
  return `job ${job.jobId} ${job.state}${vertices.length === 0 ? '' : `: ${vertices.join(', ')}`}`;
}
