/**
 * The README's metric references: the metrics the external metrics API serves, from the collector's
 * catalogue (src/metrics/catalogue.ts) and the metric the scaler adds
 * (flink_recommended_taskmanagers); the Pods metrics of the custom metrics API; and Slotscaler's own Prometheus metrics, read from a registry
 * filled by the same functions `slotscaler serve` calls. `npm run docs` writes them;
 * test/integration/readme.test.ts fails when they are stale.
 */
import { Registry } from 'prom-client';

import { METRIC_CATALOGUE, POD_METRICS } from '../src/metrics/catalogue.js';
import { createMetricsApiMetrics } from '../src/metrics-api/metrics.js';
import { RECOMMENDED_TASKMANAGERS } from '../src/metrics/catalogue.js';
import { registerProcessMetrics } from '../src/observability/metrics.js';
import { createScalerMetrics } from '../src/runtime/scaler-metrics.js';

export const METRICS_BEGIN = '<!-- BEGIN GENERATED: metric reference (npm run docs) -->';
export const METRICS_END = '<!-- END GENERATED: metric reference -->';
export const PODS_BEGIN = '<!-- BEGIN GENERATED: Pods metric reference (npm run docs) -->';
export const PODS_END = '<!-- END GENERATED: Pods metric reference -->';
export const PROMETHEUS_BEGIN = '<!-- BEGIN GENERATED: Prometheus metrics (npm run docs) -->';
export const PROMETHEUS_END = '<!-- END GENERATED: Prometheus metrics -->';

/** What prom-client keeps of a metric at run time (its declared type lacks `type` and `labelNames`). */
interface MetricDeclaration {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly labelNames: readonly string[];
}

function declarationOf(metric: object): MetricDeclaration {
  const { name, help, type, labelNames } = metric as Partial<Record<keyof MetricDeclaration, unknown>>;
  if (typeof name !== 'string' || typeof help !== 'string' || typeof type !== 'string')
    throw new Error('a metric without name, help or type');
  const labels = Array.isArray(labelNames) ? labelNames.filter((label) => typeof label === 'string') : [];
  return { name, help, type, labelNames: labels };
}

/** A Markdown table of every Prometheus metric of `slotscaler serve` but the standard process ones. */
export function renderPrometheusReference(): string {
  const registry = new Registry();
  registerProcessMetrics(registry, { version: '', nodeVersion: '' });
  createScalerMetrics(registry);
  createMetricsApiMetrics(registry);
  const metrics = registry
    .getMetricsAsArray()
    .map(declarationOf)
    .filter((metric) => metric.name.startsWith('slotscaler_'))
    .sort((a, b) => a.name.localeCompare(b.name));
  return [
    PROMETHEUS_BEGIN,
    '<!-- prettier-ignore-start -->',
    '',
    '| metric | type | labels | meaning |',
    '|---|---|---|---|',
    ...metrics.map(
      (metric) =>
        `| \`${metric.name}\` | ${metric.type} | ${metric.labelNames.map((label) => `\`${label}\``).join(', ')} | ${metric.help.replaceAll('|', '\\|')} |`,
    ),
    '| `process_*`, `nodejs_*` | | | the standard process and Node.js metrics of prom-client (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `nodejs_eventloop_lag_p99_seconds`, `nodejs_heap_size_used_bytes`, ...) |',
    '',
    '<!-- prettier-ignore-end -->',
    PROMETHEUS_END,
  ].join('\n');
}

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

/** A Markdown table of the Pods metrics of the custom metrics API. */
export function renderPodsReference(): string {
  return [
    PODS_BEGIN,
    '<!-- prettier-ignore-start -->',
    '',
    '| metric | unit | per TaskManager pod |',
    '|---|---|---|',
    ...POD_METRICS.map((entry) => `| \`${entry.name}\` | ${entry.unit} | ${entry.meaning} |`),
    '',
    '<!-- prettier-ignore-end -->',
    PODS_END,
  ].join('\n');
}

/** `document` with the block between `beginMarker` and `endMarker` replaced by `block`. */
function replaceBlock(document: string, beginMarker: string, endMarker: string, block: string): string {
  const begin = document.indexOf(beginMarker);
  const end = document.indexOf(endMarker);
  if (begin < 0 || end < begin) throw new Error(`the README has no markers ${beginMarker} ... ${endMarker}`);
  return document.slice(0, begin) + block + document.slice(end + endMarker.length);
}

/** The document with the generated metric blocks replaced; throws when the markers are missing. */
export function replaceMetricsReference(document: string, reference = renderMetricsReference()): string {
  return replaceBlock(
    replaceBlock(
      replaceBlock(document, METRICS_BEGIN, METRICS_END, reference),
      PODS_BEGIN,
      PODS_END,
      renderPodsReference(),
    ),
    PROMETHEUS_BEGIN,
    PROMETHEUS_END,
    renderPrometheusReference(),
  );
}
