/**
 * Served values as Kubernetes quantities, in the canonical form of apimachinery's
 * `resource.Quantity` (k8s.io/apimachinery/pkg/api/resource/quantity.go): an integer mantissa, no
 * fraction, no exponent, and the largest decimal SI suffix that keeps it exact (`930m`, `2`,
 * `1500m`, `4k`, `9P`). Whatever the number, the string is one the HPA parses.
 */

/**
 * Largest magnitude served, in milli-units: 9 × 10^18, `9P`. The HPA reads a value back with
 * `Quantity.MilliValue()`, an int64 that overflows without a word past 2^63 − 1 (about 9.22 × 10^18
 * milli-units); beyond this, values (and ±Infinity) are served as ±9P.
 */
export const MAX_SERVED_MILLI = 9e18;

/** Decimal SI suffixes from milli up, each 1000 times the one before (quantity.go's `<decimalSI>`). */
const SUFFIXES = ['m', '', 'k', 'M', 'G', 'T', 'P'] as const;

/**
 * The canonical quantity of a value in milli-units. A fraction of a milli-unit is rounded up, as
 * `Quantity.MilliValue()` rounds; magnitudes beyond `MAX_SERVED_MILLI` are clamped to it. NaN has no
 * quantity: it throws a `RangeError` (the readings never hold one; the read then fails rather than
 * serve a made-up number).
 */
export function formatQuantityMilli(valueMilli: number): string {
  if (Number.isNaN(valueMilli)) throw new RangeError('NaN is not a quantity');
  const clamped = Math.min(MAX_SERVED_MILLI, Math.max(-MAX_SERVED_MILLI, Math.ceil(valueMilli)));
  // Every double of this size is an integer; BigInt spells it without an exponent.
  let mantissa = BigInt(clamped);
  if (mantissa === 0n) return '0';
  const sign = mantissa < 0n ? '-' : '';
  if (mantissa < 0n) mantissa = -mantissa;
  let suffix = 0;
  while (suffix < SUFFIXES.length - 1 && mantissa % 1000n === 0n) {
    mantissa /= 1000n;
    suffix += 1;
  }
  return `${sign}${mantissa}${SUFFIXES[suffix] ?? ''}`;
}
