// Shared by the scaler end-to-end tests: config, annotations, and reads of what the API server holds.
import { resolveConfig } from '../../src/config/load.js';
import { PARALLELISM_OVERRIDES, parseOverrides } from '../../src/kube/adapters/flink-deployment.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { startScaler } from '../../src/runtime/start-scaler.js';
import type { Scaler } from '../../src/runtime/start-scaler.js';
import { callbackLogger, logLine } from '../../src/observability/logger.js';
import type { LogLevel, Logger } from '../../src/observability/logger.js';
import type { ControlPlane } from './harness/control-plane.js';
import { expectOk } from './harness/kube.js';
import type { KubeObject } from './harness/kube.js';

/** Fast settings: a 1 s tick, short windows (annotations shorten them further per target). */
export function fastConfig(flags: Readonly<Record<string, unknown>> = {}): LoadedConfig {
  return resolveConfig({
    flags: {
      tickInterval: '1s',
      leaderElect: 'false',
      leaseDuration: '6s',
      warningEventInterval: '30s',
      ...flags,
    },
  });
}

/** Annotations of a quickly scaled target. */
export function fastAnnotations(
  jobManagerUrl: string,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    'slotscaler.dev/enabled': 'true',
    'slotscaler.dev/jobmanager-url': jobManagerUrl,
    'slotscaler.dev/metrics': 'flink_busy_ratio=0.6',
    'slotscaler.dev/max-taskmanagers': '4',
    'slotscaler.dev/metrics-window': '6s',
    'slotscaler.dev/metrics-hold-after-restart': '10s',
    'slotscaler.dev/metrics-max-age': '15s',
    'slotscaler.dev/cooldown-after-rescale': '8s',
    'slotscaler.dev/scale-down-stabilization': '15s',
    ...extra,
  };
}

/**
 * A logger that prints warnings and errors (and everything with SLOTSCALER_E2E_LOG=1) as `#` lines,
 * and hands every line of every level to `onLine` when given.
 */
export function testLogger(prefix = '', onLine?: (line: string) => void): Logger {
  const verbose = process.env['SLOTSCALER_E2E_LOG'] === '1';
  const printed = (level: LogLevel): boolean => verbose || level === 'warn' || level === 'error';
  return callbackLogger(
    (level, msg, fields) => {
      const line = logLine(msg, fields);
      onLine?.(`${level} ${line}`);
      if (printed(level)) console.log(`# ${prefix}${level} ${line}`);
    },
    (level) => onLine !== undefined || printed(level),
  );
}

export async function startTestScaler(
  cp: ControlPlane,
  loaded: LoadedConfig,
  identity = 'scaler-a',
): Promise<Scaler> {
  return startScaler({
    loaded,
    kubeconfigPath: cp.kubeconfigPath,
    identity,
    logger: testLogger(`${identity} `),
  });
}

export async function patchAnnotations(
  cp: ControlPlane,
  path: string,
  annotations: Readonly<Record<string, string | null>>,
): Promise<void> {
  expectOk(await cp.request('PATCH', path, { metadata: { annotations } }), `annotate ${path}`);
}

export interface CoreEvent {
  readonly reason: string;
  readonly type: string;
  readonly message: string;
  readonly involvedObject: { readonly name: string; readonly kind: string };
}

/** Events about one object, as `kubectl describe` finds them (core/v1 view). */
export async function eventsFor(cp: ControlPlane, namespace: string, name: string): Promise<CoreEvent[]> {
  const answer = expectOk(
    await cp.request(
      'GET',
      `/api/v1/namespaces/${namespace}/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${name}`)}`,
    ),
    'list events',
  );
  return (answer.body as { items: CoreEvent[] }).items;
}

/**
 * What a FlinkDeployment's spec asks for: after an in-place rescale its parallelism overrides (the
 * highest vertex's, on as many TaskManagers as its slots need), else its replicas and parallelism.
 * `path` says which of the two the spec holds.
 */
export function specOf(object: KubeObject): {
  replicas: number | undefined;
  parallelism: number | undefined;
  path: 'in-place' | 'redeploy';
} {
  const spec = object.spec as {
    taskManager?: { replicas?: number };
    job?: { parallelism?: number };
    flinkConfiguration?: Record<string, string>;
  };
  const overrides = parseOverrides(spec.flinkConfiguration?.[PARALLELISM_OVERRIDES]);
  if (overrides !== null && overrides.size > 0) {
    const parallelism = Math.max(...overrides.values());
    const slots = Number(spec.flinkConfiguration?.['taskmanager.numberOfTaskSlots'] ?? '1');
    return { replicas: Math.ceil(parallelism / slots), parallelism, path: 'in-place' };
  }
  return { replicas: spec.taskManager?.replicas, parallelism: spec.job?.parallelism, path: 'redeploy' };
}

/**
 * Plays the Deployment controller (and the kubelet) for a Deployment, which this control plane does
 * not run: its status follows its spec, and `onReplicas` hears each new replica count (to run as
 * many TaskManagers). Runs until `running()` turns false.
 */
export async function playDeploymentController(
  cp: ControlPlane,
  path: string,
  running: () => boolean,
  onReplicas: (replicas: number) => Promise<unknown> = () => Promise.resolve(),
): Promise<void> {
  let heard = -1;
  while (running()) {
    const answer = await cp.request('GET', path);
    if (answer.statusCode === 200) {
      const object = answer.body as KubeObject & {
        spec: { replicas?: number };
        status?: { observedGeneration?: number; readyReplicas?: number };
      };
      const replicas = object.spec.replicas ?? 1;
      if (replicas !== heard) {
        await onReplicas(replicas);
        heard = replicas;
      }
      if (
        object.status?.observedGeneration !== object.metadata.generation ||
        object.status?.readyReplicas !== replicas
      ) {
        await cp.request('PATCH', `${path}/status`, {
          status: {
            observedGeneration: object.metadata.generation,
            replicas,
            readyReplicas: replicas,
            availableReplicas: replicas,
            updatedReplicas: replicas,
          },
        });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
