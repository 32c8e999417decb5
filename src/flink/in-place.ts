/**
 * An in-place rescale through the JobManager itself (a TaskManager Deployment with no operator):
 * the adaptive scheduler's resource requirements, set as the Apache operator sets them
 * (`NativeFlinkService.scale`): each vertex's upper bound becomes its new parallelism, and its lower
 * bound comes down with it but never goes up (raising it could fail the job when slots are short).
 */
import type { ResourceRequirements } from '../domain/flink.js';
import type { JobRequirementsClient } from '../domain/ports.js';

export interface VertexTarget {
  readonly id: string;
  readonly parallelism: number;
}

/** The requirements to PUT: every vertex the JobManager knows, the named ones at their new bounds. */
export function requirementsFor(
  current: ResourceRequirements,
  vertices: readonly VertexTarget[],
): ResourceRequirements {
  const wanted = new Map(vertices.map((vertex) => [vertex.id, vertex.parallelism]));
  const out: Record<string, { parallelism: { lowerBound: number; upperBound: number } }> = {};
  for (const [id, { parallelism }] of Object.entries(current)) {
    const upper = wanted.get(id);
    out[id] =
      upper === undefined
        ? { parallelism: { ...parallelism } }
        : { parallelism: { lowerBound: Math.min(upper, parallelism.lowerBound), upperBound: upper } };
  }
  return out;
}

/** Whether the requirements already ask for these parallelisms (nothing to PUT). */
export function requirementsMatch(current: ResourceRequirements, vertices: readonly VertexTarget[]): boolean {
  return vertices.every((vertex) => current[vertex.id]?.parallelism.upperBound === vertex.parallelism);
}

/** Reads the job's requirements and sets the new ones; throws the `FlinkError` of a refusal. */
export async function rescaleInPlace(
  client: JobRequirementsClient,
  jobId: string,
  vertices: readonly VertexTarget[],
): Promise<void> {
  const current = await client.getResourceRequirements(jobId);
  const missing = vertices.filter((vertex) => current[vertex.id] === undefined);
  if (missing.length > 0) {
    throw new Error(
      `the JobManager has no requirements for vertex ${missing.map((vertex) => vertex.id).join(', ')} of job ${jobId}`,
    );
  }
  if (requirementsMatch(current, vertices)) return;
  await client.setResourceRequirements(jobId, requirementsFor(current, vertices));
}
