import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { MetricsSnapshot } from '../../../src/domain/metrics-snapshot.js';
import type { ServedTarget } from '../../../src/domain/metrics.js';
import { createCertificateAuthority, issueCertificate } from '../../../src/metrics-api/tls/certificates.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { mergeRecords, PeerRecords, preferredRecord } from '../../../src/runtime/peer-records.js';
import type { PeerTls } from '../../../src/runtime/peer-records.js';
import { FakeClock } from '../../fakes/fake-clock.js';

const T0 = Date.UTC(2026, 0, 1);

function record(name: string, timestampMs: number | null, busy?: number): ServedTarget {
  return {
    id: `flinkdeployment/ns/${name}`,
    kind: 'flinkdeployment',
    namespace: 'ns',
    name,
    jobId: null,
    windowSeconds: 60,
    timestampMs,
    freshUntilMs: timestampMs === null ? null : timestampMs + 30_000,
    metrics: { flink_busy_ratio: busy === undefined ? { unavailable: 'no-data' } : { value: busy } },
    object: {
      apiVersion: 'flink.apache.org/v1beta1',
      kind: 'FlinkDeployment',
      resource: 'flinkdeployments.flink.apache.org',
    },
    labels: {},
  };
}

const busyOf = (snapshot: MetricsSnapshot, name: string): unknown =>
  snapshot.named('ns', name)[0]?.metrics['flink_busy_ratio'];

describe('mergeRecords', () => {
  it('serves the owner’s record over this replica’s empty one of a target it does not own', () => {
    const own = new MetricsSnapshot([record('a', T0, 0.5), record('b', null)], { tick: 3, builtAtMs: T0 });
    const peerRecord = record('b', T0 - 1000, 0.7);
    const merged = mergeRecords(own, new Map([[peerRecord.id, peerRecord]]));
    assert.deepEqual(busyOf(merged, 'a'), { value: 0.5 });
    assert.deepEqual(busyOf(merged, 'b'), { value: 0.7 });
    assert.equal(merged.targets.length, 2);
    assert.equal(merged.tick, 3);
  });

  it('keeps a former owner’s values over a new owner’s warming window, then takes the newer values', () => {
    const former = record('a', T0, 0.5);
    const warming = record('a', T0 + 2000);
    assert.equal(preferredRecord(former, warming), former);
    assert.equal(preferredRecord(warming, former), former);
    const newer = record('a', T0 + 4000, 0.9);
    assert.equal(preferredRecord(former, newer), newer);
    assert.equal(preferredRecord(newer, former), newer);
  });

  it('takes a newer reason the job gave (not running) over older values', () => {
    const former = record('a', T0, 0.5);
    const stopped = {
      ...record('a', T0 + 2000),
      metrics: { flink_busy_ratio: { unavailable: 'job-not-running' as const } },
    };
    assert.equal(preferredRecord(former, stopped), stopped);
    assert.equal(preferredRecord(stopped, former), stopped);
  });

  it('serves only the targets this replica knows of, with its own labels', () => {
    const peerRecord = { ...record('c', T0, 0.1), labels: { team: 'old' } };
    const known = new Map([[peerRecord.id, peerRecord]]);
    assert.equal(mergeRecords(MetricsSnapshot.EMPTY, known).targets.length, 0);
    const own = new MetricsSnapshot([{ ...record('c', null), labels: { team: 'new' } }], {
      tick: 1,
      builtAtMs: T0,
    });
    const merged = mergeRecords(own, known);
    assert.deepEqual(busyOf(merged, 'c'), { value: 0.1 });
    assert.deepEqual(merged.targets[0]?.labels, { team: 'new' });
  });
});

describe('PeerRecords over mutual TLS', () => {
  let tls: PeerTls;
  let stranger: PeerTls;

  before(async () => {
    const ca = await createCertificateAuthority({ commonName: 'peer-ca' });
    const leaf = await issueCertificate(ca, { commonName: 'replica', usage: 'both' });
    tls = { certPem: leaf.certPem, keyPem: leaf.keyPem, caPem: ca.certPem };
    const otherCa = await createCertificateAuthority({ commonName: 'other-ca' });
    const otherLeaf = await issueCertificate(otherCa, { commonName: 'replica', usage: 'both' });
    stranger = { certPem: otherLeaf.certPem, keyPem: otherLeaf.keyPem, caPem: ca.certPem };
  });

  const started: PeerRecords[] = [];
  after(async () => {
    for (const peer of started) await peer.stop();
  });

  async function replica(
    identity: string,
    own: () => MetricsSnapshot,
    owns: (id: string) => boolean,
    peers: () => ReadonlyMap<string, string>,
    clock: FakeClock,
    certs: PeerTls = tls,
    fetches: string[] = [],
  ): Promise<{ peer: PeerRecords; address: string }> {
    const peer = new PeerRecords({
      identity,
      own: { snapshot: own },
      owns,
      peers,
      tls: certs,
      port: 0,
      host: '127.0.0.1',
      pollIntervalMs: 3_600_000,
      requestTimeoutMs: 5000,
      maxResponseBytes: 1024 * 1024,
      clock,
      logger: silentLogger,
      observer: { observePeerFetch: (result) => fetches.push(result) },
    });
    started.push(peer);
    const port = await peer.start();
    return { peer, address: `127.0.0.1:${port}` };
  }

  it('fetches only the targets a peer owns, keeps a gone peer’s records until stale, and refuses a stranger', async () => {
    const clock = new FakeClock(T0);
    let aSnapshot = new MetricsSnapshot([record('a', T0, 0.5), record('b', T0, 0.6)], {
      tick: 1,
      builtAtMs: T0,
    });
    const a = await replica(
      'a',
      () => aSnapshot,
      (id) => id.endsWith('/a'),
      () => new Map(),
      clock,
    );
    let peersOfB = new Map([['a', a.address]]);
    const bOwn = new MetricsSnapshot([record('a', null), record('b', null)], { tick: 1, builtAtMs: T0 });
    const fetchesOfB: string[] = [];
    const b = await replica(
      'b',
      () => bOwn,
      (id) => id.endsWith('/b'),
      () => peersOfB,
      clock,
      tls,
      fetchesOfB,
    );

    await b.peer.poll();
    let merged = b.peer.snapshot();
    assert.deepEqual(busyOf(merged, 'a'), { value: 0.5 });
    assert.deepEqual(busyOf(merged, 'b'), { unavailable: 'no-data' }, 'a does not own b: not handed out');
    assert.equal(b.peer.snapshot(), merged, 'the same object until something changes');

    // Nothing new published: answered 304, the merge unchanged.
    await b.peer.poll();
    assert.equal(b.peer.snapshot(), merged);

    aSnapshot = new MetricsSnapshot([record('a', T0 + 2000, 0.8)], { tick: 2, builtAtMs: T0 + 2000 });
    await b.peer.poll();
    merged = b.peer.snapshot();
    assert.deepEqual(busyOf(merged, 'a'), { value: 0.8 });

    // a is gone from the Leases: its records answer until they are stale, then they are dropped.
    peersOfB = new Map();
    await b.peer.poll();
    assert.deepEqual(busyOf(b.peer.snapshot(), 'a'), { value: 0.8 });
    clock.advance(32_001);
    await b.peer.poll();
    assert.deepEqual(busyOf(b.peer.snapshot(), 'a'), { unavailable: 'no-data' });

    // A client whose certificate the peer CA did not sign gets nothing.
    const cOwn = new MetricsSnapshot([record('a', null)], { tick: 1, builtAtMs: T0 });
    const fetchesOfC: string[] = [];
    const c = await replica(
      'c',
      () => cOwn,
      () => false,
      () => new Map([['a', a.address]]),
      clock,
      stranger,
      fetchesOfC,
    );
    await c.peer.poll();
    assert.deepEqual(busyOf(c.peer.snapshot(), 'a'), { unavailable: 'no-data' });
    assert.deepEqual(fetchesOfC, ['failed']);
    // b asked a three times while it was live: new records, nothing new, new records again.
    assert.deepEqual(fetchesOfB, ['updated', 'not_modified', 'updated']);
  });

  it('moves a peer’s record times onto its own clock: a peer running ahead neither wins nor outlives freshness', async () => {
    // a's clock runs 60 s ahead of b's: its record, 10 s old by a's clock, is 10 s old for b too.
    const aClock = new FakeClock(T0 + 60_000);
    const bClock = new FakeClock(T0);
    const aOwn = new MetricsSnapshot([record('a', T0 + 50_000, 0.5)], { tick: 1, builtAtMs: T0 + 50_000 });
    const a = await replica(
      'a',
      () => aOwn,
      () => true,
      () => new Map(),
      aClock,
    );
    const bOwn = new MetricsSnapshot([record('a', null)], { tick: 1, builtAtMs: T0 });
    const b = await replica(
      'b',
      () => bOwn,
      () => false,
      () => new Map([['a', a.address]]),
      bClock,
    );
    await b.peer.poll();
    const served = b.peer.snapshot().named('ns', 'a')[0];
    assert.ok(served !== undefined);
    assert.deepEqual(served.metrics['flink_busy_ratio'], { value: 0.5 });
    assert.equal(served.timestampMs, T0 - 10_000);
    assert.equal(served.freshUntilMs, T0 + 20_000);
    // Stale 20 s later by b's clock (not 80 s later, as a's times would say).
    bClock.advance(20_001);
    await b.peer.poll();
    assert.deepEqual(busyOf(b.peer.snapshot(), 'a'), { unavailable: 'no-data' });
  });

  it('drops an answer given under another identity than the Lease says', async () => {
    const clock = new FakeClock(T0);
    const own = new MetricsSnapshot([record('a', T0, 0.5)], { tick: 1, builtAtMs: T0 });
    const a = await replica(
      'a',
      () => own,
      () => true,
      () => new Map(),
      clock,
    );
    const bOwn = new MetricsSnapshot([record('a', null)], { tick: 1, builtAtMs: T0 });
    const asX = await replica(
      'b',
      () => bOwn,
      () => false,
      () => new Map([['x', a.address]]),
      clock,
    );
    await asX.peer.poll();
    assert.deepEqual(busyOf(asX.peer.snapshot(), 'a'), { unavailable: 'no-data' });
    const asA = await replica(
      'b',
      () => bOwn,
      () => false,
      () => new Map([['a', a.address]]),
      clock,
    );
    await asA.peer.poll();
    assert.deepEqual(busyOf(asA.peer.snapshot(), 'a'), { value: 0.5 }, 'the same peer under its own name');
  });
});
