/**
 * Fuzzing the label-selector parser: any string either parses or throws a `LabelSelectorError` (the
 * server's 400), and a parsed selector matches consistently: the same after printing and parsing
 * it again, requirement by requirement, with spaces or without, and by the meaning of each operator.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';
import '../../support/property-seed.js';

import {
  LabelSelectorError,
  formatLabelSelector,
  matchesSelector,
  parseLabelSelector,
} from '../../../src/metrics-api/label-selector.js';
import type { Requirement, SelectorOperator } from '../../../src/domain/metrics.js';

const KEYS = ['target', 'kind', 'job_id', 'x', 'y', 'in', 'notin', 'a.b', 'example.com/x', 'x-y_z.0'];
/** Valid label values (`-1` and `+1` are not: a value starts and ends with a letter or digit). */
const VALUES = ['', 'a', 'b', 'clicks', '1', '01', '9223372036854775807', '9223372036854775808', 'a-1.b_2'];
/** Words a selector is made of, valid and not, for the token soup below. */
const WORDS = [
  ...KEYS,
  ...VALUES,
  'a'.repeat(64),
  '-1',
  '+1',
  '-x',
  'x-',
  'A/b',
  'a..b/c',
  'é',
  '1e3',
  '\u0000',
  '\uD800',
  '\u00a0',
];
const SYMBOLS = [
  '=',
  '==',
  '!=',
  '!',
  '(',
  ')',
  ',',
  '>',
  '<',
  ' ',
  '\t',
  '\n',
  ' in ',
  ' notin ',
  '=!',
  '<=',
  '===',
];

/** Selector-like strings: words and symbols in any order, plus arbitrary unicode. */
const selectorText = fc.oneof(
  fc
    .array(
      fc.oneof(
        { arbitrary: fc.constantFrom(...WORDS), weight: 6 },
        { arbitrary: fc.constantFrom(...SYMBOLS), weight: 6 },
        { arbitrary: fc.string({ unit: 'binary', maxLength: 3 }), weight: 1 },
      ),
      { maxLength: 14 },
    )
    .map((tokens) => tokens.join('')),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
);

const labels = fc.dictionary(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES), { maxKeys: 5 });

/** A well-formed requirement, built as a structure first, then written out (with or without spaces). */
const requirement: fc.Arbitrary<Requirement> = fc
  .oneof(
    fc.record({
      key: fc.constantFrom(...KEYS),
      operator: fc.constantFrom<SelectorOperator>('=', '==', '!='),
      values: fc.constantFrom(...VALUES).map((value) => [value]),
    }),
    fc.record({
      key: fc.constantFrom(...KEYS),
      operator: fc.constantFrom<SelectorOperator>('in', 'notin'),
      values: fc.uniqueArray(fc.constantFrom(...VALUES), { minLength: 1, maxLength: 4 }).map((v) => v.sort()),
    }),
    fc.record({
      key: fc.constantFrom(...KEYS),
      operator: fc.constantFrom<SelectorOperator>('>', '<'),
      values: fc.constantFrom('0', '1', '01', '9223372036854775807').map((value) => [value]),
    }),
    fc.record({
      key: fc.constantFrom(...KEYS),
      operator: fc.constantFrom<SelectorOperator>('exists', 'doesNotExist'),
      values: fc.constant([]),
    }),
  )
  // fc.record builds objects without a prototype; the parser's have Object's.
  .map(({ key, operator, values }) => ({ key, operator, values }));

function write(requirement: Requirement, spaced: boolean): string {
  const s = spaced ? ' ' : '';
  const { key, operator, values } = requirement;
  switch (operator) {
    case 'exists':
      return `${s}${key}${s}`;
    case 'doesNotExist':
      return `${s}!${s}${key}${s}`;
    case 'in':
    case 'notin':
      return `${s}${key} ${operator}${s}(${s}${values.join(`${s},${s}`)}${s})${s}`;
    case '=':
    case '==':
    case '!=':
    case '>':
    case '<':
      return `${s}${key}${s}${operator}${s}${values[0] ?? ''}${s}`;
  }
}

/** What each operator means (k8s.io/apimachinery pkg/labels/selector.go `Requirement.Matches`), written out again. */
function means(requirement: Requirement, set: Readonly<Record<string, string>>): boolean {
  const present = Object.hasOwn(set, requirement.key);
  const value = set[requirement.key];
  const listed = value !== undefined && requirement.values.includes(value);
  switch (requirement.operator) {
    case 'exists':
      return present;
    case 'doesNotExist':
      return !present;
    case '=':
    case '==':
    case 'in':
      return listed;
    case '!=':
    case 'notin':
      return !listed;
    case '>':
    case '<': {
      const int = /^[+-]?\d+$/;
      if (value === undefined || !int.test(value)) return false;
      const [actual, bound] = [BigInt(value), BigInt(requirement.values[0] ?? '0')];
      if (actual > 2n ** 63n - 1n || actual < -(2n ** 63n)) return false;
      return requirement.operator === '>' ? actual > bound : actual < bound;
    }
  }
}

const RUNS = 2000;

describe('label selectors, fuzzed', () => {
  it('parse any string or refuse it with a LabelSelectorError, nothing else', () => {
    fc.assert(
      fc.property(selectorText, (text) => {
        try {
          parseLabelSelector(text);
        } catch (err) {
          assert.ok(err instanceof LabelSelectorError, `${JSON.stringify(text)}: ${String(err)}`);
          assert.ok(err.message.length > 0);
        }
      }),
      {
        numRuns: RUNS,
        includeErrorInReport: true,
        examples: [['\u0000'], ['x=\u0000'], ['x in (\uD800)'], ['!'], ['x in ('], ['x>']],
      },
    );
  });

  it('match the same after printing and parsing again, and requirement by requirement', () => {
    fc.assert(
      fc.property(selectorText, fc.array(labels, { minLength: 1, maxLength: 4 }), (text, sets) => {
        let parsed: Requirement[];
        try {
          parsed = parseLabelSelector(text);
        } catch {
          return;
        }
        const printed = formatLabelSelector(parsed);
        const again = parseLabelSelector(printed);
        assert.deepEqual(again, parsed, `${JSON.stringify(text)} printed as ${JSON.stringify(printed)}`);
        assert.equal(formatLabelSelector(again), printed);
        for (const set of sets) {
          const result = matchesSelector(parsed, set);
          assert.equal(matchesSelector(again, set), result);
          assert.equal(
            result,
            parsed.every((one) => matchesSelector([one], set)),
          );
          assert.equal(
            result,
            parsed.every((one) => means(one, set)),
            `${JSON.stringify(text)} on ${JSON.stringify(set)}`,
          );
        }
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  });

  it('read a written requirement back as written, with spaces or without, and match by its meaning', () => {
    fc.assert(
      fc.property(
        fc.array(requirement, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.array(labels, { minLength: 1, maxLength: 4 }),
        (requirements, spaced, sets) => {
          const text = requirements.map((one) => write(one, spaced)).join(',');
          const parsed = parseLabelSelector(text);
          assert.deepEqual(parsed, requirements, JSON.stringify(text));
          for (const set of sets) {
            assert.equal(
              matchesSelector(parsed, set),
              requirements.every((one) => means(one, set)),
              `${JSON.stringify(text)} on ${JSON.stringify(set)}`,
            );
          }
        },
      ),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  });

  it('treat `in` as any of its `=`, `notin` as none, and `!=` as not `=`', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...KEYS),
        fc.uniqueArray(fc.constantFrom(...VALUES.filter((value) => value !== '')), {
          minLength: 1,
          maxLength: 4,
        }),
        labels,
        (key, values, set) => {
          const matches = (text: string): boolean => matchesSelector(parseLabelSelector(text), set);
          const anyEqual = values.some((value) => matches(`${key}=${value}`));
          assert.equal(matches(`${key} in (${values.join(',')})`), anyEqual);
          assert.equal(matches(`${key} notin (${values.join(',')})`), !anyEqual);
          for (const value of values) assert.equal(matches(`${key}!=${value}`), !matches(`${key}==${value}`));
        },
      ),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  });
});
