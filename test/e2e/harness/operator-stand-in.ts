/**
 * A stand-in for the Apache Flink Kubernetes Operator, for tests only. It watches FlinkDeployments
 * and, when `spec.taskManager.replicas` or `spec.job.parallelism` change, applies them to the
 * target's MiniCluster (TaskManagers up or down, job rescaled), keeps one Ready Pod object per
 * TaskManager (the HPA's `Value` formula counts ready pods), and writes `status` as the operator
 * does. It counts the spec changes it had to apply: each one is a job restart in a real cluster.
 */
import type { ControlPlane } from './control-plane.js';
import type { FlinkWorkload } from './flink.js';
import { collectionPath, expectOk, watch, waitFor } from './kube.js';
import type { KubeObject, Watch, WatchEvent } from './kube.js';

interface FlinkDeploymentSpec {
  readonly flinkConfiguration?: Readonly<Record<string, string>>;
  readonly taskManager?: { readonly replicas?: number };
  readonly job?: { readonly parallelism?: number; readonly upgradeMode?: string };
}

/** One spec change the stand-in applied: a restart of the job in a real cluster. */
export interface AppliedChange {
  readonly name: string;
  readonly generation: number;
  readonly taskManagers: number;
  readonly parallelism: number;
  readonly atMs: number;
}

export interface OperatorStandIn {
  /** Spec changes applied so far, oldest first; filter by name for one target. */
  readonly applied: readonly AppliedChange[];
  /** Applied changes of one FlinkDeployment. */
  appliedFor(name: string): readonly AppliedChange[];
  /** Resolves once every event seen so far has been reconciled. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export interface OperatorStandInOptions {
  readonly controlPlane: ControlPlane;
  readonly namespace: string;
  /** The MiniCluster behind each FlinkDeployment, by name; others get status and pods only. */
  readonly workloads: ReadonlyMap<string, FlinkWorkload>;
  /** How long a rescale may take before the stand-in reports it failed. */
  readonly rescaleTimeoutMs?: number;
  readonly log?: (message: string) => void;
}

const LABELS = (name: string) => ({ component: 'taskmanager', app: name });

function slotsOf(spec: FlinkDeploymentSpec): number {
  const slots = Number(spec.flinkConfiguration?.['taskmanager.numberOfTaskSlots'] ?? '1');
  return Number.isInteger(slots) && slots > 0 ? slots : 1;
}

/**
 * What a spec asks for, as the Apache operator reads it: with `taskManager.replicas` set, the job
 * runs at replicas × slots (the operator ignores `job.parallelism` then); without, at
 * `job.parallelism` on as many TaskManagers as its slots need. `specKey` is what, when it changes,
 * makes the operator redeploy the job: both fields.
 */
export function desiredOf(spec: FlinkDeploymentSpec): {
  taskManagers: number;
  parallelism: number;
  specKey: string;
} {
  const slots = slotsOf(spec);
  const replicas = spec.taskManager?.replicas;
  const jobParallelism = spec.job?.parallelism;
  const taskManagers = replicas ?? Math.ceil((jobParallelism ?? slots) / slots);
  return {
    taskManagers,
    parallelism: replicas === undefined ? (jobParallelism ?? slots) : replicas * slots,
    specKey: `${String(replicas)}/${String(jobParallelism)}`,
  };
}

export async function startOperatorStandIn(options: OperatorStandInOptions): Promise<OperatorStandIn> {
  const { controlPlane: cp, namespace } = options;
  const log = options.log ?? (() => undefined);
  const applied: AppliedChange[] = [];
  const current = new Map<string, string>();
  const observedGeneration = new Map<string, number>();
  const latest = new Map<string, KubeObject>();
  let queue: Promise<void> = Promise.resolve();
  let stopped = false;
  let activeWatch: Watch | undefined;
  const resource = collectionPath('flink.apache.org/v1beta1', 'FlinkDeployment', namespace);

  async function patchStatus(name: string, status: Record<string, unknown>): Promise<void> {
    const answer = await cp.request('PATCH', `${resource}/${name}/status`, { status });
    if (answer.statusCode !== 404) expectOk(answer, `status of FlinkDeployment ${name}`);
  }

  async function syncPods(name: string, count: number, ready: boolean): Promise<void> {
    const pods = `/api/v1/namespaces/${namespace}/pods`;
    const list = expectOk(
      await cp.request(
        'GET',
        `${pods}?labelSelector=${encodeURIComponent(`component=taskmanager,app=${name}`)}`,
      ),
      'list pods',
    ).body as { items: KubeObject[] };
    const existing = new Set(list.items.map((pod) => pod.metadata.name));
    const wanted = Array.from({ length: count }, (_, i) => `${name}-taskmanager-${i + 1}`);
    for (const pod of existing) {
      if (!wanted.includes(pod)) await cp.request('DELETE', `${pods}/${pod}?gracePeriodSeconds=0`);
    }
    for (const pod of wanted) {
      if (!existing.has(pod)) {
        const created = await cp.request('POST', pods, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: pod, labels: LABELS(name) },
          spec: { containers: [{ name: 'flink-main-container', image: 'flink:1.20' }] },
        });
        if (created.statusCode !== 409) expectOk(created, `create pod ${pod}`);
      }
      const now = new Date().toISOString();
      expectOk(
        await cp.request(
          'PATCH',
          `${pods}/${pod}/status`,
          {
            status: {
              phase: 'Running',
              conditions: [
                { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now },
                { type: 'ContainersReady', status: ready ? 'True' : 'False', lastTransitionTime: now },
              ],
              containerStatuses: [
                {
                  name: 'flink-main-container',
                  image: 'flink:1.20',
                  imageID: '',
                  ready,
                  restartCount: 0,
                  started: true,
                  state: { running: { startedAt: now } },
                },
              ],
            },
          },
          'application/merge-patch+json',
        ),
        `status of pod ${pod}`,
      );
    }
  }

  async function reconcile(object: KubeObject): Promise<void> {
    const name = object.metadata.name;
    const generation = object.metadata.generation ?? 0;
    if ((observedGeneration.get(name) ?? -1) >= generation) return;
    const spec = (object.spec ?? {}) as FlinkDeploymentSpec;
    const desired = desiredOf(spec);
    const workload = options.workloads.get(name);
    const before = current.get(name);
    const changed = before !== desired.specKey;
    const labelSelector = `component=taskmanager,app=${name}`;

    if (changed && before !== undefined) {
      applied.push({
        name,
        generation,
        taskManagers: desired.taskManagers,
        parallelism: desired.parallelism,
        atMs: Date.now(),
      });
      log(
        `${name}: applying generation ${generation}: ${desired.taskManagers} TaskManagers, parallelism ${desired.parallelism}`,
      );
      await patchStatus(name, { lifecycleState: 'UPGRADING', jobStatus: { state: 'RECONCILING' } });
      await syncPods(name, desired.taskManagers, false);
      if (workload !== undefined) {
        await workload.setTaskManagers(desired.taskManagers);
        await workload.rescale(desired.parallelism);
        await waitFor(
          `${name} RUNNING at parallelism ${desired.parallelism}`,
          async () => {
            const state = await workload.state();
            return state.jobState === 'RUNNING' &&
              (state.vertices ?? []).every(
                (vertex) => vertex.parallelism === desired.parallelism && vertex.status === 'RUNNING',
              )
              ? true
              : undefined;
          },
          { timeoutMs: options.rescaleTimeoutMs ?? 90_000, intervalMs: 200 },
        );
      }
    }
    current.set(name, desired.specKey);
    await syncPods(name, desired.taskManagers, true);
    const jobState = workload === undefined ? 'RUNNING' : ((await workload.state()).jobState ?? 'RUNNING');
    await patchStatus(name, {
      lifecycleState: 'STABLE',
      observedGeneration: generation,
      taskManager: { replicas: desired.taskManagers, labelSelector },
      jobStatus: { jobId: workload?.jobId ?? '00000000000000000000000000000000', state: jobState },
      reconciliationStatus: { state: 'DEPLOYED' },
    });
    observedGeneration.set(name, generation);
  }

  function enqueue(event: WatchEvent): void {
    if (event.type === 'BOOKMARK' || event.type === 'ERROR') return;
    const name = event.object.metadata.name;
    if (event.type === 'DELETED') {
      latest.delete(name);
      current.delete(name);
      observedGeneration.delete(name);
      return;
    }
    latest.set(name, event.object);
    queue = queue
      .then(async () => {
        const object = latest.get(name);
        if (object !== undefined && !stopped) await reconcile(object);
      })
      .catch((err: unknown) => {
        log(`${name}: reconcile failed: ${err instanceof Error ? err.message : String(err)}`);
      });
  }

  let markWatching: () => void = () => undefined;
  const watching = new Promise<void>((resolve) => {
    markWatching = resolve;
  });

  /** List, then watch from the list's resourceVersion; again whenever the watch ends. */
  async function listAndWatch(): Promise<void> {
    while (!stopped) {
      const list = await cp.request('GET', resource).catch(() => undefined);
      if (list?.statusCode !== 200) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      const body = list.body as { metadata: { resourceVersion: string }; items: KubeObject[] };
      for (const item of body.items) enqueue({ type: 'ADDED', object: item });
      activeWatch = watch(cp, resource, body.metadata.resourceVersion, enqueue);
      markWatching();
      await activeWatch.done;
    }
  }
  const loop = listAndWatch();
  await watching;

  return {
    get applied() {
      return [...applied];
    },
    appliedFor(name) {
      return applied.filter((change) => change.name === name);
    },
    async idle() {
      await queue;
    },
    async stop() {
      stopped = true;
      activeWatch?.stop();
      await loop.catch(() => undefined);
      await queue;
    },
  };
}
