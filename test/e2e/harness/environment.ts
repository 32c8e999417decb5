/**
 * The whole local test environment: a real control plane (etcd, kube-apiserver with the
 * aggregation layer, kube-controller-manager running the HPA controller), our FlinkDeployment CRD,
 * a Flink MiniCluster with a steerable job, and the stand-in operator that applies the
 * FlinkDeployment's spec to the MiniCluster with the Apache operator's rules (in place or by a
 * redeploy). The FlinkDeployment is one the operator can rescale in place: native mode, Flink
 * v1_20, `jobmanager.scheduler: adaptive`, upgradeMode savepoint. Everything it starts, `stop()`
 * stops.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { stringify as stringifyYaml } from 'yaml';

import { typicalJob } from '../../fakes/fake-jobmanager.js';
import type { FakeJobManagerServer } from '../../fakes/fake-jobmanager.js';
import { startControlPlane } from './control-plane.js';
import type { ControlPlane, ControlPlaneOptions } from './control-plane.js';
import { startFlinkWorkload } from './flink.js';
import type { FlinkWorkload, FlinkWorkloadOptions } from './flink.js';
import { applyYaml, expectOk, waitFor } from './kube.js';
import type { KubeObject } from './kube.js';
import { startOperatorStandIn } from './operator-stand-in.js';
import type { OperatorStandIn } from './operator-stand-in.js';

export interface EnvironmentOptions {
  readonly controlPlane?: ControlPlaneOptions;
  /** The MiniCluster; `false` for none (control plane only). */
  readonly flink?: FlinkWorkloadOptions | false;
  /** Namespace of the test objects. */
  readonly namespace?: string;
  /** Name of the FlinkDeployment backed by the MiniCluster. */
  readonly flinkDeploymentName?: string;
  /** Extra annotations on that FlinkDeployment. */
  readonly annotations?: Readonly<Record<string, string>>;
  /**
   * The stand-in operator's pause in a redeploy between closing the MiniCluster and starting a new
   * one (default 0), standing for pod scheduling and JVM start on a real cluster.
   */
  readonly redeployDelayMs?: number;
  readonly log?: (message: string) => void;
}

export interface Environment {
  readonly controlPlane: ControlPlane;
  readonly flink: FlinkWorkload | undefined;
  readonly operator: OperatorStandIn;
  readonly namespace: string;
  readonly flinkDeploymentName: string;
  readonly kubeconfigPath: string;
  applyYaml(yaml: string): Promise<KubeObject[]>;
  /** The FlinkDeployment as the API server holds it now. */
  getFlinkDeployment(name?: string): Promise<KubeObject>;
  /** The last lines of every component's log, for a failing test's message. */
  logsTail(): Promise<string>;
  stop(): Promise<void>;
}

const CRD = fileURLToPath(new URL('../crds/flinkdeployment.yaml', import.meta.url));

/**
 * A FlinkDeployment as the Apache operator's users write one, sized like the MiniCluster: native
 * mode on Flink v1_20 with the adaptive scheduler, so that a change of only
 * `pipeline.jobvertex-parallelism-overrides` is rescaled in place (`flinkVersion` and
 * `flinkConfiguration` override either).
 */
export function flinkDeploymentYaml(options: {
  readonly name: string;
  readonly taskManagers: number;
  readonly slotsPerTaskManager: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly upgradeMode?: 'stateless' | 'last-state' | 'savepoint';
  readonly flinkConfiguration?: Readonly<Record<string, string>>;
  readonly flinkVersion?: string;
  readonly mode?: 'native' | 'standalone';
}): string {
  return stringifyYaml({
    apiVersion: 'flink.apache.org/v1beta1',
    kind: 'FlinkDeployment',
    metadata: { name: options.name, annotations: { ...options.annotations } },
    spec: {
      image: 'flink:1.20',
      flinkVersion: options.flinkVersion ?? 'v1_20',
      mode: options.mode ?? 'native',
      flinkConfiguration: {
        'taskmanager.numberOfTaskSlots': String(options.slotsPerTaskManager),
        'jobmanager.scheduler': 'adaptive',
        ...options.flinkConfiguration,
      },
      serviceAccount: 'flink',
      jobManager: { resource: { memory: '1024m', cpu: 1 } },
      taskManager: { replicas: options.taskManagers, resource: { memory: '1024m', cpu: 1 } },
      job: {
        jarURI: 'local:///opt/flink/usrlib/slotscaler-workload.jar',
        parallelism: options.taskManagers * options.slotsPerTaskManager,
        // A redeploy on the MiniCluster is a stop with a savepoint, a new cluster and a new job
        // id, as the operator's savepoint upgrade is (it keeps the job id only for last-state).
        upgradeMode: options.upgradeMode ?? 'savepoint',
      },
    },
  });
}

/**
 * A FlinkDeployment of one TaskManager with 2 slots whose job runs on a fake JobManager at
 * `jobManagerUrl`, opted in and scaled on `flink_busy_ratio=0.6`, with no hold after a restart
 * (the fake's job does not restart, so a hold would only delay the first value).
 */
export function fakeJobTargetYaml(options: {
  readonly name: string;
  readonly jobManagerUrl: string;
  readonly metricsWindow: string;
  /** `slotscaler.dev/mode`; none: the default. */
  readonly mode?: string;
  /** `slotscaler.dev/metrics-max-age`; none: the default. */
  readonly metricsMaxAge?: string;
  /** More annotations. */
  readonly annotations?: Readonly<Record<string, string>>;
}): string {
  return flinkDeploymentYaml({
    name: options.name,
    taskManagers: 1,
    slotsPerTaskManager: 2,
    annotations: {
      'slotscaler.dev/enabled': 'true',
      ...(options.mode === undefined ? {} : { 'slotscaler.dev/mode': options.mode }),
      'slotscaler.dev/jobmanager-url': options.jobManagerUrl,
      'slotscaler.dev/metrics': 'flink_busy_ratio=0.6',
      'slotscaler.dev/metrics-window': options.metricsWindow,
      'slotscaler.dev/metrics-hold-after-restart': '0s',
      ...(options.metricsMaxAge === undefined
        ? {}
        : { 'slotscaler.dev/metrics-max-age': options.metricsMaxAge }),
      ...options.annotations,
    },
  });
}

/**
 * A busy job (0.9, parallelism 2) on the fake JobManagers and its target (`fakeJobTargetYaml`)
 * applied in `namespace` (none: the environment's): against 0.6, each decision asks for 2
 * TaskManagers where there is 1.
 */
export async function addBusyFakeJobTarget(
  env: Environment,
  jobManagers: FakeJobManagerServer,
  options: Omit<Parameters<typeof fakeJobTargetYaml>[0], 'jobManagerUrl'> & {
    readonly vertices?: number;
    readonly sources?: number;
    readonly namespace?: string;
  },
): Promise<void> {
  const { vertices, sources, namespace, ...target } = options;
  const cluster = jobManagers.addCluster({
    name: options.name,
    taskManagers: 1,
    slotsPerTaskManager: 2,
    jobs: [
      typicalJob({
        name: options.name,
        busyRatio: 0.9,
        parallelism: 2,
        ...(vertices === undefined ? {} : { vertices }),
        ...(sources === undefined ? {} : { sources }),
      }),
    ],
  });
  const yaml = fakeJobTargetYaml({ ...target, jobManagerUrl: cluster.url });
  await (namespace === undefined ? env.applyYaml(yaml) : applyYaml(env.controlPlane, yaml, namespace));
}

export async function startEnvironment(options: EnvironmentOptions = {}): Promise<Environment> {
  const log = options.log ?? (() => undefined);
  const namespace = options.namespace ?? 'slotscaler-e2e';
  const flinkDeploymentName = options.flinkDeploymentName ?? 'steerable-job';
  const flinkOptions =
    options.flink === false ? undefined : { taskManagers: 1, slotsPerTaskManager: 2, ...options.flink };

  const started = Date.now();
  const [cpResult, flinkResult] = await Promise.allSettled([
    startControlPlane({ ...options.controlPlane, onProgress: options.controlPlane?.onProgress ?? log }),
    flinkOptions === undefined ? Promise.resolve(undefined) : startFlinkWorkload(flinkOptions),
  ]);
  if (cpResult.status === 'rejected' || flinkResult.status === 'rejected') {
    if (cpResult.status === 'fulfilled') await cpResult.value.stop();
    if (flinkResult.status === 'fulfilled') await flinkResult.value?.stop();
    throw cpResult.status === 'rejected' ? cpResult.reason : (flinkResult as PromiseRejectedResult).reason;
  }
  const cp = cpResult.value;
  const flink = flinkResult.value;
  log(`control plane and Flink up in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  let operator: OperatorStandIn | undefined;
  try {
    await applyYaml(cp, await readFile(CRD, 'utf8'));
    await waitFor('the FlinkDeployment CRD to be Established', async () => {
      const crd = (
        await cp.request(
          'GET',
          '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/flinkdeployments.flink.apache.org',
        )
      ).body as { status?: { conditions?: { type: string; status: string }[] } };
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true
        ? true
        : undefined;
    });
    await waitFor('the flinkdeployments resource to be served', async () =>
      (await cp.request('GET', `/apis/flink.apache.org/v1beta1/namespaces/${namespace}/flinkdeployments`))
        .statusCode === 200
        ? true
        : undefined,
    );
    await applyYaml(cp, `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n`);
    const workloads = new Map<string, FlinkWorkload>();
    if (flink !== undefined) workloads.set(flinkDeploymentName, flink);
    operator = await startOperatorStandIn({
      controlPlane: cp,
      namespace,
      workloads,
      log,
      ...(options.redeployDelayMs === undefined ? {} : { redeployDelayMs: options.redeployDelayMs }),
    });
    if (flinkOptions !== undefined) {
      await applyYaml(
        cp,
        flinkDeploymentYaml({
          name: flinkDeploymentName,
          taskManagers: flinkOptions.taskManagers,
          slotsPerTaskManager: flinkOptions.slotsPerTaskManager,
          ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
        }),
        namespace,
      );
      await waitFor(`the stand-in operator to report ${flinkDeploymentName} STABLE`, async () => {
        const object = (
          await cp.request(
            'GET',
            `/apis/flink.apache.org/v1beta1/namespaces/${namespace}/flinkdeployments/${flinkDeploymentName}`,
          )
        ).body as { status?: { lifecycleState?: string } };
        return object.status?.lifecycleState === 'STABLE' ? true : undefined;
      });
    }
  } catch (err) {
    await operator?.stop();
    await flink?.stop();
    await cp.stop();
    throw err;
  }
  log(`environment ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const standIn = operator;
  let stopped = false;
  return {
    controlPlane: cp,
    flink,
    operator: standIn,
    namespace,
    flinkDeploymentName,
    kubeconfigPath: cp.kubeconfigPath,
    applyYaml: (yaml) => applyYaml(cp, yaml, namespace),
    async getFlinkDeployment(name = flinkDeploymentName) {
      return expectOk(
        await cp.request(
          'GET',
          `/apis/flink.apache.org/v1beta1/namespaces/${namespace}/flinkdeployments/${name}`,
        ),
        `get FlinkDeployment ${name}`,
      ).body as KubeObject;
    },
    async logsTail() {
      return `${await cp.logsTail()}\n--- flink ---\n${flink?.logTail() ?? '(none)'}`;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await standIn.stop();
      await Promise.allSettled([flink?.stop(), cp.stop()]);
    },
  };
}
