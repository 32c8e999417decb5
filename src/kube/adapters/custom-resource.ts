/**
 * Any other custom resource named in the config (`--kinds group/version/plural`): TaskManagers at
 * `slotscaler.dev/replicas-path` or, without it, through the scale subresource (its paths read from
 * the CRD); parallelism at `slotscaler.dev/parallelism-path`, written first, then `/scale`. When both
 * paths are fields of the object, one guarded merge patch writes both.
 */
import type { TargetConfig } from '../../config/schema.js';
import { integerAt, mergePatches, patchAt } from '../objects.js';
import type { KubeObject, ResourceRef } from '../objects.js';
import { guardedObjectPatch, scaleSubresourcePatch, statusAnnotationWrite } from './adapter.js';
import type { TargetProblem, TargetView } from '../../domain/target.js';
import type { CrdFacts, TargetAdapter, TargetChange, WriteStep } from './adapter.js';

/** An adapter for one configured kind. */
export function customResourceAdapter(resource: ResourceRef): TargetAdapter {
  // A kind from the config (`group/version/plural`) carries no Kind name: its messages name it by
  // plural and group, as kubectl does (`flinkjobs.example.com`).
  const kindName = resource.kind === '' ? `${resource.plural}.${resource.group}` : resource.kind;
  const statusWrite = (object: KubeObject, statusAnnotation: string): WriteStep =>
    statusAnnotationWrite(resource, object, statusAnnotation);
  return {
    resource,
    crd: `${resource.plural}.${resource.group}`,

    describe(object: KubeObject, config: TargetConfig, crd: CrdFacts | null): TargetView | TargetProblem {
      if (config.jobmanagerUrl === undefined) {
        return {
          key: 'slotscaler.dev/jobmanager-url',
          problem: `a ${kindName} needs slotscaler.dev/jobmanager-url`,
        };
      }
      const replicasPath = config.replicasPath ?? crd?.specReplicasPath ?? null;
      if (replicasPath === null) {
        return {
          key: 'slotscaler.dev/replicas-path',
          problem: `${kindName} has no scale subresource: set slotscaler.dev/replicas-path`,
        };
      }
      const currentReplicas = integerAt(object, replicasPath) ?? 1;
      const statusPath = crd?.statusReplicasPath ?? null;
      const statusReplicas =
        (statusPath === null ? undefined : integerAt(object, statusPath)) ?? currentReplicas;
      return {
        jobManagerUrl: config.jobmanagerUrl,
        jobId: config.jobId,
        taskSlots: config.taskSlots ?? null,
        currentReplicas,
        readyReplicas: statusReplicas,
        statusReplicas,
        currentParallelism:
          config.parallelismPath === undefined ? null : (integerAt(object, config.parallelismPath) ?? null),
        operatorBusy: null,
        stateless: false,
        otherAutoscaler: null,
        rescale: {
          auto: 'scale',
          autoWhy: 'a custom kind: its operator applies the scale fields as it does',
          inPlaceMissing:
            'an in-place path Slotscaler knows: a custom kind is written through its scale fields',
          notInPlace: 'scale',
        },
      };
    },

    planWrite(object: KubeObject, change: TargetChange, config: TargetConfig): readonly WriteStep[] {
      if (config.replicasPath !== undefined) {
        return [
          guardedObjectPatch(
            resource,
            object,
            change.statusAnnotation,
            mergePatches(
              patchAt(config.replicasPath, change.replicas),
              config.parallelismPath === undefined ? {} : patchAt(config.parallelismPath, change.parallelism),
            ),
            `${config.replicasPath}=${change.replicas}${config.parallelismPath === undefined ? '' : `, ${config.parallelismPath}=${change.parallelism}`}`,
          ),
        ];
      }
      const steps: WriteStep[] = [];
      if (config.parallelismPath !== undefined) {
        steps.push(
          guardedObjectPatch(
            resource,
            object,
            change.statusAnnotation,
            patchAt(config.parallelismPath, change.parallelism),
            `${config.parallelismPath}=${change.parallelism}`,
          ),
        );
      }
      // Only the first request is guarded: after it the resourceVersion has moved on.
      steps.push(scaleSubresourcePatch(resource, object, change.replicas, steps.length === 0));
      if (steps.length === 1 && change.statusAnnotation !== undefined)
        steps.push(statusWrite(object, change.statusAnnotation));
      return steps;
    },

    planStatusWrite: statusWrite,
  };
}
