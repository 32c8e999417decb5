import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parallelismFor, usableTaskManagers } from '../../../src/scaler/parallelism.js';

describe('parallelism', () => {
  it('is TaskManagers × slots', () => {
    assert.equal(parallelismFor(7, 2, null), 14);
  });
  it('is capped at max parallelism', () => {
    assert.equal(parallelismFor(7, 4, 20), 20);
  });
  it('never needs more TaskManagers than ceil(maxParallelism / slots)', () => {
    assert.equal(usableTaskManagers(128, 3), 43);
    assert.equal(usableTaskManagers(null, 3), Number.POSITIVE_INFINITY);
  });
});
