/**
 * Parsers for the value forms users write in annotations, flags, environment variables and the
 * config file. Each returns the parsed value or throws a `ValueError` whose message says what was
 * expected; the schema turns that into one error naming the key and the value.
 */
import type { MetricTargetType, ScalingPolicy, Tolerance } from '../domain/decision.js';

/** A value that does not have the expected form; `message` says what was expected. */
export class ValueError extends Error {
  override readonly name = 'ValueError';
}

const DURATION_PART = /(\d+(?:\.\d+)?|\.\d+)(ms|h|m|s)/gy;
const DURATION_UNIT_SECONDS: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };

/**
 * A duration in seconds from Go's form (`30s`, `5m`, `1h30m`, `1.5s`, `250ms`) or a plain number
 * of seconds (`90`, `0`).
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  // Plain seconds too are kept to the millisecond, as formatDuration prints them.
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000) / 1000;
  if (trimmed === '') throw new ValueError('expected a duration such as 30s, 5m or 1h30m');
  DURATION_PART.lastIndex = 0;
  let seconds = 0;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = DURATION_PART.exec(trimmed)) !== null) {
    const [, amount = '', unit = ''] = match;
    seconds += Number(amount) * (DURATION_UNIT_SECONDS[unit] ?? Number.NaN);
    consumed = DURATION_PART.lastIndex;
  }
  if (consumed !== trimmed.length || !Number.isFinite(seconds)) {
    throw new ValueError('expected a duration such as 30s, 5m or 1h30m');
  }
  return Math.round(seconds * 1000) / 1000;
}

/** Formats seconds the way users write them: `90` → `1m30s`, `0.25` → `250ms`. */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  let rest = Math.round(seconds * 1000);
  let out = '';
  for (const [unit, ms] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const amount = Math.floor(rest / ms);
    if (amount > 0) out += `${amount}${unit}`;
    rest -= amount * ms;
  }
  return out;
}

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$/;
const DECIMAL_EXPONENT: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY_POWER: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };

function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  return numerator % denominator > 0n ? quotient + 1n : quotient;
}

const QUANTITY_EXPECTED = 'expected a number or a Kubernetes quantity such as 500m, 1.5 or 2k';

/**
 * A Kubernetes quantity (`500m`, `1.5`, `2k`, `1Ki`, `1e3`) in integer milli-units, rounded up
 * as `Quantity.MilliValue()` does, computed exactly (no binary floating point on the way).
 */
export function parseQuantityMilli(text: string): number {
  const match = QUANTITY.exec(text.trim());
  if (!match) throw new ValueError(QUANTITY_EXPECTED);
  const [, sign = '', number = '', exponentPart, suffix = ''] = match;
  const [whole = '', fraction = ''] = number.split('.');
  let mantissa = BigInt((whole || '0') + fraction);
  if (mantissa === 0n) return 0;
  let exponent = -fraction.length + 3; // milli-units
  if (exponentPart !== undefined) exponent += Number(exponentPart.slice(1));
  else if (suffix in BINARY_POWER) mantissa *= 1024n ** BigInt(BINARY_POWER[suffix] ?? 0);
  else exponent += DECIMAL_EXPONENT[suffix] ?? 0;
  // mantissa × 10^exponent lies in [10^(magnitude-1), 10^magnitude): decide the extremes without
  // computing 10^exponent, which for `1e9999999` would take seconds and past ~1e9 cannot be built.
  const magnitude = exponent + mantissa.toString().length;
  if (magnitude > 16) throw new ValueError('the quantity is too large');
  const milli =
    magnitude <= 0
      ? 1n // more than 0, less than one milli-unit: rounded up
      : exponent >= 0
        ? mantissa * 10n ** BigInt(exponent)
        : ceilDiv(mantissa, 10n ** BigInt(-exponent));
  if (milli > BigInt(Number.MAX_SAFE_INTEGER)) throw new ValueError('the quantity is too large');
  const value = Number(milli);
  return sign === '-' && value !== 0 ? -value : value;
}

/**
 * A Kubernetes quantity as the nearest float64, as `Quantity.AsApproximateFloat64()` reads it (the
 * HPA reads `behavior.*.tolerance` so): `0.1`, `100m`, `1.5`, `2k`, `1Ki`, `1e-3`.
 */
export function parseQuantity(text: string): number {
  const match = QUANTITY.exec(text.trim());
  if (!match) throw new ValueError(QUANTITY_EXPECTED);
  const [, sign = '', number = '', exponentPart, suffix = ''] = match;
  const value =
    exponentPart !== undefined
      ? Number(`${number}${exponentPart}`)
      : suffix in BINARY_POWER
        ? Number(number) * 1024 ** (BINARY_POWER[suffix] ?? 0)
        : Number(`${number}e${DECIMAL_EXPONENT[suffix] ?? 0}`);
  if (!Number.isFinite(value)) throw new ValueError('the quantity is too large');
  return sign === '-' && value !== 0 ? -value : value;
}

/** A JSON number or a quantity string in milli-units; numbers go through their decimal form. */
export function toMilli(value: number | string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ValueError('expected a finite number');
    return parseQuantityMilli(String(value));
  }
  return parseQuantityMilli(value);
}

/** Milli-units as the canonical quantity string the HPA reads back exactly: `930m`, `2`, `-1500m`. */
export function formatMilli(milli: number): string {
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

const POLICY = /^(pods|percent)=(\d+)\/(.+)$/i;
/** `HPAScalingPolicy.value` is an int32. */
const MAX_POLICY_VALUE = 2_147_483_647;

/**
 * Scaling policies: `pods=4/15s,percent=100/15s`. Values are positive int32s and periods 1 s to
 * 30 min, as the API server validates `HPAScalingPolicy`.
 */
export function parsePolicies(text: string): ScalingPolicy[] {
  const items = splitList(text);
  if (items.length === 0)
    throw new ValueError('expected at least one policy such as pods=4/15s or percent=100/15s');
  return items.map((item) => {
    const match = POLICY.exec(item);
    if (!match)
      throw new ValueError(`"${item}" is not a policy: expected pods=<n>/<period> or percent=<n>/<period>`);
    const [, type = '', value = '', period = ''] = match;
    const periodSeconds = parseDuration(period);
    if (!Number.isInteger(periodSeconds) || periodSeconds < 1 || periodSeconds > 1800) {
      throw new ValueError(`"${item}": the period must be whole seconds from 1s to 30m`);
    }
    const amount = Number(value);
    if (amount < 1 || amount > MAX_POLICY_VALUE)
      throw new ValueError(`"${item}": the value must be from 1 to ${MAX_POLICY_VALUE}`);
    return { type: type.toLowerCase() === 'pods' ? 'Pods' : 'Percent', value: amount, periodSeconds };
  });
}

/** Formats policies back into the annotation form. */
export function formatPolicies(policies: readonly ScalingPolicy[]): string {
  return policies
    .map((policy) => `${policy.type.toLowerCase()}=${policy.value}/${formatDuration(policy.periodSeconds)}`)
    .join(',');
}

/** One metric an HPA-style target scales on. */
export interface MetricTargetSpec {
  readonly name: string;
  readonly type: MetricTargetType;
  readonly targetMilli: number;
}

export const METRIC_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const METRIC_TARGET = /^([^=\s]+)\s*=\s*([^:\s]+)(?::(\w+))?$/;

/** Metric targets: `flink_busy_ratio=0.7,flink_source_lag_seconds=60:AverageValue`. */
export function parseMetricTargets(text: string): MetricTargetSpec[] {
  const items = splitList(text);
  if (items.length === 0)
    throw new ValueError('expected at least one metric target such as flink_busy_ratio=0.7');
  const seen = new Set<string>();
  return items.map((item) => {
    const match = METRIC_TARGET.exec(item);
    if (!match)
      throw new ValueError(
        `"${item}" is not a metric target: expected <metric>=<target>[:Value|:AverageValue]`,
      );
    const [, name = '', target = '', type = 'Value'] = match;
    if (!METRIC_NAME.test(name))
      throw new ValueError(`"${name}" is not a metric name: expected lowercase letters, digits and _`);
    if (seen.has(name)) throw new ValueError(`"${name}" is listed twice`);
    seen.add(name);
    const canonicalType =
      type.toLowerCase() === 'value'
        ? 'Value'
        : type.toLowerCase() === 'averagevalue'
          ? 'AverageValue'
          : null;
    if (canonicalType === null)
      throw new ValueError(`"${item}": the target type must be Value or AverageValue, not ${type}`);
    let targetMilli: number;
    try {
      targetMilli = parseQuantityMilli(target);
    } catch {
      throw new ValueError(`"${item}": the target ${target} is not a number or quantity`);
    }
    if (targetMilli <= 0) throw new ValueError(`"${item}": the target must be greater than 0`);
    return { name, type: canonicalType, targetMilli };
  });
}

/** Formats metric targets back into the annotation form. */
export function formatMetricTargets(targets: readonly MetricTargetSpec[]): string {
  return targets
    .map((t) => `${t.name}=${formatMilli(t.targetMilli)}${t.type === 'AverageValue' ? ':AverageValue' : ''}`)
    .join(',');
}

/**
 * A tolerance as the HPA takes one (`HPAScalingRules.tolerance`): a quantity of 0 or more, with no
 * upper bound (k8s.io/kubernetes pkg/apis/autoscaling/validation `validateScalingRules` checks only
 * that it is not negative). From 1 up, `1 - tolerance <= ratio` holds for every ratio of 0 or more.
 */
function parseToleranceNumber(text: string, what: string): number {
  let value: number;
  try {
    value = parseQuantity(text);
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    value = Number.NaN;
  }
  if (!(value >= 0)) {
    throw new ValueError(
      `${what} must be a number or quantity of 0 or more (0.1, 100m, 1.5), not "${text.trim()}"`,
    );
  }
  return value;
}

/** Tolerance: `0.1` for both directions, or `up=0.05,down=0.2`; 0 or more, as the HPA's. */
export function parseTolerance(text: string): Tolerance {
  if (!text.includes('=')) {
    const both = parseToleranceNumber(text, 'the tolerance');
    return { scaleUp: both, scaleDown: both };
  }
  let scaleUp: number | undefined;
  let scaleDown: number | undefined;
  for (const item of splitList(text)) {
    const [key = '', value = '', extra] = item.split('=');
    if (extra !== undefined) throw new ValueError(`"${item}" is not up=<n> or down=<n>`);
    const direction = key.trim().toLowerCase();
    if (direction === 'up' && scaleUp === undefined) scaleUp = parseToleranceNumber(value, 'up');
    else if (direction === 'down' && scaleDown === undefined) scaleDown = parseToleranceNumber(value, 'down');
    else throw new ValueError(`"${item}": expected up=<n> and down=<n>, each at most once`);
  }
  if (scaleUp === undefined || scaleDown === undefined)
    throw new ValueError('expected both up=<n> and down=<n>');
  return { scaleUp, scaleDown };
}

/** Formats a tolerance back into the annotation form. */
export function formatTolerance(tolerance: Tolerance): string {
  return tolerance.scaleUp === tolerance.scaleDown
    ? String(tolerance.scaleUp)
    : `up=${tolerance.scaleUp},down=${tolerance.scaleDown}`;
}

/** `true` or `false` (any case). */
export function parseBoolean(text: string): boolean {
  const value = text.trim().toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new ValueError('expected true or false');
}

/** A whole number written in decimal. */
export function parseInteger(text: string): number {
  const value = text.trim();
  if (!/^[+-]?\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new ValueError('expected a whole number');
  return Number(value) || 0; // `-0` is 0
}
