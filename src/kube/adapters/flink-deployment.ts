/**
 * FlinkDeployment (flink.apache.org/v1beta1, the Apache Flink Kubernetes Operator). TaskManagers:
 * `spec.taskManager.replicas`; parallelism: `spec.job.parallelism`; both written in one merge patch
 * guarded by the resourceVersion, because in native mode each spec change is a full upgrade (one
 * restart per write). Slots: `flinkConfiguration["taskmanager.numberOfTaskSlots"]` (default 1).
 */
import type { TargetConfig } from '../../config/schema.js';
import { integerAt, stringAt, valueAt } from '../objects.js';
import type { KubeObject, ResourceRef } from '../objects.js';
import { guardedObjectPatch, slotsFrom, statusAnnotationWrite } from './adapter.js';
import type { TargetProblem, TargetView } from '../../domain/target.js';
import type { TargetAdapter, TargetChange, WriteStep } from './adapter.js';

const resource: ResourceRef = {
  group: 'flink.apache.org',
  version: 'v1beta1',
  plural: 'flinkdeployments',
  kind: 'FlinkDeployment',
};

/** Lifecycle states in which the operator is done and the job may be touched. */
const SETTLED_STATES: readonly string[] = ['STABLE', 'DEPLOYED'];

/** Why the operator is busy with this FlinkDeployment, or null. */
export function flinkDeploymentBusy(object: KubeObject): string | null {
  const generation = object.metadata.generation;
  const observed = integerAt(object, '.status.observedGeneration');
  if (generation !== undefined && observed !== undefined && observed < generation) {
    return `the operator has not reconciled generation ${generation} yet (observed ${observed})`;
  }
  const lifecycle = stringAt(object, '.status.lifecycleState');
  if (lifecycle !== undefined && !SETTLED_STATES.includes(lifecycle)) return `lifecycleState is ${lifecycle}`;
  const reconciliation = stringAt(object, '.status.reconciliationStatus.state');
  if (reconciliation === 'UPGRADING' || reconciliation === 'ROLLING_BACK') {
    return `reconciliationStatus.state is ${reconciliation}`;
  }
  const jobState = stringAt(object, '.status.jobStatus.state');
  if (jobState !== undefined && jobState !== 'RUNNING') return `jobStatus.state is ${jobState}`;
  const trigger =
    stringAt(object, '.status.jobStatus.savepointInfo.triggerId') ??
    stringAt(object, '.status.jobStatus.upgradeSavepointPath.triggerId');
  if (trigger !== undefined && trigger !== '') return 'a savepoint is in progress';
  return null;
}

export const flinkDeploymentAdapter: TargetAdapter = {
  resource,
  crd: 'flinkdeployments.flink.apache.org',

  describe(object: KubeObject, config: TargetConfig): TargetView | TargetProblem {
    const { name, namespace = 'default' } = object.metadata;
    const taskSlots =
      slotsFrom(config, flinkConfigurationValue(object, 'taskmanager.numberOfTaskSlots')) ?? 1;
    const specReplicas = integerAt(object, '.spec.taskManager.replicas');
    const specParallelism = integerAt(object, '.spec.job.parallelism');
    const currentReplicas =
      specReplicas ?? (specParallelism === undefined ? 1 : Math.ceil(specParallelism / taskSlots));
    const statusReplicas = integerAt(object, '.status.taskManager.replicas') ?? currentReplicas;
    const operatorBusy = flinkDeploymentBusy(object);
    return {
      jobManagerUrl: config.jobmanagerUrl ?? `http://${name}-rest.${namespace}:8081`,
      jobId: config.jobId ?? nonEmpty(stringAt(object, '.status.jobStatus.jobId')),
      taskSlots,
      currentReplicas,
      // Ready TaskManagers: what the operator reports once it has settled; none while it is busy.
      readyReplicas: operatorBusy === null ? Math.min(statusReplicas, currentReplicas) : 0,
      statusReplicas,
      currentParallelism: specParallelism ?? null,
      operatorBusy,
      stateless: stringAt(object, '.spec.job.upgradeMode') === 'stateless',
      otherAutoscaler: operatorAutoscaler(object),
    };
  },

  planWrite(object: KubeObject, change: TargetChange): readonly WriteStep[] {
    return [
      guardedObjectPatch(
        resource,
        object,
        change.statusAnnotation,
        { spec: { taskManager: { replicas: change.replicas }, job: { parallelism: change.parallelism } } },
        `spec.taskManager.replicas=${change.replicas}, spec.job.parallelism=${change.parallelism}`,
      ),
    ];
  },

  planStatusWrite(object: KubeObject, statusAnnotation: string): WriteStep {
    return statusAnnotationWrite(resource, object, statusAnnotation);
  },
};

/**
 * The Flink operator's own autoscaler, when the spec turns it on: `job.autoscaler.enabled`, or its
 * key before operator 1.7, `kubernetes.operator.job.autoscaler.enabled` (flink-autoscaler
 * `AutoScalerOptions.AUTOSCALER_ENABLED` and its fallback key). The operator's defaults file can
 * turn it on for every deployment too; that file is not visible here.
 */
export function operatorAutoscaler(object: KubeObject): string | null {
  for (const key of ['job.autoscaler.enabled', 'kubernetes.operator.job.autoscaler.enabled']) {
    const value = flinkConfigurationValue(object, key);
    if (String(value).trim().toLowerCase() === 'true') {
      return `the Flink operator's autoscaler is on (flinkConfiguration ${key}: "true")`;
    }
  }
  return null;
}

/** A `spec.flinkConfiguration` value (its keys contain dots, so not through `valueAt`). */
export function flinkConfigurationValue(object: KubeObject, key: string): unknown {
  const configuration = valueAt(object, '.spec.flinkConfiguration');
  return typeof configuration === 'object' && configuration !== null
    ? (configuration as Record<string, unknown>)[key]
    : undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' || /^0+$/.test(value) ? undefined : value;
}
