/**
 * Expression metrics: `slotscaler.dev/metric.<name>: "max(busy_ratio / 0.7, source_lag_seconds / 60)"`.
 *
 * Evaluated with mathjs in a restricted scope, defended twice (mathjs' own security advice,
 * https://mathjs.org/docs/expressions/security.html):
 * 1. the parsed tree is walked and only whitelisted node types, operators and functions pass:
 *    numbers, the catalogue's variables, arithmetic, comparisons, `and`/`or`/`not`, `a ? b : c`,
 *    parentheses, and `min max abs ceil floor round sqrt log`. Everything else (assignment,
 *    function definitions, strings, objects, arrays, ranges, indexing and property access, blocks,
 *    units, any other function or symbol) is refused when the expression is compiled;
 * 2. the mathjs instance has `import`, `createUnit`, `evaluate`, `parse`, `simplify`, `derivative`
 *    and `resolve` replaced by functions that throw.
 */
import { all, create } from 'mathjs';
import type { MathNode } from 'mathjs';

import type { FlinkMetricName, MetricReading } from '../domain/metrics.js';
import { SlotscalerError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { METRIC_CATALOGUE } from './catalogue.js';

/**
 * An expression metric (`slotscaler.dev/metric.<name>`) that cannot be used: a parse error, a
 * forbidden construct (assignment, function definition, `import`...), an unknown symbol or function,
 * or a bad name.
 */
export class ExpressionError extends SlotscalerError {
  readonly code: ErrorCode = 'EXPRESSION_INVALID';
  constructor(
    readonly metricName: string,
    readonly source: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`metric "${metricName}": ${detail}`, options);
  }
}

if (all === undefined) throw new Error('mathjs did not export its function map');
const math = create(all, { predictable: true, number: 'number' });
// Kept before the public one is disabled below.
const parseExpression = math.parse.bind(math);

function disabled(name: string): () => never {
  return () => {
    throw new Error(`function ${name} is disabled`);
  };
}
math.import(
  {
    import: disabled('import'),
    createUnit: disabled('createUnit'),
    evaluate: disabled('evaluate'),
    parse: disabled('parse'),
    simplify: disabled('simplify'),
    derivative: disabled('derivative'),
    resolve: disabled('resolve'),
  },
  { override: true },
);

/** The longest expression accepted, and the most nodes its tree may have. */
const MAX_SOURCE_LENGTH = 1000;
const MAX_NODES = 200;

/** Allowed functions and how many arguments each takes. */
const FUNCTIONS: Readonly<Record<string, { readonly min: number; readonly max: number }>> = {
  min: { min: 1, max: 16 },
  max: { min: 1, max: 16 },
  abs: { min: 1, max: 1 },
  ceil: { min: 1, max: 1 },
  floor: { min: 1, max: 1 },
  round: { min: 1, max: 2 },
  sqrt: { min: 1, max: 1 },
  log: { min: 1, max: 2 },
};

const RELATIONS: ReadonlySet<string> = new Set([
  'smaller',
  'larger',
  'smallerEq',
  'largerEq',
  'equal',
  'unequal',
]);

const OPERATORS: ReadonlySet<string> = new Set([
  'add',
  'subtract',
  'multiply',
  'divide',
  'mod',
  'pow',
  'unaryMinus',
  'unaryPlus',
  ...RELATIONS,
  'and',
  'or',
  'not',
]);

/** Variable name → catalogue metric name. */
const VARIABLES: ReadonlyMap<string, FlinkMetricName> = new Map(
  METRIC_CATALOGUE.map((entry) => [entry.variable, entry.name]),
);

const NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** An expression metric as its readers need it (a compiled `ExpressionMetric`, or a test's own). */
export interface EvaluableMetric {
  readonly name: string;
  /** The expression as written, for messages. */
  readonly source: string;
  evaluate(readings: Readonly<Record<FlinkMetricName, MetricReading>>): MetricReading;
}

/**
 * A target's metric values at one tick: its window's catalogue metrics and its expression metrics
 * over them. The one place expression metrics are evaluated (`metricValues`); every reader (the
 * planner, the metrics API, simulate) looks values up here.
 */
export type MetricValues = Readonly<Record<string, MetricReading>>;

/** The values of one tick: each expression evaluated once over the window's catalogue metrics. */
export function metricValues(
  catalogue: Readonly<Record<FlinkMetricName, MetricReading>>,
  expressions: readonly EvaluableMetric[],
): MetricValues {
  const values: Record<string, MetricReading> = { ...catalogue };
  for (const expression of expressions) values[expression.name] = expression.evaluate(catalogue);
  return values;
}

/** One metric of a target's values; none taken yet is no-data, a name it does not have is unknown. */
export function valueOf(name: string, values: MetricValues | undefined): MetricReading {
  if (values === undefined) return { unavailable: 'no-data' };
  return values[name] ?? { unavailable: 'no-data', detail: 'unknown metric' };
}

/** A compiled expression metric. */
export interface ExpressionMetric {
  readonly name: string;
  readonly source: string;
  /** The catalogue metrics it reads. */
  readonly inputs: readonly FlinkMetricName[];
  /**
   * Its value from the catalogue metrics' readings: unavailable (`input-unavailable`) when an input is,
   * `not-finite` when the result is not a finite number (division by zero, sqrt of a negative...).
   */
  evaluate(readings: Readonly<Record<FlinkMetricName, MetricReading>>): MetricReading;
}

/**
 * Compiles `source` as the expression metric `name`. Throws `ExpressionError` for a bad name, a
 * parse error or anything outside the whitelist.
 */
export function compileExpressionMetric(name: string, source: string): ExpressionMetric {
  const fail = (detail: string, cause?: unknown): ExpressionError =>
    new ExpressionError(name, source, detail, cause === undefined ? undefined : { cause });
  if (!NAME.test(name))
    throw fail('the name must be lowercase letters, digits and _, starting with a letter');
  if (METRIC_CATALOGUE.some((entry) => entry.name === name)) throw fail('the name is a built-in metric');
  if (source.trim() === '') throw fail('the expression is empty');
  if (source.length > MAX_SOURCE_LENGTH)
    throw fail(`the expression is longer than ${MAX_SOURCE_LENGTH} characters`);

  let tree: MathNode;
  try {
    tree = parseExpression(source);
  } catch (err) {
    throw fail(`cannot parse: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  const inputs = new Set<FlinkMetricName>();
  let nodes = 0;
  const check = (node: MathNode): void => {
    nodes += 1;
    if (nodes > MAX_NODES) throw fail(`the expression has more than ${MAX_NODES} terms`);
    if (math.isConstantNode(node)) {
      const value: unknown = node.value;
      if (typeof value !== 'number' && typeof value !== 'boolean')
        throw fail('only numbers are allowed as constants');
      return;
    }
    if (math.isSymbolNode(node)) {
      const metric = VARIABLES.get(node.name);
      if (metric === undefined)
        throw fail(`unknown symbol "${node.name}" (known: ${[...VARIABLES.keys()].join(', ')})`);
      inputs.add(metric);
      return;
    }
    if (math.isParenthesisNode(node)) {
      check(node.content);
      return;
    }
    if (math.isOperatorNode(node)) {
      if (!OPERATORS.has(node.fn)) throw fail(`operator "${node.op}" is not allowed`);
      node.args.forEach(check);
      return;
    }
    if (math.isRelationalNode(node)) {
      for (const conditional of node.conditionals) {
        if (!RELATIONS.has(conditional)) throw fail(`comparison "${conditional}" is not allowed`);
      }
      node.params.forEach(check);
      return;
    }
    if (math.isConditionalNode(node)) {
      check(node.condition);
      check(node.trueExpr);
      check(node.falseExpr);
      return;
    }
    if (math.isFunctionNode(node)) {
      const fn: unknown = node.fn;
      const fnName = math.isSymbolNode(fn) ? fn.name : null;
      const arity = fnName === null ? undefined : FUNCTIONS[fnName];
      if (fnName === null || arity === undefined) {
        throw fail(
          `function ${fnName === null ? 'call' : `"${fnName}"`} is not allowed (allowed: ${Object.keys(FUNCTIONS).join(', ')})`,
        );
      }
      if (node.args.length < arity.min || node.args.length > arity.max) {
        throw fail(
          `${fnName} takes ${arity.min === arity.max ? arity.min : `${arity.min} to ${arity.max}`} arguments`,
        );
      }
      node.args.forEach(check);
      return;
    }
    throw fail(`${describeNode(node.type)} is not allowed`);
  };
  check(tree);

  const compiled = tree.compile();
  const inputList = [...inputs];
  return {
    name,
    source,
    inputs: inputList,
    evaluate(readings) {
      const scope = new Map<string, number>();
      const missing: string[] = [];
      for (const [variable, metric] of VARIABLES) {
        if (!inputs.has(metric)) continue;
        const reading = readings[metric];
        if ('value' in reading) scope.set(variable, reading.value);
        else missing.push(`${metric} (${reading.unavailable})`);
      }
      if (missing.length > 0) return { unavailable: 'input-unavailable', detail: missing.join(', ') };
      let result: unknown;
      try {
        result = compiled.evaluate(scope);
      } catch (err) {
        return { unavailable: 'not-finite', detail: err instanceof Error ? err.message : String(err) };
      }
      const value = typeof result === 'boolean' ? Number(result) : result;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return { unavailable: 'not-finite', detail: `evaluated to ${String(result)}` };
      }
      return { value };
    },
  };
}

function describeNode(type: string): string {
  switch (type) {
    case 'AssignmentNode':
      return 'assignment';
    case 'FunctionAssignmentNode':
      return 'a function definition';
    case 'AccessorNode':
    case 'IndexNode':
      return 'property access or indexing';
    case 'ObjectNode':
      return 'an object';
    case 'ArrayNode':
      return 'a matrix';
    case 'RangeNode':
      return 'a range';
    case 'BlockNode':
      return 'more than one expression';
    default:
      return type;
  }
}
