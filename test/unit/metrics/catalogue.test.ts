import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { catalogueEntry, FLINK_METRIC_NAMES, METRIC_CATALOGUE } from '../../../src/metrics/catalogue.js';

describe('the metric catalogue', () => {
  it('declares each metric once, with a unit, a meaning and its expression variable', () => {
    assert.equal(new Set(FLINK_METRIC_NAMES).size, METRIC_CATALOGUE.length);
    for (const entry of METRIC_CATALOGUE) {
      assert.equal(entry.variable, entry.name.replace(/^flink_/, ''));
      assert.ok(entry.unit.length > 0 && entry.meaning.length > 0);
      assert.equal(catalogueEntry(entry.name), entry);
    }
    assert.equal(catalogueEntry('flink_nope'), undefined);
  });
});
