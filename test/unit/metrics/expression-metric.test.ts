import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ExpressionError, compileExpressionMetric } from '../../../src/metrics/expression-metric.js';
import type { FlinkMetricName, MetricReading } from '../../../src/domain/metrics.js';

const READINGS: Record<FlinkMetricName, MetricReading> = {
  flink_busy_ratio: { value: 0.91 },
  flink_backpressure_ratio: { value: 0.2 },
  flink_source_pending_records: { value: 12_000 },
  flink_source_lag_seconds: { value: 90 },
  flink_records_in_per_second: { unavailable: 'stale' },
  flink_demand_ratio: { value: 1.3 },
};

function evaluate(source: string, readings = READINGS): MetricReading {
  return compileExpressionMetric('my_metric', source).evaluate(readings);
}

describe('compileExpressionMetric: what is allowed', () => {
  it('evaluates the issue example over the catalogue variables', () => {
    const metric = compileExpressionMetric('pressure', 'max(busy_ratio / 0.7, source_lag_seconds / 60)');
    assert.deepEqual(metric.inputs, ['flink_busy_ratio', 'flink_source_lag_seconds']);
    assert.deepEqual(metric.evaluate(READINGS), { value: 1.5 });
  });

  it('allows arithmetic, comparisons, conditionals and the whitelisted functions', () => {
    const cases: [string, number][] = [
      ['busy_ratio * 100 - 1', 90],
      ['(1 + 2) ^ 2 mod 5', 4],
      ['-busy_ratio + +1', 0.09000000000000008],
      ['busy_ratio > 0.9', 1],
      ['busy_ratio <= 0.5', 0],
      ['busy_ratio == 0.91 and backpressure_ratio != 0.3', 1],
      ['not (busy_ratio > 0.5) or false', 0],
      ['busy_ratio > 0.8 ? source_pending_records : 0', 12_000],
      ['0 < backpressure_ratio < 1', 1],
      [
        'min(1, 2, 3) + max(4, 5) + abs(-2) + ceil(1.2) + floor(1.8) + round(1.5) + sqrt(16)',
        1 + 5 + 2 + 2 + 1 + 2 + 4,
      ],
      ['round(busy_ratio, 1)', 0.9],
      ['log(100, 10)', 2],
      ['2 busy_ratio', 1.82],
      ['1e3', 1000],
    ];
    for (const [source, expected] of cases) {
      const reading = evaluate(source);
      assert.ok('value' in reading, `${source}: ${JSON.stringify(reading)}`);
      assert.ok(
        Math.abs(reading.value - expected) < 1e-9,
        `${source} = ${reading.value}, expected ${expected}`,
      );
    }
  });
});

describe('compileExpressionMetric: what is refused', () => {
  const refused: [string, RegExp][] = [
    ['import({x: 1})', /function "import" is not allowed/],
    ['createUnit("x")', /function "createUnit" is not allowed/],
    ['evaluate("1")', /function "evaluate" is not allowed/],
    ['parse("1")', /function "parse" is not allowed/],
    ['simplify("x")', /function "simplify" is not allowed/],
    ['derivative("x^2", "x")', /function "derivative" is not allowed/],
    ['f(x) = x', /function definition is not allowed/],
    ['a = 1', /assignment is not allowed/],
    ['busy_ratio = 1', /assignment is not allowed/],
    ['busy_ratio.constructor', /property access or indexing is not allowed/],
    ['busy_ratio["constructor"]', /property access or indexing is not allowed/],
    ['{a: 1}', /an object is not allowed/],
    ['[1, 2]', /a matrix is not allowed/],
    ['1:3', /a range is not allowed/],
    ['busy_ratio; 1', /more than one expression/],
    ['"text"', /only numbers are allowed/],
    ['unknown_metric * 2', /unknown symbol "unknown_metric"/],
    ['pi', /unknown symbol "pi"/],
    ['cos(busy_ratio)', /function "cos" is not allowed/],
    ['5!', /operator "!" is not allowed/],
    ['1 to cm', /operator "to" is not allowed/],
    ['busy_ratio(1)', /function "busy_ratio" is not allowed/],
    ['max()', /max takes 1 to 16 arguments/],
    ['sqrt(1, 2)', /sqrt takes 1 arguments/],
    ['max(busy_ratio', /cannot parse/],
    ['', /empty/],
    ['1 + '.repeat(400) + '1', /longer than 1000|more than 200/],
  ];
  for (const [source, message] of refused) {
    it(`refuses ${JSON.stringify(source.slice(0, 40))}`, () => {
      assert.throws(
        () => compileExpressionMetric('my_metric', source),
        (err: unknown) =>
          err instanceof ExpressionError && err.code === 'EXPRESSION_INVALID' && message.test(err.message),
      );
    });
  }

  it('refuses bad names and the catalogue names', () => {
    for (const name of ['Busy', '1x', 'a-b', 'flink_busy_ratio', '']) {
      assert.throws(() => compileExpressionMetric(name, '1'), ExpressionError, name);
    }
  });
});

describe('compileExpressionMetric: evaluation', () => {
  it('is unavailable when an input is', () => {
    assert.deepEqual(evaluate('records_in_per_second * 2'), {
      unavailable: 'input-unavailable',
      detail: 'flink_records_in_per_second (stale)',
    });
  });

  it('does not need inputs it does not use', () => {
    assert.deepEqual(evaluate('busy_ratio * 2'), { value: 1.82 });
  });

  it('is unavailable when the result is not a finite number', () => {
    for (const source of [
      '1 / 0',
      'busy_ratio / (backpressure_ratio - 0.2)',
      'sqrt(-1)',
      'log(-1)',
      'log(0)',
      '10 ^ 400',
    ]) {
      const reading = evaluate(source);
      assert.ok(
        'unavailable' in reading && reading.unavailable === 'not-finite',
        `${source}: ${JSON.stringify(reading)}`,
      );
    }
  });
});
