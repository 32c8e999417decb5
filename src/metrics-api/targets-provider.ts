/**
 * The real MetricsProvider: the external metrics API answers from the scaler's per-tick snapshot
 * (it never calls Flink, and never computes a metric, on a request). Each item carries the labels
 * the README gives: `{target: <name>, kind: <lowercase kind>, job_id: <jid>}`.
 *
 * A read is a lookup: the answer to one (namespace, metric, selector) is worked out once per
 * snapshot and kept, a frozen list the server serializes once (src/metrics-api/app.ts), until the
 * next tick publishes another snapshot or a matching target's samples pass their maximum age.
 */
import type { MetricsSnapshot } from '../domain/metrics-snapshot.js';
import type { Requirement, ServedTarget } from '../domain/metrics.js';
import type {
  ExternalMetricInfo,
  ExternalMetricValue,
  MetricsProvider,
  MetricsSnapshotSource,
} from '../domain/ports.js';
import { MetricTargetNotFoundError, MetricUnavailableError, UnknownMetricError } from '../errors.js';
import { FLINK_METRIC_NAMES, RECOMMENDED_TASKMANAGERS } from '../metrics/catalogue.js';
import { formatLabelSelector, matchesSelector } from './label-selector.js';

/**
 * Answers kept per snapshot at most: every (metric, target) pair of a large fleet fits, while a
 * client sending ever new selectors cannot grow memory without bound (past it, reads are worked
 * out each time).
 */
const MAX_ANSWERS_MIN = 4_096;
const MAX_ANSWERS_PER_TARGET = 16;

/** The labels of a target's items, which HPA selectors match. */
export function metricLabels(target: ServedTarget): Record<string, string> {
  return { target: target.name, kind: target.kind.toLowerCase(), job_id: target.jobId ?? '' };
}

/** A reading as an integer of thousandths: the HPA reads values back with `Quantity.MilliValue()`. */
export function toValueMilli(value: number): number {
  return Math.round(value * 1000);
}

/** The answer to one read: the items, good until a time, or the error to fail it with. */
type Answer =
  | { readonly items: readonly ExternalMetricValue[]; readonly validUntilMs: number }
  | { readonly error: Error; readonly validUntilMs: number };

export class TargetsMetricsProvider implements MetricsProvider {
  private view: SnapshotView | undefined;

  constructor(
    private readonly source: MetricsSnapshotSource,
    private readonly now: () => number,
  ) {}

  /** The catalogue, the recommendation, and every expression metric some target defines. */
  listMetrics(): readonly ExternalMetricInfo[] {
    return this.current().metrics;
  }

  getMetric(
    namespace: string,
    metricName: string,
    selector: readonly Requirement[],
  ): Promise<readonly ExternalMetricValue[]> {
    const view = this.current();
    if (!view.names.has(metricName)) return Promise.reject(new UnknownMetricError(metricName));
    const answer = view.answer(namespace, metricName, selector, this.now());
    return 'items' in answer ? Promise.resolve(answer.items) : Promise.reject(answer.error);
  }

  private current(): SnapshotView {
    const snapshot = this.source.snapshot();
    if (this.view?.snapshot !== snapshot) this.view = new SnapshotView(snapshot);
    return this.view;
  }
}

/** One snapshot as the API serves it: its metric names and the answers worked out so far. */
class SnapshotView {
  readonly names: ReadonlySet<string>;
  readonly metrics: readonly ExternalMetricInfo[];
  private readonly answers = new Map<string, Answer>();
  private readonly maxAnswers: number;

  constructor(readonly snapshot: MetricsSnapshot) {
    this.names = new Set<string>([...FLINK_METRIC_NAMES, RECOMMENDED_TASKMANAGERS, ...snapshot.metricNames]);
    this.metrics = Object.freeze([...this.names].sort().map((name) => Object.freeze({ name })));
    this.maxAnswers = Math.max(MAX_ANSWERS_MIN, MAX_ANSWERS_PER_TARGET * snapshot.targets.length);
  }

  answer(namespace: string, metricName: string, selector: readonly Requirement[], nowMs: number): Answer {
    const key = `${namespace}\n${metricName}\n${selectorKey(selector)}`;
    const kept = this.answers.get(key);
    if (kept !== undefined && nowMs <= kept.validUntilMs) return kept;
    const answer = answerOf(this.snapshot, namespace, metricName, selector, nowMs);
    if (kept !== undefined || this.answers.size < this.maxAnswers) this.answers.set(key, answer);
    return answer;
  }
}

/** Each frozen selector's text, formatted once: the server passes the same selector for the same query. */
const selectorTexts = new WeakMap<readonly Requirement[], string>();

function selectorKey(selector: readonly Requirement[]): string {
  let text = selectorTexts.get(selector);
  if (text === undefined) {
    text = formatLabelSelector(selector);
    if (Object.isFrozen(selector)) selectorTexts.set(selector, text);
  }
  return text;
}

/** The targets a selector can match: by index for `target=<name>`, else the whole namespace. */
function candidates(
  snapshot: MetricsSnapshot,
  namespace: string,
  selector: readonly Requirement[],
): readonly ServedTarget[] {
  for (const requirement of selector) {
    if (requirement.key !== 'target') continue;
    const { operator, values } = requirement;
    const single = operator === '=' || operator === '==' || (operator === 'in' && values.length === 1);
    if (single) return snapshot.named(namespace, values[0] ?? '');
  }
  return snapshot.inNamespace(namespace);
}

function answerOf(
  snapshot: MetricsSnapshot,
  namespace: string,
  metricName: string,
  selector: readonly Requirement[],
  nowMs: number,
): Answer {
  const fail = (error: Error): Answer => ({ error, validUntilMs: Number.POSITIVE_INFINITY });
  const matching = candidates(snapshot, namespace, selector).filter((target) =>
    matchesSelector(selector, metricLabels(target)),
  );
  if (matching.length === 0)
    return fail(new MetricTargetNotFoundError(namespace, metricName, formatLabelSelector(selector)));
  const items: ExternalMetricValue[] = [];
  let validUntilMs = Number.POSITIVE_INFINITY;
  for (const target of matching) {
    const value = servedValueOf(snapshot, target, metricName, nowMs);
    // Any matching target without a value fails the read: the HPA sums the items, and a partial sum looks like less load.
    if ('error' in value) return fail(value.error);
    validUntilMs = Math.min(validUntilMs, value.validUntilMs);
    items.push(
      Object.freeze({
        metricName,
        metricLabels: Object.freeze(metricLabels(target)),
        timestampMs: value.timestampMs,
        windowSeconds: value.windowSeconds,
        valueMilli: value.valueMilli,
      }),
    );
  }
  return { items: Object.freeze(items), validUntilMs };
}

/** One target's value of one metric as served, good until a time; or why it has none. */
export type ServedValue =
  | {
      readonly valueMilli: number;
      readonly timestampMs: number;
      readonly windowSeconds: number;
      readonly validUntilMs: number;
    }
  | { readonly error: MetricUnavailableError };

/**
 * What the metrics APIs serve of `metricName` for `target` at `nowMs`: the value, or why there is
 * none (the metric undefined for it, unavailable, not finite, or stale). Both APIs go through it,
 * so an Object metric and the external metric of one target never disagree.
 */
export function servedValueOf(
  snapshot: MetricsSnapshot,
  target: ServedTarget,
  metricName: string,
  nowMs: number,
): ServedValue {
  const { namespace } = target;
  // Own properties only: `constructor` is a valid expression metric name, and every object has one.
  const reading = Object.hasOwn(target.metrics, metricName) ? target.metrics[metricName] : undefined;
  if (reading === undefined) {
    return {
      error: new MetricUnavailableError(
        namespace,
        metricName,
        target.name,
        'no-data',
        'the target does not define this metric',
      ),
    };
  }
  if (!('value' in reading)) {
    return {
      error: new MetricUnavailableError(
        namespace,
        metricName,
        target.name,
        reading.unavailable,
        reading.detail,
      ),
    };
  }
  // NaN or an infinity is no quantity the HPA can read: unavailable, never made up.
  if (!Number.isFinite(reading.value)) {
    return {
      error: new MetricUnavailableError(
        namespace,
        metricName,
        target.name,
        'not-finite',
        `the value is ${String(reading.value)}`,
      ),
    };
  }
  let validUntilMs = Number.POSITIVE_INFINITY;
  // The recommendation is the scaler's, not a sample's: it does not age with the samples.
  if (metricName !== RECOMMENDED_TASKMANAGERS && target.freshUntilMs !== null) {
    if (nowMs > target.freshUntilMs) {
      return {
        error: new MetricUnavailableError(
          namespace,
          metricName,
          target.name,
          'stale',
          `the last sample is ${((nowMs - (target.timestampMs ?? nowMs)) / 1000).toFixed(0)} s old and no newer collection has been published`,
        ),
      };
    }
    validUntilMs = target.freshUntilMs;
  }
  return {
    // Without a sample (a recommendation kept while its job cannot be read), the tick's time.
    timestampMs: target.timestampMs ?? snapshot.builtAtMs,
    windowSeconds: Math.max(1, Math.round(target.windowSeconds)),
    valueMilli: toValueMilli(reading.value),
    validUntilMs,
  };
}
