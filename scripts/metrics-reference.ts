/**
 * The README's metric reference, generated from the collector's catalogue (src/collector/catalogue.ts)
 * and the metric the scaler adds (flink_recommended_taskmanagers). `npm run docs` writes it;
 * test/integration/readme.test.ts fails when it is stale.
 */
import { METRIC_CATALOGUE } from '../src/collector/catalogue.js';
import { RECOMMENDED_TASKMANAGERS } from '../src/metrics-api/targets-provider.js';

export const METRICS_BEGIN = '<!-- BEGIN GENERATED: metric reference (npm run docs) -->';
export const METRICS_END = '<!-- END GENERATED: metric reference -->';

/** A Markdown table of every metric Slotscaler serves, with its expression variable. */
export function renderMetricsReference(): string {
  return [
    METRICS_BEGIN,
    '<!-- prettier-ignore-start -->',
    '',
    '| metric | in expressions | unit | meaning |',
    '|---|---|---|---|',
    ...METRIC_CATALOGUE.map(
      (entry) => `| \`${entry.name}\` | \`${entry.variable}\` | ${entry.unit} | ${entry.meaning} |`,
    ),
    `| \`${RECOMMENDED_TASKMANAGERS}\` | (none) | TaskManagers | Slotscaler's own stabilized recommendation for the target (also with \`mode: recommend\` and \`metrics-only\`) |`,
    '| `<name>` | (none) | as defined | the annotation `slotscaler.dev/metric.<name>`: an expression over the variables above |',
    '',
    '<!-- prettier-ignore-end -->',
    METRICS_END,
  ].join('\n');
}

/** The document with its generated metric block replaced; throws when the markers are missing. */
export function replaceMetricsReference(document: string, reference = renderMetricsReference()): string {
  const begin = document.indexOf(METRICS_BEGIN);
  const end = document.indexOf(METRICS_END);
  if (begin < 0 || end < begin) throw new Error('the README has no generated metric reference markers');
  return document.slice(0, begin) + reference + document.slice(end + METRICS_END.length);
}
