import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConcurrencyLimiter } from '../../../src/flink/concurrency.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Every one of the limiter's `limit` slots is free: that many held tasks all start at once. */
async function assertFree(limiter: ConcurrencyLimiter, limit: number): Promise<void> {
  const gate = deferred();
  let started = 0;
  const held = Array.from({ length: limit }, () =>
    limiter.run(async () => {
      started += 1;
      await gate.promise;
    }),
  );
  await Promise.resolve();
  assert.equal(started, limit, `${limit} slots free`);
  gate.resolve();
  await Promise.all(held);
}

describe('ConcurrencyLimiter', () => {
  it('runs at most `limit` tasks at once, the rest in FIFO order', async () => {
    const limiter = new ConcurrencyLimiter(2);
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    let running = 0;
    let peak = 0;
    const runs = gates.map((gate, index) =>
      limiter.run(async () => {
        started.push(index);
        running += 1;
        peak = Math.max(peak, running);
        await gate.promise;
        running -= 1;
        return index;
      }),
    );
    await Promise.resolve();
    assert.deepEqual(started, [0, 1], 'two run, two wait');
    gates[1]?.resolve();
    await runs[1];
    await Promise.resolve();
    assert.deepEqual(started, [0, 1, 2]);
    for (const gate of gates) gate.resolve();
    assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3]);
    assert.equal(peak, 2);
    await assertFree(limiter, 2);
  });

  it('releases the slot when a task fails', async () => {
    const limiter = new ConcurrencyLimiter(1);
    await assert.rejects(
      limiter.run(() => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await limiter.run(() => Promise.resolve(7)), 7);
    await assertFree(limiter, 1);
  });

  it('refuses a limit below 1', () => {
    assert.throws(() => new ConcurrencyLimiter(0), RangeError);
    assert.throws(() => new ConcurrencyLimiter(1.5), RangeError);
  });

  it('keeps its queue bounded over many tasks', async () => {
    const limiter = new ConcurrencyLimiter(3);
    const results = await Promise.all(
      Array.from({ length: 5000 }, (_, index) => limiter.run(() => Promise.resolve(index))),
    );
    assert.equal(results.length, 5000);
    await assertFree(limiter, 3);
  });
});
