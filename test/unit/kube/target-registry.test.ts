// The target registry on the in-memory Kubernetes: targets follow the objects (opt-in, changes,
// deletion), invalid annotations are kept with their issues, a kind is watched while its CRD is
// there, a compacted history is recovered by a new LIST, and a refused LIST is retried.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { flinkDeploymentAdapter } from '../../../src/kube/adapters/flink-deployment.js';
import { objectPath } from '../../../src/kube/objects.js';
import { TargetRegistry } from '../../../src/kube/target-registry.js';
import type { RegisteredTarget } from '../../../src/kube/target-registry.js';
import { callbackLogger } from '../../../src/observability/logger.js';
import { flinkDeployment } from '../../fakes/flink-deployment-target.js';
import type { FlinkDeploymentOptions } from '../../fakes/flink-deployment-target.js';
import { FLINK_DEPLOYMENT_CRD, InMemoryKube } from '../../fakes/kube/in-memory-kube.js';

const pathOf = (name: string): string => objectPath(flinkDeploymentAdapter.resource, 'flink', name);

function harness(options: { crd?: boolean } = {}) {
  const kube = new InMemoryKube();
  if (options.crd !== false) kube.apply(FLINK_DEPLOYMENT_CRD);
  let changes = 0;
  const warnings: string[] = [];
  const registry = new TargetRegistry({
    client: kube,
    adapters: [flinkDeploymentAdapter],
    namespaces: [],
    targetDefaults: {},
    describeDefaultKey: (key) => `--${key}`,
    logger: callbackLogger(
      (_level, msg) => warnings.push(msg),
      (level) => level === 'warn',
    ),
    onChange: () => (changes += 1),
  });
  const deploy = (name: string, options: FlinkDeploymentOptions = {}) =>
    kube.apply(flinkDeployment(name, options));
  return { kube, registry, deploy, warnings, changes: () => changes };
}

/** Lets the registry's loops and its batched onChange run until `done` holds. */
async function until(done: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(done(), `${what} not reached`);
}

/** Like `until`, for what waits on the informer's back-off (a real timer of up to a second). */
async function eventually(done: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(done(), `${what} not reached`);
}

const names = (targets: readonly RegisteredTarget[]): string[] =>
  targets.map((target) => target.ref.name).sort();

describe('TargetRegistry', () => {
  it('lists the opted-in objects at start, then follows additions, changes, opt-outs and deletions', async () => {
    const { kube, registry, deploy } = harness();
    deploy('clicks');
    deploy('views');
    kube.apply({
      ...flinkDeployment('unmanaged'),
      metadata: { name: 'unmanaged', namespace: 'flink' },
    });
    await registry.start();
    assert.deepEqual(
      names(registry.list()),
      ['clicks', 'views'],
      'an object without the annotation is no target',
    );
    const clicks = registry.get('flinkdeployment/flink/clicks');
    assert.ok(clicks?.parsed.ok);
    assert.deepEqual(clicks.ref, {
      apiVersion: 'flink.apache.org/v1beta1',
      kind: 'FlinkDeployment',
      namespace: 'flink',
      name: 'clicks',
      uid: kube.read(pathOf('clicks'))?.metadata.uid,
    });
    assert.deepEqual(clicks.crd, {
      specReplicasPath: '.spec.taskManager.replicas',
      statusReplicasPath: '.status.taskManager.replicas',
    });

    deploy('orders', { replicas: 3 });
    await until(() => registry.get('flinkdeployment/flink/orders') !== undefined, 'orders added');

    kube.patchObject(pathOf('clicks'), {
      metadata: { annotations: { 'slotscaler.dev/metrics': 'flink_busy_ratio=0.8' } },
    });
    await until(() => {
      const target = registry.get('flinkdeployment/flink/clicks');
      return target?.parsed.ok === true && target.parsed.config.metrics[0]?.targetMilli === 800;
    }, 'clicks updated');
    assert.equal(
      registry.get('flinkdeployment/flink/clicks')?.object.metadata.resourceVersion,
      kube.read(pathOf('clicks'))?.metadata.resourceVersion,
      'the target holds the newest object',
    );

    kube.patchObject(pathOf('views'), { metadata: { annotations: { 'slotscaler.dev/enabled': 'false' } } });
    kube.deleteObject(pathOf('orders'));
    await until(() => registry.list().length === 1, 'views opted out, orders deleted');
    assert.deepEqual(names(registry.list()), ['clicks']);
    assert.equal(kube.count('list', 'flinkdeployments'), 1, 'the watch brought every change: one LIST');
    await registry.stop();
    assert.equal(kube.openWatches, 0);
  });

  it('batches onChange: many changes at once are one call', async () => {
    const { registry, deploy, changes } = harness();
    await registry.start();
    await until(() => true);
    const before = changes();
    for (const name of ['a', 'b', 'c']) deploy(name);
    await until(() => registry.list().length === 3);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(changes() - before, 1);
    await registry.stop();
  });

  it('keeps a target with invalid annotations, with its issues and no view, and an unknown enabled value too', async () => {
    const { registry, deploy, kube } = harness();
    deploy('broken', { annotations: { 'slotscaler.dev/max-taskmanagers': 'ten' } });
    deploy('maybe', { annotations: { 'slotscaler.dev/enabled': 'maybe' } });
    await registry.start();
    const broken = registry.get('flinkdeployment/flink/broken');
    assert.ok(broken !== undefined);
    assert.ok(!broken.parsed.ok);
    assert.equal(broken.view, null);
    assert.deepEqual(
      broken.parsed.issues.map((issue) => [issue.key, issue.value]),
      [['slotscaler.dev/max-taskmanagers', 'ten']],
    );
    const maybe = registry.get('flinkdeployment/flink/maybe');
    assert.ok(maybe !== undefined && !maybe.parsed.ok);
    assert.ok(
      maybe.parsed.issues.some((issue) => issue.key === 'slotscaler.dev/enabled' && issue.value === 'maybe'),
    );

    // Fixed: the same target becomes valid, with a view.
    kube.patchObject(pathOf('broken'), {
      metadata: { annotations: { 'slotscaler.dev/max-taskmanagers': '10' } },
    });
    await until(() => registry.get('flinkdeployment/flink/broken')?.parsed.ok === true, 'fixed');
    assert.notEqual(registry.get('flinkdeployment/flink/broken')?.view, null);
    await registry.stop();
  });

  it('watches a kind only while its CRD is installed', async () => {
    const { kube, registry, deploy } = harness({ crd: false });
    await registry.start();
    assert.deepEqual(registry.watchedKinds(), []);
    assert.equal(kube.count('list', 'flinkdeployments'), 0, 'no LIST of a kind that is not served');

    kube.apply(FLINK_DEPLOYMENT_CRD);
    await until(() => registry.watchedKinds().length === 1, 'CRD seen');
    deploy('clicks');
    await until(() => registry.list().length === 1, 'target after the CRD');

    kube.deleteObject(
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/flinkdeployments.flink.apache.org',
    );
    await until(() => registry.watchedKinds().length === 0 && registry.list().length === 0, 'CRD removed');
    await registry.stop();
  });

  it('after its watch broke and the history was compacted (410 Gone), lists again and catches up', async () => {
    const { kube, registry, deploy } = harness();
    deploy('stays');
    deploy('changes');
    deploy('goes');
    await registry.start();
    assert.equal(registry.list().length, 3);

    kube.breakWatches();
    kube.patchObject(pathOf('changes'), { spec: { taskManager: { replicas: 5 } } });
    kube.deleteObject(pathOf('goes'));
    deploy('arrives');
    kube.compact();
    await eventually(() => kube.count('list', 'flinkdeployments') === 2, 'second LIST');
    await until(() => registry.get('flinkdeployment/flink/arrives') !== undefined);
    assert.deepEqual(names(registry.list()), ['arrives', 'changes', 'stays']);
    const changed = registry.get('flinkdeployment/flink/changes');
    assert.ok(changed?.view !== null && changed?.view !== undefined && 'currentReplicas' in changed.view);
    assert.equal(changed.view.currentReplicas, 5);
    const watches = kube.requests.filter((r) => r.verb === 'watch' && r.resource === 'flinkdeployments');
    assert.equal(watches.length, 3, 'the first watch, the one answered 410, the one after the LIST');
    assert.equal(watches[2]?.query['resourceVersion'], String(kube.revision), 'resumed from the new LIST');
    await registry.stop();
  });

  for (const fault of [
    { status: 429, retryAfter: '1' },
    { status: 503 },
    { network: 'connect ECONNREFUSED 10.96.0.1:443' },
  ] as const) {
    const label = 'status' in fault ? `HTTP ${fault.status}` : 'a network failure';
    it(`retries a LIST that failed with ${label}, then serves the targets`, async () => {
      const { kube, registry, deploy } = harness();
      deploy('clicks');
      const injected = kube.inject({ verb: 'list', resource: 'flinkdeployments' }, fault);
      await registry.start();
      assert.equal(injected.hits, 1);
      assert.equal(kube.count('list', 'flinkdeployments'), 2);
      assert.deepEqual(names(registry.list()), ['clicks']);
      await registry.stop();
    });
  }
});
