/**
 * Kubernetes label selectors, parsed and matched as k8s.io/apimachinery/pkg/labels/selector.go does:
 * `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`,
 * `key>1`, `key<1`, separated by commas. Pure; no I/O. One difference: upstream's lexer takes a NUL
 * byte as the end of the selector (`\0x=a` is the empty selector, matching everything); here it is
 * part of a word, so the selector is refused.
 */
import type { Requirement } from '../domain/metrics.js';

/** A selector that could not be parsed; the API server answers 400 BadRequest. */
export class LabelSelectorError extends Error {
  override readonly name = 'LabelSelectorError';
}

export type Token =
  | { kind: 'identifier'; text: string }
  | { kind: 'symbol'; text: '!' | '=' | '==' | '!=' | '(' | ')' | ',' | '>' | '<' }
  | { kind: 'keyword'; text: 'in' | 'notin' }
  | { kind: 'end'; text: '' };

const SPECIAL = new Set(['=', '!', '(', ')', ',', '>', '<']);
const SYMBOLS = new Set(['!', '=', '==', '!=', '(', ')', ',', '>', '<']);
const WHITESPACE = new Set([' ', '\t', '\r', '\n']);

/** The tokens of a selector, ending with `end` (upstream's `Lexer`); exported for its tests. */
export function lexLabelSelector(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text.charAt(i);
    if (WHITESPACE.has(ch)) {
      i++;
    } else if (SPECIAL.has(ch)) {
      // The longest run of special characters that is a known symbol (`!=`, `==`).
      let j = i;
      let last: string | undefined;
      let lastEnd = i;
      while (j < text.length && SPECIAL.has(text.charAt(j))) {
        const candidate = text.slice(i, j + 1);
        if (SYMBOLS.has(candidate)) {
          last = candidate;
          lastEnd = j + 1;
        } else if (last !== undefined) {
          break;
        }
        j++;
      }
      if (last === undefined)
        throw new LabelSelectorError(`error expected: keyword found '${text.slice(i, j)}'`);
      tokens.push({ kind: 'symbol', text: last as Extract<Token, { kind: 'symbol' }>['text'] });
      i = lastEnd;
    } else {
      let j = i;
      while (j < text.length && !SPECIAL.has(text.charAt(j)) && !WHITESPACE.has(text.charAt(j))) j++;
      const word = text.slice(i, j);
      tokens.push(
        word === 'in' || word === 'notin'
          ? { kind: 'keyword', text: word }
          : { kind: 'identifier', text: word },
      );
      i = j;
    }
  }
  tokens.push({ kind: 'end', text: '' });
  return tokens;
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A qualified name: `[prefix/]name`, name up to 63 characters, prefix a DNS subdomain. */
function checkKey(key: string): void {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const nameOk = name.length > 0 && name.length <= 63 && NAME.test(name);
  const prefixOk =
    prefix === undefined || (prefix.length > 0 && prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix));
  if (!nameOk || !prefixOk)
    throw new LabelSelectorError(`invalid label key "${key}": must be a qualified name`);
}

function checkValue(key: string, value: string): void {
  if (value !== '' && (value.length > 63 || !NAME.test(value))) {
    throw new LabelSelectorError(
      `invalid label value: "${value}" for key "${key}": must be a valid label value`,
    );
  }
}

class Parser {
  private position = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  /** In value context the keywords are plain identifiers (`a in (in)`). */
  private peek(valueContext: boolean): Token {
    const token = this.tokens[this.position] ?? { kind: 'end', text: '' };
    return valueContext && token.kind === 'keyword' ? { kind: 'identifier', text: token.text } : token;
  }

  private next(valueContext: boolean): Token {
    const token = this.peek(valueContext);
    this.position++;
    return token;
  }

  parse(): Requirement[] {
    const requirements: Requirement[] = [];
    for (;;) {
      const token = this.peek(true);
      if (token.kind === 'end') return requirements;
      if (token.kind !== 'identifier' && token.text !== '!') {
        throw new LabelSelectorError(`found '${token.text}', expected: !, identifier, or 'end of string'`);
      }
      requirements.push(this.requirement());
      const after = this.next(true);
      if (after.kind === 'end') return requirements;
      if (after.text !== ',')
        throw new LabelSelectorError(`found '${after.text}', expected: ',' or 'end of string'`);
      const following = this.peek(true);
      if (following.kind !== 'identifier' && following.text !== '!') {
        throw new LabelSelectorError(`found '${following.text}', expected: identifier after ','`);
      }
    }
  }

  private requirement(): Requirement {
    let token = this.next(true);
    let negated = false;
    if (token.kind === 'symbol' && token.text === '!') {
      negated = true;
      token = this.next(true);
    }
    if (token.kind !== 'identifier')
      throw new LabelSelectorError(`found '${token.text}', expected: identifier`);
    const key = token.text;
    checkKey(key);
    const lookahead = this.peek(true);
    if (lookahead.kind === 'end' || lookahead.text === ',') {
      return { key, operator: negated ? 'doesNotExist' : 'exists', values: [] };
    }
    if (negated) throw new LabelSelectorError(`found '${lookahead.text}', expected: ',' or 'end of string'`);

    const operatorToken = this.next(false);
    const operator = operatorToken.text;
    let values: string[];
    if (operator === 'in' || operator === 'notin') values = this.valueSet();
    else if (
      operator === '=' ||
      operator === '==' ||
      operator === '!=' ||
      operator === '>' ||
      operator === '<'
    ) {
      values = [this.exactValue()];
    } else {
      throw new LabelSelectorError(`found '${operator}', expected: in, notin, =, ==, !=, gt, lt`);
    }
    for (const value of values) checkValue(key, value);
    if ((operator === '>' || operator === '<') && parseInt64(values[0] ?? '') === undefined) {
      throw new LabelSelectorError(`for 'Gt', 'Lt' operators, the value must be an integer`);
    }
    return { key, operator, values };
  }

  private exactValue(): string {
    const lookahead = this.peek(true);
    if (lookahead.kind === 'end' || lookahead.text === ',') return '';
    const token = this.next(true);
    if (token.kind !== 'identifier')
      throw new LabelSelectorError(`found '${token.text}', expected: identifier`);
    return token.text;
  }

  /** `( a, b )`; as upstream, `()` and empty items stand for the empty value. */
  private valueSet(): string[] {
    const open = this.next(true);
    if (open.text !== '(') throw new LabelSelectorError(`found '${open.text}' expected: '('`);
    const values = new Set<string>();
    const first = this.peek(true);
    if (first.text === ')') {
      this.next(true);
      return [''];
    }
    if (first.kind !== 'identifier' && first.text !== ',') {
      throw new LabelSelectorError(`found '${first.text}', expected: ',', ')' or identifier`);
    }
    for (;;) {
      const token = this.next(true);
      if (token.kind === 'identifier') {
        values.add(token.text);
        const after = this.peek(true);
        if (after.text === ')') break;
        if (after.text !== ',') throw new LabelSelectorError(`found '${after.text}', expected: ',' or ')'`);
      } else if (token.text === ',') {
        if (values.size === 0) values.add('');
        const after = this.peek(true);
        if (after.text === ')') {
          values.add('');
          break;
        }
        if (after.text === ',') values.add('');
      } else {
        throw new LabelSelectorError(`found '${token.text}', expected: ',', or identifier`);
      }
    }
    this.next(true); // ')'
    return [...values].sort();
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A base-10 int64 as Go's `strconv.ParseInt(text, 10, 64)` reads it, or undefined. */
function parseInt64(text: string): bigint | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}

/** Parses a selector; an empty or blank selector matches everything. */
export function parseLabelSelector(text: string): Requirement[] {
  return new Parser(lexLabelSelector(text)).parse();
}

function matchesRequirement(requirement: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, requirement.key);
  const value = labels[requirement.key];
  switch (requirement.operator) {
    case 'exists':
      return has;
    case 'doesNotExist':
      return !has;
    case '=':
    case '==':
    case 'in':
      return has && requirement.values.includes(value ?? '');
    case '!=':
    case 'notin':
      return !has || !requirement.values.includes(value ?? '');
    case '>':
    case '<': {
      // As upstream: a label value that is not an int64 matches neither bound.
      const actual = has ? parseInt64(value ?? '') : undefined;
      const bound = parseInt64(requirement.values[0] ?? '');
      if (actual === undefined || bound === undefined) return false;
      return requirement.operator === '>' ? actual > bound : actual < bound;
    }
  }
}

/** Every requirement holds for the labels (an empty selector matches everything). */
export function matchesSelector(
  requirements: readonly Requirement[],
  labels: Readonly<Record<string, string>>,
): boolean {
  return requirements.every((requirement) => matchesRequirement(requirement, labels));
}

/** A requirement as upstream's `Requirement.String()` prints it: `x in (a,b)`, `!x`, `x!=a`. */
function formatRequirement(requirement: Requirement): string {
  const { key, operator, values } = requirement;
  switch (operator) {
    case 'exists':
      return key;
    case 'doesNotExist':
      return `!${key}`;
    case 'in':
    case 'notin':
      return `${key} ${operator} (${values.join(',')})`;
    case '=':
    case '==':
    case '!=':
    case '>':
    case '<':
      return `${key}${operator}${values[0] ?? ''}`;
  }
}

/** The selector as text, requirements in their order (upstream's `Selector.String()`). */
export function formatLabelSelector(requirements: readonly Requirement[]): string {
  return requirements.map(formatRequirement).join(',');
}
