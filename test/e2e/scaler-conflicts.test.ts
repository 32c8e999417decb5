// Two autoscalers on one object undo each other's rescales: the scaler, on the real API server
// against fake JobManagers, refuses to write a FlinkDeployment that the Flink operator's own
// autoscaler or an HPA scales too, says why in a Warning Event, and scales it once the other goes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { startScaler } from '../../src/runtime/start-scaler.js';
import type { Scaler } from '../../src/runtime/start-scaler.js';
import { FakeJobManagerServer, typicalJob } from '../fakes/fake-jobmanager.js';
import { flinkDeploymentYaml, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { expectOk, waitFor } from './harness/kube.js';
import { eventsFor, fastAnnotations, fastConfig, specOf, testLogger } from './scaler-helpers.js';

let env: Environment;
let jobManagers: FakeJobManagerServer;
let scaler: Scaler;

/** A target whose fake JobManager reports a busy job (0.95 against a target of 0.6: wants 2 TaskManagers). */
async function createTarget(name: string, flinkConfiguration: Record<string, string> = {}): Promise<void> {
  const cluster = jobManagers.addCluster({
    name,
    taskManagers: 1,
    slotsPerTaskManager: 2,
    jobs: [typicalJob({ name, busyRatio: 0.95, parallelism: 2 })],
  });
  await env.applyYaml(
    flinkDeploymentYaml({
      name,
      taskManagers: 1,
      slotsPerTaskManager: 2,
      annotations: fastAnnotations(cluster.url),
      flinkConfiguration,
    }),
  );
}

const replicasOf = async (name: string): Promise<number | undefined> =>
  specOf(await env.getFlinkDeployment(name)).replicas;

/**
 * A scaled target took the in-place path (its FlinkDeployment is native, v1_20, adaptive): its spec
 * asks through the overrides, the stand-in applied the first change in place, the Event says so.
 */
async function assertScaledInPlace(name: string): Promise<void> {
  assert.equal(specOf(await env.getFlinkDeployment(name)).path, 'in-place');
  // The write can be ahead of the stand-in's watch: wait for it to have applied the change.
  const applied = await waitFor(`the stand-in to apply ${name}'s change`, async () => {
    await env.operator.idle();
    return env.operator.appliedFor(name)[0];
  });
  assert.equal(applied.path, 'in-place', `${name}: applied in place`);
  const rescaled = (await eventsFor(env.controlPlane, env.namespace, name)).filter(
    (event) => event.reason === 'Rescaled',
  );
  assert.match(rescaled[0]?.message ?? '', /; in place \(/);
  console.log(`# path: ${name} rescaled in place: ${rescaled[0]?.message ?? ''}`);
}

async function conflictEvents(name: string) {
  return (await eventsFor(env.controlPlane, env.namespace, name)).filter(
    (event) => event.reason === 'AutoscalerConflict',
  );
}

before(async () => {
  [env, jobManagers] = await Promise.all([
    startEnvironment({ flink: false, log: (message) => console.log(`# ${message}`) }),
    FakeJobManagerServer.start(),
  ]);
  await createTarget('free');
  await createTarget('operator-scaled', { 'job.autoscaler.enabled': 'true' });
  await createTarget('hpa-scaled');
  // An HPA on the same FlinkDeployment; its metric is served by nobody here, so it writes nothing itself.
  await env.applyYaml(`
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: hpa-scaled-hpa }
spec:
  scaleTargetRef: { apiVersion: flink.apache.org/v1beta1, kind: FlinkDeployment, name: hpa-scaled }
  minReplicas: 1
  maxReplicas: 4
  metrics:
    - type: External
      external:
        metric: { name: flink_busy_ratio, selector: { matchLabels: { target: hpa-scaled } } }
        target: { type: Value, value: 600m }
`);
  scaler = await startScaler({
    loaded: fastConfig(),
    kubeconfigPath: env.kubeconfigPath,
    identity: 'conflicts',
    logger: testLogger('conflicts '),
  });
});

after(async () => {
  await scaler.stop();
  await jobManagers.close();
  await env.stop();
});

describe('scaler: refuses to fight another autoscaler', { timeout: 300_000 }, () => {
  it('scales the target nobody else scales (in place), and holds the other two with a Warning each', async () => {
    await waitFor('free to be scaled', async () => ((await replicasOf('free')) ?? 0) >= 2 || undefined, {
      timeoutMs: 60_000,
    });
    await assertScaledInPlace('free');
    const [operator] = await waitFor('AutoscalerConflict on operator-scaled', async () => {
      const found = await conflictEvents('operator-scaled');
      return found.length > 0 ? found : undefined;
    });
    assert.equal(operator?.type, 'Warning');
    assert.match(
      operator.message,
      /the Flink operator's autoscaler is on \(flinkConfiguration job\.autoscaler\.enabled: "true"\)/,
    );
    const [hpa] = await waitFor('AutoscalerConflict on hpa-scaled', async () => {
      const found = await conflictEvents('hpa-scaled');
      return found.length > 0 ? found : undefined;
    });
    assert.equal(hpa?.type, 'Warning');
    assert.match(
      hpa.message,
      /the HorizontalPodAutoscaler hpa-scaled-hpa scales it.*slotscaler\.dev\/mode: metrics-only/,
    );
    assert.equal(await replicasOf('operator-scaled'), 1);
    assert.equal(await replicasOf('hpa-scaled'), 1);
    assert.equal(
      scaler.loop.status(`flinkdeployment/${env.namespace}/hpa-scaled`)?.lastDecision?.outcome,
      'held: the HorizontalPodAutoscaler hpa-scaled-hpa scales it',
    );
  });

  it('scales the target once the HPA is deleted (in place)', async () => {
    expectOk(
      await env.controlPlane.request(
        'DELETE',
        `/apis/autoscaling/v2/namespaces/${env.namespace}/horizontalpodautoscalers/hpa-scaled-hpa`,
      ),
      'delete the HPA',
    );
    await waitFor(
      'hpa-scaled to be scaled',
      async () => ((await replicasOf('hpa-scaled')) ?? 0) >= 2 || undefined,
      {
        timeoutMs: 60_000,
      },
    );
    await assertScaledInPlace('hpa-scaled');
    assert.equal(await replicasOf('operator-scaled'), 1, 'the operator-scaled one is still held');
  });
});
