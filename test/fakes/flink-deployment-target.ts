// A FlinkDeployment as the scaler's unit tests use it, and what the target registry makes of it
// (the registry's parsing has tests of its own).
import { compileExpressionMetric } from '../../src/metrics/expression-metric.js';
import { parseTargetAnnotations } from '../../src/config/annotations.js';
import type { TargetAdapter } from '../../src/kube/adapters/adapter.js';
import { flinkDeploymentAdapter } from '../../src/kube/adapters/flink-deployment.js';
import type { KubeObject } from '../../src/kube/objects.js';
import { KNOWN_METRICS, registeredTarget, targetId } from '../../src/kube/target-registry.js';
import type { RegisteredTarget } from '../../src/kube/target-registry.js';

export interface FlinkDeploymentOptions {
  readonly replicas?: number;
  readonly slots?: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly upgradeMode?: string;
  readonly lifecycleState?: string;
  readonly jobState?: string;
  readonly resourceVersion?: string;
  readonly flinkConfiguration?: Readonly<Record<string, string>>;
  /** `spec.flinkVersion` (absent by default). */
  readonly flinkVersion?: string;
}

export function flinkDeployment(name: string, options: FlinkDeploymentOptions = {}): KubeObject {
  const replicas = options.replicas ?? 1;
  const slots = options.slots ?? 2;
  return {
    apiVersion: 'flink.apache.org/v1beta1',
    kind: 'FlinkDeployment',
    metadata: {
      name,
      namespace: 'flink',
      uid: `uid-${name}`,
      resourceVersion: options.resourceVersion ?? '1',
      generation: 1,
      annotations: {
        'slotscaler.dev/enabled': 'true',
        'slotscaler.dev/metrics': 'flink_busy_ratio=0.5',
        'slotscaler.dev/cooldown-after-rescale': '30s',
        'slotscaler.dev/scale-down-stabilization': '60s',
        ...options.annotations,
      },
    },
    spec: {
      ...(options.flinkVersion === undefined ? {} : { flinkVersion: options.flinkVersion }),
      flinkConfiguration: { 'taskmanager.numberOfTaskSlots': String(slots), ...options.flinkConfiguration },
      taskManager: { replicas },
      job: { parallelism: replicas * slots, upgradeMode: options.upgradeMode ?? 'last-state' },
    },
    status: {
      lifecycleState: options.lifecycleState ?? 'STABLE',
      observedGeneration: 1,
      taskManager: { replicas },
      jobStatus: { state: options.jobState ?? 'RUNNING', jobId: 'a'.repeat(32) },
    },
  };
}

/** What the registry makes of an object (its parsing is exercised by the registry's own tests). */
export function register(
  object: KubeObject,
  adapter: TargetAdapter = flinkDeploymentAdapter,
): RegisteredTarget {
  const result = parseTargetAnnotations(object.metadata.annotations ?? {}, { knownMetrics: KNOWN_METRICS });
  const parsed = result.ok
    ? {
        ok: true as const,
        config: result.config,
        expressions: Object.entries(result.expressions).map(([name, source]) =>
          compileExpressionMetric(name, source),
        ),
      }
    : { ok: false as const, issues: result.issues };
  const { group, version, kind } = adapter.resource;
  return registeredTarget(
    {
      id: targetId(adapter, 'flink', object.metadata.name),
      adapter,
      ref: {
        apiVersion: group === '' ? version : `${group}/${version}`,
        kind,
        namespace: 'flink',
        name: object.metadata.name,
        uid: object.metadata.uid,
      },
      object,
      crd: null,
    },
    parsed,
    (config) => adapter.describe(object, config, null),
  );
}
