/**
 * The label-selector grammar, ported case by case from k8s.io/apimachinery v0.35.4
 * pkg/labels/selector_test.go (TestSelectorParse, TestSelectorMatches, TestLexer, TestLexerSequence,
 * TestParseOperator, TestRequirementConstructor, TestRequirementSelectorMatching,
 * TestSetSelectorParser). Upstream sorts requirements by key when parsing; we keep the written order,
 * so expectations are compared sorted by key.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  LabelSelectorError,
  formatLabelSelector,
  lexLabelSelector,
  matchesSelector,
  parseLabelSelector,
} from '../../../src/metrics-api/label-selector.js';
import type { Requirement, SelectorOperator } from '../../../src/domain/metrics.js';

function req(key: string, operator: SelectorOperator, values: readonly string[] = []): Requirement {
  return { key, operator, values: [...values].sort() };
}

function sortedByKey(requirements: readonly Requirement[]): Requirement[] {
  return [...requirements].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function matches(selector: string, labels: Record<string, string>): boolean {
  return matchesSelector(parseLabelSelector(selector), labels);
}

describe('parseLabelSelector: TestSelectorParse', () => {
  const good = ['x=a,y=b,z=c', '', 'x!=a,y=b', 'x=', 'x= ', 'x=,z= ', 'x= ,z= ', '!x', 'x>1', 'x>1,z<5'];
  for (const text of good) {
    it(`parses ${JSON.stringify(text)} and prints it back without spaces`, () => {
      assert.equal(formatLabelSelector(parseLabelSelector(text)), text.replaceAll(' ', ''));
    });
  }
  for (const text of ['x=a||y=b', 'x==a==b', '!x=a', 'x<a']) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseLabelSelector(text), LabelSelectorError);
    });
  }
});

describe('matchesSelector: TestSelectorMatches', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['', { x: 'y' }, true],
    ['x=y', { x: 'y' }, true],
    ['x=y,z=w', { x: 'y', z: 'w' }, true],
    ['x!=y,z!=w', { x: 'z', z: 'a' }, true],
    ['notin=in', { notin: 'in' }, true], // in and notin in exactMatch
    ['x', { x: 'z' }, true],
    ['!x', { y: 'z' }, true],
    ['x>1', { x: '2' }, true],
    ['x<1', { x: '0' }, true],
    ['x=z', {}, false],
    ['x=y', { x: 'z' }, false],
    ['x=y,z=w', { x: 'w', z: 'w' }, false],
    ['x!=y,z!=w', { x: 'z', z: 'w' }, false],
    ['x', { y: 'z' }, false],
    ['!x', { x: 'z' }, false],
    ['x>1', { x: '0' }, false],
    ['x<1', { x: '2' }, false],
    ['foo=bar', { foo: 'bar', baz: 'blah' }, true],
    ['baz=blah', { foo: 'bar', baz: 'blah' }, true],
    ['foo=bar,baz=blah', { foo: 'bar', baz: 'blah' }, true],
    ['foo=blah', { foo: 'bar', baz: 'blah' }, false],
    ['baz=bar', { foo: 'bar', baz: 'blah' }, false],
    ['foo=bar,foobar=bar,baz=blah', { foo: 'bar', baz: 'blah' }, false],
  ];
  for (const [selector, labels, expected] of cases) {
    it(`${JSON.stringify(selector)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(labels)}`, () => {
      assert.equal(matches(selector, labels), expected);
    });
  }
  it('an empty selector matches everything (TestEverything)', () => {
    assert.deepEqual(parseLabelSelector(''), []);
    assert.equal(matchesSelector([], { x: 'y' }), true);
  });
  it('is deterministic in the order of requirements (TestDeterministicParse)', () => {
    const labels = { x: 'a', a: 'x' };
    assert.equal(matches('x=a,a=x', labels), matches('a=x,x=a', labels));
    assert.deepEqual(sortedByKey(parseLabelSelector('x=a,a=x')), sortedByKey(parseLabelSelector('a=x,x=a')));
  });
});

describe('lexLabelSelector: TestLexer, TestLexerSequence', () => {
  // Upstream's token names, as our token kinds and texts.
  const single: [string, string][] = [
    ['', 'end'],
    [',', 'symbol ,'],
    ['notin', 'keyword notin'],
    ['in', 'keyword in'],
    ['=', 'symbol ='],
    ['==', 'symbol =='],
    ['>', 'symbol >'],
    ['<', 'symbol <'],
    // Lex returns the longest valid token found.
    ['!', 'symbol !'],
    ['!=', 'symbol !='],
    ['(', 'symbol ('],
    [')', 'symbol )'],
    // Non-"special" characters are part of an identifier.
    ['~', 'identifier ~'],
    ['||', 'identifier ||'],
  ];
  const describeToken = (token: { kind: string; text: string }): string =>
    token.kind === 'end' ? 'end' : `${token.kind} ${token.text}`;
  for (const [text, expected] of single) {
    it(`lexes ${JSON.stringify(text)} as ${expected}`, () => {
      assert.equal(describeToken(lexLabelSelector(text)[0] ?? { kind: 'end', text: '' }), expected);
    });
  }
  const sequences: [string, string[]][] = [
    ['key in ( value )', ['identifier key', 'keyword in', 'symbol (', 'identifier value', 'symbol )']],
    ['key notin ( value )', ['identifier key', 'keyword notin', 'symbol (', 'identifier value', 'symbol )']],
    [
      'key in ( value1, value2 )',
      [
        'identifier key',
        'keyword in',
        'symbol (',
        'identifier value1',
        'symbol ,',
        'identifier value2',
        'symbol )',
      ],
    ],
    ['key', ['identifier key']],
    ['!key', ['symbol !', 'identifier key']],
    ['()', ['symbol (', 'symbol )']],
    ['x in (),y', ['identifier x', 'keyword in', 'symbol (', 'symbol )', 'symbol ,', 'identifier y']],
    [
      '== != (), = notin',
      ['symbol ==', 'symbol !=', 'symbol (', 'symbol )', 'symbol ,', 'symbol =', 'keyword notin'],
    ],
    ['key>2', ['identifier key', 'symbol >', 'identifier 2']],
    ['key<1', ['identifier key', 'symbol <', 'identifier 1']],
  ];
  for (const [text, expected] of sequences) {
    it(`lexes ${JSON.stringify(text)} (and ends with end of string: TestParserLookahead)`, () => {
      assert.deepEqual(lexLabelSelector(text).map(describeToken), [...expected, 'end']);
    });
  }
});

describe('parseLabelSelector: TestParseOperator', () => {
  for (const operator of ['in (a)', '= a', '== a', '> 1', '< 1', 'notin (a)', '!= a']) {
    it(`accepts the operator of "x ${operator}"`, () => {
      assert.equal(parseLabelSelector(`x ${operator}`).length, 1);
    });
  }
  for (const operator of ['!', 'exists', '(']) {
    it(`rejects ${JSON.stringify(operator)} as a binary operator with upstream's message`, () => {
      assert.throws(() => parseLabelSelector(`x ${operator} a`), {
        name: 'LabelSelectorError',
        message: `found '${operator}', expected: in, notin, =, ==, !=, gt, lt`,
      });
    });
  }
});

describe('parseLabelSelector: TestRequirementConstructor (the cases a selector string can express)', () => {
  // Upstream's x1, x2 (in/notin with no values), x5 (= with two values) and x8 (exists with a value)
  // cannot be written as selector text: `()` parses to the empty value and `=` takes one token.
  const valid = [
    'x3 in (foo)',
    'x4 notin (foo)',
    'x6',
    '!x7',
    'x9 in (bar)',
    'x10 in (bar)',
    'x11>1',
    'x12<6',
  ];
  for (const text of valid) {
    it(`accepts ${text}`, () => assert.equal(parseLabelSelector(text).length, 1));
  }
  const invalid: [string, string][] = [
    ['x14>bar', 'gt with a value that is not an integer'],
    ['x15<bar', 'lt with a value that is not an integer'],
    ['x13>', 'gt with no value'],
    ['a'.repeat(254), 'a key longer than a qualified name allows'],
    [`x16=${'a'.repeat(254)}`, 'a value longer than 63 characters'],
    ['x17 in (a b)', 'a value with a space (no comma)'],
    ['x18 unsupportedOp a', 'an unsupported operator'],
    ['x19>9223372036854775808', 'gt with a value beyond int64 (strconv.ParseInt fails)'],
  ];
  for (const [text, why] of invalid) {
    it(`rejects ${why}`, () => assert.throws(() => parseLabelSelector(text), LabelSelectorError));
  }
});

describe('matchesSelector: TestRequirementSelectorMatching', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['x in (foo),y notin (alpha)', { x: 'foo', y: 'baz' }, true],
    ['x in (foo),y in (alpha)', { x: 'foo', y: 'baz' }, false],
    ['x notin (),y', { y: '' }, true],
    ['!x,y', { y: '' }, true],
    ['x notin (),!y', { y: '' }, false],
    ['x in ()', { y: 'baz' }, false],
    ['z>1', { z: '2' }, true],
    ['z>1', { z: 'v2' }, false],
    // Values beyond int64 do not parse upstream, so they match neither bound.
    ['z>1', { z: '99999999999999999999' }, false],
    ['z<1', { z: '-99999999999999999999' }, false],
  ];
  for (const [selector, labels, expected] of cases) {
    it(`${selector} on ${JSON.stringify(labels)} is ${expected}`, () => {
      assert.equal(matches(selector, labels), expected);
    });
  }
});

describe('parseLabelSelector: TestSetSelectorParser', () => {
  const valid: [string, Requirement[]][] = [
    ['', []],
    ['\rx', [req('x', 'exists')]],
    ['this-is-a-dns.domain.com/key-with-dash', [req('this-is-a-dns.domain.com/key-with-dash', 'exists')]],
    [
      'this-is-another-dns.domain.com/key-with-dash in (so,what)',
      [req('this-is-another-dns.domain.com/key-with-dash', 'in', ['so', 'what'])],
    ],
    [
      '0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)',
      [req('0.1.2.domain/99', 'notin', ['10.10.100.1', 'tick.tack.clock'])],
    ],
    ['foo  in\t (abc)', [req('foo', 'in', ['abc'])]],
    ['x notin\n (abc)', [req('x', 'notin', ['abc'])]],
    ['x  notin\t\t\t(abc,def)', [req('x', 'notin', ['abc', 'def'])]],
    ['x in (abc,def)', [req('x', 'in', ['abc', 'def'])]],
    ['x in (abc,)', [req('x', 'in', ['abc', ''])]],
    ['x in (abc,abc)', [req('x', 'in', ['abc'])]],
    ['x in ()', [req('x', 'in', [''])]],
    ['x in (a,,)', [req('x', 'in', ['a', ''])]],
    ['x in (a,,,)', [req('x', 'in', ['a', ''])]],
    ['x in (a,,,,,,)', [req('x', 'in', ['a', ''])]],
    ['x in (a,,a,,a,,a,,)', [req('x', 'in', ['a', ''])]],
    [
      'x notin (abc,,def),bar,z in (),w',
      [req('bar', 'exists'), req('w', 'exists'), req('x', 'notin', ['abc', '', 'def']), req('z', 'in', [''])],
    ],
    ['x,y in (a)', [req('x', 'exists'), req('y', 'in', ['a'])]],
    ['x=a', [req('x', '=', ['a'])]],
    ['x>1', [req('x', '>', ['1'])]],
    ['x<7', [req('x', '<', ['7'])]],
    ['x=a,y!=b', [req('x', '=', ['a']), req('y', '!=', ['b'])]],
    ['x=a,y!=b,z in (h,i,j)', [req('x', '=', ['a']), req('y', '!=', ['b']), req('z', 'in', ['h', 'i', 'j'])]],
    ['x notin ( )', [req('x', 'notin', [''])]],
    ['x notin (, a)', [req('x', 'notin', ['', 'a'])]],
    ['a ', [req('a', 'exists')]],
    // The operators `in` and `notin` inside a list of identifiers are values.
    ['a in (x,y,notin, z,in)', [req('a', 'in', ['in', 'notin', 'x', 'y', 'z'])]],
  ];
  for (const [text, expected] of valid) {
    it(`parses ${JSON.stringify(text)}`, () => {
      assert.deepEqual(sortedByKey(parseLabelSelector(text)), sortedByKey(expected));
    });
  }
  const invalid = [
    'x=a||y=b',
    'x,,y',
    ',x,y',
    'x nott in (y)',
    'a in (xyz),',
    'a in (xyz)b notin ()',
    'a in (xyz abc)', // no comma
    'a notin(', // badly formed
    'a (', // cpar
    '(', // opar
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseLabelSelector(text), LabelSelectorError);
    });
  }
});

describe('formatLabelSelector: TestToString', () => {
  const cases: [Requirement[], string][] = [
    [
      [req('x', 'in', ['abc', 'def']), req('y', 'notin', ['jkl']), req('z', 'exists')],
      'x in (abc,def),y notin (jkl),z',
    ],
    [
      [req('x', 'notin', ['abc', 'def']), req('y', '!=', ['jkl']), req('z', 'doesNotExist')],
      'x notin (abc,def),y!=jkl,!z',
    ],
    [
      [req('x', 'notin', ['abc']), req('y', 'in', ['jkl', 'mno']), req('z', 'notin', [''])],
      'x notin (abc),y in (jkl,mno),z notin ()',
    ],
    [
      [req('x', '=', ['abc']), req('y', '==', ['jkl']), req('z', '!=', ['a']), req('z', 'exists')],
      'x=abc,y==jkl,z!=a,z',
    ],
    [[req('x', '>', ['2']), req('y', '<', ['8']), req('z', 'exists')], 'x>2,y<8,z'],
  ];
  for (const [requirements, expected] of cases) {
    it(`prints ${expected}`, () => assert.equal(formatLabelSelector(requirements), expected));
  }
});

describe('where we differ from upstream on purpose', () => {
  // Upstream's Lexer.read returns 0 past the end and Lex takes a 0 byte as the end of the string, so
  // `x=a\0,y=b` reads as `x=a` and `\0x=a` as the empty selector (everything). Found by fuzzing
  // against apimachinery's parser: a NUL is refused here, so no selector silently widens.
  for (const text of ['\u0000', '\u0000x=a', 'x=a\u0000,y=b', 'x\u0000']) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseLabelSelector(text), LabelSelectorError);
    });
  }
});
