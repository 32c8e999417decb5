/**
 * An in-memory MetricsProvider: targets with labels and per-metric readings, matched against the
 * selector the way the real provider does (src/domain/ports.ts `MetricsProvider`).
 */
import type { UnavailableReason } from '../../src/domain/metrics.js';
import type { ExternalMetricInfo, ExternalMetricValue, MetricsProvider } from '../../src/domain/ports.js';
import { MetricTargetNotFoundError, MetricUnavailableError, UnknownMetricError } from '../../src/errors.js';
import { formatLabelSelector, matchesSelector } from '../../src/metrics-api/label-selector.js';
import type { Requirement } from '../../src/domain/metrics.js';

/** A reading of one metric of a fake target: a value in milli-units, or unavailable. */
export type FakeReading =
  { readonly valueMilli: number } | { readonly unavailable: UnavailableReason; readonly detail?: string };

export interface FakeTarget {
  readonly namespace: string;
  /** The target's name; also its `target` label unless `labels` says otherwise. */
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly readings: Readonly<Record<string, FakeReading>>;
  readonly timestampMs?: number;
  readonly windowSeconds?: number;
}

export class FakeMetricsProvider implements MetricsProvider {
  private metricNames: string[];
  private readonly targets = new Map<string, FakeTarget[]>();
  /** namespace -> `target` label value -> targets: what a `target=<name>` selector reads. */
  private readonly byTargetLabel = new Map<string, Map<string, FakeTarget[]>>();
  /** When set, the next getMetric calls fail with it (a backend failure). */
  failWith: Error | undefined;
  /** Every getMetric call, for assertions. */
  readonly calls: { namespace: string; metricName: string; selector: readonly Requirement[] }[] = [];

  constructor(metricNames: readonly string[] = ['flink_busy_ratio', 'flink_source_lag_seconds']) {
    this.metricNames = [...metricNames];
  }

  setMetricNames(names: readonly string[]): void {
    this.metricNames = [...names];
  }

  addTarget(target: FakeTarget): void {
    const list = this.targets.get(target.namespace) ?? [];
    list.push(target);
    this.targets.set(target.namespace, list);
    const name = (target.labels ?? { target: target.name })['target'];
    if (name !== undefined) {
      const index = this.byTargetLabel.get(target.namespace) ?? new Map<string, FakeTarget[]>();
      index.set(name, [...(index.get(name) ?? []), target]);
      this.byTargetLabel.set(target.namespace, index);
    }
  }

  clearTargets(): void {
    this.targets.clear();
    this.byTargetLabel.clear();
  }

  /** The targets a selector can match: by index for `target=<name>`, else the whole namespace. */
  private candidates(namespace: string, selector: readonly Requirement[]): readonly FakeTarget[] {
    const byName = selector.find(
      (requirement) =>
        requirement.key === 'target' && (requirement.operator === '=' || requirement.operator === '=='),
    );
    if (byName === undefined) return this.targets.get(namespace) ?? [];
    return this.byTargetLabel.get(namespace)?.get(byName.values[0] ?? '') ?? [];
  }

  listMetrics(): readonly ExternalMetricInfo[] {
    return this.metricNames.map((name) => ({ name }));
  }

  getMetric(
    namespace: string,
    metricName: string,
    selector: readonly Requirement[],
  ): Promise<readonly ExternalMetricValue[]> {
    this.calls.push({ namespace, metricName, selector });
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    if (!this.metricNames.includes(metricName)) return Promise.reject(new UnknownMetricError(metricName));
    const items: ExternalMetricValue[] = [];
    for (const target of this.candidates(namespace, selector)) {
      const labels = target.labels ?? { target: target.name };
      if (!matchesSelector(selector, labels)) continue;
      const reading = target.readings[metricName];
      if (reading === undefined) {
        return Promise.reject(
          new MetricUnavailableError(namespace, metricName, target.name, 'no-data', 'no sample yet'),
        );
      }
      if ('unavailable' in reading) {
        return Promise.reject(
          new MetricUnavailableError(namespace, metricName, target.name, reading.unavailable, reading.detail),
        );
      }
      items.push({
        metricName,
        metricLabels: labels,
        timestampMs: target.timestampMs ?? Date.UTC(2026, 0, 1),
        windowSeconds: target.windowSeconds ?? 60,
        valueMilli: reading.valueMilli,
      });
    }
    if (items.length === 0) {
      return Promise.reject(
        new MetricTargetNotFoundError(namespace, metricName, formatLabelSelector(selector)),
      );
    }
    return Promise.resolve(items);
  }
}
