/**
 * Label and field selectors as the API server reads them (k8s.io/apimachinery pkg/labels and
 * pkg/fields): `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a` for labels; `=`, `==`
 * and `!=` on `metadata.name` and `metadata.namespace` for fields (the only field labels every
 * resource supports). A selector the server would refuse is a `SelectorError` (the fake answers 400).
 */
import type { KubeObject } from '../../../src/kube/objects.js';

export class SelectorError extends Error {}

export type ObjectFilter = (object: KubeObject) => boolean;

/** Splits at commas outside parentheses. */
function terms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth += 1;
    else if (c === ')') depth -= 1;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((term) => term.trim()).filter((term) => term !== '');
}

function labelTerm(term: string): (labels: Readonly<Record<string, string>>) => boolean {
  const set = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (set !== null) {
    const [, key = '', op, list = ''] = set;
    const values = list.split(',').map((v) => v.trim());
    return op === 'in'
      ? (labels) => labels[key] !== undefined && values.includes(labels[key])
      : (labels) => labels[key] === undefined || !values.includes(labels[key]);
  }
  const compare = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(term);
  if (compare !== null) {
    const [, key = '', op, value = ''] = compare;
    return op === '!=' ? (labels) => labels[key] !== value : (labels) => labels[key] === value;
  }
  const absent = /^!\s*([^\s!=(),]+)$/.exec(term);
  if (absent !== null) return (labels) => labels[absent[1] ?? ''] === undefined;
  const present = /^([^\s!=(),]+)$/.exec(term);
  if (present !== null) return (labels) => labels[present[1] ?? ''] !== undefined;
  throw new SelectorError(`unable to parse requirement: ${term}`);
}

export function labelFilter(selector: string | undefined): ObjectFilter {
  if (selector === undefined || selector.trim() === '') return () => true;
  const tests = terms(selector).map(labelTerm);
  return (object) => tests.every((test) => test(object.metadata.labels ?? {}));
}

const FIELDS: Readonly<Record<string, (object: KubeObject) => string>> = {
  'metadata.name': (object) => object.metadata.name,
  'metadata.namespace': (object) => object.metadata.namespace ?? '',
};

export function fieldFilter(selector: string | undefined): ObjectFilter {
  if (selector === undefined || selector.trim() === '') return () => true;
  const tests = terms(selector).map((term): ObjectFilter => {
    const match = /^([^\s!=]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (match === null) throw new SelectorError(`invalid selector: '${term}'; can't understand '${term}'`);
    const [, field = '', op, value = ''] = match;
    const read = FIELDS[field];
    if (read === undefined) throw new SelectorError(`field label not supported: ${field}`);
    return op === '!=' ? (object) => read(object) !== value : (object) => read(object) === value;
  });
  return (object) => tests.every((test) => test(object));
}
