// The scaler on the real API server (with the stand-in operator) against fake JobManagers: a bad
// annotation on one target, a JobManager that stops, a target deleted mid-write, two replicas
// with leader election, and a kube-apiserver restart. Each asserts what the API server holds.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { KubeConfig } from '@kubernetes/client-node';

import { HttpKubeClient } from '../../src/kube/kube-client.js';
import type { KubeClient } from '../../src/kube/kube-client.js';
import { startScaler } from '../../src/runtime/start-scaler.js';
import type { Scaler } from '../../src/runtime/start-scaler.js';
import { decodeStatus } from '../../src/kube/status-annotation.js';
import type { Logger } from '../../src/observability/logger.js';
import { FakeJobManagerServer, typicalJob } from '../fakes/fake-jobmanager.js';
import type { FakeCluster } from '../fakes/fake-jobmanager.js';
import { flinkDeploymentYaml, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { expectOk, waitFor } from './harness/kube.js';
import {
  eventsFor,
  fastAnnotations,
  fastConfig,
  specOf,
  startTestScaler,
  testLogger,
} from './scaler-helpers.js';

let env: Environment;
let jobManagers: FakeJobManagerServer;

before(async () => {
  [env, jobManagers] = await Promise.all([
    startEnvironment({ flink: false, log: (message) => console.log(`# ${message}`) }),
    FakeJobManagerServer.start(),
  ]);
});

after(async () => {
  await jobManagers.close();
  await env.stop();
});

/** A fake JobManager whose job's operators are `busyRatio` busy. */
function jobManager(name: string, busyRatio: number): FakeCluster {
  return jobManagers.addCluster({
    name,
    taskManagers: 1,
    slotsPerTaskManager: 2,
    jobs: [typicalJob({ name, busyRatio, parallelism: 2 })],
  });
}

function setBusy(cluster: FakeCluster, busyRatio: number): void {
  for (const index of [1, 2, 3]) cluster.setVertexRates(index, { busyRatio });
}

const path = (name: string): string =>
  `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${name}`;

async function createTarget(
  name: string,
  cluster: FakeCluster,
  annotations: Readonly<Record<string, string>> = {},
  taskManagers = 1,
): Promise<void> {
  await env.applyYaml(
    flinkDeploymentYaml({
      name,
      taskManagers,
      slotsPerTaskManager: 2,
      annotations: fastAnnotations(cluster.url, annotations),
    }),
  );
}

async function deleteTarget(name: string): Promise<void> {
  const answer = await env.controlPlane.request('DELETE', path(name));
  if (answer.statusCode !== 404) expectOk(answer, `delete ${name}`);
}

async function replicasOf(name: string): Promise<number | undefined> {
  return specOf(await env.getFlinkDeployment(name)).replicas;
}

/** A logger that counts warnings and errors per target name. */
function countingLogger(counts: Map<string, number>, prefix: string): Logger {
  const base = testLogger(prefix);
  const wrap = (inner: Logger, bindings: Record<string, unknown>): Logger => ({
    debug: (obj, msg) => inner.debug(obj, msg),
    info: (obj, msg) => inner.info(obj, msg),
    warn: (obj, msg) => {
      const value = { ...bindings, ...obj }['name'];
      const name = typeof value === 'string' ? value : '';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      inner.warn(obj, msg);
    },
    error: (obj, msg) => {
      counts.set('error', (counts.get('error') ?? 0) + 1);
      inner.error(obj, msg);
    },
    child: (more) => wrap(inner.child(more), { ...bindings, ...more }),
  });
  return wrap(base, {});
}

describe('scaler faults: annotations, JobManager outage, deletion', { timeout: 300_000 }, () => {
  let scaler: Scaler;
  const warnings = new Map<string, number>();
  const good = jobManagerLazy('good', 0.95);
  const bad = jobManagerLazy('bad', 0.95);
  const steady = jobManagerLazy('steady', 0.6);
  const unicode = jobManagerLazy('unicode', 0.95);
  const future = jobManagerLazy('future', 0.95);
  const in2036 = Date.UTC(2036, 0, 1);

  before(async () => {
    await createTarget('good', good());
    await createTarget('bad', bad(), { 'slotscaler.dev/max-taskmanagers': 'lots' });
    await createTarget('steady', steady(), {}, 2);
    // 600 characters of 2 bytes: the Event note quoting it is over the API server's 1,024 bytes.
    await createTarget('unicode', unicode(), { 'slotscaler.dev/max-taskmanagers': 'é'.repeat(600) });
    // A rescale "in 2036" left by a hand edit or a replica whose clock ran ten years ahead.
    await createTarget('future', future(), {
      'slotscaler.dev/status': JSON.stringify({
        v: 1,
        last: null,
        rescaledAt: in2036,
        rec: [[1, in2036]],
        ev: [[1, in2036]],
      }),
    });
    scaler = await startScaler({
      loaded: fastConfig(),
      kubeconfigPath: env.kubeconfigPath,
      identity: 'faults',
      logger: countingLogger(warnings, 'faults '),
    });
  });

  after(async () => {
    await scaler.stop();
    await Promise.all(['good', 'bad', 'steady', 'doomed', 'unicode', 'future'].map(deleteTarget));
  });

  it('a bad annotation on one target: a Warning naming the key on it, the other still scaled (in place)', async () => {
    await waitFor('good to be scaled', async () => ((await replicasOf('good')) ?? 0) >= 2 || undefined, {
      timeoutMs: 60_000,
    });
    // The write can be ahead of the stand-in's watch: wait for it to have applied the change.
    const applied = await waitFor('the stand-in to apply good’s change', async () => {
      await env.operator.idle();
      return env.operator.appliedFor('good')[0];
    });
    assert.equal(applied.path, 'in-place', 'good was rescaled in place');
    console.log('# path: good rescaled in place');
    const events = await waitFor('the InvalidAnnotation Event on bad', async () => {
      const found = (await eventsFor(env.controlPlane, env.namespace, 'bad')).filter(
        (event) => event.reason === 'InvalidAnnotation',
      );
      return found.length > 0 ? found : undefined;
    });
    const [invalid] = events;
    assert.ok(invalid !== undefined);
    assert.equal(invalid.type, 'Warning');
    assert.match(invalid.message, /slotscaler\.dev\/max-taskmanagers: "lots"/);
    assert.equal(events.length, 1, 'rate limited: one Event per interval');
    assert.equal(await replicasOf('bad'), 1);
    assert.equal(
      (await eventsFor(env.controlPlane, env.namespace, 'good')).filter((e) => e.type === 'Warning').length,
      0,
    );
  });

  it('an annotation value of 600 non-ASCII characters still gets its Warning, cut to 1,024 bytes', async () => {
    const [invalid] = await waitFor('the InvalidAnnotation Event on unicode', async () => {
      const found = (await eventsFor(env.controlPlane, env.namespace, 'unicode')).filter(
        (event) => event.reason === 'InvalidAnnotation',
      );
      return found.length > 0 ? found : undefined;
    });
    assert.ok(invalid !== undefined);
    assert.equal(invalid.type, 'Warning');
    assert.match(invalid.message, /^target skipped until fixed: slotscaler\.dev\/max-taskmanagers: "éééé/);
    assert.ok(invalid.message.endsWith('...'), 'cut, and says so');
    assert.ok(
      Buffer.byteLength(invalid.message, 'utf8') <= 1024,
      `${Buffer.byteLength(invalid.message)} bytes`,
    );
    assert.equal(await replicasOf('unicode'), 1);
  });

  it('a status annotation dated 2036 does not freeze its target: a Warning, then scaled after one cooldown', async () => {
    const [warning] = await waitFor('the InvalidStatus Event on future', async () => {
      const found = (await eventsFor(env.controlPlane, env.namespace, 'future')).filter(
        (event) => event.reason === 'InvalidStatus',
      );
      return found.length > 0 ? found : undefined;
    });
    assert.ok(warning !== undefined);
    assert.equal(warning.type, 'Warning');
    assert.match(
      warning.message,
      /rescaledAt 2036-01-01T00:00:00\.000Z is [\d.]+ years ahead of this replica's clock/,
    );
    await waitFor('future to be scaled', async () => ((await replicasOf('future')) ?? 0) >= 2 || undefined, {
      timeoutMs: 60_000,
    });
    const status = decodeStatus(
      (await env.getFlinkDeployment('future')).metadata.annotations?.['slotscaler.dev/status'],
    );
    assert.ok(status?.lastRescaleAtMs !== null && status?.lastRescaleAtMs !== undefined);
    assert.ok(status.lastRescaleAtMs < Date.now() + 60_000, 'the written status is dated now, not 2036');
  });

  it('the JobManager stopped: no scale-down, a MetricsUnavailable Event, recovery when it returns', async () => {
    const cluster = steady();
    await waitFor('a decision on steady', () =>
      Promise.resolve(scaler.recommendations.recommendation(`flinkdeployment/${env.namespace}/steady`)),
    );
    cluster.misbehave('reset');
    setBusy(cluster, 0.1);
    const unavailable = await waitFor(
      'MetricsUnavailable on steady',
      async () => {
        const found = (await eventsFor(env.controlPlane, env.namespace, 'steady')).filter(
          (event) => event.reason === 'MetricsUnavailable',
        );
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const [event] = unavailable;
    assert.ok(event !== undefined);
    assert.equal(event.type, 'Warning');
    assert.match(event.message, /flink_busy_ratio: stale/);
    // Longer than the scale-down window: still 2 TaskManagers.
    await new Promise((resolve) => setTimeout(resolve, 17_000));
    assert.equal(await replicasOf('steady'), 2);
    cluster.behave();
    await waitFor(
      'steady to scale down once its metrics are back',
      async () => ((await replicasOf('steady')) === 1 ? true : undefined),
      {
        timeoutMs: 90_000,
      },
    );
  });

  it('a target deleted while its write is in flight: dropped, no error loop', async () => {
    const cluster = jobManager('doomed', 0.95);
    // The scaler's own client, which deletes the target just before its scale write reaches the server.
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(env.kubeconfigPath);
    const real = new HttpKubeClient(kubeConfig);
    let deleted = false;
    const client: KubeClient = {
      watch: (p, query, onEvent, options) => real.watch(p, query, onEvent, options),
      async request(request) {
        if (request.method === 'PATCH' && request.path === path('doomed') && !deleted) {
          deleted = true;
          await deleteTarget('doomed');
        }
        return real.request(request);
      },
    };
    const counts = new Map<string, number>();
    const deleting = await startScaler({
      loaded: fastConfig({ namespaces: env.namespace }),
      kubeClient: client,
      identity: 'deleting',
      logger: countingLogger(counts, 'deleting '),
    });
    try {
      await createTarget('doomed', cluster);
      await waitFor('the write to meet the deletion', () => Promise.resolve(deleted || undefined), {
        timeoutMs: 60_000,
      });
      await waitFor('the target to leave the registry', () =>
        Promise.resolve(
          deleting.registry.get(`flinkdeployment/${env.namespace}/doomed`) === undefined || undefined,
        ),
      );
      const before = new Map(counts);
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      assert.equal(counts.get('error') ?? 0, 0, 'no errors');
      assert.equal(
        counts.get('doomed') ?? 0,
        before.get('doomed') ?? 0,
        'no repeated warnings about the deleted target',
      );
      assert.equal(deleting.loop.writes.filter((w) => w.targetId.endsWith('/doomed')).length, 0);
    } finally {
      await deleting.stop();
      real.close();
    }
  });
});

/** A fake JobManager made on first use (after the server has started). */
function jobManagerLazy(name: string, busyRatio: number): () => FakeCluster {
  let cluster: FakeCluster | undefined;
  return () => (cluster ??= jobManager(name, busyRatio));
}

describe('scaler: two replicas, one Lease', { timeout: 300_000 }, () => {
  let a: Scaler;
  let b: Scaler;

  after(async () => {
    await a.stop();
    await b.stop();
    await deleteTarget('ha');
  });

  it('only the leader writes; when it stops, the other writes within 20 s with the histories it left (in place)', async () => {
    const config = fastConfig({
      leaderElect: 'true',
      leaseNamespace: env.namespace,
      leaseName: 'slotscaler-e2e',
    });
    a = await startTestScaler(env.controlPlane, config, 'replica-a');
    await waitFor('replica-a to lead', () => Promise.resolve(a.leader.isLeader() || undefined));
    b = await startTestScaler(env.controlPlane, config, 'replica-b');
    await createTarget('ha', jobManager('ha', 0.95), { 'slotscaler.dev/cooldown-after-rescale': '8s' });

    await waitFor('replica-a to scale ha', () => Promise.resolve(a.loop.writes.length > 0 || undefined), {
      timeoutMs: 60_000,
    });
    const first = a.loop.writes[0];
    assert.ok(first !== undefined);
    assert.equal(b.loop.writes.length, 0, 'the follower did not write');
    assert.equal(b.leader.isLeader(), false);
    await waitFor('the follower to decide too', () =>
      Promise.resolve(b.recommendations.recommendation(`flinkdeployment/${env.namespace}/ha`)),
    );
    assert.equal(a.loop.writes.length, 1);

    const stoppedAtMs = Date.now();
    await a.stop();
    const taken = await waitFor('replica-b to write', () => Promise.resolve(b.loop.writes[0]), {
      timeoutMs: 25_000,
    });
    assert.ok(taken.atMs - stoppedAtMs <= 20_000, `took ${taken.atMs - stoppedAtMs} ms`);
    assert.ok(
      taken.atMs - first.atMs >= 8_000,
      'the new leader kept the cooldown that started with the old leader’s rescale',
    );
    const status = decodeStatus(
      (await env.getFlinkDeployment('ha')).metadata.annotations?.['slotscaler.dev/status'],
    );
    assert.ok(status !== null);
    assert.ok(
      status.scaleEvents.some((event) => event.timestampMs === first.atMs),
      'the old leader’s scale event is in the new leader’s history',
    );
    const lease = expectOk(
      await env.controlPlane.request(
        'GET',
        `/apis/coordination.k8s.io/v1/namespaces/${env.namespace}/leases/slotscaler-e2e`,
      ),
      'get lease',
    ).body as { spec: { holderIdentity: string } };
    assert.equal(lease.spec.holderIdentity, 'replica-b');
    const paths = await waitFor('both leaders’ writes applied', async () => {
      await env.operator.idle();
      const applied = env.operator.appliedFor('ha').map((change) => change.path);
      return applied.length >= 2 ? applied : undefined;
    });
    assert.ok(
      paths.every((path) => path === 'in-place'),
      `both leaders rescaled in place: ${paths.join(', ')}`,
    );
    console.log(`# path: ha rescaled by both leaders: ${paths.join(', ')}`);
  });
});

describe('scaler: kube-apiserver restarted mid-run', { timeout: 300_000 }, () => {
  let scaler: Scaler;

  after(async () => {
    await scaler.stop();
    await deleteTarget('survivor');
  });

  it('resumes its watches; no write lost or duplicated', async () => {
    const cluster = jobManager('survivor', 0.6);
    await createTarget('survivor', cluster, {}, 2);
    scaler = await startTestScaler(env.controlPlane, fastConfig(), 'restarts');
    const id = `flinkdeployment/${env.namespace}/survivor`;
    await waitFor('a decision on survivor', () => Promise.resolve(scaler.recommendations.recommendation(id)));
    assert.equal(scaler.loop.writes.length, 0);

    await env.controlPlane.restartApiServer();
    // A change the scaler can only know of through its resumed watch.
    expectOk(
      await env.controlPlane.request('PATCH', path('survivor'), {
        metadata: { annotations: { 'slotscaler.dev/max-taskmanagers': '3' } },
      }),
      'annotate survivor',
    );
    setBusy(cluster, 0.95);
    await waitFor(
      'survivor scaled to its new max of 3',
      async () => ((await replicasOf('survivor')) === 3 ? true : undefined),
      {
        timeoutMs: 60_000,
      },
    );
    await env.operator.idle();
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const writes = scaler.loop.writes.filter((write) => write.targetId === id);
    assert.deepEqual(
      writes.map((w) => [w.fromReplicas, w.toReplicas]),
      [[2, 3]],
      'one decision, one write',
    );
    assert.deepEqual(
      env.operator.appliedFor('survivor').map((c) => [c.path, c.taskManagers]),
      [['in-place', 3]],
      'the operator applied it once, in place',
    );
    console.log('# path: survivor rescaled in place, once');
  });
});
