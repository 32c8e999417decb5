/**
 * A stand-in for the Apache Flink Kubernetes Operator, for tests only. It watches FlinkDeployments
 * and applies each spec change to the target's MiniCluster the way the operator would: it sorts
 * the change with the operator's diff rules ({@link classifySpecChange}) and then
 *
 * - rescales in place (native mode, only `pipeline.jobvertex-parallelism-overrides` changed, and
 *   the job can be rescaled in place: {@link inPlaceBlocker}): the job's resource requirements
 *   set per vertex, the same job restarted by Flink's adaptive scheduler from its last checkpoint;
 * - scales (standalone mode, `taskManager.replicas` or `job.parallelism` changed, reactive
 *   scheduler): the TaskManagers changed and the job runs on all their slots;
 * - or redeploys (every other change, and a scale the job cannot take in place): stop with a
 *   savepoint, the MiniCluster closed (its REST endpoint down meanwhile), an optional delay
 *   standing for pod scheduling and JVM start, a new MiniCluster on the same REST port with new
 *   TaskManagers, and the job submitted again from the savepoint, with a new job id: the
 *   operator's `AbstractFlinkService.cancelJob` (SAVEPOINT) then `ApplicationReconciler.deploy`
 *   (`deleteClusterDeployment`, `submitApplicationCluster`).
 *
 * It keeps one Ready Pod object per TaskManager (the HPA's `Value` formula counts ready pods),
 * writes `status` as the operator does, and records each change it applied with its path.
 *
 * The rules cite apache/flink-kubernetes-operator: the `@SpecDiff` annotations of
 * `AbstractFlinkSpec`, `JobSpec` and `TaskManagerSpec` (flink-kubernetes-operator-api), read by
 * `ReflectiveDiffBuilder`; `AbstractFlinkResourceReconciler.reconcile` (a SCALE diff goes to
 * `FlinkService.scale`, and when that answers false the change is a full upgrade);
 * `NativeFlinkService.scale` / `supportsInPlaceScaling`; `StandaloneFlinkService.scale`; and
 * `ApplicationReconciler.setJobIdIfNecessary` (a new job id on every deployment but a last-state one).
 */
import type { ControlPlane } from './control-plane.js';
import { flinkGet, pollUntil } from './flink.js';
import type { FlinkWorkload, ResourceRequirements } from './flink.js';
import { collectionPath, expectOk, watch } from './kube.js';
import type { KubeObject, Watch, WatchEvent } from './kube.js';

/** The parts of a FlinkDeployment spec the stand-in reads. */
export interface FlinkDeploymentSpec {
  readonly flinkVersion?: string;
  readonly mode?: string;
  readonly flinkConfiguration?: Readonly<Record<string, string>>;
  readonly taskManager?: { readonly replicas?: number };
  readonly job?: { readonly parallelism?: number; readonly upgradeMode?: string };
  readonly [field: string]: unknown;
}

/** How a spec change reaches the job. */
export type RescalePathTaken = 'in-place' | 'redeploy' | 'scale';

/** One spec change the stand-in applied: a restart of the job, in place or not. */
export interface AppliedChange {
  readonly name: string;
  readonly generation: number;
  readonly path: RescalePathTaken;
  /** Why this path: the changed fields, or what kept a scale from going in place. */
  readonly reason: string;
  /** TaskManagers after the change. */
  readonly taskManagers: number;
  /** The highest vertex parallelism after the change. */
  readonly parallelism: number;
  /** The job before and after (the same in place; a new one after a redeploy). */
  readonly previousJobId: string;
  readonly jobId: string;
  readonly atMs: number;
  /** From the spec change seen to the job running again as asked. */
  readonly durationMs: number;
}

export interface OperatorStandIn {
  /** Spec changes applied so far, oldest first; filter by name for one target. */
  readonly applied: readonly AppliedChange[];
  /** Applied changes of one FlinkDeployment, of one path when given. */
  appliedFor(name: string, path?: RescalePathTaken): readonly AppliedChange[];
  /** In-place rescales of one FlinkDeployment. */
  inPlaceFor(name: string): readonly AppliedChange[];
  /** Redeploys (full upgrades) of one FlinkDeployment. */
  redeploysFor(name: string): readonly AppliedChange[];
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
  /**
   * A redeploy's pause between closing the MiniCluster and starting a new one (default 0): stands
   * for deleting the JobManager and TaskManager pods, scheduling new ones, pulling the image and
   * starting their JVMs, which a real cluster spends and a MiniCluster in one warm JVM does not.
   */
  readonly redeployDelayMs?: number;
  readonly log?: (message: string) => void;
}

const LABELS = (name: string) => ({ component: 'taskmanager', app: name });
const OVERRIDES = 'pipeline.jobvertex-parallelism-overrides';
const NO_JOB = '00000000000000000000000000000000';

function slotsOf(spec: FlinkDeploymentSpec): number {
  const slots = Number(spec.flinkConfiguration?.['taskmanager.numberOfTaskSlots'] ?? '1');
  return Number.isInteger(slots) && slots > 0 ? slots : 1;
}

/**
 * What a spec asks for on a (re)deploy, as the Apache operator reads it: with
 * `taskManager.replicas` set, the job runs at replicas × slots (the operator ignores
 * `job.parallelism` then); without, at `job.parallelism` on as many TaskManagers as its slots
 * need.
 */
export function desiredOf(spec: FlinkDeploymentSpec): { taskManagers: number; parallelism: number } {
  const slots = slotsOf(spec);
  const replicas = spec.taskManager?.replicas;
  const jobParallelism = spec.job?.parallelism;
  const taskManagers = replicas ?? Math.ceil((jobParallelism ?? slots) / slots);
  return {
    taskManagers,
    parallelism: replicas === undefined ? (jobParallelism ?? slots) : replicas * slots,
  };
}

/**
 * The highest vertex parallelism a spec asks for: its overrides' when it has any (Flink applies
 * them over the job's default parallelism, and every vertex of a rescaled job has one), else what
 * {@link desiredOf} reads.
 */
export function highestParallelismOf(spec: FlinkDeploymentSpec): number {
  const overrides = parseOverrides(spec.flinkConfiguration?.[OVERRIDES]);
  return overrides.size > 0 ? Math.max(...overrides.values()) : desiredOf(spec).parallelism;
}

/** `pipeline.jobvertex-parallelism-overrides`, "vertexId:p,vertexId:p", as a map. */
export function parseOverrides(value: string | undefined): Map<string, number> {
  const overrides = new Map<string, number>();
  for (const entry of (value ?? '').split(',')) {
    const [vertex, parallelism] = entry.split(':').map((part) => part.trim());
    if (vertex !== undefined && vertex !== '' && parallelism !== undefined) {
      overrides.set(vertex, Number(parallelism));
    }
  }
  return overrides;
}

/** The operator's `DiffType`s that matter here, in its order: the largest one of a change wins. */
export type DiffType = 'ignore' | 'scale' | 'upgrade';
const DIFF_ORDER: readonly DiffType[] = ['ignore', 'scale', 'upgrade'];

export type DeploymentMode = 'native' | 'standalone';

function modeOf(spec: FlinkDeploymentSpec): DeploymentMode {
  return spec.mode?.toLowerCase() === 'standalone' ? 'standalone' : 'native';
}

/** JobSpec fields annotated `@SpecDiff(DiffType.IGNORE)`. */
const IGNORED_JOB_FIELDS = new Set([
  'upgradeMode',
  'savepointTriggerNonce',
  'initialSavepointPath',
  'checkpointTriggerNonce',
  'allowNonRestoredState',
  'autoscalerResetNonce',
]);

/** The diff type of one changed field (a dotted path; flinkConfiguration keys after the field). */
function diffTypeOf(field: string, after: unknown, mode: DeploymentMode): DiffType {
  if (field.startsWith('flinkConfiguration.')) {
    // AbstractFlinkSpec.flinkConfiguration: @SpecDiff.Config entries by key prefix; other keys
    // take the default, UPGRADE.
    const key = field.slice('flinkConfiguration.'.length);
    if (['job.autoscaler', 'parallelism.default', 'kubernetes.operator'].some((p) => key.startsWith(p))) {
      return 'ignore';
    }
    if (key.startsWith(OVERRIDES)) return mode === 'native' ? 'scale' : 'upgrade';
    return 'upgrade';
  }
  // TaskManagerSpec.replicas and JobSpec.parallelism: @SpecDiff(value = SCALE, mode = STANDALONE).
  if (field === 'taskManager.replicas' || field === 'job.parallelism') {
    return mode === 'standalone' ? 'scale' : 'upgrade';
  }
  if (field.startsWith('job.') && IGNORED_JOB_FIELDS.has(field.slice('job.'.length))) return 'ignore';
  // restartNonce and job.savepointRedeployNonce: onNullIgnore (removing the nonce is no change).
  if ((field === 'restartNonce' || field === 'job.savepointRedeployNonce') && after == null) return 'ignore';
  return 'upgrade';
}

function flatten(value: unknown, prefix: string, into: Map<string, unknown>): Map<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) {
      // flinkConfiguration keys contain dots: they are leaves, never nested further.
      if (prefix === 'flinkConfiguration.') into.set(prefix + key, inner);
      else flatten(inner, `${prefix}${key}.`, into);
    }
  } else if (prefix !== '') {
    into.set(prefix.slice(0, -1), value);
  }
  return into;
}

/**
 * Sorts a spec change as the operator's ReflectiveDiffBuilder does: each changed field gets its
 * `@SpecDiff` type for the deployment mode (of the new spec), and the change is the largest.
 */
export function classifySpecChange(
  before: FlinkDeploymentSpec,
  after: FlinkDeploymentSpec,
): { type: DiffType; fields: readonly string[] } {
  const mode = modeOf(after);
  const old = flatten(before, '', new Map());
  const now = flatten(after, '', new Map());
  let type: DiffType = 'ignore';
  const fields: string[] = [];
  for (const field of new Set([...old.keys(), ...now.keys()])) {
    if (JSON.stringify(old.get(field)) === JSON.stringify(now.get(field))) continue;
    const fieldType = diffTypeOf(field, now.get(field), mode);
    fields.push(`${field} (${fieldType})`);
    if (DIFF_ORDER.indexOf(fieldType) > DIFF_ORDER.indexOf(type)) type = fieldType;
  }
  return { type, fields: fields.sort() };
}

/** `FlinkVersion.isEqualOrNewer(v1_18)` for the spec's `v1_NN`. */
function atLeastFlink118(version: string | undefined): boolean {
  const match = /^v(\d+)_(\d+)$/.exec(version ?? '');
  if (match === null) return false;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 1 || (major === 1 && minor >= 18);
}

/**
 * Why a SCALE change cannot go in place, or undefined when it can: NativeFlinkService.scale and
 * supportsInPlaceScaling for native mode, StandaloneFlinkService.scale for standalone.
 */
export function inPlaceBlocker(
  spec: FlinkDeploymentSpec,
  previous: FlinkDeploymentSpec,
  jobState: string | undefined,
): string | undefined {
  const config = spec.flinkConfiguration ?? {};
  if (modeOf(spec) === 'standalone') {
    return spec.job !== undefined && config['scheduler-mode'] !== 'reactive'
      ? 'standalone mode without scheduler-mode: reactive'
      : undefined;
  }
  if (spec.job === undefined) return 'no job spec';
  if (config['kubernetes.operator.job.upgrade.inplace-scaling.enabled']?.toLowerCase() === 'false') {
    return 'kubernetes.operator.job.upgrade.inplace-scaling.enabled is false';
  }
  if (!atLeastFlink118(spec.flinkVersion))
    return `flinkVersion ${spec.flinkVersion ?? '(none)'} is older than v1_18`;
  if (config['jobmanager.scheduler']?.toLowerCase() !== 'adaptive')
    return 'jobmanager.scheduler is not adaptive';
  if (jobState !== undefined && ['FAILED', 'FINISHED', 'CANCELED', 'RECONCILING'].includes(jobState)) {
    return `the job is ${jobState}`;
  }
  const now = parseOverrides(config[OVERRIDES]);
  const before = parseOverrides(previous.flinkConfiguration?.[OVERRIDES]);
  if (now.size === 0 && before.size === 0) return 'no parallelism overrides before or after';
  const removed = [...before.keys()].filter((vertex) => !now.has(vertex));
  if (removed.length > 0) return `the override of vertex ${removed.join(', ')} was removed`;
  return undefined;
}

export async function startOperatorStandIn(options: OperatorStandInOptions): Promise<OperatorStandIn> {
  const { controlPlane: cp, namespace } = options;
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.rescaleTimeoutMs ?? 90_000;
  const redeployDelayMs = options.redeployDelayMs ?? 0;
  const applied: AppliedChange[] = [];
  /** The spec last deployed, per name: the operator's lastReconciledSpec. */
  const deployed = new Map<string, FlinkDeploymentSpec>();
  /** TaskManagers running per name (the MiniCluster's, or what the spec asked for without one). */
  const taskManagersOf = new Map<string, number>();
  const observedGeneration = new Map<string, number>();
  const latest = new Map<string, KubeObject>();
  let queue: Promise<void> = Promise.resolve();
  let stopped = false;
  let activeWatch: Watch | undefined;
  const resource = collectionPath('flink.apache.org/v1beta1', 'FlinkDeployment', namespace);
  log(
    `stand-in operator: a redeploy waits ${redeployDelayMs} ms between closing the MiniCluster and starting a new one (pod scheduling and JVM start)`,
  );

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

  /** Waits until every vertex runs at the parallelism `expected` gives it. */
  async function awaitVertices(
    workload: FlinkWorkload,
    what: string,
    expected: (vertexId: string) => number,
  ): Promise<void> {
    await pollUntil(
      what,
      timeoutMs,
      () => workload.state(),
      (state) =>
        state.jobState === 'RUNNING' &&
        (state.vertices ?? []).length > 0 &&
        (state.vertices ?? []).every(
          (vertex) => vertex.status === 'RUNNING' && vertex.parallelism === expected(vertex.id),
        ),
      200,
    );
  }

  /**
   * NativeFlinkService.scale: per vertex with an override, upper bound = the override and lower
   * bound = min(upper, current lower); then PUT the requirements, unless they already match
   * (undefined: nothing done, no restart). Flink's ResourceManager starts
   * the TaskManagers the new slots need before the job can use them, so they start first; idle
   * ones are released once the job runs lower (Flink waits resourcemanager.taskmanager-timeout,
   * the stand-in releases at once).
   */
  async function rescaleInPlace(
    name: string,
    spec: FlinkDeploymentSpec,
    workload: FlinkWorkload,
  ): Promise<number | undefined> {
    const overrides = parseOverrides(spec.flinkConfiguration?.[OVERRIDES]);
    const path = `/jobs/${workload.jobId}/resource-requirements`;
    const current = (await flinkGet(workload.restUrl, path)) as ResourceRequirements;
    const requested: Record<string, { parallelism: { lowerBound: number; upperBound: number } }> = {};
    for (const [vertex, requirement] of Object.entries(current)) {
      const upperBound = overrides.get(vertex);
      requested[vertex] =
        upperBound === undefined
          ? { parallelism: { ...requirement.parallelism } }
          : {
              parallelism: {
                lowerBound: Math.min(upperBound, requirement.parallelism.lowerBound),
                upperBound,
              },
            };
    }
    if (JSON.stringify(requested) === JSON.stringify(current)) return undefined;
    const highest = Math.max(...Object.values(requested).map((r) => r.parallelism.upperBound));
    const needed = Math.ceil(highest / slotsOf(spec));
    const running = taskManagersOf.get(name) ?? needed;
    if (needed > running) {
      await syncPods(name, needed, false);
      await workload.setTaskManagers(needed);
    }
    const answer = await fetch(`${workload.restUrl}${path}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(requested),
      signal: AbortSignal.timeout(30_000),
    });
    if (!answer.ok) throw new Error(`PUT ${path} answered ${answer.status}: ${await answer.text()}`);
    await awaitVertices(
      workload,
      `${name} RUNNING in place at ${JSON.stringify(requested)}`,
      (vertex) => requested[vertex]?.parallelism.upperBound ?? -1,
    );
    const after = needed < running ? await workload.setTaskManagers(needed, { idleOnly: true }) : undefined;
    return after?.taskManagers ?? Math.max(needed, running);
  }

  /**
   * A full upgrade: stop with a savepoint, a new cluster (after the delay), resubmit at what the
   * spec asks.
   */
  async function redeploy(spec: FlinkDeploymentSpec, workload: FlinkWorkload | undefined): Promise<number> {
    const desired = desiredOf(spec);
    const overrides = parseOverrides(spec.flinkConfiguration?.[OVERRIDES]);
    const highest = Math.max(desired.parallelism, ...overrides.values());
    const taskManagers = spec.taskManager?.replicas ?? Math.ceil(highest / slotsOf(spec));
    if (workload === undefined) return taskManagers;
    await workload.redeploy({
      parallelism: desired.parallelism,
      overrides: Object.fromEntries(overrides),
      taskManagers,
      delayMs: redeployDelayMs,
    });
    return taskManagers;
  }

  /** Standalone reactive mode: the TaskManager Deployment scaled, the job on all its slots. */
  async function scaleReactive(
    spec: FlinkDeploymentSpec,
    workload: FlinkWorkload | undefined,
  ): Promise<number> {
    const { taskManagers } = desiredOf(spec);
    if (workload !== undefined) {
      await workload.setTaskManagers(taskManagers);
      const parallelism = taskManagers * slotsOf(spec);
      await workload.rescale(parallelism);
      await awaitVertices(workload, `RUNNING on all ${parallelism} slots`, () => parallelism);
    }
    return taskManagers;
  }

  /**
   * The path a spec change takes, as AbstractFlinkResourceReconciler.reconcile decides it: IGNORE
   * changes nothing, SCALE goes in place (or scales, standalone) when FlinkService.scale can,
   * everything else redeploys. Undefined when nothing is to be applied.
   */
  async function choosePath(
    before: FlinkDeploymentSpec,
    spec: FlinkDeploymentSpec,
    workload: FlinkWorkload | undefined,
  ): Promise<{ path: RescalePathTaken | undefined; reason: string }> {
    const change = classifySpecChange(before, spec);
    const reason = change.fields.join(', ') || 'no spec change';
    if (change.type === 'ignore') return { path: undefined, reason };
    if (change.type === 'upgrade') return { path: 'redeploy', reason };
    const jobState = workload === undefined ? undefined : (await workload.state()).jobState;
    const blocker = inPlaceBlocker(spec, before, jobState);
    if (blocker !== undefined)
      return { path: 'redeploy', reason: `${reason}; cannot scale in place: ${blocker}` };
    return { path: modeOf(spec) === 'standalone' ? 'scale' : 'in-place', reason };
  }

  /** Applies a change on its path; the TaskManagers after it, or undefined when nothing was done. */
  async function applyPath(
    name: string,
    path: RescalePathTaken,
    spec: FlinkDeploymentSpec,
    workload: FlinkWorkload | undefined,
  ): Promise<number | undefined> {
    switch (path) {
      case 'redeploy':
        await patchStatus(name, { lifecycleState: 'UPGRADING', jobStatus: { state: 'RECONCILING' } });
        await syncPods(name, taskManagersOf.get(name) ?? 1, false);
        return redeploy(spec, workload);
      case 'scale':
        return scaleReactive(spec, workload);
      case 'in-place':
        // Without a MiniCluster no task holds a TaskManager: as many run as the overrides need.
        return workload === undefined
          ? Math.ceil(highestParallelismOf(spec) / slotsOf(spec))
          : rescaleInPlace(name, spec, workload);
    }
  }

  async function reconcile(object: KubeObject): Promise<void> {
    const name = object.metadata.name;
    const generation = object.metadata.generation ?? 0;
    if ((observedGeneration.get(name) ?? -1) >= generation) return;
    const spec = (object.spec ?? {}) as FlinkDeploymentSpec;
    const workload = options.workloads.get(name);
    const before = deployed.get(name);
    const seenAt = Date.now();

    if (before === undefined) {
      taskManagersOf.set(name, desiredOf(spec).taskManagers);
    } else {
      const previousJobId = workload?.jobId ?? NO_JOB;
      const { path, reason } = await choosePath(before, spec, workload);
      log(`${name}: generation ${generation}: ${path ?? 'nothing to apply'} (${reason})`);
      const taskManagers = path === undefined ? undefined : await applyPath(name, path, spec, workload);
      if (path !== undefined && taskManagers === undefined) {
        log(`${name}: generation ${generation}: the vertices' requirements already match, nothing to do`);
      }
      if (path !== undefined && taskManagers !== undefined) {
        taskManagersOf.set(name, taskManagers);
        const parallelism = (await workload?.state())?.parallelism ?? highestParallelismOf(spec);
        const done: AppliedChange = {
          name,
          generation,
          path,
          reason,
          taskManagers,
          parallelism,
          previousJobId,
          jobId: workload?.jobId ?? NO_JOB,
          atMs: seenAt,
          durationMs: Date.now() - seenAt,
        };
        applied.push(done);
        log(
          `${name}: generation ${generation} applied ${path} in ${done.durationMs} ms: ${taskManagers} TaskManagers, parallelism ${parallelism}, job ${done.jobId}`,
        );
      }
    }
    deployed.set(name, spec);
    await reportStable(name, generation, workload);
  }

  /** The status the operator writes once a generation is reconciled, and Ready pods. */
  async function reportStable(
    name: string,
    generation: number,
    workload: FlinkWorkload | undefined,
  ): Promise<void> {
    const taskManagers = taskManagersOf.get(name) ?? 1;
    await syncPods(name, taskManagers, true);
    const jobState = workload === undefined ? 'RUNNING' : ((await workload.state()).jobState ?? 'RUNNING');
    await patchStatus(name, {
      lifecycleState: 'STABLE',
      observedGeneration: generation,
      taskManager: { replicas: taskManagers, labelSelector: `component=taskmanager,app=${name}` },
      jobStatus: { jobId: workload?.jobId ?? NO_JOB, state: jobState },
      reconciliationStatus: { state: 'DEPLOYED' },
    });
    observedGeneration.set(name, generation);
  }

  function enqueue(event: WatchEvent): void {
    if (event.type === 'BOOKMARK' || event.type === 'ERROR') return;
    const name = event.object.metadata.name;
    if (event.type === 'DELETED') {
      latest.delete(name);
      deployed.delete(name);
      taskManagersOf.delete(name);
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

  const appliedFor = (name: string, path?: RescalePathTaken): readonly AppliedChange[] =>
    applied.filter((change) => change.name === name && (path === undefined || change.path === path));
  return {
    get applied() {
      return [...applied];
    },
    appliedFor,
    inPlaceFor: (name) => appliedFor(name, 'in-place'),
    redeploysFor: (name) => appliedFor(name, 'redeploy'),
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
