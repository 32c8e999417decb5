/**
 * apps/v1 Deployment of TaskManagers (Flink reactive mode: the job's parallelism follows the
 * TaskManagers by itself). The write is the Deployment's `/scale`, guarded by the resourceVersion;
 * the status annotation follows in its own patch. The JobManager URL must be given
 * (`slotscaler.dev/jobmanager-url`): nothing in a Deployment names it.
 */
import type { TargetConfig } from '../../config/schema.js';
import { integerAt } from '../objects.js';
import type { KubeObject, ResourceRef } from '../objects.js';
import { scaleSubresourcePatch, statusAnnotationWrite } from './adapter.js';
import type { TargetProblem, TargetView } from '../../domain/target.js';
import type { TargetAdapter, TargetChange, WriteStep } from './adapter.js';

const resource: ResourceRef = { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' };

export const deploymentAdapter: TargetAdapter = {
  resource,
  crd: null,
  inPlaceThroughJobManager: true,

  describe(object: KubeObject, config: TargetConfig): TargetView | TargetProblem {
    if (config.jobmanagerUrl === undefined) {
      return {
        key: 'slotscaler.dev/jobmanager-url',
        problem: 'a Deployment does not name its JobManager: set slotscaler.dev/jobmanager-url',
      };
    }
    const currentReplicas = integerAt(object, '.spec.replicas') ?? 1;
    const generation = object.metadata.generation;
    const observed = integerAt(object, '.status.observedGeneration');
    const operatorBusy =
      generation !== undefined && observed !== undefined && observed < generation
        ? `the Deployment controller has not observed generation ${generation} yet`
        : null;
    return {
      jobManagerUrl: config.jobmanagerUrl,
      jobId: config.jobId,
      taskSlots: config.taskSlots ?? null,
      currentReplicas,
      readyReplicas: integerAt(object, '.status.readyReplicas') ?? 0,
      statusReplicas: integerAt(object, '.status.replicas') ?? currentReplicas,
      currentParallelism: null,
      operatorBusy,
      stateless: false,
      otherAutoscaler: null,
      rescale: {
        auto: 'scale',
        autoWhy:
          'reactive mode: Flink follows the TaskManagers (a Deployment does not say which scheduler its job runs; slotscaler.dev/rescale: in-place for the adaptive scheduler)',
        inPlaceMissing: null,
        notInPlace: 'scale',
      },
    };
  },

  planWrite(object: KubeObject, change: TargetChange): readonly WriteStep[] {
    const steps: WriteStep[] = [scaleSubresourcePatch(resource, object, change.replicas, true)];
    if (change.statusAnnotation !== undefined)
      steps.push(this.planStatusWrite(object, change.statusAnnotation));
    return steps;
  },

  planStatusWrite(object: KubeObject, statusAnnotation: string): WriteStep {
    return statusAnnotationWrite(resource, object, statusAnnotation);
  },
};
