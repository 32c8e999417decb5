/**
 * The real MetricsProvider: the external metrics API reads the scaler's targets and their metric
 * windows from memory (it never calls Flink on a request). Each item carries the labels the README
 * gives: `{target: <name>, kind: <lowercase kind>, job_id: <jid>}`.
 */
import { FLINK_METRIC_NAMES } from '../metrics/catalogue.js';
import type { ServedTarget } from '../domain/metrics.js';
import type { ExternalMetricInfo, ExternalMetricValue, MetricsProvider } from '../domain/ports.js';
import { MetricTargetNotFoundError, MetricUnavailableError, UnknownMetricError } from '../errors.js';
import { formatLabelSelector, matchesSelector } from './label-selector.js';
import type { Requirement } from '../domain/metrics.js';

/** Slotscaler's own stabilized recommendation, served next to Flink's metrics. */
export const RECOMMENDED_TASKMANAGERS = 'flink_recommended_taskmanagers';

export interface ServedTargetSource {
  servedTargets(namespace?: string): readonly ServedTarget[];
}

/** The labels of a target's items, which HPA selectors match. */
export function metricLabels(target: ServedTarget): Record<string, string> {
  return { target: target.name, kind: target.kind.toLowerCase(), job_id: target.jobId ?? '' };
}

/** A reading as an integer of thousandths: the HPA reads values back with `Quantity.MilliValue()`. */
export function toValueMilli(value: number): number {
  return Math.round(value * 1000);
}

export class TargetsMetricsProvider implements MetricsProvider {
  constructor(
    private readonly source: ServedTargetSource,
    private readonly now: () => number,
  ) {}

  /** The catalogue, the recommendation, and every expression metric some target defines. */
  listMetrics(): readonly ExternalMetricInfo[] {
    const names = new Set<string>([...FLINK_METRIC_NAMES, RECOMMENDED_TASKMANAGERS]);
    for (const target of this.source.servedTargets()) {
      for (const name of Object.keys(target.metrics)) names.add(name);
    }
    return [...names].sort().map((name) => ({ name }));
  }

  getMetric(
    namespace: string,
    metricName: string,
    selector: readonly Requirement[],
  ): Promise<readonly ExternalMetricValue[]> {
    const owned = this.listMetrics().some((metric) => metric.name === metricName);
    if (!owned) return Promise.reject(new UnknownMetricError(metricName));
    const matching = this.source
      .servedTargets(namespace)
      .filter((target) => target.namespace === namespace && matchesSelector(selector, metricLabels(target)));
    if (matching.length === 0) {
      return Promise.reject(
        new MetricTargetNotFoundError(namespace, metricName, formatLabelSelector(selector)),
      );
    }
    const items: ExternalMetricValue[] = [];
    for (const target of matching) {
      // Own properties only: `constructor` is a valid expression metric name, and every object has one.
      const reading = Object.hasOwn(target.metrics, metricName) ? target.metrics[metricName] : undefined;
      if (reading === undefined) {
        return Promise.reject(
          new MetricUnavailableError(
            namespace,
            metricName,
            target.name,
            'no-data',
            'the target does not define this metric',
          ),
        );
      }
      // Any matching target without a value fails the read: the HPA sums the items, and a partial sum looks like less load.
      if (!('value' in reading)) {
        return Promise.reject(
          new MetricUnavailableError(namespace, metricName, target.name, reading.unavailable, reading.detail),
        );
      }
      // NaN or an infinity is no quantity the HPA can read: unavailable, never made up.
      if (!Number.isFinite(reading.value)) {
        return Promise.reject(
          new MetricUnavailableError(
            namespace,
            metricName,
            target.name,
            'not-finite',
            `the value is ${String(reading.value)}`,
          ),
        );
      }
      items.push({
        metricName,
        metricLabels: metricLabels(target),
        timestampMs: target.timestampMs ?? this.now(),
        windowSeconds: Math.max(1, Math.round(target.windowSeconds)),
        valueMilli: toValueMilli(reading.value),
      });
    }
    return Promise.resolve(items);
  }
}
