// ReplicaLeases on the in-memory Kubernetes (resourceVersion-guarded writes, a watch by label) with a
// fake clock. As in the leader election's tests, a round is "move the fake clock, fire the check
// interval once, let the promises settle": nothing is timed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';

import { microTime } from '../../../src/kube/events.js';
import type { LeaseSpec } from '../../../src/kube/lease.js';
import {
  GC_AFTER_DURATIONS,
  PEER_ADDRESS_ANNOTATION,
  REPLICA_SET_LABEL,
  ReplicaLeases,
  replicaLeaseName,
} from '../../../src/kube/replica-leases.js';
import type { KubeClient } from '../../../src/kube/kube-client.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { InMemoryKube } from '../../fakes/kube/in-memory-kube.js';

const NAMESPACE = 'ns';
const COLLECTION = `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases`;
/** 15 s: renewals every 5 s, the fence at 10 s. */
const LEASE_MS = 15_000;
const CHECK_MS = 1_000;

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

function harness(t: TestContext) {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const kube = new InMemoryKube();
  const clock = new FakeClock();
  const replicas: ReplicaLeases[] = [];
  const changes = new Map<string, number>();
  const replica = (identity: string, replicaSet = 'slotscaler', peerAddress?: string): ReplicaLeases => {
    const leases = new ReplicaLeases({
      client: kube,
      namespace: NAMESPACE,
      replicaSet,
      identity,
      ...(peerAddress === undefined ? {} : { peerAddress }),
      leaseDurationMs: LEASE_MS,
      checkIntervalMs: CHECK_MS,
      clock,
      logger: silentLogger,
      onChange: () => changes.set(identity, (changes.get(identity) ?? 0) + 1),
    });
    replicas.push(leases);
    return leases;
  };
  const round = async (ms: number): Promise<void> => {
    clock.advance(ms);
    t.mock.timers.tick(CHECK_MS);
    await settle();
  };
  const stopAll = async (): Promise<void> => {
    for (const leases of replicas) await leases.stop();
    assert.equal(kube.openWatches, 0, 'every watch ended');
  };
  /** A replica's Lease as another process (a replica in another pod) wrote it. */
  const writeAsOther = (identity: string, spec: LeaseSpec, replicaSet = 'slotscaler'): void => {
    kube.apply({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: replicaLeaseName(replicaSet, identity),
        namespace: NAMESPACE,
        labels: { [REPLICA_SET_LABEL]: replicaSet },
      },
      spec,
    });
  };
  const lease = (identity: string) => kube.read(`${COLLECTION}/${replicaLeaseName('slotscaler', identity)}`);
  return { kube, clock, replica, round, stopAll, writeAsOther, lease, changes };
}

const sorted = (set: ReadonlySet<string>): string[] => [...set].sort();

describe('replicaLeaseName', () => {
  it('is the set name and the identity as a DNS subdomain', () => {
    assert.equal(replicaLeaseName('slotscaler', 'slotscaler-7d9f-x2'), 'slotscaler-slotscaler-7d9f-x2');
    assert.equal(replicaLeaseName('slotscaler', 'Host_Name.local'), 'slotscaler-host-name.local');
  });
});

describe('ReplicaLeases', () => {
  it('creates its own labelled Lease, renews it every renew interval on the version it saw, and counts itself live', async (t) => {
    const h = harness(t);
    const a = h.replica('a');
    await a.start();
    await settle();
    const created = h.lease('a');
    assert.ok(created !== undefined);
    assert.equal(created.metadata.labels?.[REPLICA_SET_LABEL], 'slotscaler');
    assert.deepEqual(
      {
        holder: (created.spec as LeaseSpec).holderIdentity,
        duration: (created.spec as LeaseSpec).leaseDurationSeconds,
      },
      { holder: 'a', duration: 15 },
    );
    assert.ok(a.holds());
    assert.deepEqual(sorted(a.live()), ['a']);

    await h.round(4_000);
    assert.equal(h.lease('a')?.metadata.resourceVersion, created.metadata.resourceVersion, 'not due yet');
    await h.round(1_000);
    const renewal = h.kube.requests.filter((r) => r.verb === 'update' && r.resource === 'leases');
    assert.equal(renewal.length, 1);
    assert.equal(
      (renewal[0]?.body as { metadata: { resourceVersion?: string } }).metadata.resourceVersion,
      created.metadata.resourceVersion,
    );
    assert.equal((h.lease('a')?.spec as LeaseSpec).renewTime, microTime(h.clock.nowMs()));
    await h.stopAll();
  });

  it('sees the other replicas of its set, not those of another set', async (t) => {
    const h = harness(t);
    const a = h.replica('a');
    const b = h.replica('b');
    h.replica('c', 'other');
    await a.start();
    await b.start();
    await h.round(0);
    assert.deepEqual(sorted(a.live()), ['a', 'b']);
    assert.deepEqual(sorted(b.live()), ['a', 'b']);
    assert.ok((h.changes.get('a') ?? 0) >= 2, 'a was told when b came');
    await h.stopAll();
  });

  it('writes its peer address into its Lease, keeps it through renewals, and lists the live peers’ addresses', async (t) => {
    const h = harness(t);
    const a = h.replica('a', 'slotscaler', '10.0.0.1:6444');
    const b = h.replica('b', 'slotscaler', '10.0.0.2:6444');
    const c = h.replica('c');
    await a.start();
    await b.start();
    await c.start();
    await h.round(0);
    assert.equal(h.lease('a')?.metadata.annotations?.[PEER_ADDRESS_ANNOTATION], '10.0.0.1:6444');
    assert.deepEqual(
      [...a.peerAddresses()],
      [['b', '10.0.0.2:6444']],
      'not itself, not one without an address',
    );
    for (let i = 0; i < 6; i++) await h.round(1_000);
    assert.equal(
      h.lease('a')?.metadata.annotations?.[PEER_ADDRESS_ANNOTATION],
      '10.0.0.1:6444',
      'after a renewal',
    );
    await b.stop();
    await h.round(0);
    assert.deepEqual([...a.peerAddresses()], [], 'b gone');
    await h.stopAll();
  });

  it('a Lease no longer renewed stays live until unchanged for its duration by this replica’s clock', async (t) => {
    const h = harness(t);
    // Its renewTime is in the distant past: only our own clock counts.
    h.writeAsOther('dead', {
      holderIdentity: 'dead',
      leaseDurationSeconds: 15,
      renewTime: microTime(h.clock.nowMs() - 3_600_000),
    });
    const a = h.replica('a');
    await a.start();
    assert.deepEqual(sorted(a.live()), ['a', 'dead']);
    const before = h.changes.get('a') ?? 0;
    for (let i = 0; i < 14; i++) await h.round(1_000);
    assert.deepEqual(sorted(a.live()), ['a', 'dead'], '14 s unchanged');
    await h.round(1_000);
    assert.deepEqual(sorted(a.live()), ['a'], '15 s unchanged: expired');
    assert.ok((h.changes.get('a') ?? 0) > before, 'told of the expiry');
    await h.stopAll();
  });

  it('fences itself when renewals fail for the renew deadline, before the others may take its targets', async (t) => {
    const h = harness(t);
    const a = h.replica('a');
    await a.start();
    h.kube.inject(
      { verb: ['update'], resource: 'leases', times: Infinity },
      { status: 500, message: 'etcd away' },
    );
    for (let i = 0; i < 9; i++) await h.round(1_000);
    assert.ok(a.holds(), '9 s after the last renewal');
    await h.round(1_000);
    assert.equal(a.holds(), false, '10 s: past the renew deadline (2/3 of 15 s)');
    assert.deepEqual(sorted(a.live()), [], 'not live in its own view either');
    await h.stopAll();
  });

  it('fences itself when its watch stops bringing its renewals back, though the renewals go through', async (t) => {
    const h = harness(t);
    let stalled = false;
    // The same server, but a watch that goes silent: a stalled stream, not a closed one.
    const client: KubeClient = {
      request: (request) => h.kube.request(request),
      watch: (path, query, onEvent, options) =>
        h.kube.watch(
          path,
          query,
          (event) => {
            if (!stalled) onEvent(event);
          },
          options,
        ),
    };
    const a = new ReplicaLeases({
      client,
      namespace: NAMESPACE,
      replicaSet: 'slotscaler',
      identity: 'a',
      leaseDurationMs: LEASE_MS,
      checkIntervalMs: CHECK_MS,
      clock: h.clock,
      logger: silentLogger,
    });
    t.after(() => a.stop());
    await a.start();
    await settle();
    assert.ok(a.holds());
    stalled = true;
    for (let i = 0; i < 9; i++) await h.round(1_000);
    assert.ok(a.holds(), 'the renewal seen 9 s ago');
    const renewals = h.kube.requests.filter((r) => r.verb === 'update' && r.resource === 'leases').length;
    assert.ok(renewals >= 1, 'it renewed meanwhile');
    await h.round(1_000);
    assert.equal(a.holds(), false, 'no renewal seen back for the renew deadline');
    stalled = false;
    await h.round(5_000);
    assert.ok(a.holds(), 'the watch delivers again');
  });

  it('stop() deletes its Lease, so the others see it gone at once', async (t) => {
    const h = harness(t);
    const a = h.replica('a');
    const b = h.replica('b');
    await a.start();
    await b.start();
    await h.round(0);
    await b.stop();
    await settle();
    assert.equal(h.lease('b'), undefined);
    assert.deepEqual(sorted(a.live()), ['a']);
    await h.stopAll();
  });

  it(`deletes a Lease unchanged for ${GC_AFTER_DURATIONS} durations, guarded by its resourceVersion`, async (t) => {
    const h = harness(t);
    h.writeAsOther('gone', { holderIdentity: 'gone', leaseDurationSeconds: 15 });
    const a = h.replica('a');
    await a.start();
    for (let i = 0; i < GC_AFTER_DURATIONS * 15 - 1; i++) await h.round(1_000);
    assert.notEqual(h.lease('gone'), undefined, 'not yet');
    await h.round(1_000);
    assert.equal(h.lease('gone'), undefined);
    const deletes = h.kube.requests.filter((r) => r.verb === 'delete');
    assert.equal(deletes.length, 1);
    assert.ok(
      (deletes[0]?.body as { preconditions?: { resourceVersion?: string } }).preconditions?.resourceVersion,
    );
    await h.stopAll();
  });
});
