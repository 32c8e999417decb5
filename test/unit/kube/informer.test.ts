// The informer over a scripted KubeClient: one LIST, watches resumed from the last resourceVersion,
// a new LIST only after 410 Gone, `missing` for a resource that is not served, and back-off and
// resumption after every kind of failure.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { KubeUnreachableError } from '../../../src/errors.js';
import { Informer } from '../../../src/kube/informer.js';
import type { InformerEventType } from '../../../src/kube/informer.js';
import type {
  KubeClient,
  KubeRequest,
  KubeResponse,
  WatchEnd,
  WatchEvent,
} from '../../../src/kube/kube-client.js';

type WatchScript = (query: Readonly<Record<string, string>>, emit: (event: WatchEvent) => void) => WatchEnd;

class ScriptedClient implements KubeClient {
  lists: string[] = [];
  watches: Record<string, string>[] = [];
  listAnswers: KubeResponse[] = [];
  watchScripts: WatchScript[] = [];

  request(request: KubeRequest): Promise<KubeResponse> {
    this.lists.push(request.path);
    return Promise.resolve(this.listAnswers.shift() ?? { status: 500, headers: {}, body: {} });
  }

  async watch(
    _path: string,
    query: Readonly<Record<string, string>>,
    onEvent: (event: WatchEvent) => void,
    options: { readonly signal: AbortSignal },
  ): Promise<WatchEnd> {
    this.watches.push({ ...query });
    const script = this.watchScripts.shift();
    if (script !== undefined) return script(query, onEvent);
    // No more script: hang until stopped.
    if (options.signal.aborted) return { kind: 'closed' };
    await new Promise<void>((resolve) =>
      options.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    return { kind: 'closed' };
  }
}

const object = (name: string, resourceVersion: string) => ({
  metadata: { name, namespace: 'ns', resourceVersion },
});
const list = (resourceVersion: string, ...items: unknown[]): KubeResponse => ({
  status: 200,
  headers: {},
  body: { metadata: { resourceVersion }, items },
});

function informerOf(
  client: KubeClient,
  seen: [InformerEventType, string][],
  onMissing?: () => void,
): Informer {
  return new Informer(client, {
    path: '/apis/x/v1/things',
    onEvent: (type, o) => seen.push([type, `${o.metadata.name}@${o.metadata.resourceVersion ?? ''}`]),
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

/** An informer synced from `listed`, and `emit` to deliver events on the watch it then opened. */
async function watching(listed: KubeResponse): Promise<{
  readonly informer: Informer;
  readonly emit: (event: WatchEvent) => void;
  readonly seen: [InformerEventType, string][];
}> {
  const client = new ScriptedClient();
  client.listAnswers.push(listed);
  let onWatchEvent: ((event: WatchEvent) => void) | undefined;
  client.watchScripts.push((_q, onEvent) => {
    onWatchEvent = onEvent;
    return { kind: 'closed' };
  });
  const seen: [InformerEventType, string][] = [];
  const informer = informerOf(client, seen);
  informer.start();
  await until(() => onWatchEvent !== undefined);
  return { informer, seen, emit: (event) => onWatchEvent?.(event) };
}

describe('Informer', () => {
  it('lists once, then resumes each ended watch from the last resourceVersion (bookmarks included)', async () => {
    const client = new ScriptedClient();
    client.listAnswers.push(list('10', object('a', '5')));
    client.watchScripts.push((_q, emit) => {
      emit({ type: 'ADDED', object: object('b', '11') });
      emit({ type: 'BOOKMARK', object: { metadata: { name: '', resourceVersion: '15' } } });
      return { kind: 'closed' };
    });
    client.watchScripts.push((_q, emit) => {
      emit({ type: 'MODIFIED', object: object('a', '16') });
      emit({ type: 'DELETED', object: object('b', '17') });
      return { kind: 'closed' };
    });
    const seen: [InformerEventType, string][] = [];
    const informer = informerOf(client, seen);
    informer.start();
    await informer.waitForSync();
    await until(() => client.watches.length === 3);
    await informer.stop();
    assert.equal(client.lists.length, 1, 'no LIST after the first');
    assert.deepEqual(
      client.watches.map((q) => q['resourceVersion']),
      ['10', '15', '17'],
    );
    assert.equal(client.watches[0]?.['allowWatchBookmarks'], 'true');
    assert.deepEqual(seen, [
      ['added', 'a@5'],
      ['added', 'b@11'],
      ['updated', 'a@16'],
      ['deleted', 'b@17'],
    ]);
    assert.deepEqual(
      informer.list().map((o) => o.metadata.name),
      ['a'],
    );
  });

  it('lists again after 410 Gone, reporting what vanished meanwhile', async () => {
    const client = new ScriptedClient();
    client.listAnswers.push(list('10', object('a', '5'), object('b', '6')), list('30', object('a', '25')));
    client.watchScripts.push(() => ({ kind: 'http', status: 410, body: {} }));
    const seen: [InformerEventType, string][] = [];
    const informer = informerOf(client, seen);
    informer.start();
    await until(() => client.watches.length === 2);
    await informer.stop();
    assert.equal(client.lists.length, 2);
    assert.equal(client.watches[1]?.['resourceVersion'], '30');
    assert.deepEqual(seen, [
      ['added', 'a@5'],
      ['added', 'b@6'],
      ['updated', 'a@25'],
      ['deleted', 'b@6'],
    ]);
  });

  it('keeps an injected write over older watch events, and reports its echo once', async () => {
    const { informer, emit, seen } = await watching(
      list('10', object('a', '5'), { metadata: { name: 'o', namespace: 'ns', resourceVersion: 'x2' } }),
    );
    informer.inject(object('a', '20')); // the answer of this process's own write
    emit({ type: 'MODIFIED', object: object('a', '16') }); // someone's earlier write, delivered late
    assert.equal(informer.get('ns', 'a')?.metadata.resourceVersion, '20');
    emit({ type: 'MODIFIED', object: object('a', '20') }); // the watch brings our write
    emit({ type: 'MODIFIED', object: object('a', '21') });
    informer.inject(object('a', '18')); // an answer that lost the race: not put back either
    // Versions that are not etcd revisions are not compared: the newest event wins.
    emit({ type: 'MODIFIED', object: { metadata: { name: 'o', namespace: 'ns', resourceVersion: 'x1' } } });
    await informer.stop();
    assert.deepEqual(seen, [
      ['added', 'a@5'],
      ['added', 'o@x2'],
      ['updated', 'a@20'],
      ['updated', 'a@21'],
      ['updated', 'o@x1'],
    ]);
    assert.equal(informer.get('ns', 'a')?.metadata.resourceVersion, '21');
  });

  it('reports our write once whichever comes first, its answer or its echo; an older deletion keeps a re-creation', async () => {
    const { informer, emit, seen } = await watching(list('10', object('a', '5')));
    emit({ type: 'MODIFIED', object: object('a', '20') }); // the echo, ahead of the answer
    informer.inject(object('a', '20')); // the answer of the same write
    // Deleted at 30 by someone, re-created by us at 31 (our answer first), the deletion delivered late.
    informer.inject(object('a', '31'));
    emit({ type: 'DELETED', object: object('a', '30') });
    assert.equal(informer.get('ns', 'a')?.metadata.resourceVersion, '31');
    await informer.stop();
    assert.deepEqual(seen, [
      ['added', 'a@5'],
      ['updated', 'a@20'],
      ['updated', 'a@31'],
    ]);
  });

  it('reports a resource that is not served and stops', async () => {
    const client = new ScriptedClient();
    client.listAnswers.push({ status: 404, headers: {}, body: {} });
    let missing = 0;
    const informer = informerOf(client, [], () => (missing += 1));
    informer.start();
    await until(() => missing === 1);
    await until(() => !informer.running);
    assert.equal(client.watches.length, 0);
  });

  it('retries a failed LIST with back-off', async () => {
    const client = new ScriptedClient();
    client.listAnswers.push({ status: 500, headers: {}, body: {} }, list('3'));
    const informer = informerOf(client, []);
    informer.start();
    await informer.waitForSync();
    await informer.stop();
    assert.equal(client.lists.length, 2);
  });

  it('resumes from the last resourceVersion, backing off, after a refused watch, a network failure, an ERROR event and a throwing listener', async () => {
    const client = new ScriptedClient();
    client.listAnswers.push(list('10', object('a', '5')));
    client.watchScripts.push(() => ({ kind: 'http', status: 500, body: { message: 'etcd down' } }));
    client.watchScripts.push(() => {
      throw new KubeUnreachableError('https://api', 'connection reset');
    });
    client.watchScripts.push((_q, emit) => {
      emit({ type: 'ERROR', object: { kind: 'Status', code: 500, message: 'internal error' } });
      return { kind: 'closed' };
    });
    client.watchScripts.push(() => ({ kind: 'http', status: 403, body: { message: 'forbidden' } }));
    client.watchScripts.push((_q, emit) => {
      emit({ type: 'ADDED', object: object('boom', '11') });
      return { kind: 'closed' };
    });
    const sleeps: number[] = [];
    const seen: string[] = [];
    const informer = new Informer(client, {
      path: '/api/v1/namespaces/kube-system/configmaps',
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
    await until(() => client.watches.length === 6);
    assert.ok(informer.running);
    await informer.stop();
    assert.equal(client.lists.length, 1, 'no LIST: every failure resumes the watch');
    assert.deepEqual(
      client.watches.map((q) => q['resourceVersion']),
      ['10', '10', '10', '10', '10', '11'],
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
    const client = new ScriptedClient();
    client.listAnswers.push({ status: 404, headers: {}, body: {} }, list('3', object('a', '2')));
    let sleeps = 0;
    const informer = new Informer(client, {
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
    assert.equal(client.lists.length, 2);
    assert.equal(sleeps, 1);
    assert.equal(informer.get('ns', 'a')?.metadata.resourceVersion, '2');
  });

  it('backs off between LISTs when every watch is answered 410 at once', async () => {
    const client = new ScriptedClient();
    const gone = (): WatchEnd => ({ kind: 'http', status: 410, body: {} });
    client.listAnswers.push(list('3'), list('4'), list('5'), list('6'));
    client.watchScripts.push(gone, gone, gone);
    let sleeps = 0;
    const informer = new Informer(client, {
      path: '/apis/x/v1/things',
      onEvent: () => undefined,
      sleep: () => {
        sleeps += 1;
        return Promise.resolve();
      },
    });
    informer.start();
    await until(() => client.watches.length === 4);
    await informer.stop();
    assert.equal(client.lists.length, 4);
    assert.equal(sleeps, 3);
  });

  it('tells when the first LIST was tried, and whether it filled the cache', async () => {
    const failing = new ScriptedClient();
    failing.listAnswers.push({ status: 403, headers: {}, body: {} }, list('7', object('a', '6')));
    const informer = informerOf(failing, []);
    const first = informer.waitForFirstList();
    informer.start();
    assert.equal(await first, false);
    await informer.waitForSync();
    assert.equal(await informer.waitForFirstList(), true);
    await informer.stop();

    const working = new ScriptedClient();
    working.listAnswers.push(list('7', object('a', '6')));
    const synced = informerOf(working, []);
    synced.start();
    assert.equal(await synced.waitForFirstList(), true);
    await synced.stop();
  });
});
