// KubeScaleTargetWriter on the in-memory Kubernetes, with a token bucket that sleeps on a fake clock:
// every request of a plan takes a token, the first failed step ends the plan, and each answer is
// classified for the loop; then `classify` and the TokenBucket on their own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { WriteStep } from '../../../src/kube/adapters/adapter.js';
import { retryAfterMs } from '../../../src/kube/kube-client.js';
import type { KubeClient } from '../../../src/kube/kube-client.js';
import { objectPath } from '../../../src/kube/objects.js';
import { TokenBucket } from '../../../src/lib/token-bucket.js';
import { classify, KubeScaleTargetWriter } from '../../../src/kube/writer.js';
import type { WriteOutcome } from '../../../src/kube/writer.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { InMemoryKube } from '../../fakes/kube/in-memory-kube.js';
import type { Fault } from '../../fakes/kube/in-memory-kube.js';

const DEPLOYMENTS = { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' };

/** The path of Deployment `name` in namespace `ns`. */
const at = (name: string): string => objectPath(DEPLOYMENTS, 'ns', name);

/** A Kubernetes holding a Deployment of each name (namespace `ns`, 1 replica). */
function kubeWith(names: readonly string[], options: { origin?: string } = {}): InMemoryKube {
  const kube = new InMemoryKube(options);
  for (const name of names) {
    kube.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'ns' },
      spec: { replicas: 1 },
      status: { replicas: 1 },
    });
  }
  return kube;
}

/** The names of the objects patched, in order. */
const patched = (kube: InMemoryKube): string[] =>
  kube.requests.filter((r) => r.verb === 'patch').map((r) => r.name ?? '');

/** The bucket's sleep on the fake clock: a sleep ends only when `advance` moves the clock to its end. */
class ClockSleeper {
  private sleepers: { readonly untilMs: number; readonly resolve: () => void }[] = [];

  constructor(readonly clock: FakeClock) {}

  readonly sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => this.sleepers.push({ untilMs: this.clock.nowMs() + ms, resolve }));

  advance(ms: number): void {
    this.clock.advance(ms);
    const due = this.sleepers.filter((s) => s.untilMs <= this.clock.nowMs());
    this.sleepers = this.sleepers.filter((s) => s.untilMs > this.clock.nowMs());
    for (const sleeper of due) sleeper.resolve();
  }
}

/** A merge patch of Deployment `name` (a path: `tm/scale`). */
function step(name: string, body: Record<string, unknown> = { spec: { replicas: 3 } }): WriteStep {
  const [object = '', subresource] = name.split('/');
  const path = subresource === undefined ? at(object) : `${at(object)}/${subresource}`;
  return { method: 'PATCH', path, body, contentType: 'application/merge-patch+json', what: `patch ${path}` };
}

/** A promise's state, read without awaiting it. */
function track<T>(promise: Promise<T>): { settled: boolean; value: T | undefined } {
  const state: { settled: boolean; value: T | undefined } = { settled: false, value: undefined };
  void promise.then((value) => {
    state.settled = true;
    state.value = value;
  });
  return state;
}

/** Lets every promise chain that waits on no timer run to its end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A writer whose bucket never has to wait (a large burst), for the tests about answers. */
function plainWriter(clock = new FakeClock(), kube = kubeWith(['a', 'b', 'x', 'tm'])) {
  const bucket = new TokenBucket(100, 100, clock, () => Promise.reject(new Error('no sleep expected')));
  return { kube, writer: new KubeScaleTargetWriter(kube, bucket, clock) };
}

describe('KubeScaleTargetWriter', () => {
  it('sends each step as it is planned and answers ok with the resourceVersion of the last answer', async () => {
    const { kube, writer } = plainWriter();
    const first = step('tm/scale');
    const second = step('tm', { metadata: { annotations: {} } });

    const outcome = await writer.write([first, second]);

    assert.deepEqual(outcome, { ok: true, resourceVersion: kube.read(at('tm'))?.metadata.resourceVersion });
    assert.deepEqual(
      kube.requests.map(({ method, path, body, contentType }) => ({ method, path, body, contentType })),
      [
        { method: 'PATCH', path: first.path, body: first.body, contentType: 'application/merge-patch+json' },
        {
          method: 'PATCH',
          path: second.path,
          body: second.body,
          contentType: 'application/merge-patch+json',
        },
      ],
    );
    assert.equal((kube.read(at('tm'))?.spec as { replicas?: number }).replicas, 3, 'the /scale step wrote');
    assert.equal(writer.requests, 2);
  });

  it('reports no resourceVersion when the last answer has none, even if an earlier one had', async () => {
    const { kube, writer } = plainWriter();
    // The earlier version is of another object (or an older state): the loop must not guard on it.
    kube.inject({ verb: 'patch', name: 'b' }, { status: 204, body: '' });
    assert.deepEqual(await writer.write([step('a'), step('b')]), { ok: true, resourceVersion: undefined });

    kube.inject({ verb: 'patch', name: 'a' }, { status: 200, body: { metadata: { resourceVersion: 12 } } });
    assert.deepEqual(
      await writer.write([step('a')]),
      { ok: true, resourceVersion: undefined },
      'a resourceVersion that is not a string is none',
    );
  });

  it('an empty plan sends nothing and takes no token', async () => {
    const clock = new FakeClock();
    const kube = kubeWith([]);
    const bucket = new TokenBucket(1, 1, clock);
    const writer = new KubeScaleTargetWriter(kube, bucket, clock);
    assert.deepEqual(await writer.write([]), { ok: true, resourceVersion: undefined });
    assert.equal(kube.requests.length, 0);
    assert.ok(bucket.tryTake(), 'the one token is still there');
  });

  it('takes a token per request: with qps 1 and burst 2 the third step waits until the clock has moved 1 s', async () => {
    const clock = new FakeClock();
    const sleeper = new ClockSleeper(clock);
    const kube = kubeWith(['a', 'b', 'c']);
    const bucket = new TokenBucket(1, 2, clock, sleeper.sleep);
    const writer = new KubeScaleTargetWriter(kube, bucket, clock);

    const outcome = track(writer.write([step('a'), step('b'), step('c')]));
    await settle();
    assert.deepEqual(patched(kube), ['a', 'b'], 'the burst covers two requests');
    assert.equal(outcome.settled, false);

    sleeper.advance(999);
    await settle();
    assert.equal(kube.requests.length, 2, 'no token before a full second');
    assert.equal(outcome.settled, false);

    sleeper.advance(1);
    await settle();
    assert.equal(kube.requests.length, 3);
    assert.equal(outcome.settled, true);
    assert.deepEqual(outcome.value, {
      ok: true,
      resourceVersion: kube.read(at('c'))?.metadata.resourceVersion,
    });
    assert.equal(writer.requests, 3);
    assert.equal(bucket.tryTake(), false, 'the refilled token went to the third request');
  });

  it('plans written at once share the bucket first come, first served', async () => {
    const clock = new FakeClock();
    const sleeper = new ClockSleeper(clock);
    const kube = kubeWith(['a1', 'a2', 'b1']);
    const writer = new KubeScaleTargetWriter(kube, new TokenBucket(1, 1, clock, sleeper.sleep), clock);

    // a's second step asks for its token after b's step has: b goes first.
    const a = track(writer.write([step('a1'), step('a2')]));
    const b = track(writer.write([step('b1')]));
    await settle();
    assert.deepEqual(patched(kube), ['a1']);
    sleeper.advance(1_000);
    await settle();
    assert.deepEqual(patched(kube), ['a1', 'b1']);
    assert.deepEqual([a.settled, b.settled], [false, true]);
    sleeper.advance(1_000);
    await settle();
    assert.deepEqual(patched(kube), ['a1', 'b1', 'a2']);
    assert.equal(a.settled, true);
  });

  it('stops at the first failed step: the later steps are neither sent nor given a token', async () => {
    const clock = new FakeClock();
    const kube = kubeWith(['a', 'b', 'c']);
    const bucket = new TokenBucket(1, 5, clock);
    const writer = new KubeScaleTargetWriter(kube, bucket, clock);
    // b's step is guarded by a version b no longer has.
    const stale = kube.read(at('b'))?.metadata.resourceVersion;
    kube.patchObject(at('b'), { metadata: { labels: { changed: 'yes' } } });

    const outcome = await writer.write([
      step('a'),
      step('b', { metadata: { resourceVersion: stale }, spec: { replicas: 3 } }),
      step('c'),
    ]);

    assert.deepEqual(outcome, {
      ok: false,
      kind: 'conflict',
      message:
        'Operation cannot be fulfilled on deployments.apps "b": the object has been modified; please apply your changes to the latest version and try again',
    });
    assert.deepEqual(patched(kube), ['a', 'b']);
    assert.equal(writer.requests, 2);
    for (let i = 0; i < 3; i++) assert.ok(bucket.tryTake(), `token ${i + 1} of the 3 left`);
    assert.equal(bucket.tryTake(), false);
  });

  it('stops at a network failure too, reporting it as unreachable with its message', async () => {
    const { kube, writer } = plainWriter(
      new FakeClock(),
      kubeWith(['a', 'b'], { origin: 'https://api:6443' }),
    );
    kube.inject({ verb: 'patch', name: 'a' }, { network: 'no answer within 10000 ms' });
    assert.deepEqual(await writer.write([step('a'), step('b')]), {
      ok: false,
      kind: 'unreachable',
      message: `Kubernetes API server https://api:6443: PATCH ${at('a')}: no answer within 10000 ms`,
    });
    assert.equal(kube.requests.length, 1);
  });

  it('classifies each refused answer, Retry-After measured on its own clock', async () => {
    // Noon, so that an HTTP-date Retry-After is only right when measured from the writer's clock.
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const { kube, writer } = plainWriter(clock);
    const cases: [Fault | 'missing', WriteOutcome][] = [
      ['missing', { ok: false, kind: 'gone', message: 'deployments.apps "job" not found' }],
      [
        { status: 409, message: 'conflict' },
        { ok: false, kind: 'conflict', message: 'conflict' },
      ],
      [
        { status: 429, message: 'too many requests', retryAfter: '3' },
        { ok: false, kind: 'throttled', status: 429, retryAfterMs: 3_000, message: 'too many requests' },
      ],
      [
        { status: 429, body: {}, retryAfter: 'Thu, 01 Jan 2026 12:00:10 GMT' },
        { ok: false, kind: 'throttled', status: 429, retryAfterMs: 10_000, message: '' },
      ],
      [
        { status: 503, body: {}, retryAfter: 'Thu, 01 Jan 2026 11:59:00 GMT' },
        { ok: false, kind: 'throttled', status: 503, retryAfterMs: 0, message: '' },
      ],
      [
        { status: 500, message: 'etcdserver: request timed out' },
        {
          ok: false,
          kind: 'throttled',
          status: 500,
          retryAfterMs: null,
          message: 'etcdserver: request timed out',
        },
      ],
      [
        { status: 403, message: 'flinkdeployments.flink.apache.org "job" is forbidden' },
        {
          ok: false,
          kind: 'refused',
          status: 403,
          message: 'flinkdeployments.flink.apache.org "job" is forbidden',
        },
      ],
      [
        { status: 422, body: 'not json' },
        { ok: false, kind: 'refused', status: 422, message: 'not json' },
      ],
      [
        { network: 'socket hang up' },
        {
          ok: false,
          kind: 'unreachable',
          message: `Kubernetes API server ${kube.origin}: PATCH ${at('x')}: socket hang up`,
        },
      ],
    ];
    for (const [given, expected] of cases) {
      const label = given === 'missing' ? 'not found' : JSON.stringify(given);
      if (given !== 'missing') kube.inject({ verb: 'patch' }, given);
      assert.deepEqual(await writer.write([step(given === 'missing' ? 'job' : 'x')]), expected, label);
    }
    assert.equal(writer.requests, cases.length);
  });

  it('a rejection that is not an Error is still an outcome, never a throw', async () => {
    // No KubeClient of ours rejects so; a client that breaks the port's promise must not break the writer.
    const client: KubeClient = {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      request: () => Promise.reject('ECONNRESET'),
      watch: () => Promise.reject(new Error('unused')),
    };
    const clock = new FakeClock();
    const writer = new KubeScaleTargetWriter(client, new TokenBucket(1, 1, clock), clock);
    assert.deepEqual(await writer.write([step('x')]), {
      ok: false,
      kind: 'unreachable',
      message: 'ECONNRESET',
    });
  });
});

describe('classify', () => {
  it('classifies the answers', () => {
    assert.equal(classify(200, undefined, '', 0), null);
    assert.equal(classify(409, undefined, 'conflict', 0)?.kind, 'conflict');
    assert.equal(classify(404, undefined, '', 0)?.kind, 'gone');
    assert.deepEqual(classify(429, '7', 'slow', 0), {
      ok: false,
      kind: 'throttled',
      status: 429,
      retryAfterMs: 7000,
      message: 'slow',
    });
    assert.equal(classify(503, undefined, '', 0)?.kind, 'throttled');
    assert.equal(classify(422, undefined, '', 0)?.kind, 'refused');
    assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', Date.UTC(2026, 0, 1)), 10_000);
    assert.equal(retryAfterMs('soon', 0), null);
  });

  it('every 2xx is success; 1xx and 3xx are refusals', () => {
    for (const status of [200, 201, 202, 204, 299]) assert.equal(classify(status, undefined, '', 0), null);
    for (const status of [100, 300, 304]) {
      assert.deepEqual(classify(status, undefined, 'm', 0), {
        ok: false,
        kind: 'refused',
        status,
        message: 'm',
      });
    }
  });

  it('429 and every 5xx are throttling; other 4xx are refusals', () => {
    for (const status of [429, 500, 502, 504, 599])
      assert.equal(classify(status, undefined, '', 0)?.kind, 'throttled');
    for (const status of [400, 401, 403, 410, 413, 422, 428]) {
      assert.equal(classify(status, undefined, '', 0)?.kind, 'refused', String(status));
    }
  });

  it('Retry-After: seconds, an HTTP-date from nowMs (a past date is 0), nothing or garbage is null', () => {
    const noon = Date.UTC(2026, 0, 1, 12, 0, 0);
    const retry = (header: string | undefined): number | null | undefined => {
      const outcome = classify(503, header, '', noon);
      return outcome?.kind === 'throttled' ? outcome.retryAfterMs : undefined;
    };
    assert.equal(retry('0'), 0);
    assert.equal(retry('120'), 120_000);
    assert.equal(retry('Thu, 01 Jan 2026 12:00:30 GMT'), 30_000);
    assert.equal(retry('Thu, 01 Jan 2026 11:00:00 GMT'), 0);
    assert.equal(retry(undefined), null);
    assert.equal(retry(''), null);
    assert.equal(retry('soon'), null);
    // Retry-After on a refusal is not read: a refusal is not retried on a timer.
    assert.deepEqual(classify(403, '5', 'no', noon), {
      ok: false,
      kind: 'refused',
      status: 403,
      message: 'no',
    });
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then qps per second', async () => {
    const clock = new FakeClock();
    const slept: number[] = [];
    const bucket = new TokenBucket(5, 10, clock, (ms) => {
      slept.push(ms);
      clock.advance(ms);
      return Promise.resolve();
    });
    for (let i = 0; i < 10; i++) assert.ok(bucket.tryTake());
    assert.equal(bucket.tryTake(), false);
    assert.equal(bucket.waitMs(), 200);
    await bucket.take();
    assert.deepEqual(slept, [200]);
    clock.advance(10_000);
    for (let i = 0; i < 10; i++) assert.ok(bucket.tryTake(), 'refilled up to the burst, not beyond');
    assert.equal(bucket.tryTake(), false);
  });

  it('refuses a rate or burst that could never give a token', () => {
    const clock = new FakeClock();
    assert.throws(() => new TokenBucket(0, 1, clock), RangeError);
    assert.throws(() => new TokenBucket(1, 0.5, clock), RangeError);
    assert.throws(() => new TokenBucket(Number.NaN, 1, clock), RangeError);
  });

  it('counts fractions of a token: a waiter sleeps only for what is missing', async () => {
    const clock = new FakeClock();
    const sleeper = new ClockSleeper(clock);
    const bucket = new TokenBucket(4, 1, clock, sleeper.sleep);
    assert.ok(bucket.tryTake());
    sleeper.advance(100); // 0.4 of a token back
    assert.equal(bucket.waitMs(), 150);
    const taken = track(bucket.take());
    await settle();
    assert.equal(taken.settled, false);
    sleeper.advance(149);
    await settle();
    assert.equal(taken.settled, false);
    sleeper.advance(1);
    await settle();
    assert.equal(taken.settled, true);
    assert.equal(bucket.waitMs(), 250);
  });

  it('a waiter keeps its place: a later take does not grab the token it is sleeping for', async () => {
    const clock = new FakeClock();
    const sleeper = new ClockSleeper(clock);
    const bucket = new TokenBucket(1, 1, clock, sleeper.sleep);
    await bucket.take();
    const first = track(bucket.take());
    await settle();
    // The token is due, but the first waiter's timer has not fired yet (timers fire late, never early).
    clock.advance(1_000);
    const second = track(bucket.take());
    await settle();
    assert.deepEqual([first.settled, second.settled], [false, false]);
    sleeper.advance(0);
    await settle();
    assert.deepEqual([first.settled, second.settled], [true, false]);
    sleeper.advance(1_000);
    await settle();
    assert.equal(second.settled, true);
  });

  it('a clock that goes back refills nothing', () => {
    const clock = new FakeClock(10_000);
    const bucket = new TokenBucket(1, 1, clock);
    assert.ok(bucket.tryTake());
    clock.set(5_000);
    assert.equal(bucket.tryTake(), false);
    clock.set(5_999);
    assert.equal(bucket.tryTake(), false, 'measured from when it last looked, not from before');
    clock.set(6_000);
    assert.ok(bucket.tryTake());
  });
});
