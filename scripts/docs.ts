// `npm run docs`: regenerates what comes from code: the README's config and metric references, the chart's
// values.schema.json and README, and the plain manifests rendered from the chart.
import { readFile, writeFile } from 'node:fs/promises';

import { replaceReference } from '../src/config/reference.js';
import { CHART_README_PATH, renderChartReadme } from './chart-readme.js';
import { VALUES_SCHEMA_PATH, renderValuesSchema } from './chart-schema.js';
import { MANIFESTS_PATH, renderManifests } from './manifests.js';
import { replaceMetricsReference } from './metrics-reference.js';

const root = new URL('..', import.meta.url);

async function update(path: string, render: (before: string) => string | Promise<string>): Promise<void> {
  const file = new URL(path, root);
  const before = await readFile(file, 'utf8').catch(() => '');
  const after = await render(before);
  if (after === before) {
    console.log(`${path} is up to date`);
  } else {
    await writeFile(file, after);
    console.log(`${path}: regenerated`);
  }
}

await update('README.md', (readme) => replaceMetricsReference(replaceReference(readme)));
await update(VALUES_SCHEMA_PATH, () => renderValuesSchema());
await update(CHART_README_PATH, () => renderChartReadme());
await update(MANIFESTS_PATH, () => renderManifests());
