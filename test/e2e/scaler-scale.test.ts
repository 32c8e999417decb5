// The scaler on the real environment: load up -> more TaskManagers with matching parallelism in one
// spec change per decision; load down -> fewer, only after the scale-down window.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { Scaler } from '../../src/runtime/start-scaler.js';
import { decodeStatus } from '../../src/kube/status-annotation.js';
import { startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { waitFor } from './harness/kube.js';
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
  const name = 'steerable-job';

  before(async () => {
    env = await startEnvironment({
      flink: { taskManagers: 1, slotsPerTaskManager: 2, recordsPerSecond: 400, costMicros: 1000 },
      flinkDeploymentName: name,
      log: (message) => console.log(`# ${message}`),
    });
    path = `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${name}`;
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

  it('adds TaskManagers under load, with job.parallelism = TaskManagers × slots, one spec change per decision', async () => {
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
    await env.operator.idle();
    const applied = env.operator
      .appliedFor(name)
      .map(({ taskManagers, parallelism }) => ({ taskManagers, parallelism }));
    const written = scaler.loop.writes.map((write) => ({
      taskManagers: write.toReplicas,
      parallelism: write.parallelism,
    }));
    assert.deepEqual(applied, written, 'the operator applied exactly one spec change per decision');
    assert.ok(written.length >= 1);

    const events = await eventsFor(env.controlPlane, env.namespace, name);
    const rescaled = events.filter((event) => event.reason === 'Rescaled');
    assert.equal(rescaled.length, written.length);
    assert.match(
      rescaled[0]?.message ?? '',
      /TaskManagers 1 → 2, parallelism 2 → 4: flink_busy_ratio [\d.]+ \(target 0\.6\); reason \w+/,
    );

    const status = decodeStatus(
      (await env.getFlinkDeployment(name)).metadata.annotations?.['slotscaler.dev/status'],
    );
    assert.ok(status !== null, 'the status annotation is written with the scale');
    assert.equal(status.lastDecision?.toReplicas, final.replicas);
    assert.ok(status.scaleEvents.length >= 1);
  });

  it('removes TaskManagers when the load drops, only after the scale-down window', async () => {
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
    await env.operator.idle();
    const applied = env.operator
      .appliedFor(name)
      .map(({ taskManagers, parallelism }) => ({ taskManagers, parallelism }));
    const written = scaler.loop.writes.map((write) => ({
      taskManagers: write.toReplicas,
      parallelism: write.parallelism,
    }));
    assert.deepEqual(applied, written);
  });
});
