// Whole ticks of `startScaler` on the in-memory Kubernetes, a fake JobManager and a fake clock: an
// opted-in FlinkDeployment is collected, decided on and written; a write that loses a race (409)
// is decided again on the newer object; a 429 backs the target off for its Retry-After; with leader
// election only the Lease's holder writes. The tick timer is ten minutes away: every tick is `tickNow`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { resolveConfig } from '../../../src/config/load.js';
import { flinkDeploymentAdapter } from '../../../src/kube/adapters/flink-deployment.js';
import { objectPath } from '../../../src/kube/objects.js';
import { replicaLeaseName } from '../../../src/kube/replica-leases.js';
import type { KubeObject } from '../../../src/kube/objects.js';
import { callbackLogger } from '../../../src/observability/logger.js';
import { startScaler } from '../../../src/runtime/start-scaler.js';
import type { Scaler } from '../../../src/runtime/start-scaler.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { FakeJobManagerServer, typicalJob } from '../../fakes/fake-jobmanager.js';
import type { FakeCluster } from '../../fakes/fake-jobmanager.js';
import { flinkDeployment } from '../../fakes/flink-deployment-target.js';
import { FLINK_DEPLOYMENT_CRD, InMemoryKube } from '../../fakes/kube/in-memory-kube.js';

const JOB_ID = 'a'.repeat(32);
const TARGET_ID = 'flinkdeployment/flink/clicks';
const PATH = objectPath(flinkDeploymentAdapter.resource, 'flink', 'clicks');
const EVENTS = '/apis/events.k8s.io/v1/namespaces/flink/events';
/** Between two ticks: both samples stay in the 60 s window. */
const TICK_MS = 10_000;

describe('startScaler, tick by tick', () => {
  let jobManagers: FakeJobManagerServer;
  const clock = new FakeClock();

  before(async () => {
    jobManagers = await FakeJobManagerServer.start({ clock });
  });
  after(async () => {
    await jobManagers.close();
  });

  /**
   * A Kubernetes holding one FlinkDeployment with one TaskManager of 2 slots, whose job (a fake
   * JobManager named `name`) is busy 90% of the time against a 50% target.
   */
  function cluster(name: string): InMemoryKube {
    const jobManager: FakeCluster = jobManagers.addCluster({
      name,
      taskManagers: 1,
      slotsPerTaskManager: 2,
      jobs: [{ ...typicalJob({ parallelism: 2, busyRatio: 0.9 }), jid: JOB_ID }],
    });
    const kube = new InMemoryKube({ clock });
    kube.apply(FLINK_DEPLOYMENT_CRD);
    kube.apply(
      flinkDeployment('clicks', {
        replicas: 1,
        slots: 2,
        annotations: {
          'slotscaler.dev/jobmanager-url': jobManager.url,
          'slotscaler.dev/max-taskmanagers': '10',
          'slotscaler.dev/metrics-window': '60s',
        },
      }),
    );
    return kube;
  }

  /** A scaler on `kube` (a new cluster by default), after its first tick (one sample: no decision yet). */
  async function start(
    t: { after: (fn: () => Promise<void>) => void },
    name: string,
    options: { leaderElect?: boolean; kube?: InMemoryKube; identity?: string } = {},
  ) {
    const kube = options.kube ?? cluster(name);
    const warnings: { msg: string; fields: Record<string, unknown> }[] = [];
    const scaler: Scaler = await startScaler({
      loaded: resolveConfig({
        flags: {
          tickInterval: '10m',
          leaderElect: options.leaderElect === true ? 'true' : 'false',
          leaseNamespace: 'flink',
          // The renew deadline (2/3 of it) is beyond the clock's jumps: a renewal comes only every 500 ms of real time.
          leaseDuration: '60s',
        },
      }),
      kubeClient: kube,
      clock,
      identity: options.identity ?? 'scaler-test',
      logger: callbackLogger(
        (_level, msg, fields) => warnings.push({ msg, fields }),
        (level) => level === 'warn' || level === 'error',
      ),
    });
    t.after(() => scaler.stop());
    // startScaler's own first tick takes the first sample; a decision needs two.
    await scaler.tickNow();
    assert.deepEqual(
      warnings.map((w) => [w.msg, w.fields['why']]),
      [['no metric available; not scaling', 'flink_busy_ratio: not-enough-samples']],
    );
    warnings.length = 0;
    return { kube, scaler, warnings };
  }

  const patches = (kube: InMemoryKube) =>
    kube.requests.filter((r) => r.verb === 'patch' && r.resource === 'flinkdeployments');
  const specOf = (object: KubeObject | undefined) => {
    const spec = object?.spec as { taskManager?: { replicas?: number }; job?: { parallelism?: number } };
    return { replicas: spec.taskManager?.replicas, parallelism: spec.job?.parallelism };
  };
  const guardOf = (body: unknown): unknown =>
    (body as { metadata?: { resourceVersion?: unknown } }).metadata?.resourceVersion;

  it('one tick collects, decides and writes TaskManagers and parallelism in one guarded patch', async (t) => {
    const { kube, scaler, warnings } = await start(t, 'scale');
    const decidedOn = kube.read(PATH)?.metadata.resourceVersion;
    assert.equal(patches(kube).length, 0, 'one sample: nothing decided yet');

    clock.advance(TICK_MS);
    const started = performance.now();
    await scaler.tickNow();
    const tickMs = performance.now() - started;

    assert.deepEqual(specOf(kube.read(PATH)), { replicas: 2, parallelism: 4 });
    const [patch] = patches(kube);
    assert.equal(patches(kube).length, 1);
    assert.equal(guardOf(patch?.body), decidedOn, 'guarded by the resourceVersion decided on');
    assert.equal(kube.read(PATH)?.metadata.generation, 2, 'a spec change the operator has to reconcile');
    assert.ok(
      kube.read(PATH)?.metadata.annotations?.['slotscaler.dev/status'],
      'the status annotation went with it',
    );
    assert.equal(scaler.recommendations.recommendation(TARGET_ID)?.replicas, 2);
    await scaler.events.flush();
    assert.deepEqual(
      kube.objects(EVENTS).map((event) => (event as unknown as { reason: string }).reason),
      ['Rescaled'],
    );
    assert.deepEqual(warnings, []);
    assert.ok(tickMs < 1_000, `a tick took ${tickMs.toFixed(0)} ms`);

    // The operator has not reconciled the new generation: the next tick holds, writes nothing.
    clock.advance(TICK_MS);
    await scaler.tickNow();
    assert.equal(patches(kube).length, 1);
  });

  it('a write that loses a race (409) is decided again on the newer object, in the same tick', async (t) => {
    const { kube, scaler } = await start(t, 'conflict');
    const first = kube.read(PATH)?.metadata.resourceVersion;
    // Just before the patch is served, someone else labels the object: the patch's guard is stale.
    let raced: string | undefined;
    const race = kube.inject({ verb: 'patch', resource: 'flinkdeployments' }, () => {
      raced = kube.patchObject(PATH, { metadata: { labels: { team: 'data' } } }).metadata.resourceVersion;
      return undefined;
    });

    clock.advance(TICK_MS);
    await scaler.tickNow();

    assert.equal(race.hits, 1);
    assert.deepEqual(
      patches(kube).map((p) => guardOf(p.body)),
      [first, raced],
      'the second patch is guarded by the version the race left',
    );
    const object = kube.read(PATH);
    assert.deepEqual(specOf(object), { replicas: 2, parallelism: 4 });
    assert.equal(object?.metadata.labels?.['team'], 'data', 'the other write is kept');
  });

  it('a 429 backs the target off for its Retry-After, then the write goes through', async (t) => {
    const { kube, scaler, warnings } = await start(t, 'throttled');
    kube.inject({ verb: 'patch', resource: 'flinkdeployments' }, { status: 429, retryAfter: '30' });

    clock.advance(TICK_MS);
    await scaler.tickNow();
    assert.equal(patches(kube).length, 1);
    assert.deepEqual(specOf(kube.read(PATH)), { replicas: 1, parallelism: 2 }, 'refused: unchanged');
    assert.deepEqual(
      warnings.map((w) => [w.msg, w.fields['retryInMs']]),
      [['write failed; backing off', 30_000]],
    );

    // Up to 1 ms before the 30 s the server asked for: held.
    clock.advance(TICK_MS);
    await scaler.tickNow();
    clock.advance(2 * TICK_MS - 1);
    await scaler.tickNow();
    assert.equal(patches(kube).length, 1, 'no write while backing off');

    clock.advance(1);
    await scaler.tickNow();
    assert.equal(patches(kube).length, 2);
    assert.deepEqual(specOf(kube.read(PATH)), { replicas: 2, parallelism: 4 });
  });

  it('with leader election, only the replica holding the Lease writes', async (t) => {
    const first = await start(t, 'leader', { leaderElect: true, identity: 'scaler-a' });
    const second = await start(t, 'leader', {
      leaderElect: true,
      identity: 'scaler-b',
      kube: first.kube,
    });
    const lease = first.kube.read('/apis/coordination.k8s.io/v1/namespaces/flink/leases/slotscaler');
    assert.equal((lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity, 'scaler-a');
    assert.deepEqual([first.scaler.leader.isLeader(), second.scaler.leader.isLeader()], [true, false]);

    clock.advance(TICK_MS);
    await second.scaler.tickNow();
    assert.equal(patches(first.kube).length, 0, 'the follower decides but does not write');
    await first.scaler.tickNow();
    assert.equal(patches(first.kube).length, 1);
    assert.deepEqual(specOf(first.kube.read(PATH)), { replicas: 2, parallelism: 4 });
  });

  it('with shards, the target is collected, decided and written by its owner on the ring alone', async (t) => {
    const kube = cluster('shards');
    const startSharded = async (identity: string): Promise<Scaler> => {
      const scaler = await startScaler({
        loaded: resolveConfig({
          flags: { tickInterval: '10m', shards: 'true', leaseNamespace: 'flink', leaseDuration: '60s' },
        }),
        kubeClient: kube,
        clock,
        identity,
      });
      t.after(() => scaler.stop());
      return scaler;
    };
    const a = await startSharded('scaler-a');
    const b = await startSharded('scaler-b');
    // Each sees the other's Lease through its watch.
    for (let i = 0; i < 50 && [a, b].some((s) => s.ownership?.members().length !== 2); i++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(a.ownership?.members(), ['scaler-a', 'scaler-b']);
    assert.deepEqual(b.ownership?.members(), ['scaler-a', 'scaler-b']);
    const owners = [a, b].filter((s) => s.ownership?.assigned(TARGET_ID) === true);
    assert.equal(owners.length, 1, 'one owner');
    const [owner] = owners;
    const other = owner === a ? b : a;
    assert.ok(owner !== undefined);

    await a.tickNow();
    await b.tickNow();
    for (let i = 0; i < 3; i++) {
      clock.advance(TICK_MS);
      await a.tickNow();
      await b.tickNow();
    }
    assert.equal(
      patches(kube).length,
      0,
      'within the settle time (the renew deadline: two thirds of the 60 s lease): no write',
    );
    assert.equal(owner.leader.isLeader(TARGET_ID), false);
    // The owner's fence: its Lease renewed since the clock moved (its checks run on a real timer).
    const ownLease = `/apis/coordination.k8s.io/v1/namespaces/flink/leases/${replicaLeaseName('slotscaler', owner.identity)}`;
    const renewedAtMs = (): number =>
      Date.parse(String((kube.read(ownLease)?.spec as { renewTime?: string } | undefined)?.renewTime));
    for (let i = 0; i < 100 && !(renewedAtMs() >= clock.nowMs()); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(renewedAtMs() >= clock.nowMs(), 'the owner renewed its Lease');
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(TICK_MS);
    await a.tickNow();
    await b.tickNow();
    assert.equal(patches(kube).length, 1);
    assert.deepEqual(specOf(kube.read(PATH)), { replicas: 2, parallelism: 4 });
    assert.equal(owner.leader.isLeader(TARGET_ID), true);
    assert.equal(other.leader.isLeader(TARGET_ID), false);
    assert.equal(other.collector.readings(TARGET_ID), undefined, 'the other replica never collected it');
    assert.notEqual(owner.collector.readings(TARGET_ID), undefined);
  });
});
