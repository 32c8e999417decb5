// The chart's README is generated from values.yaml and values.schema.json: it must be current, and
// every value must say what it is for.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';

import { parse as parseYaml } from 'yaml';

import { CHART_README_PATH, renderChartReadme, valueRows } from '../../scripts/chart-readme.js';

const root = new URL('../../', import.meta.url);
const read = (path: string): Promise<string> => readFile(new URL(path, root), 'utf8');

/** Every key path of a values tree down to its leaves (maps with keys are walked into). */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  const entries = Object.entries(value);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([key, child]) => leafPaths(child, prefix === '' ? key : `${prefix}.${key}`));
}

describe('chart README', () => {
  it('is what `npm run docs` generates from values.yaml', async () => {
    assert.equal(
      await read(CHART_README_PATH),
      await renderChartReadme(),
      `${CHART_README_PATH} is stale: run npm run docs`,
    );
  });

  it('has a row with a description for every value, its default as values.yaml has it', async () => {
    const yaml = await read('charts/slotscaler/values.yaml');
    const values = parseYaml(yaml) as Record<string, unknown>;
    const rows = valueRows(yaml);
    for (const row of rows)
      assert.notEqual(row.description, '', `${row.key}: add a comment above it in values.yaml`);
    // Every leaf of values.yaml is under a row (a row may stand for a whole map passed to Kubernetes).
    for (const path of leafPaths(values)) {
      assert.ok(
        rows.some((row) => path === row.key || path.startsWith(`${row.key}.`)),
        `${path} has no row`,
      );
    }
    for (const row of rows) {
      const value = row.key
        .split('.')
        .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], values);
      assert.deepEqual(JSON.parse(row.default), value, row.key);
    }
  });

  it('gives the type and choices values.schema.json declares, and the comment above each value', async () => {
    const rows = new Map(valueRows(await read('charts/slotscaler/values.yaml')).map((row) => [row.key, row]));
    assert.equal(rows.get('tls.source')?.type, 'helm | certManager | secret');
    assert.equal(rows.get('replicaCount')?.type, 'integer');
    assert.equal(rows.get('networkPolicy.enabled')?.default, 'false');
    assert.match(rows.get('networkPolicy.apiServer.from')?.description ?? '', /API server/);
    // A setting without a comment of its own has its description from the config schema.
    assert.match(rows.get('config.tickInterval')?.description ?? '', /^How often metrics are collected/);
    // Two values with one comment between them and no blank line share it.
    assert.equal(rows.get('podLabels')?.description, rows.get('podAnnotations')?.description);
    // Kubernetes objects passed as they are: one row, not one per field.
    assert.ok(rows.has('resources') && !rows.has('resources.requests.cpu'));
  });
});
