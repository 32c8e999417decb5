import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { RecentReads } from '../../../src/lib/recent-reads.js';

describe('RecentReads', () => {
  it('wants a key from its read until its memory has passed, and again after a new read', () => {
    const reads = new RecentReads(60_000);
    assert.equal(reads.wanted('a', 0), false);
    reads.markRead('a', 1_000);
    assert.equal(reads.wanted('a', 1_000), true);
    assert.equal(reads.wanted('a', 61_000), true);
    assert.equal(reads.wanted('b', 61_000), false);
    assert.equal(reads.wanted('a', 61_001), false);
    reads.markRead('a', 70_000);
    assert.equal(reads.wanted('a', 100_000), true);
  });

  it('forgets the oldest read past its size', () => {
    const reads = new RecentReads(60_000, 2);
    reads.markRead('a', 0);
    reads.markRead('b', 1);
    reads.markRead('a', 2);
    reads.markRead('c', 3);
    assert.equal(reads.wanted('b', 4), false);
    assert.equal(reads.wanted('a', 4), true);
    assert.equal(reads.wanted('c', 4), true);
  });
});
