/**
 * One scale target kind behind one interface (KEDA's "one scaler per file"): where its TaskManager
 * count, readiness, task slots and JobManager live, when its operator is busy, and how a change is
 * written. Adapters are pure: they read an object and return plans; the writer does the I/O.
 * Every kind is registered in ./index.ts.
 */
import type { TargetConfig } from '../../config/schema.js';
import type { RescalePath, TargetProblem, TargetView } from '../../domain/target.js';
import { mergePatches, objectPath } from '../objects.js';
import type { KubeObject, ResourceRef } from '../objects.js';

/** One request of a write. `guard`: the request carries the resourceVersion the decision was made on. */
export interface WriteStep {
  readonly method: 'PATCH';
  readonly path: string;
  readonly body: Record<string, unknown>;
  readonly contentType: 'application/merge-patch+json';
  /** What the step sets, for logs and Events. */
  readonly what: string;
}

/** A change to write: TaskManagers and parallelism, and the status annotation to record with it. */
export interface TargetChange {
  readonly replicas: number;
  readonly parallelism: number;
  /** How it reaches the job (chosen by the planner from `describe`'s `rescale`). */
  readonly path: RescalePath;
  /** In place: every vertex of the running job at its new parallelism; null for other paths. */
  readonly vertices: readonly { readonly id: string; readonly parallelism: number }[] | null;
  /** The `slotscaler.dev/status` annotation value, or undefined to leave it. */
  readonly statusAnnotation: string | undefined;
}

/** Extra facts about a custom kind, from its CRD (the scale subresource's paths). */
export interface CrdFacts {
  readonly specReplicasPath: string | null;
  readonly statusReplicasPath: string | null;
}

export interface TargetAdapter {
  readonly resource: ResourceRef;
  /** The CRD (`plural.group`) whose presence gates the watch; null for built-in kinds. */
  readonly crd: string | null;
  /** Reads the object; a problem when it cannot be scaled (e.g. no JobManager URL). */
  describe(object: KubeObject, config: TargetConfig, crd: CrdFacts | null): TargetView | TargetProblem;
  /**
   * The requests that write `change`, in order. The first carries `metadata.resourceVersion` of
   * `object` (the decision's), so a concurrent change fails it with 409 and nothing is written.
   */
  planWrite(
    object: KubeObject,
    change: TargetChange,
    config: TargetConfig,
    crd: CrdFacts | null,
  ): readonly WriteStep[];
  /**
   * An in-place rescale of this kind is the JobManager's resource requirements, set by Slotscaler
   * itself (no operator does it): TaskManagers first on the way up, requirements first on the way down.
   */
  readonly inPlaceThroughJobManager?: boolean;
  /** A patch of the status annotation alone (at shutdown; with a scale when the scale cannot carry it). */
  planStatusWrite(object: KubeObject, statusAnnotation: string): WriteStep;
}

export function isProblem(view: TargetView | TargetProblem): view is TargetProblem {
  return 'problem' in view;
}

export const STATUS_ANNOTATION = 'slotscaler.dev/status';

/** The metadata part of a guarded patch: the resourceVersion precondition and the status annotation. */
export function guardedMetadata(
  object: KubeObject,
  statusAnnotation: string | undefined,
): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  if (object.metadata.resourceVersion !== undefined)
    metadata['resourceVersion'] = object.metadata.resourceVersion;
  if (statusAnnotation !== undefined) metadata['annotations'] = { [STATUS_ANNOTATION]: statusAnnotation };
  return metadata;
}

/**
 * One merge patch of the object itself, guarded by its resourceVersion and carrying the status
 * annotation when there is one: `fields` are the spec fields to write, `what` says which for logs.
 */
export function guardedObjectPatch(
  resource: ResourceRef,
  object: KubeObject,
  statusAnnotation: string | undefined,
  fields: Record<string, unknown>,
  what: string,
): WriteStep {
  return objectMergePatch(
    resource,
    object,
    mergePatches({ metadata: guardedMetadata(object, statusAnnotation) }, fields),
    what,
  );
}

/**
 * A merge patch of the scale subresource's `spec.replicas`, guarded by the object's resourceVersion
 * unless an earlier request of the same plan has already moved it on.
 */
export function scaleSubresourcePatch(
  resource: ResourceRef,
  object: KubeObject,
  replicas: number,
  guarded: boolean,
): WriteStep {
  const { name, namespace = 'default' } = object.metadata;
  return {
    method: 'PATCH',
    path: `${objectPath(resource, namespace, name)}/scale`,
    contentType: 'application/merge-patch+json',
    body: guarded
      ? mergePatches({ metadata: guardedMetadata(object, undefined) }, { spec: { replicas } })
      : { spec: { replicas } },
    what: `scale.spec.replicas=${replicas}`,
  };
}

/** The write of the status annotation alone: one merge patch of the object's metadata (every kind). */
export function statusAnnotationWrite(
  resource: ResourceRef,
  object: KubeObject,
  statusAnnotation: string,
): WriteStep {
  return objectMergePatch(
    resource,
    object,
    { metadata: { annotations: { [STATUS_ANNOTATION]: statusAnnotation } } },
    STATUS_ANNOTATION,
  );
}

function objectMergePatch(
  resource: ResourceRef,
  object: KubeObject,
  body: Record<string, unknown>,
  what: string,
): WriteStep {
  const { name, namespace = 'default' } = object.metadata;
  return {
    method: 'PATCH',
    path: objectPath(resource, namespace, name),
    contentType: 'application/merge-patch+json',
    body,
    what,
  };
}

/** Task slots from the config (annotation), else from a spec value that may be a string, else null. */
export function slotsFrom(config: TargetConfig, specValue: unknown): number | null {
  if (config.taskSlots !== undefined) return config.taskSlots;
  const number = typeof specValue === 'string' ? Number(specValue.trim()) : specValue;
  return typeof number === 'number' && Number.isInteger(number) && number > 0 ? number : null;
}
