/**
 * A target's annotations, parsed through the one config schema over the global defaults.
 */
import type { z } from 'zod';

import { ANNOTATION_PREFIX, camelCase, closest, kebabCase } from './keys.js';
import { TargetConfigSchema, globalFields, targetFields } from './schema.js';
import type { TargetConfig, TargetFieldKey } from './schema.js';
import { formatMetricTargets, METRIC_NAME, parseBoolean, ValueError } from './values.js';

/** One problem with one value: where it was written, the value, and what was expected. */
export interface ConfigIssue {
  /** Where the value was written: `slotscaler.dev/max-taskmanagers`, `--tick-interval`, ... */
  readonly key: string;
  readonly value: string | undefined;
  readonly message: string;
}

/** `slotscaler.dev/max-taskmanagers: "ten": expected a whole number`. */
export function formatIssue(issue: ConfigIssue): string {
  return issue.value === undefined
    ? `${issue.key}: ${issue.message}`
    : `${issue.key}: ${JSON.stringify(issue.value)}: ${issue.message}`;
}

/** Raw values (strings, or native values from a YAML file) of target fields, keyed by field. */
export type RawTargetValues = Partial<Record<TargetFieldKey, unknown>>;

export interface AnnotationOptions {
  /** Target-scope values from the global config, in raw form; annotations override them. */
  readonly defaults?: RawTargetValues;
  /** Where a key of `defaults` was set, for errors in a default (`--max-taskmanagers`, ...). */
  readonly describeDefaultKey?: (key: TargetFieldKey) => string;
  /** Metric names a target may scale on besides its own expression metrics. */
  readonly knownMetrics?: readonly string[];
  /** Checks an expression metric; throws an Error whose message says what is wrong. */
  readonly checkExpression?: (name: string, expression: string) => void;
}

export type AnnotationResult =
  | {
      readonly ok: true;
      readonly config: TargetConfig;
      /** Expression metrics from `slotscaler.dev/metric.<name>`, by name. */
      readonly expressions: Readonly<Record<string, string>>;
    }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/** The annotation that opts an object in. */
export const ENABLED_ANNOTATION = `${ANNOTATION_PREFIX}enabled`;

/**
 * What `slotscaler.dev/enabled` says of an object: `in` for true, `out` when it is absent or
 * false, `invalid` for any other value. An invalid object is a target all the same, so its parse
 * reports the value (an Event on the object) instead of leaving it silently unmanaged.
 */
export function optInOf(annotations: Readonly<Record<string, string>>): 'in' | 'out' | 'invalid' {
  const value = annotations[ENABLED_ANNOTATION];
  if (value === undefined) return 'out';
  try {
    return parseBoolean(value) ? 'in' : 'out';
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    return 'invalid';
  }
}

/** Annotations under our prefix that Slotscaler writes itself and users must not set. */
const RESERVED = new Set(['status']);
const TARGET_KEYS = Object.keys(targetFields).map(kebabCase);
const GLOBAL_KEYS = new Set(Object.keys(globalFields).map(kebabCase));

/** A raw value as the user wrote it, for messages. */
function describeRaw(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.map(String).join(',');
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  return JSON.stringify(value);
}

/** Maps zod issues of one parse to config issues, naming each value's key and source. */
export function issuesFrom(
  error: z.ZodError,
  raw: Readonly<Record<string, unknown>>,
  describeKey: (key: string) => string,
): ConfigIssue[] {
  return error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const value = raw[key];
    return {
      key: describeKey(key),
      value: describeRaw(value),
      message: issue.message,
    };
  });
}

/**
 * Parses the `slotscaler.dev/` annotations of one target. Every problem is reported, one issue
 * each, and an unknown key under the prefix is a problem too: a typo must not be silently ignored.
 */
export function parseTargetAnnotations(
  annotations: Readonly<Record<string, string>>,
  options: AnnotationOptions = {},
): AnnotationResult {
  const issues: ConfigIssue[] = [];
  const fromAnnotations: Record<string, string> = {};
  const expressions: Record<string, string> = {};

  for (const [name, value] of Object.entries(annotations)) {
    if (!name.startsWith(ANNOTATION_PREFIX)) continue;
    const suffix = name.slice(ANNOTATION_PREFIX.length);
    if (RESERVED.has(suffix)) continue;
    if (suffix.startsWith('metric.')) {
      const metric = suffix.slice('metric.'.length);
      if (!METRIC_NAME.test(metric)) {
        issues.push({ key: name, value, message: 'the metric name must be lowercase letters, digits and _' });
      } else if (options.knownMetrics?.includes(metric)) {
        issues.push({ key: name, value, message: `${metric} is a built-in metric and cannot be redefined` });
      } else {
        try {
          options.checkExpression?.(metric, value);
          expressions[metric] = value;
        } catch (err) {
          issues.push({ key: name, value, message: err instanceof Error ? err.message : String(err) });
        }
      }
      continue;
    }
    if (TARGET_KEYS.includes(suffix)) {
      fromAnnotations[camelCase(suffix)] = value;
    } else if (GLOBAL_KEYS.has(suffix)) {
      issues.push({
        key: name,
        value,
        message: `${suffix} is a global setting and cannot be set per target`,
      });
    } else {
      const suggestion = closest(suffix, TARGET_KEYS);
      issues.push({
        key: name,
        value,
        message: `unknown annotation${suggestion === undefined ? '' : `; did you mean ${ANNOTATION_PREFIX}${suggestion}?`}`,
      });
    }
  }

  const raw: Record<string, unknown> = { ...options.defaults, ...fromAnnotations };
  const describeKey = (key: string): string =>
    key in fromAnnotations
      ? `${ANNOTATION_PREFIX}${kebabCase(key)}`
      : (options.describeDefaultKey?.(key as TargetFieldKey) ?? `${ANNOTATION_PREFIX}${kebabCase(key)}`);
  const parsed = TargetConfigSchema.safeParse(raw);
  if (!parsed.success) {
    issues.push(...issuesFrom(parsed.error, raw, describeKey));
    return { ok: false, issues };
  }

  const known = new Set([...(options.knownMetrics ?? []), ...Object.keys(expressions)]);
  if (options.knownMetrics !== undefined) {
    for (const target of parsed.data.metrics) {
      if (!known.has(target.name)) {
        const suggestion = closest(target.name, [...known]);
        issues.push({
          key: describeKey('metrics'),
          value: describeRaw(raw['metrics']) ?? formatMetricTargets(parsed.data.metrics),
          message: `unknown metric ${target.name}${suggestion === undefined ? '' : `; did you mean ${suggestion}?`}`,
        });
      }
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, config: parsed.data, expressions };
}
