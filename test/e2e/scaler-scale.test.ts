// The scaler on the real environment, in place: the FlinkDeployment (native mode, Flink v1_20, the
// adaptive scheduler) is rescaled through its parallelism overrides alone, so the stand-in operator
// applies every decision in place and the job keeps its id. Load up -> more TaskManagers with
// matching parallelism in one spec change per decision; load down -> fewer, only after the
// scale-down window.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { Scaler } from '../../src/runtime/start-scaler.js';
import { decodeStatus } from '../../src/kube/status-annotation.js';
import { startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { waitFor } from './harness/kube.js';
import type { KubeObject } from './harness/kube.js';
import {
  eventsFor,
  fastAnnotations,
  fastConfig,
  patchAnnotations,
  specOf,
  startTestScaler,
} from './scaler-helpers.js';

interface Status {
  readonly lifecycleState?: string;
  readonly observedGeneration?: number;
}

describe('scaler: scale mode on a real API server and MiniCluster', { timeout: 600_000 }, () => {
  let env: Environment;
  let scaler: Scaler;
  let path: string;
  let firstJobId: string;
  let initialSpec: Record<string, unknown>;
  const name = 'steerable-job';

  before(async () => {
    env = await startEnvironment({
      flink: { taskManagers: 1, slotsPerTaskManager: 2, recordsPerSecond: 400, costMicros: 1000 },
      flinkDeploymentName: name,
      log: (message) => console.log(`# ${message}`),
    });
    path = `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${name}`;
    firstJobId = env.flink?.jobId ?? '';
    initialSpec = (await env.getFlinkDeployment(name)).spec as Record<string, unknown>;
    await patchAnnotations(env.controlPlane, path, fastAnnotations(env.flink?.restUrl ?? ''));
    scaler = await startTestScaler(env.controlPlane, fastConfig());
  });

  after(async () => {
    await scaler.stop();
    await env.stop();
  });

  const settled = async (): Promise<
    { replicas: number; parallelism: number; generation: number } | undefined
  > => {
    const object = await env.getFlinkDeployment(name);
    const status = object.status as Status;
    const spec = specOf(object);
    if (status.lifecycleState !== 'STABLE' || status.observedGeneration !== object.metadata.generation)
      return undefined;
    if (spec.replicas === undefined || spec.parallelism === undefined) return undefined;
    return {
      replicas: spec.replicas,
      parallelism: spec.parallelism,
      generation: object.metadata.generation ?? 0,
    };
  };

  /**
   * Every decision so far was applied in place, one per write at the parallelism written, on the
   * job the environment started; the spec's full-upgrade fields are as they were deployed. The
   * TaskManagers are Flink's to release after a rescale down (only idle ones go), so they are at
   * least what the job's slots need, not necessarily what the scaler counted.
   */
  const assertAppliedInPlace = async (object: KubeObject): Promise<void> => {
    await env.operator.idle();
    const applied = env.operator.appliedFor(name);
    const written = scaler.loop.writes;
    assert.deepEqual(
      applied.map(({ path, parallelism }) => ({ path, parallelism })),
      written.map((write) => ({ path: 'in-place', parallelism: write.parallelism })),
      'the operator applied exactly one in-place rescale per decision',
    );
    for (const [index, change] of applied.entries()) {
      assert.equal(change.previousJobId, firstJobId, `rescale ${index + 1} started from the first job`);
      assert.equal(change.jobId, firstJobId, `rescale ${index + 1} kept the job id`);
      assert.ok(
        change.taskManagers >= (written[index]?.toReplicas ?? Infinity),
        `rescale ${index + 1}: ${change.taskManagers} TaskManagers run, ${written[index]?.toReplicas} were asked`,
      );
    }
    const spec = object.spec as Record<string, unknown>;
    assert.deepEqual(
      { taskManager: spec['taskManager'], job: spec['job'] },
      { taskManager: initialSpec['taskManager'], job: initialSpec['job'] },
      'replicas and parallelism, the full-upgrade fields, are left alone',
    );
    console.log(
      `# path: ${applied.length} rescale(s), all in place (${applied.map((change) => change.path).join(', ')}), job ${firstJobId} throughout`,
    );
  };

  it('adds TaskManagers under load in place (same job id), with parallelism = TaskManagers × slots, one spec change per decision', async () => {
    await waitFor('the target to be registered', () =>
      Promise.resolve(scaler.registry.list().length === 1 ? true : undefined),
    );
    await env.flink?.setRate(3_500);
    const final = await waitFor(
      'the scaler to settle above 1 TaskManager',
      async () => {
        const state = await settled();
        const writes = scaler.loop.writes;
        const last = writes.at(-1);
        // Settled: stable for the latest write, and no new write for a few ticks.
        if (state === undefined || state.replicas < 2 || last === undefined) return undefined;
        return Date.now() - last.atMs > 20_000 ? state : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    assert.equal(final.parallelism, final.replicas * 2, 'parallelism = TaskManagers × slots');
    const object = await env.getFlinkDeployment(name);
    assert.equal(specOf(object).path, 'in-place', 'the spec asks through its parallelism overrides');
    await assertAppliedInPlace(object);
    const written = scaler.loop.writes;
    assert.ok(written.length >= 1);

    const events = await eventsFor(env.controlPlane, env.namespace, name);
    const rescaled = events.filter((event) => event.reason === 'Rescaled');
    assert.equal(rescaled.length, written.length);
    assert.match(
      rescaled[0]?.message ?? '',
      /TaskManagers 1 → 2, parallelism 2 → 4: flink_busy_ratio [\d.]+ \(target 0\.6\); reason \w+; in place \(/,
    );
    for (const event of rescaled) assert.match(event.message, /; in place \(/, 'every Event says in place');

    const status = decodeStatus(
      (await env.getFlinkDeployment(name)).metadata.annotations?.['slotscaler.dev/status'],
    );
    assert.ok(status !== null, 'the status annotation is written with the scale');
    assert.equal(status.lastDecision?.toReplicas, final.replicas);
    assert.ok(status.scaleEvents.length >= 1);
  });

  it('removes TaskManagers in place (same job id) when the load drops, only after the scale-down window', async () => {
    // The scale-down window holds the recommendations made in it; while the job restarts after the
    // last rescale none are made. Drop the load once the scaler has decided on fresh metrics for a
    // whole window (15 s), so the window is full of the count before the drop.
    const id = `flinkdeployment/${env.namespace}/${name}`;
    let freshSinceMs: number | null = null;
    await waitFor(
      'a scale-down window of decisions on fresh metrics',
      () => {
        const recommendation = scaler.loop.recommendation(id);
        const fresh = recommendation !== undefined && Date.now() - recommendation.atMs < 3_000;
        freshSinceMs = fresh ? (freshSinceMs ?? Date.now()) : null;
        return Promise.resolve(
          freshSinceMs !== null && Date.now() - freshSinceMs >= 15_000 ? true : undefined,
        );
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const before = scaler.loop.writes.length;
    const droppedAtMs = Date.now();
    await env.flink?.setRate(200);
    const final = await waitFor(
      'the scaler to scale down to 1 TaskManager',
      async () => {
        const state = await settled();
        return state?.replicas === 1 ? state : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    assert.equal(final.parallelism, 2);
    const downs = scaler.loop.writes.slice(before);
    assert.ok(downs.length >= 1);
    const first = downs[0];
    assert.ok(first !== undefined);
    assert.ok(
      first.atMs - droppedAtMs >= 15_000,
      `the first scale-down came ${first.atMs - droppedAtMs} ms after the drop, inside the 15 s window`,
    );
    await assertAppliedInPlace(await env.getFlinkDeployment(name));
    const rescaled = (await eventsFor(env.controlPlane, env.namespace, name)).filter(
      (event) => event.reason === 'Rescaled',
    );
    assert.equal(rescaled.length, scaler.loop.writes.length);
    for (const event of rescaled) assert.match(event.message, /; in place \(/, 'every Event says in place');
  });
});
