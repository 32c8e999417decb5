/**
 * The annotation and settings reference, generated from the config schema for the README.
 */
import { ANNOTATION_PREFIX, envName, kebabCase } from './keys.js';
import { describeFields } from './schema.js';

export const REFERENCE_BEGIN = '<!-- BEGIN GENERATED: config reference (npm run docs) -->';
export const REFERENCE_END = '<!-- END GENERATED: config reference -->';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** Markdown tables of every per-target annotation and every global setting. */
export function renderReference(): string {
  const fields = describeFields();
  const target = fields.filter((field) => field.meta.scope === 'target');
  const global = fields.filter((field) => field.meta.scope === 'global');
  const lines = [
    REFERENCE_BEGIN,
    '<!-- prettier-ignore-start -->',
    '',
    `Per target: annotations \`${ANNOTATION_PREFIX}<key>\`. Each also has a global default: the flag`,
    '`--<key>`, the environment variable `SLOTSCALER_<KEY>` or the config file key `<camelCaseKey>`.',
    '',
    '| annotation | form | default | meaning |',
    '|---|---|---|---|',
    ...target.map(
      ({ key, meta }) =>
        `| \`${ANNOTATION_PREFIX}${kebabCase(key)}\` | ${cell(meta.form)} | ${meta.default === undefined ? '(unset)' : `\`${meta.default === '' ? '""' : cell(meta.default)}\``} | ${cell(meta.description)}${meta.example === undefined ? '' : ` Example: \`${cell(meta.example)}\`.`} |`,
    ),
    `| \`${ANNOTATION_PREFIX}metric.<name>\` | expression | (none) | Defines the metric \`<name>\` as an expression over the built-in metrics (see "Metrics"). |`,
    '',
    'Global settings only (flag, environment variable):',
    '',
    '| flag | environment | form | default | meaning |',
    '|---|---|---|---|---|',
    ...global.map(
      ({ key, meta }) =>
        `| \`--${kebabCase(key)}\` | \`${envName(key)}\` | ${cell(meta.form)} | ${meta.default === undefined ? '(unset)' : `\`${meta.default === '' ? '""' : cell(meta.default)}\``} | ${cell(meta.description)} |`,
    ),
    '',
    '<!-- prettier-ignore-end -->',
    REFERENCE_END,
  ];
  return lines.join('\n');
}

/** The document with its generated block replaced; throws when the markers are missing. */
export function replaceReference(document: string, reference = renderReference()): string {
  const begin = document.indexOf(REFERENCE_BEGIN);
  const end = document.indexOf(REFERENCE_END);
  if (begin < 0 || end < begin) throw new Error('the README has no generated config reference markers');
  return document.slice(0, begin) + reference + document.slice(end + REFERENCE_END.length);
}
