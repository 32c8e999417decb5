import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { catalogueEntry, FLINK_METRIC_NAMES, METRIC_CATALOGUE } from '../../../src/collector/catalogue.js';

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

  // DESIGN.md lives beside the repository (shared/), as on the developers' machines and in CI.
  const designPath = fileURLToPath(new URL('../../../../shared/DESIGN.md', import.meta.url));
  it(
    'matches the table of DESIGN.md, plus the additions it names',
    { skip: existsSync(designPath) ? false : `no ${designPath}` },
    () => {
      const design = readFileSync(designPath, 'utf8');
      const table = [...design.matchAll(/^\| `(flink_[a-z_]+)` \|/gm)].map((match) => match[1]);
      assert.ok(table.length >= 5, 'the table of DESIGN.md "External metrics served"');
      // Served by the scaler, not computed from Flink.
      const fromTheScaler = ['flink_recommended_taskmanagers'];
      for (const name of table) {
        if (!fromTheScaler.includes(name ?? ''))
          assert.ok(catalogueEntry(name ?? ''), `${name} is in the catalogue`);
      }
      // Added after DESIGN.md (issue 7): the busy ratio stops at 1, so it cannot size a job that has
      // fallen behind in one step. Documented in the README's metric reference.
      const additions = FLINK_METRIC_NAMES.filter((name) => !table.includes(name));
      assert.deepEqual(additions, ['flink_demand_ratio']);
    },
  );
});
