/**
 * The chart's README (`charts/slotscaler/README.md`, what `helm show readme` prints), generated from
 * values.yaml: one row per value with its default and the comment above it in values.yaml, and its
 * type from values.schema.json (scripts/chart-schema.ts). A value without a comment of its own takes
 * its description in the schema (every `config` setting has one), else the comment of the value
 * right above it when no blank line parts them (`podAnnotations` and `podLabels` share one), else
 * the comment of the map it is in. Maps the schema describes key by key are listed key
 * by key; the others (`resources`, `podSecurityContext`...) are one value, passed to Kubernetes as
 * they are. `npm run docs` writes the file; test/integration/chart-readme.test.ts fails when it is
 * stale or when a value has no description.
 */
import { readFile } from 'node:fs/promises';

import { format, resolveConfig, resolveConfigFile } from 'prettier';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node, Pair, YAMLMap } from 'yaml';

import { valuesSchema } from './chart-schema.js';

export const CHART_README_PATH = 'charts/slotscaler/README.md';
const VALUES_PATH = 'charts/slotscaler/values.yaml';
const CHART_PATH = 'charts/slotscaler/Chart.yaml';

interface SchemaNode {
  readonly type?: string | readonly string[];
  readonly enum?: readonly unknown[];
  readonly oneOf?: readonly SchemaNode[];
  readonly properties?: Record<string, SchemaNode>;
  readonly items?: SchemaNode;
  readonly description?: string;
}

/** One row of the values table. */
export interface ValueRow {
  readonly key: string;
  readonly type: string;
  /** The default, as JSON. */
  readonly default: string;
  readonly description: string;
}

/** A YAML comment as one line of prose (the last paragraph: an earlier one heads the file or a group). */
function prose(comment: string | null | undefined): string {
  if (comment === null || comment === undefined) return '';
  const paragraphs = comment.split(/\n\s*\n/);
  return (paragraphs[paragraphs.length - 1] ?? '')
    .split('\n')
    .map((line) => line.trim())
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function typeOf(schema: SchemaNode | undefined, value: unknown): string {
  if (schema?.enum !== undefined) return schema.enum.map((choice) => String(choice)).join(' | ');
  if (schema?.oneOf !== undefined)
    return schema.oneOf.map((option) => typeOf(option, undefined)).join(' or ');
  if (schema?.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type as string];
    return types.join(' or ');
  }
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** The rows of a map of values.yaml, depth first, in file order. */
function rowsOf(map: YAMLMap, prefix: string, schema: SchemaNode | undefined, inherited: string): ValueRow[] {
  const rows: ValueRow[] = [];
  let previous = '';
  map.items.forEach((item, index) => {
    const pair = item as Pair<Node, Node>;
    const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const key = `${prefix}${name}`;
    const keyNode = pair.key;
    // The comment above the first key of a map is the map's own commentBefore.
    const own = prose(keyNode.commentBefore ?? (index === 0 ? map.commentBefore : undefined));
    const fieldSchema = schema?.properties?.[name];
    const description =
      own !== ''
        ? own
        : (fieldSchema?.description ??
          (keyNode.spaceBefore !== true && previous !== '' ? previous : inherited));
    previous = description;
    const value = pair.value;
    if (isMap(value) && value.items.length > 0 && fieldSchema?.properties !== undefined) {
      rows.push(...rowsOf(value, `${key}.`, fieldSchema, own));
      return;
    }
    const plain: unknown = value === null ? null : (value.toJSON() as unknown);
    // A comment after the value, on its line.
    const trailing = isScalar(value) || isSeq(value) || isMap(value) ? prose(value.comment) : '';
    rows.push({
      key,
      type: typeOf(fieldSchema, plain),
      default: JSON.stringify(plain),
      description: `${description} ${trailing}`.trim(),
    });
  });
  return rows;
}

/** Every value of values.yaml with its type, default and description. */
export function valueRows(valuesYaml: string): ValueRow[] {
  const document = parseDocument(valuesYaml);
  if (!isMap(document.contents)) throw new Error(`${VALUES_PATH} is not a map`);
  return rowsOf(document.contents, '', valuesSchema(), '');
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The README's text, formatted as Prettier would (the repository's `prettier --check` covers it). */
export async function renderChartReadme(): Promise<string> {
  const root = new URL('..', import.meta.url);
  const [valuesYaml, chartYaml] = await Promise.all([
    readFile(new URL(VALUES_PATH, root), 'utf8'),
    readFile(new URL(CHART_PATH, root), 'utf8'),
  ]);
  const chart = parseDocument(chartYaml).toJSON() as { description: string; appVersion: string };
  const rows = valueRows(valuesYaml);
  const text = [
    '# Slotscaler Helm chart',
    '',
    '<!-- Generated by `npm run docs` from values.yaml (scripts/chart-readme.ts): edit those, not this. -->',
    '',
    chart.description.trim(),
    '',
    '```sh',
    'helm install slotscaler ./charts/slotscaler --namespace slotscaler --create-namespace',
    'kubectl get apiservice v1beta1.external.metrics.k8s.io',
    '```',
    '',
    "Slotscaler's own documentation (how it decides, its metrics, security, troubleshooting) is the",
    "repository's README. Under `config:` go Slotscaler's settings, by the camelCase keys of its",
    'configuration reference (`--set config.tickInterval=30s`); `helm install` refuses an unknown key',
    'or a wrong value, because values.schema.json is generated from the same schema. The chart',
    'derives `leaderElect`, `leaseNamespace`, `tlsCertFile`, `tlsKeyFile`, `tlsSelfSignedHosts` and',
    'the upstream settings itself unless they are given.',
    '',
    '## Values',
    '',
    '<!-- prettier-ignore-start -->',
    '',
    '| key | type | default | description |',
    '|---|---|---|---|',
    ...rows.map(
      (row) => `| \`${row.key}\` | ${cell(row.type)} | \`${cell(row.default)}\` | ${cell(row.description)} |`,
    ),
    '',
    '<!-- prettier-ignore-end -->',
    '',
  ].join('\n');
  const configFile = await resolveConfigFile(CHART_README_PATH);
  const options = configFile === null ? {} : ((await resolveConfig(configFile)) ?? {});
  return format(text, { ...options, parser: 'markdown' });
}
