import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { RepeatLimiter } from '../../../src/observability/repeat-limiter.js';

describe('RepeatLimiter', () => {
  it('says one per key per interval and counts those held back', () => {
    const limiter = new RepeatLimiter(60_000);
    assert.equal(limiter.admit('a/MetricsUnavailable', 0), 0);
    assert.equal(limiter.admit('a/MetricsUnavailable', 1_000), null);
    assert.equal(limiter.admit('a/MetricsUnavailable', 2_000), null);
    assert.equal(limiter.admit('b/MetricsUnavailable', 2_000), 0, 'another target is not held back');
    assert.equal(limiter.admit('a/InvalidAnnotation', 2_000), 0, 'another reason is not held back');
    assert.equal(limiter.admit('a/MetricsUnavailable', 60_000), 2);
  });

  it('says two alternating causes once each per interval, not at every change', () => {
    const limiter = new RepeatLimiter(60_000);
    const said: string[] = [];
    for (let second = 0; second < 120; second += 1) {
      const cause = second % 2 === 0 ? 'busy' : 'unreachable';
      if (limiter.admit(cause, second * 1000) !== null) said.push(`${second}:${cause}`);
    }
    assert.deepEqual(said, ['0:busy', '1:unreachable', '60:busy', '61:unreachable']);
  });

  it('forgets the keys of a prefix, so a cause that comes back is said at once', () => {
    const limiter = new RepeatLimiter(60_000);
    limiter.admit('ns/a/x', 0);
    limiter.admit('ns/b/x', 0);
    limiter.forget('ns/a/');
    assert.equal(limiter.admit('ns/a/x', 1), 0);
    assert.equal(limiter.admit('ns/b/x', 1), null);
  });
});
