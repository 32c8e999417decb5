/**
 * Fuzzing the annotation parsers: whatever a user writes under `slotscaler.dev/`, every key goes
 * through `parseTargetAnnotations` as the target registry calls it; no exception escapes (a bad
 * value is one reported issue naming its key), and a config that parses holds no NaN or Infinity
 * and reads back the same from its own formatted form (the status annotation and the docs print it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';
import '../../support/property-seed.js';

import { FLINK_METRIC_NAMES } from '../../../src/metrics/catalogue.js';
import { compileExpressionMetric } from '../../../src/metrics/expression-metric.js';
import { formatIssue, optInOf, parseTargetAnnotations } from '../../../src/config/annotations.js';
import type { AnnotationOptions } from '../../../src/config/annotations.js';
import { kebabCase } from '../../../src/config/keys.js';
import { describeFields } from '../../../src/config/schema.js';
import type { TargetConfig } from '../../../src/config/schema.js';
import {
  formatDuration,
  formatMetricTargets,
  formatPolicies,
  formatTolerance,
  parseDuration,
  parseMetricTargets,
  parsePolicies,
  parseQuantityMilli,
  parseTolerance,
} from '../../../src/config/values.js';

/** What the target registry passes (src/kube/target-registry.ts). */
const OPTIONS: AnnotationOptions = {
  knownMetrics: FLINK_METRIC_NAMES,
  checkExpression: (name, source) => {
    compileExpressionMetric(name, source);
  },
};

const TARGET_KEYS = describeFields()
  .filter((field) => field.meta.scope === 'target')
  .map((field) => kebabCase(field.key));
const GLOBAL_KEYS = describeFields()
  .filter((field) => field.meta.scope === 'global')
  .map((field) => kebabCase(field.key));

/** Numbers as people (and tools) write them, good and bad. */
const NASTY_NUMBERS = [
  '1e309',
  '-1e309',
  '1e-309',
  '-0',
  '+0',
  '0.0',
  'NaN',
  'Infinity',
  '-Infinity',
  ' 5 ',
  '5 ',
  '\t5\n',
  '1e3m',
  '1e3',
  '1E-3',
  '1e99999999999',
  '1e-99999999999',
  '0x10',
  '0b1',
  '0o7',
  '1_000',
  '1,5',
  '.5',
  '5.',
  '.',
  '+',
  '-',
  '',
  ' ',
  '9007199254740993',
  '99999999999999999999999999999999',
  '0.1',
  '0.7',
  '1',
  '2',
  '100m',
  '1Ki',
  '8Ei',
  '1.5k',
  '500u',
  '1n',
  '٣',
  '５',
  '1\u00a0',
  '\u200b1',
];

const number = fc.oneof(
  fc.constantFrom(...NASTY_NUMBERS),
  fc.double().map(String),
  fc.integer().map(String),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc
    .tuple(fc.integer({ min: 0, max: 99_999 }), fc.constantFrom('', 'm', 'k', 'M', 'Ki', 'e3', 'e-3', 'E9'))
    .map(([n, suffix]) => `${n}${suffix}`),
);
const unit = fc.constantFrom('', 's', 'm', 'h', 'ms', 'us', 'd', 'S', ' s');
const duration = fc.oneof(
  fc.tuple(number, unit).map(([n, u]) => `${n}${u}`),
  fc
    .array(fc.tuple(fc.nat(100), unit), { maxLength: 4 })
    .map((parts) => parts.map(([n, u]) => `${n}${u}`).join('')),
);
const metricName = fc.oneof(
  fc.constantFrom(...FLINK_METRIC_NAMES, 'pressure', 'Flink_Busy', 'a'.repeat(70), ''),
  fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/),
);
const metricTargets = fc
  .array(
    fc.tuple(
      metricName,
      number,
      fc.constantFrom('', ':Value', ':AverageValue', ':averagevalue', ':Utilization', ':'),
    ),
    { maxLength: 3 },
  )
  .map((items) => items.map(([name, target, type]) => `${name}=${target}${type}`).join(','));
const count = fc.oneof(
  fc.nat(200).map(String),
  fc.bigInt({ min: 1n, max: 10n ** 25n }).map(String),
  fc.constantFrom('2147483647', '2147483648', '0', '-1'),
  number,
);
const policies = fc
  .array(
    fc.tuple(
      fc.constantFrom('pods', 'percent', 'Pods', 'replicas', ''),
      count,
      fc.oneof(fc.constantFrom('15s', '1m', '30m', '31m', '0s'), duration),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((items) => items.map(([type, value, period]) => `${type}=${value}/${period}`).join(','));
const tolerance = fc.oneof(
  number,
  fc
    .tuple(
      fc.constantFrom('up', 'down', 'UP', 'sideways'),
      number,
      fc.constantFrom('up', 'down', 'Down'),
      number,
    )
    .map(([a, x, b, y]) => `${a}=${x},${b}=${y}`),
);
const expression = fc.oneof(
  fc.constantFrom(
    'max(busy_ratio / 0.7, source_lag_seconds / 60)',
    'busy_ratio * 1e308 * 10',
    '1 / 0',
    '0 / 0',
    'sqrt(-1)',
    'log(0)',
    'busy_ratio ? 1 : 2',
    '(',
    'x = 1',
    'a.b',
    '"str"',
  ),
  fc
    .array(fc.oneof(number, fc.constantFrom('busy_ratio', '+', '-', '*', '/', '(', ')', 'max(', ',', ' ')), {
      maxLength: 12,
    })
    .map((parts) => parts.join('')),
);
/** Any string: printable, full unicode with lone surrogates, or control characters. */
const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('\u0000', '\uD800', '\uDFFF', '\u202E', 'true\u0000', ' true', 'TRUE', 'yes', 'on'),
);

/** Values shaped for keys whose form is not a plain number or duration. */
const SHAPED: Readonly<Record<string, fc.Arbitrary<string>>> = {
  enabled: fc.constantFrom('true', 'false', 'True', ' false ', 'yes', '1', ''),
  mode: fc.constantFrom('scale', 'recommend', 'metrics-only', 'Scale', 'auto'),
  metrics: metricTargets,
  'min-taskmanagers': number,
  'max-taskmanagers': number,
  'task-slots': number,
  'max-parallelism': number,
  tolerance,
  'scale-up-policies': policies,
  'scale-down-policies': policies,
  'select-policy': fc.constantFrom('Max', 'min', 'Disabled', 'none'),
  'jobmanager-url': fc.oneof(
    fc.webUrl(),
    fc.constantFrom('http://job-rest.flink:8081', 'ftp://x', 'http://[::1', 'http://a b', 'http://user:pw@x'),
  ),
  'job-id': fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-fA-F]{30,34}$/)),
  'replicas-path': fc.stringMatching(/^(\.[A-Za-z_-][A-Za-z0-9_-]{0,5}){0,3}$/),
  'parallelism-path': fc.stringMatching(/^(\.[A-Za-z_-][A-Za-z0-9_-]{0,5}){0,3}$/),
};

/** A value shaped for a key (so parsers get past their first check), or anything at all. */
function valueFor(key: string): fc.Arbitrary<string> {
  const isDuration = /stabilization|cooldown|window|hold|catch-up|max-age/.test(key);
  return fc.oneof(
    { arbitrary: SHAPED[key] ?? (isDuration ? duration : number), weight: 3 },
    { arbitrary: number, weight: 1 },
    { arbitrary: anyText, weight: 1 },
  );
}

/** One annotation of a target key with a value shaped for it, or anything at all. */
const targetAnnotation: fc.Arbitrary<[string, string]> = fc.oneof(
  ...TARGET_KEYS.map((key) =>
    valueFor(key).map((value): [string, string] => [`slotscaler.dev/${key}`, value]),
  ),
);

/** One annotation: a target key, a metric definition, a global or unknown key, or any key at all. */
const annotation: fc.Arbitrary<[string, string]> = fc.oneof(
  { arbitrary: targetAnnotation, weight: 8 },
  {
    arbitrary: fc
      .tuple(metricName, expression)
      .map(([name, source]): [string, string] => [`slotscaler.dev/metric.${name}`, source]),
    weight: 2,
  },
  {
    arbitrary: fc
      .tuple(fc.constantFrom(...GLOBAL_KEYS, 'status', 'metric.', 'Enabled', 'max-task-managers'), anyText)
      .map(([key, value]): [string, string] => [`slotscaler.dev/${key}`, value]),
    weight: 1,
  },
  {
    arbitrary: fc
      .tuple(anyText, anyText)
      .map(([key, value]): [string, string] => [`slotscaler.dev/${key}`, value]),
    weight: 1,
  },
  { arbitrary: fc.tuple(anyText, anyText), weight: 1 },
);
const annotations = fc.array(annotation, { maxLength: 8 }).map((entries) => Object.fromEntries(entries));

/** Every number reachable from `value` is finite and not -0 (which prints as 0 but is not 0 to Object.is). */
function assertPlainNumbers(value: unknown, path = '$'): void {
  if (typeof value === 'number') {
    assert.ok(Number.isFinite(value), `${path} is ${value}`);
    assert.ok(!Object.is(value, -0), `${path} is -0`);
  } else if (Array.isArray(value)) value.forEach((item, i) => assertPlainNumbers(item, `${path}[${i}]`));
  else if (typeof value === 'object' && value !== null)
    for (const [key, item] of Object.entries(value)) assertPlainNumbers(item, `${path}.${key}`);
}

/** The config's structured values, formatted as the status annotation and the docs print them, read back the same. */
function assertReadsBack(config: TargetConfig): void {
  assert.deepEqual(parseTolerance(formatTolerance(config.tolerance)), config.tolerance);
  assert.deepEqual(parseMetricTargets(formatMetricTargets(config.metrics)), config.metrics);
  assert.deepEqual(parsePolicies(formatPolicies(config.scaleUpPolicies)), config.scaleUpPolicies);
  assert.deepEqual(parsePolicies(formatPolicies(config.scaleDownPolicies)), config.scaleDownPolicies);
  for (const seconds of [
    config.scaleUpStabilization,
    config.scaleDownStabilization,
    config.cooldownAfterRescale,
    config.metricsWindow,
    config.metricsHoldAfterRestart,
    config.catchUpDuration,
    config.metricsMaxAge,
  ]) {
    assert.equal(parseDuration(formatDuration(seconds)), seconds);
  }
}

/**
 * apimachinery's quantity grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go): what an HPA
 * accepts as a tolerance, and so what we accept.
 */
const KUBERNETES_QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;

const RUNS = 1000;

describe('annotation parsers, fuzzed', () => {
  it('never throw on any set of annotations; every issue names a key and says what is wrong', () => {
    fc.assert(
      fc.property(annotations, (given) => {
        optInOf(given);
        const result = parseTargetAnnotations(given, OPTIONS);
        if (result.ok) {
          assertPlainNumbers(result.config);
          assertReadsBack(result.config);
          return;
        }
        assert.ok(result.issues.length > 0);
        for (const issue of result.issues) {
          const text = formatIssue(issue);
          assert.ok(
            Object.hasOwn(given, issue.key) ||
              TARGET_KEYS.some((key) => issue.key === `slotscaler.dev/${key}`),
            text,
          );
          assert.ok(issue.message.length > 0, text);
          if (!JSON.stringify(given).includes('undefined')) assert.ok(!text.includes('undefined'), text);
        }
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  });

  it('reads one key at a time: a finite config that reads back the same, or one issue on that key', () => {
    fc.assert(
      fc.property(targetAnnotation, ([key, value]) => {
        const result = parseTargetAnnotations({ [key]: value }, OPTIONS);
        if (!result.ok) {
          assert.ok(result.issues.length > 0);
          for (const issue of result.issues) assert.equal(issue.key, key, formatIssue(issue));
          return;
        }
        assertPlainNumbers(result.config);
        assertReadsBack(result.config);
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  });

  it('takes a tolerance only in the Kubernetes quantity form, 0 or more', () => {
    fc.assert(
      fc.property(number, (text) => {
        let tolerance;
        try {
          tolerance = parseTolerance(text);
        } catch (err) {
          assert.equal((err as Error).name, 'ValueError', String(err));
          return;
        }
        assert.match(text.trim(), KUBERNETES_QUANTITY);
        assert.ok(
          tolerance.scaleUp >= 0 && Number.isFinite(tolerance.scaleUp),
          `${text}: ${tolerance.scaleUp}`,
        );
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  });

  it('reads a quantity to a safe integer of milli-units or refuses it with a ValueError', () => {
    fc.assert(
      fc.property(number, (text) => {
        let milli: number;
        try {
          milli = parseQuantityMilli(text);
        } catch (err) {
          assert.equal((err as Error).name, 'ValueError', String(err));
          return;
        }
        assert.ok(Number.isSafeInteger(milli), `${text} → ${milli}`);
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  });
});
