/**
 * Served values are always Kubernetes quantities the HPA parses, in apimachinery's canonical form,
 * whatever the double: checked against the grammar of k8s.io/apimachinery/pkg/api/resource/quantity.go
 * over the whole double range, and read back with our own quantity parser.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';
import '../../support/property-seed.js';

import { parseQuantityMilli } from '../../../src/config/values.js';
import { externalMetricValueList, formatValue } from '../../../src/metrics-api/discovery.js';
import { MAX_SERVED_MILLI, formatQuantityMilli } from '../../../src/metrics-api/quantity.js';

/** quantity.go's `splitREString`: what ParseQuantity accepts at all. */
const SPLIT_RE = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
/** The serialization format of quantity.go's doc comment (`<quantity> ::= <signedNumber><suffix>`). */
const GRAMMAR =
  /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)|m|k|M|G|T|P|E)?$/;
/** Canonical decimal SI: an integer mantissa without leading zeros, no exponent, no fraction. */
const CANONICAL = /^(?:0|-?[1-9][0-9]*(?:m|k|M|G|T|P)?)$/;

const SCALE: Readonly<Record<string, bigint>> = {
  m: 1n,
  '': 1000n,
  k: 1000n ** 2n,
  M: 1000n ** 3n,
  G: 1000n ** 4n,
  T: 1000n ** 5n,
  P: 1000n ** 6n,
};

/** A canonical quantity back to milli-units, exactly (for values past what parseQuantityMilli takes). */
function exactMilli(quantity: string): bigint {
  const match = /^(-?)([0-9]+)([mkMGTP]?)$/.exec(quantity);
  assert.ok(match !== null, quantity);
  const [, sign, digits = '', suffix = ''] = match;
  const milli = BigInt(digits) * (SCALE[suffix] ?? 0n);
  return sign === '-' ? -milli : milli;
}

/** What the value should read back as: rounded up to a milli-unit, clamped to ±9P. */
function expectedMilli(valueMilli: number): bigint {
  return BigInt(Math.min(MAX_SERVED_MILLI, Math.max(-MAX_SERVED_MILLI, Math.ceil(valueMilli))));
}

describe('formatQuantityMilli: served values as canonical Kubernetes quantities', () => {
  it('writes the canonical form: integer mantissa, largest suffix that keeps it exact', () => {
    const cases: [number, string][] = [
      [930, '930m'],
      [2000, '2'],
      [-1500, '-1500m'],
      [0, '0'],
      [-0, '0'],
      [1, '1m'],
      [1500, '1500m'],
      [1_500_000, '1500'],
      [4_000_000, '4k'],
      [42_000, '42'],
      [930.2, '931m'],
      [-930.7, '-930m'],
      [2e21, '9P'],
      [1e306, '9P'],
      [-1e306, '-9P'],
      [Number.POSITIVE_INFINITY, '9P'],
      [Number.NEGATIVE_INFINITY, '-9P'],
      [Number.MAX_SAFE_INTEGER, '9007199254740991m'],
      [5e-324, '1m'],
    ];
    for (const [milli, quantity] of cases) assert.equal(formatQuantityMilli(milli), quantity, String(milli));
  });

  it('serves pendingRecords of 1e303 as a quantity, never as "1e+306m"', () => {
    // The value the metrics API computed for it: Math.round(1e303 × 1000).
    assert.equal(formatValue(Math.round(1e303 * 1000)), '9P');
    assert.match(formatValue(1e306), CANONICAL);
  });

  it('has no quantity for NaN: it throws rather than make one up', () => {
    assert.throws(() => formatQuantityMilli(Number.NaN), RangeError);
  });

  it('over the whole double range: the grammar, canonical form, and the value read back', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double(),
          fc.double({ min: -1e19, max: 1e19 }),
          fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
          fc.constantFrom(
            0,
            -0,
            1e-300,
            -1e-300,
            Number.MAX_VALUE,
            -Number.MAX_VALUE,
            Number.MIN_VALUE,
            9e18,
            9.2e18,
          ),
        ),
        (valueMilli) => {
          if (Number.isNaN(valueMilli)) {
            assert.throws(() => formatQuantityMilli(valueMilli), RangeError);
            return;
          }
          const quantity = formatQuantityMilli(valueMilli);
          assert.match(quantity, SPLIT_RE);
          assert.match(quantity, GRAMMAR);
          assert.match(quantity, CANONICAL);
          // Canonical: no mantissa a multiple of 1000 under a suffix that could still grow.
          const mantissa = /^-?([0-9]+)([mkMGT]?)$/.exec(quantity);
          if (mantissa !== null && quantity !== '0')
            assert.notEqual(BigInt(mantissa[1] ?? '1') % 1000n, 0n, quantity);
          const expected = expectedMilli(valueMilli);
          assert.equal(exactMilli(quantity), expected, `${valueMilli} → ${quantity}`);
          // Within MilliValue()'s int64, the HPA reads back exactly what was meant.
          assert.ok(expected <= 2n ** 63n - 1n && expected >= -(2n ** 63n));
          if (expected <= BigInt(Number.MAX_SAFE_INTEGER) && expected >= -BigInt(Number.MAX_SAFE_INTEGER)) {
            assert.equal(parseQuantityMilli(quantity), Number(expected), quantity);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('is what the metrics API answers', () => {
    const list = externalMetricValueList([
      {
        metricName: 'flink_source_pending_records',
        metricLabels: { target: 'a' },
        timestampMs: 0,
        windowSeconds: 60,
        valueMilli: 1e306,
      },
      {
        metricName: 'flink_busy_ratio',
        metricLabels: { target: 'a' },
        timestampMs: 0,
        windowSeconds: 60,
        valueMilli: 930,
      },
    ]) as { items: { value: string }[] };
    assert.deepEqual(
      list.items.map((item) => item.value),
      ['9P', '930m'],
    );
  });
});
