// The scaler's other kinds on the real API server, each against a fake JobManager whose job is
// 95 % busy (target 0.6, one ready TaskManager: ceil(0.95 / 0.6 × 1) = 2 TaskManagers):
// - FlinkApplication (Lyft): one merge patch of spec.parallelism; its CRD is installed only after
//   the scaler started, so this is also "a kind whose CRD appears later is picked up";
// - a reactive-mode TaskManager Deployment: its /scale;
// - a custom resource named in the config: its parallelism path first, then its /scale.
// Each asserts what the API server holds afterwards, and the path its rescale took as its Rescaled
// Event names it: none of these kinds has an in-place path Slotscaler writes on its own (the Lyft
// operator redeploys, the other two are written through their scale fields).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';

import type { Scaler } from '../../src/runtime/start-scaler.js';
import { parseLabelSelector } from '../../src/metrics-api/label-selector.js';
import { TargetsMetricsProvider } from '../../src/metrics-api/targets-provider.js';
import { FakeJobManagerServer, typicalJob } from '../fakes/fake-jobmanager.js';
import type { FakeCluster } from '../fakes/fake-jobmanager.js';
import { startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { applyYaml, expectOk, waitFor } from './harness/kube.js';
import type { KubeObject } from './harness/kube.js';
import {
  eventsFor,
  fastAnnotations,
  fastConfig,
  playDeploymentController,
  startTestScaler,
} from './scaler-helpers.js';

let env: Environment;
let jobManagers: FakeJobManagerServer;
let scaler: Scaler;
let syncing = true;
let deploymentSync: Promise<void> = Promise.resolve();

const crd = (file: string): Promise<string> => readFile(new URL(`./crds/${file}`, import.meta.url), 'utf8');

function busyJobManager(name: string): FakeCluster {
  return jobManagers.addCluster({
    name,
    taskManagers: 1,
    slotsPerTaskManager: 2,
    jobs: [typicalJob({ name, busyRatio: 0.95, parallelism: 2 })],
  });
}

function annotations(
  cluster: FakeCluster,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return fastAnnotations(cluster.url, { 'slotscaler.dev/max-taskmanagers': '2', ...extra });
}

/** The one Rescaled Event of a target, which must name `path` as its rescale path; logged. */
async function assertRescaledBy(name: string, path: 'redeploy' | 'scale fields'): Promise<void> {
  const rescaled = (await eventsFor(env.controlPlane, env.namespace, name)).filter(
    (event) => event.reason === 'Rescaled',
  );
  assert.equal(rescaled.length, 1, `one Rescaled Event for ${name}`);
  assert.match(rescaled[0]?.message ?? '', new RegExp(`; ${path} \\(`), `${name} says how it was rescaled`);
  console.log(`# path: ${name} rescaled by ${path}: ${rescaled[0]?.message ?? ''}`);
}

async function get(path: string): Promise<KubeObject> {
  return expectOk(await env.controlPlane.request('GET', path), `get ${path}`).body as KubeObject;
}

before(async () => {
  [env, jobManagers] = await Promise.all([
    startEnvironment({ flink: false, log: (message) => console.log(`# ${message}`) }),
    FakeJobManagerServer.start(),
  ]);
  // StreamJob is known at start (named in the config); FlinkApplication's CRD comes later.
  await applyYaml(env.controlPlane, await crd('streamjob.yaml'));
  await waitFor('the StreamJob CRD to be served', async () =>
    (await env.controlPlane.request('GET', `/apis/example.dev/v1/namespaces/${env.namespace}/streamjobs`))
      .statusCode === 200
      ? true
      : undefined,
  );
  scaler = await startTestScaler(env.controlPlane, fastConfig({ kinds: 'example.dev/v1/streamjobs' }));
});

after(async () => {
  syncing = false;
  await deploymentSync;
  await scaler.stop();
  await jobManagers.close();
  await env.stop();
});

describe('scaler: other kinds on a real API server', { timeout: 300_000 }, () => {
  it('FlinkApplication, whose CRD appears after the start: one patch of spec.parallelism, a redeploy', async () => {
    await applyYaml(env.controlPlane, await crd('flinkapplication.yaml'));
    const path = `/apis/flink.k8s.io/v1beta1/namespaces/${env.namespace}/flinkapplications/lyft-job`;
    await waitFor('the FlinkApplication CRD to be served', async () =>
      (
        await env.controlPlane.request(
          'GET',
          `/apis/flink.k8s.io/v1beta1/namespaces/${env.namespace}/flinkapplications`,
        )
      ).statusCode === 200
        ? true
        : undefined,
    );
    const cluster = busyJobManager('lyft-job');
    await env.applyYaml(
      JSON.stringify({
        apiVersion: 'flink.k8s.io/v1beta1',
        kind: 'FlinkApplication',
        metadata: { name: 'lyft-job', annotations: annotations(cluster) },
        spec: {
          image: 'flink:1.20',
          jarName: 'job.jar',
          parallelism: 2,
          taskManagerConfig: { taskSlots: 2 },
        },
      }),
    );
    expectOk(
      await env.controlPlane.request('PATCH', `${path}/status`, {
        status: { phase: 'Running', observedGeneration: 1 },
      }),
      'status of lyft-job',
    );
    const scaled = await waitFor(
      'spec.parallelism 4 (2 TaskManagers × 2 slots)',
      async () => {
        const object = await get(path);
        return (object.spec as { parallelism: number }).parallelism === 4 ? object : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    assert.equal(scaled.metadata.generation, 2, 'one write: the generation moved once');
    assert.ok(
      scaled.metadata.annotations?.['slotscaler.dev/status'],
      'the status annotation rides in the same patch',
    );
    await assertRescaledBy('lyft-job', 'redeploy');
  });

  it('a reactive-mode TaskManager Deployment: its /scale, the scale fields', async () => {
    const cluster = busyJobManager('reactive-job');
    const path = `/apis/apps/v1/namespaces/${env.namespace}/deployments/reactive-taskmanager`;
    await env.applyYaml(
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name: 'reactive-taskmanager',
          annotations: annotations(cluster, { 'slotscaler.dev/task-slots': '2' }),
        },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'reactive-job', component: 'taskmanager' } },
          template: {
            metadata: { labels: { app: 'reactive-job', component: 'taskmanager' } },
            spec: { containers: [{ name: 'taskmanager', image: 'flink:1.20', args: ['taskmanager'] }] },
          },
        },
      }),
    );
    deploymentSync = playDeploymentController(env.controlPlane, path, () => syncing);
    await waitFor(
      'spec.replicas 2',
      async () => (((await get(path)).spec as { replicas: number }).replicas === 2 ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    // The /scale write cannot carry the annotation: it follows in its own patch.
    await waitFor('the status annotation', async () =>
      (await get(path)).metadata.annotations?.['slotscaler.dev/status'] !== undefined ? true : undefined,
    );
    await assertRescaledBy('reactive-taskmanager', 'scale fields');
  });

  it('a custom resource from the config: its parallelism path, then its /scale, the scale fields', async () => {
    const cluster = busyJobManager('stream-job');
    const path = `/apis/example.dev/v1/namespaces/${env.namespace}/streamjobs/stream-job`;
    await env.applyYaml(
      JSON.stringify({
        apiVersion: 'example.dev/v1',
        kind: 'StreamJob',
        metadata: {
          name: 'stream-job',
          annotations: annotations(cluster, {
            'slotscaler.dev/task-slots': '2',
            'slotscaler.dev/parallelism-path': '.spec.parallelism',
          }),
        },
        spec: { taskManagers: 1, parallelism: 2 },
      }),
    );
    const scaled = await waitFor(
      'spec.taskManagers 2 and spec.parallelism 4',
      async () => {
        const spec = (await get(path)).spec as { taskManagers: number; parallelism: number };
        return spec.taskManagers === 2 && spec.parallelism === 4 ? spec : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    assert.deepEqual(scaled, { taskManagers: 2, parallelism: 4 });
    const scale = expectOk(await env.controlPlane.request('GET', `${path}/scale`), 'get scale').body as {
      spec: { replicas: number };
    };
    assert.equal(scale.spec.replicas, 2);
    await assertRescaledBy('stream-job', 'scale fields');

    // The scaler's own recommendation is served on the external metrics API.
    const provider = new TargetsMetricsProvider(scaler, () => Date.now());
    const items = await provider.getMetric(
      env.namespace,
      'flink_recommended_taskmanagers',
      parseLabelSelector('target=stream-job'),
    );
    assert.deepEqual(
      items.map((item) => [item.metricLabels, item.valueMilli]),
      [[{ target: 'stream-job', kind: 'streamjob', job_id: items[0]?.metricLabels['job_id'] ?? '' }, 2000]],
    );
  });
});
