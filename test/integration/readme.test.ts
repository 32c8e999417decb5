// The README's generated parts are current (the config reference has its own test in test/unit/config).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';

import { METRIC_CATALOGUE } from '../../src/metrics/catalogue.js';
import { replaceMetricsReference } from '../../scripts/metrics-reference.js';

const readme = new URL('../../README.md', import.meta.url);

describe('README', () => {
  it('has the metric reference npm run docs generates from the catalogue', async () => {
    const text = await readFile(readme, 'utf8');
    assert.equal(
      text,
      replaceMetricsReference(text),
      'README.md metric reference is stale: run npm run docs',
    );
    for (const entry of METRIC_CATALOGUE) assert.ok(text.includes(`| \`${entry.name}\` |`), entry.name);
    assert.ok(text.includes('| `flink_recommended_taskmanagers` |'));
  });

  it('keeps its sections', async () => {
    const headings = (await readFile(readme, 'utf8')).split('\n').filter((line) => line.startsWith('## '));
    for (const heading of [
      '## Two commands',
      '## Install',
      '## A first HPA',
      '## Metrics',
      '## Configuration',
      '## Security',
      '## HA and API-server friendliness',
      '## Troubleshooting',
      '## Testing',
    ])
      assert.ok(headings.includes(heading), heading);
  });
});
