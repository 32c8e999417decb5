import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  ValueError,
  formatDuration,
  formatMetricTargets,
  formatMilli,
  formatPolicies,
  formatTolerance,
  parseBoolean,
  parseDuration,
  parseInteger,
  parseMetricTargets,
  parsePolicies,
  parseQuantity,
  parseQuantityMilli,
  parseTolerance,
  toMilli,
} from '../../../src/config/values.js';

describe('durations', () => {
  for (const [text, seconds] of [
    ['30s', 30],
    ['5m', 300],
    ['1h30m', 5400],
    ['1h', 3600],
    ['1.5s', 1.5],
    ['250ms', 0.25],
    ['2m30s', 150],
    ['90', 90],
    ['0', 0],
    ['0s', 0],
    [' 15s ', 15],
    // Plain seconds are kept to the millisecond like the others (a fuzzed value that did not read back).
    ['1.0000000000000002', 1],
    ['0.0004', 0],
    ['2.5', 2.5],
  ] as const) {
    it(`${JSON.stringify(text)} is ${seconds} s`, () => assert.equal(parseDuration(text), seconds));
  }
  for (const text of ['', '5', '5x', 's', '-5s', '5 m', '1h-30m', '5m30', 'abc', '1.2.3s']) {
    if (text === '5') continue;
    it(`${JSON.stringify(text)} is not a duration`, () =>
      assert.throws(() => parseDuration(text), { name: 'ValueError', message: /expected a duration/ }));
  }
  it('formats back', () => {
    assert.equal(formatDuration(5400), '1h30m');
    assert.equal(formatDuration(0.25), '250ms');
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(61.5), '1m1s500ms');
  });
});

describe('quantities (milli-units, rounded up like Quantity.MilliValue)', () => {
  for (const [text, milli] of [
    ['500m', 500],
    ['1.5', 1500],
    ['2k', 2_000_000],
    ['8600m', 8600],
    ['0.7', 700],
    ['0.93', 930],
    ['1Ki', 1_024_000],
    ['1e3', 1_000_000],
    ['1E-3', 1],
    ['0.0001', 1],
    ['1n', 1],
    ['0', 0],
    ['.5', 500],
    ['5.', 5000],
    ['-1.5', -1500],
    ['+2', 2000],
    ['3M', 3_000_000_000],
    ['1.0001', 1001],
  ] as const) {
    it(`${text} is ${milli}m`, () => assert.equal(parseQuantityMilli(text), milli));
  }
  for (const text of ['', 'abc', '1.2.3', '5 m', '1Kb', 'm', '1e', 'NaN', 'Infinity', '1ki']) {
    it(`${JSON.stringify(text)} is not a quantity`, () =>
      assert.throws(() => parseQuantityMilli(text), { name: 'ValueError' }));
  }
  it('refuses a quantity beyond exact integers', () =>
    assert.throws(() => parseQuantityMilli('10E'), { message: /too large/ }));
  // Found by fuzzing: 10^exponent was built as a BigInt, which took seconds for 1e9999999 and
  // threw a RangeError (not a ValueError, so it escaped the annotation parser) past about 1e1000000000.
  for (const text of ['1e99999999999', '1e9999999', '9e+16', '0.1e18'])
    it(`refuses ${text} at once, as too large`, () =>
      assert.throws(() => parseQuantityMilli(text), { name: 'ValueError', message: /too large/ }));
  for (const [text, milli] of [
    ['1e-99999999999', 1],
    ['-1e-9999999', -1],
    ['0e99999999999', 0],
    ['-0', 0],
    ['9007199254740991m', 9_007_199_254_740_991],
  ] as const) {
    it(`${text} is ${milli}m, at once`, () => assert.equal(parseQuantityMilli(text), milli));
  }
  for (const [text, value] of [
    ['0.1', 0.1],
    ['100m', 0.1],
    ['1.5', 1.5],
    ['3', 3],
    ['2k', 2000],
    ['1Ki', 1024],
    ['1e-3', 0.001],
    ['-0', 0],
    ['-2.5', -2.5],
  ] as const) {
    it(`${text} is about ${value}`, () => assert.equal(parseQuantity(text), value));
  }
  for (const text of ['0x10', '0b1', 'Infinity', '1e309', '1_000', '']) {
    it(`${JSON.stringify(text)} has no approximate value`, () =>
      assert.throws(() => parseQuantity(text), { name: 'ValueError' }));
  }
  it('reads JSON numbers through their decimal form', () => {
    assert.equal(toMilli(0.93), 930);
    assert.equal(toMilli(0.1 + 0.2), 301); // 0.30000000000000004 rounds up, as the HPA would
    assert.equal(toMilli(1e-7), 1);
    assert.equal(toMilli('930m'), 930);
    assert.throws(() => toMilli(Number.NaN), ValueError);
  });
  it('formats milli-units as the canonical quantity', () => {
    assert.equal(formatMilli(930), '930m');
    assert.equal(formatMilli(2000), '2');
    assert.equal(formatMilli(-1500), '-1500m');
    assert.equal(formatMilli(0), '0');
  });
});

describe('scaling policies', () => {
  it('reads pods and percent policies', () => {
    assert.deepEqual(parsePolicies('pods=4/15s,percent=100/15s'), [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ]);
    assert.deepEqual(parsePolicies(' Pods=1/1m '), [{ type: 'Pods', value: 1, periodSeconds: 60 }]);
  });
  it('formats back', () =>
    assert.equal(formatPolicies(parsePolicies('pods=4/15s,percent=100/2m')), 'pods=4/15s,percent=100/2m'));
  for (const [text, message] of [
    ['', /at least one policy/],
    ['pods=4', /not a policy/],
    ['cpu=4/15s', /not a policy/],
    ['pods=0/15s', /from 1 to 2147483647/],
    // Found by fuzzing: no upper bound, so 1e23 was taken and formatted back as `1e+23`, unreadable.
    ['pods=99999999999999999999999/15s', /from 1 to 2147483647/],
    ['percent=2147483648/15s', /from 1 to 2147483647/],
    ['pods=-1/15s', /not a policy/],
    ['pods=4/0s', /from 1s to 30m/],
    ['pods=4/31m', /from 1s to 30m/],
    ['pods=4/1.5s', /whole seconds/],
    ['pods=4/xs', /expected a duration/],
    ['pods=4/15s,,bogus', /not a policy/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)}`, () =>
      assert.throws(() => parsePolicies(text), { name: 'ValueError', message }));
  }
});

describe('metric targets', () => {
  it('reads Value and AverageValue targets', () => {
    assert.deepEqual(parseMetricTargets('flink_busy_ratio=0.7,flink_source_lag_seconds=60:AverageValue'), [
      { name: 'flink_busy_ratio', type: 'Value', targetMilli: 700 },
      { name: 'flink_source_lag_seconds', type: 'AverageValue', targetMilli: 60_000 },
    ]);
    assert.deepEqual(parseMetricTargets('lag = 500m:value'), [
      { name: 'lag', type: 'Value', targetMilli: 500 },
    ]);
  });
  it('formats back', () =>
    assert.equal(
      formatMetricTargets(parseMetricTargets('flink_busy_ratio=0.7,x=60:AverageValue')),
      'flink_busy_ratio=700m,x=60:AverageValue',
    ));
  for (const [text, message] of [
    ['', /at least one metric/],
    ['flink_busy_ratio', /not a metric target/],
    ['Flink=1', /not a metric name/],
    ['a=1,a=2', /listed twice/],
    ['a=1:Average', /Value or AverageValue/],
    ['a=abc', /not a number or quantity/],
    ['a=0', /greater than 0/],
    ['a=-1', /greater than 0/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)}`, () =>
      assert.throws(() => parseMetricTargets(text), { name: 'ValueError', message }));
  }
});

describe('tolerance', () => {
  it('reads one number for both directions', () =>
    assert.deepEqual(parseTolerance('0.1'), { scaleUp: 0.1, scaleDown: 0.1 }));
  it('reads separate directions', () =>
    assert.deepEqual(parseTolerance('up=0.05, down=0.2'), { scaleUp: 0.05, scaleDown: 0.2 }));
  it('formats back', () => {
    assert.equal(formatTolerance({ scaleUp: 0.1, scaleDown: 0.1 }), '0.1');
    assert.equal(formatTolerance({ scaleUp: 0.05, scaleDown: 0.2 }), 'up=0.05,down=0.2');
  });
  // As the HPA's `behavior.*.tolerance`: a quantity of 0 or more, no upper bound.
  for (const [text, tolerance] of [
    ['1', { scaleUp: 1, scaleDown: 1 }],
    ['1.5', { scaleUp: 1.5, scaleDown: 1.5 }],
    ['3', { scaleUp: 3, scaleDown: 3 }],
    ['100m', { scaleUp: 0.1, scaleDown: 0.1 }],
    ['0', { scaleUp: 0, scaleDown: 0 }],
    ['-0', { scaleUp: 0, scaleDown: 0 }],
    ['up=0.05,down=1.5', { scaleUp: 0.05, scaleDown: 1.5 }],
    ['up=2k,down=50m', { scaleUp: 2000, scaleDown: 0.05 }],
  ] as const) {
    it(`reads ${text}`, () => assert.deepEqual(parseTolerance(text), tolerance));
  }
  it('formats any tolerance in a form it reads back', () => {
    for (const tolerance of [
      { scaleUp: 1.5, scaleDown: 1.5 },
      { scaleUp: 1e-7, scaleDown: 3 },
      { scaleUp: 1e21, scaleDown: 0 },
    ])
      assert.deepEqual(parseTolerance(formatTolerance(tolerance)), tolerance);
  });
  for (const [text, message] of [
    ['', /number or quantity of 0 or more/],
    ['abc', /number or quantity of 0 or more/],
    ['-0.1', /number or quantity of 0 or more .*, not "-0.1"/],
    ['1e309', /number or quantity of 0 or more/],
    ['Infinity', /number or quantity of 0 or more/],
    // Found by fuzzing: Number() took these, the HPA's quantity does not.
    ['0b1', /number or quantity of 0 or more/],
    ['0x10', /number or quantity of 0 or more/],
    ['up=0.1', /both up=<n> and down=<n>/],
    ['up=0.1,up=0.2', /each at most once/],
    ['sideways=0.1,down=0.1', /each at most once/],
    ['up=0.1=2,down=0.1', /not up=<n> or down=<n>/],
    ['up=x,down=0.1', /up must be a number or quantity/],
    ['up=0.1,down=-1', /down must be a number or quantity of 0 or more/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)}`, () =>
      assert.throws(() => parseTolerance(text), { name: 'ValueError', message }));
  }
});

describe('booleans and integers', () => {
  it('reads booleans in any case', () => {
    assert.equal(parseBoolean('true'), true);
    assert.equal(parseBoolean(' FALSE '), false);
    assert.throws(() => parseBoolean('yes'), /true or false/);
  });
  it('reads whole numbers', () => {
    assert.equal(parseInteger(' 12 '), 12);
    assert.equal(parseInteger('-3'), -3);
    // Found by fuzzing: `-0` was read as -0, which prints as 0 but is not 0 to Object.is.
    assert.ok(Object.is(parseInteger('-0'), 0));
    for (const bad of ['1.5', '', 'ten', '1e3', '99999999999999999999']) {
      assert.throws(() => parseInteger(bad), /whole number/, bad);
    }
  });
});
