// The informer on the in-memory Kubernetes: one LIST, watches resumed from the last resourceVersion,
// a new LIST only after 410 Gone, `missing` for a resource that is not served, and back-off and
// resumption after every kind of failure.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Informer } from '../../../src/kube/informer.js';
import type { InformerEventType } from '../../../src/kube/informer.js';
import type { KubeObject } from '../../../src/kube/objects.js';
import { InMemoryKube } from '../../fakes/kube/in-memory-kube.js';

const COLLECTION = '/apis/x/v1/things';
const pathOf = (name: string): string => `/apis/x/v1/namespaces/ns/things/${name}`;

/** A Kubernetes serving `things` (x/v1), a custom kind with no subresources. */
function kubeWithThings(): InMemoryKube {
  const kube = new InMemoryKube();
  kube.serve({
    group: 'x',
    version: 'v1',
    plural: 'things',
    kind: 'Thing',
    namespaced: true,
    statusSubresource: false,
    custom: true,
    generation: true,
  });
  return kube;
}

const thing = (name: string, data = 0): KubeObject => ({
  apiVersion: 'x/v1',
  kind: 'Thing',
  metadata: { name, namespace: 'ns' },
  spec: { data },
});

/** `name@resourceVersion`, as the tests write what the informer reported. */
const at = (object: KubeObject | undefined): string =>
  `${object?.metadata.name ?? ''}@${object?.metadata.resourceVersion ?? ''}`;

function informerOf(
  kube: InMemoryKube,
  seen: [InformerEventType, string][],
  onMissing?: () => void,
): Informer {
  return new Informer(kube, {
    path: COLLECTION,
    onEvent: (type, o) => seen.push([type, at(o)]),
    ...(onMissing === undefined ? {} : { onMissing }),
    sleep: () => Promise.resolve(),
    watchTimeoutSeconds: () => 300,
  });
}

/** Lets the informer's loop run until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(done(), 'condition not reached');
}

const watches = (kube: InMemoryKube) => kube.requests.filter((r) => r.verb === 'watch');
const lists = (kube: InMemoryKube) => kube.requests.filter((r) => r.verb === 'list');

/** An informer synced and watching. */
async function watching(kube: InMemoryKube): Promise<{
  readonly informer: Informer;
  readonly seen: [InformerEventType, string][];
}> {
  const seen: [InformerEventType, string][] = [];
  const informer = informerOf(kube, seen);
  informer.start();
  await informer.waitForSync();
  await until(() => kube.openWatches === 1);
  return { informer, seen };
}

describe('Informer', () => {
  it('lists once, then resumes each ended watch from the last resourceVersion', async () => {
    const kube = kubeWithThings();
    const a5 = kube.apply(thing('a'));
    const seen: [InformerEventType, string][] = [];
    const informer = informerOf(kube, seen);
    informer.start();
    await informer.waitForSync();
    const listed = String(kube.revision);
    await until(() => kube.openWatches === 1);

    const b = kube.apply(thing('b'));
    kube.closeWatches();
    await until(() => kube.openWatches === 1);
    const a = kube.patchObject(pathOf('a'), { spec: { data: 1 } });
    kube.deleteObject(pathOf('b'));
    const deleted = String(kube.revision);
    kube.closeWatches();
    await until(() => watches(kube).length === 3 && kube.openWatches === 1);
    await informer.stop();

    assert.equal(lists(kube).length, 1, 'no LIST after the first');
    assert.deepEqual(
      watches(kube).map((q) => q.query['resourceVersion']),
      [listed, b.metadata.resourceVersion, deleted],
    );
    assert.equal(watches(kube)[0]?.query['allowWatchBookmarks'], 'true');
    assert.deepEqual(seen, [
      ['added', at(a5)],
      ['added', at(b)],
      ['updated', at(a)],
      ['deleted', `b@${deleted}`],
    ]);
    assert.deepEqual(
      informer.list().map((o) => o.metadata.name),
      ['a'],
    );
    assert.equal(kube.openWatches, 0, 'stop ends the watch');
  });

  it('resumes from the resourceVersion of a bookmark, which names no object', async () => {
    const kube = kubeWithThings();
    kube.apply(thing('a'));
    const { informer } = await watching(kube);
    // Writes elsewhere move the revision on; the bookmark carries it.
    kube.apply({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'l', namespace: 'ns' },
    });
    kube.bookmark();
    kube.closeWatches();
    await until(() => watches(kube).length === 2);
    await informer.stop();
    assert.equal(watches(kube)[1]?.query['resourceVersion'], String(kube.revision));
  });

  for (const how of [
    'an ERROR event on the watch (compacted history)',
    'a watch refused with HTTP 410',
  ] as const) {
    it(`lists again after 410 Gone (${how}), reporting what changed and vanished meanwhile`, async () => {
      const kube = kubeWithThings();
      const a5 = kube.apply(thing('a'));
      const b6 = kube.apply(thing('b'));
      const seen: [InformerEventType, string][] = [];
      const informer = informerOf(kube, seen);
      informer.start();
      await until(() => kube.openWatches === 1);
      // While no watch is open: a change, a deletion, and the history gone.
      if (how === 'a watch refused with HTTP 410') kube.inject({ verb: 'watch' }, { status: 410 });
      kube.closeWatches();
      const a25 = kube.patchObject(pathOf('a'), { spec: { data: 25 } });
      kube.deleteObject(pathOf('b'));
      if (how !== 'a watch refused with HTTP 410') kube.compact();
      const relisted = String(kube.revision);
      await until(() => watches(kube).length === 3 && kube.openWatches === 1);
      await informer.stop();
      assert.equal(lists(kube).length, 2);
      assert.equal(watches(kube)[2]?.query['resourceVersion'], relisted);
      assert.deepEqual(seen, [
        ['added', at(a5)],
        ['added', at(b6)],
        ['updated', at(a25)],
        ['deleted', at(b6)],
      ]);
    });
  }

  it('keeps an injected write over older watch events, and reports its echo once', async () => {
    const kube = kubeWithThings();
    const a5 = kube.apply(thing('a'));
    const { informer, seen } = await watching(kube);
    // The watch lags: someone's write, then ours, whose answer comes before either event.
    kube.holdWatchEvents();
    const a16 = kube.patchObject(pathOf('a'), { spec: { data: 16 } });
    const answer = await kube.request({ method: 'PATCH', path: pathOf('a'), body: { spec: { data: 20 } } });
    assert.equal(answer.status, 200);
    const a20 = answer.body as KubeObject;
    informer.inject(a20); // the answer of this process's own write
    kube.releaseWatchEvents(); // someone's earlier write, delivered late; then our echo
    assert.equal(informer.get('ns', 'a')?.metadata.resourceVersion, a20.metadata.resourceVersion);
    const a21 = kube.patchObject(pathOf('a'), { spec: { data: 21 } });
    informer.inject(a16); // an answer that lost the race: not put back either
    assert.equal(informer.get('ns', 'a')?.metadata.resourceVersion, a21.metadata.resourceVersion);
    await informer.stop();
    assert.deepEqual(seen, [
      ['added', at(a5)],
      ['updated', at(a20)],
      ['updated', at(a21)],
    ]);
  });

  it('compares only resourceVersions that are etcd revisions: with opaque ones the newest event wins', async () => {
    const kube = kubeWithThings();
    const { informer, seen } = await watching(kube);
    const opaque = (resourceVersion: string) => ({
      metadata: { name: 'o', namespace: 'ns', resourceVersion },
    });
    kube.sendEvent({ type: 'ADDED', object: opaque('x2') });
    kube.sendEvent({ type: 'MODIFIED', object: opaque('x1') });
    await informer.stop();
    assert.deepEqual(seen, [
      ['added', 'o@x2'],
      ['updated', 'o@x1'],
    ]);
  });

  it('reports our write once whichever comes first, its answer or its echo; an older deletion keeps a re-creation', async () => {
    const kube = kubeWithThings();
    const a5 = kube.apply(thing('a'));
    const { informer, seen } = await watching(kube);
    // The echo comes ahead of the answer (the watch is not behind).
    const answer = await kube.request({ method: 'PATCH', path: pathOf('a'), body: { spec: { data: 20 } } });
    const a20 = answer.body as KubeObject;
    informer.inject(a20);
    // Deleted by someone, re-created by us (our answer first), the deletion delivered late.
    kube.holdWatchEvents();
    kube.deleteObject(pathOf('a'));
    const created = await kube.request({
      method: 'POST',
      path: '/apis/x/v1/namespaces/ns/things',
      body: thing('a', 31),
    });
    assert.equal(created.status, 201);
    const a31 = created.body as KubeObject;
    informer.inject(a31);
    kube.releaseWatchEvents();
    assert.equal(informer.get('ns', 'a')?.metadata.resourceVersion, a31.metadata.resourceVersion);
    await informer.stop();
    assert.deepEqual(seen, [
      ['added', at(a5)],
      ['updated', at(a20)],
      ['updated', at(a31)],
    ]);
  });

  it('reports a resource that is not served and stops', async () => {
    const kube = new InMemoryKube();
    let missing = 0;
    const informer = informerOf(kube, [], () => (missing += 1));
    informer.start();
    await until(() => missing === 1);
    await until(() => !informer.running);
    assert.equal(watches(kube).length, 0);
  });

  it('retries a failed LIST with back-off', async () => {
    const kube = kubeWithThings();
    kube.inject({ verb: 'list' }, { status: 500 });
    const informer = informerOf(kube, []);
    informer.start();
    await informer.waitForSync();
    await informer.stop();
    assert.equal(lists(kube).length, 2);
  });

  it('resumes from the last resourceVersion, backing off, after a refused watch, a network failure, an ERROR event and a throwing listener', async () => {
    const kube = kubeWithThings();
    kube.apply(thing('a'));
    const listed = String(kube.revision);
    kube.inject({ verb: 'watch' }, { status: 500, message: 'etcd down' });
    kube.inject({ verb: 'watch' }, { network: 'connection reset' });
    const sleeps: number[] = [];
    const seen: string[] = [];
    const informer = new Informer(kube, {
      path: COLLECTION,
      onEvent: (_type, o) => {
        seen.push(o.metadata.name);
        if (o.metadata.name === 'boom') throw new Error('listener broke');
      },
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
      backoffInitialMs: 100,
      backoffMaxMs: 1_000,
      watchTimeoutSeconds: () => 300,
    });
    informer.start();
    await until(() => watches(kube).length === 3 && kube.openWatches === 1);
    kube.sendEvent({ type: 'ERROR', object: { kind: 'Status', code: 500, message: 'internal error' } });
    kube.inject({ verb: 'watch' }, { status: 403, message: 'forbidden' });
    kube.closeWatches();
    await until(() => watches(kube).length === 5 && kube.openWatches === 1);
    const boom = kube.apply(thing('boom'));
    await until(() => watches(kube).length === 6);
    assert.ok(informer.running);
    await informer.stop();
    assert.equal(lists(kube).length, 1, 'no LIST: every failure resumes the watch');
    assert.deepEqual(
      watches(kube).map((q) => q.query['resourceVersion']),
      [listed, listed, listed, listed, listed, boom.metadata.resourceVersion],
    );
    assert.deepEqual(seen, ['a', 'boom']);
    // Exponential with jitter: each wait within [base/2, base], the base doubling up to the cap.
    assert.equal(sleeps.length, 5);
    [100, 200, 400, 800, 1_000].forEach((base, i) => {
      const slept = sleeps[i] ?? -1;
      assert.ok(slept >= base / 2 && slept <= base, `sleep ${i}: ${slept} ms, base ${base} ms`);
    });
  });

  it('retries a 404 LIST with back-off when no one handles a missing resource', async () => {
    const kube = new InMemoryKube();
    const lease = kube.apply({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'a', namespace: 'ns' },
    });
    kube.inject({ verb: 'list' }, { status: 404 });
    let sleeps = 0;
    const informer = new Informer(kube, {
      path: '/apis/coordination.k8s.io/v1/namespaces/ns/leases',
      onEvent: () => undefined,
      sleep: () => {
        sleeps += 1;
        return Promise.resolve();
      },
    });
    informer.start();
    await informer.waitForSync();
    await informer.stop();
    assert.equal(lists(kube).length, 2);
    assert.equal(sleeps, 1);
    assert.equal(informer.get('ns', 'a')?.metadata.resourceVersion, lease.metadata.resourceVersion);
  });

  it('backs off between LISTs when every watch is answered 410 at once', async () => {
    const kube = kubeWithThings();
    kube.inject({ verb: 'watch', times: 3 }, { status: 410 });
    let sleeps = 0;
    const informer = new Informer(kube, {
      path: COLLECTION,
      onEvent: () => undefined,
      sleep: () => {
        sleeps += 1;
        return Promise.resolve();
      },
    });
    informer.start();
    await until(() => watches(kube).length === 4);
    await informer.stop();
    assert.equal(lists(kube).length, 4);
    assert.equal(sleeps, 3);
  });

  it('tells when the first LIST was tried, and whether it filled the cache', async () => {
    const failing = kubeWithThings();
    failing.apply(thing('a'));
    failing.inject({ verb: 'list' }, { status: 403 });
    const informer = informerOf(failing, []);
    const first = informer.waitForFirstList();
    informer.start();
    assert.equal(await first, false);
    await informer.waitForSync();
    assert.equal(await informer.waitForFirstList(), true);
    await informer.stop();

    const working = kubeWithThings();
    working.apply(thing('a'));
    const synced = informerOf(working, []);
    synced.start();
    assert.equal(await synced.waitForFirstList(), true);
    await synced.stop();
  });
});
