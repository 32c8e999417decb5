/**
 * FlinkApplication (flink.k8s.io/v1beta1, Lyft's flinkk8soperator). The operator derives the
 * TaskManagers from `spec.parallelism` / `spec.taskManagerConfig.taskSlots`, so one merge patch of
 * `spec.parallelism` (guarded by the resourceVersion) is the whole write.
 */
import type { TargetConfig } from '../../config/schema.js';
import { integerAt, stringAt, valueAt } from '../objects.js';
import type { KubeObject, ResourceRef } from '../objects.js';
import { guardedObjectPatch, slotsFrom, statusAnnotationWrite } from './adapter.js';
import type { TargetProblem, TargetView } from '../../domain/target.js';
import type { TargetAdapter, TargetChange, WriteStep } from './adapter.js';

const resource: ResourceRef = {
  group: 'flink.k8s.io',
  version: 'v1beta1',
  plural: 'flinkapplications',
  kind: 'FlinkApplication',
};

export const flinkApplicationAdapter: TargetAdapter = {
  resource,
  crd: 'flinkapplications.flink.k8s.io',

  describe(object: KubeObject, config: TargetConfig): TargetView | TargetProblem {
    const { name, namespace = 'default' } = object.metadata;
    const taskSlots = slotsFrom(config, valueAt(object, '.spec.taskManagerConfig.taskSlots')) ?? 1;
    const parallelism = integerAt(object, '.spec.parallelism') ?? taskSlots;
    const currentReplicas = Math.ceil(parallelism / taskSlots);
    const phase = stringAt(object, '.status.phase');
    const generation = object.metadata.generation;
    const observed = integerAt(object, '.status.observedGeneration');
    let operatorBusy: string | null = null;
    if (phase !== undefined && phase !== 'Running') operatorBusy = `phase is ${phase}`;
    else if (generation !== undefined && observed !== undefined && observed < generation) {
      operatorBusy = `the operator has not reconciled generation ${generation} yet`;
    }
    return {
      // The Lyft operator's Service is named after the application, UI/REST on port 8081.
      jobManagerUrl: config.jobmanagerUrl ?? `http://${name}.${namespace}:8081`,
      jobId: config.jobId ?? (stringAt(object, '.status.jobStatus.jobID') || undefined),
      taskSlots,
      currentReplicas,
      readyReplicas: operatorBusy === null ? currentReplicas : 0,
      statusReplicas: currentReplicas,
      currentParallelism: parallelism,
      operatorBusy,
      stateless: false,
      otherAutoscaler: null,
      rescale: {
        auto: 'redeploy',
        autoWhy: 'the Lyft operator redeploys on a change of parallelism',
        inPlaceMissing: 'an in-place path: the Lyft operator redeploys on every change of parallelism',
        notInPlace: 'redeploy',
      },
    };
  },

  planWrite(object: KubeObject, change: TargetChange): readonly WriteStep[] {
    return [
      guardedObjectPatch(
        resource,
        object,
        change.statusAnnotation,
        { spec: { parallelism: change.parallelism } },
        `spec.parallelism=${change.parallelism}`,
      ),
    ];
  },

  planStatusWrite(object: KubeObject, statusAnnotation: string): WriteStep {
    return statusAnnotationWrite(resource, object, statusAnnotation);
  },
};
