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

describe('ConcurrencyLimiter', () => {
  it('runs at most `limit` tasks at once, the rest in FIFO order', async () => {
    const limiter = new ConcurrencyLimiter(2);
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    let peak = 0;
    const runs = gates.map((gate, index) =>
      limiter.run(async () => {
        started.push(index);
        peak = Math.max(peak, limiter.active);
        await gate.promise;
        return index;
      }),
    );
    await Promise.resolve();
    assert.deepEqual(started, [0, 1]);
    assert.equal(limiter.queued, 2);
    gates[1]?.resolve();
    await runs[1];
    await Promise.resolve();
    assert.deepEqual(started, [0, 1, 2]);
    for (const gate of gates) gate.resolve();
    assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3]);
    assert.equal(peak, 2);
    assert.equal(limiter.active, 0);
    assert.equal(limiter.queued, 0);
  });

  it('releases the slot when a task fails', async () => {
    const limiter = new ConcurrencyLimiter(1);
    await assert.rejects(
      limiter.run(() => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await limiter.run(() => Promise.resolve(7)), 7);
    assert.equal(limiter.active, 0);
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
    assert.equal(limiter.queued, 0);
  });
});
