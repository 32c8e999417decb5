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
import type { RescaleSupport, TargetProblem, TargetView } from '../../domain/target.js';
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
    // Overrides in the spec (an in-place rescale's) set the job's parallelism, and in native mode the
    // TaskManagers follow the slots the job asks for.
    const overrides = parseOverrides(flinkConfigurationValue(object, PARALLELISM_OVERRIDES));
    const overridden =
      overrides === null || overrides.size === 0 ? undefined : Math.max(...overrides.values());
    const specReplicas =
      overridden === undefined
        ? integerAt(object, '.spec.taskManager.replicas')
        : Math.ceil(overridden / taskSlots);
    const specParallelism = overridden ?? integerAt(object, '.spec.job.parallelism');
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
      rescale: flinkDeploymentRescale(object),
    };
  },

  planWrite(object: KubeObject, change: TargetChange): readonly WriteStep[] {
    if (change.path === 'in-place' && change.vertices !== null) {
      const overrides = formatOverrides(change.vertices);
      return [
        guardedObjectPatch(
          resource,
          object,
          change.statusAnnotation,
          { spec: { flinkConfiguration: { [PARALLELISM_OVERRIDES]: overrides } } },
          `spec.flinkConfiguration["${PARALLELISM_OVERRIDES}"]=${overrides}`,
        ),
      ];
    }
    // A full upgrade (or, in standalone mode, the scale fields). Overrides left in the spec would
    // win over job.parallelism at the redeploy, so they go.
    const clearOverrides = flinkConfigurationValue(object, PARALLELISM_OVERRIDES) !== undefined;
    return [
      guardedObjectPatch(
        resource,
        object,
        change.statusAnnotation,
        {
          spec: {
            taskManager: { replicas: change.replicas },
            job: { parallelism: change.parallelism },
            ...(clearOverrides ? { flinkConfiguration: { [PARALLELISM_OVERRIDES]: null } } : {}),
          },
        },
        `spec.taskManager.replicas=${change.replicas}, spec.job.parallelism=${change.parallelism}${clearOverrides ? `, ${PARALLELISM_OVERRIDES} removed` : ''}`,
      ),
    ];
  },

  planStatusWrite(object: KubeObject, statusAnnotation: string): WriteStep {
    return statusAnnotationWrite(resource, object, statusAnnotation);
  },
};

/** `vertexId:parallelism,...`, Flink's map form for `pipeline.jobvertex-parallelism-overrides`. */
export function formatOverrides(
  vertices: readonly { readonly id: string; readonly parallelism: number }[],
): string {
  return vertices.map((vertex) => `${vertex.id}:${vertex.parallelism}`).join(',');
}

/** The overrides of a spec, by vertex id; null when absent or not in Flink's map form. */
export function parseOverrides(value: unknown): ReadonlyMap<string, number> | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  const out = new Map<string, number>();
  for (const entry of value.split(',')) {
    const [id, parallelism, extra] = entry.trim().split(':');
    const number = Number(parallelism);
    if (id === undefined || id === '' || extra !== undefined || !Number.isInteger(number) || number < 1)
      return null;
    out.set(id, number);
  }
  return out;
}

/** The key whose change alone the operator applies in place (`PipelineOptions.PARALLELISM_OVERRIDES`). */
export const PARALLELISM_OVERRIDES = 'pipeline.jobvertex-parallelism-overrides';

/**
 * How the Apache operator applies a change of parallelism to this spec (its `@SpecDiff` rules and
 * `NativeFlinkService.scale` / `StandaloneFlinkService.scale`):
 * - native mode: a change of `flinkConfiguration["pipeline.jobvertex-parallelism-overrides"]` alone
 *   is a SCALE diff, applied in place through `PUT /jobs/{id}/resource-requirements` when the job
 *   runs Flink 1.18 or later on the adaptive scheduler and the operator's
 *   `kubernetes.operator.job.upgrade.inplace-scaling.enabled` is not false; anything else (and
 *   `taskManager.replicas`, `job.parallelism`) is a full upgrade;
 * - standalone mode: `taskManager.replicas` and `job.parallelism` are SCALE fields, applied by
 *   scaling the TaskManager Deployment when `scheduler-mode` is reactive, else a full upgrade.
 * The operator's own defaults (its ConfigMap) may set the scheduler for every deployment: that file
 * is not visible here, so the spec must say `jobmanager.scheduler: adaptive`.
 */
export function flinkDeploymentRescale(object: KubeObject): RescaleSupport {
  const configured = (key: string): string => {
    const value = flinkConfigurationValue(object, key);
    return typeof value === 'string' || typeof value === 'boolean' ? String(value).trim().toLowerCase() : '';
  };
  if (stringAt(object, '.spec.mode') === 'standalone') {
    const reactive = configured('scheduler-mode') === 'reactive';
    return {
      auto: reactive ? 'scale' : 'redeploy',
      autoWhy: reactive
        ? 'standalone mode, reactive: the operator scales the TaskManager Deployment'
        : 'standalone mode without scheduler-mode reactive: the operator redeploys',
      inPlaceMissing: 'standalone mode rescales through its scale fields, not parallelism overrides',
      notInPlace: reactive ? 'scale' : 'redeploy',
    };
  }
  const missing: string[] = [];
  if (valueAt(object, '.spec.job') === undefined) missing.push('a job (spec.job): a session cluster');
  const version = stringAt(object, '.spec.flinkVersion');
  const parsed = /^v(\d+)_(\d+)$/.exec(version ?? '');
  const major = Number(parsed?.[1] ?? 0);
  const minor = Number(parsed?.[2] ?? 0);
  if (parsed === null)
    missing.push(`a known flinkVersion (${version ?? 'none'}; in place needs v1_18 or later)`);
  else if (major === 1 && minor < 18) missing.push(`Flink 1.18 or later (flinkVersion ${version ?? ''})`);
  if (configured('jobmanager.scheduler') !== 'adaptive') {
    missing.push('the adaptive scheduler (flinkConfiguration jobmanager.scheduler: adaptive)');
  }
  if (configured('kubernetes.operator.job.upgrade.inplace-scaling.enabled') === 'false') {
    missing.push(
      'in-place scaling in the operator (kubernetes.operator.job.upgrade.inplace-scaling.enabled is false)',
    );
  }
  const inPlaceMissing = missing.length === 0 ? null : missing.join(', ');
  return {
    auto: inPlaceMissing === null ? 'in-place' : 'redeploy',
    autoWhy:
      inPlaceMissing === null
        ? 'native mode on the adaptive scheduler: the operator rescales in place'
        : `not in place without ${inPlaceMissing}: the operator redeploys`,
    inPlaceMissing,
    notInPlace: 'redeploy',
  };
}

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
