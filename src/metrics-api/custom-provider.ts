/**
 * The real CustomMetricsProvider: the custom metrics API answers from the scaler's per-tick
 * snapshot, like the external one (./targets-provider.ts), and never calls Flink on a read. Every
 * metric an opted-in target serves externally is also an Object metric of the target object
 * itself, described by its own kind (`flinkdeployments.flink.apache.org/<name>`,
 * `deployments.apps/<name>`...), with the same value: both go through `servedValueOf`.
 */
import type { MetricsSnapshot } from '../domain/metrics-snapshot.js';
import type { Requirement, ServedTarget } from '../domain/metrics.js';
import type {
  CustomMetricInfo,
  CustomMetricValue,
  CustomMetricsProvider,
  MetricsSnapshotSource,
} from '../domain/ports.js';
import { MetricObjectNotFoundError, UnknownMetricError } from '../errors.js';
import { FLINK_METRIC_NAMES, RECOMMENDED_TASKMANAGERS } from '../metrics/catalogue.js';
import { formatLabelSelector, matchesSelector } from './label-selector.js';
import { metricLabels, servedValueOf } from './targets-provider.js';

export class TargetsCustomMetricsProvider implements CustomMetricsProvider {
  private view:
    { readonly snapshot: MetricsSnapshot; readonly metrics: readonly CustomMetricInfo[] } | undefined;

  constructor(
    private readonly source: MetricsSnapshotSource,
    private readonly now: () => number,
  ) {}

  /** Each target kind present now with every metric one of its targets serves. */
  listCustomMetrics(): readonly CustomMetricInfo[] {
    const snapshot = this.source.snapshot();
    if (this.view?.snapshot !== snapshot) this.view = { snapshot, metrics: customMetricsOf(snapshot) };
    return this.view.metrics;
  }

  getMetricByName(
    namespace: string,
    resource: string,
    name: string,
    metricName: string,
    metricSelector: readonly Requirement[],
  ): Promise<CustomMetricValue> {
    const snapshot = this.source.snapshot();
    const target = snapshot
      .named(namespace, name)
      .find((candidate) => candidate.object.resource === resource && serves(candidate, metricName));
    if (target === undefined || !matchesSelector(metricSelector, metricLabels(target))) {
      return Promise.reject(this.notFound(namespace, resource, { name }, metricName));
    }
    const value = valueOf(snapshot, target, metricName, this.now());
    return 'error' in value ? Promise.reject(value.error) : Promise.resolve(value);
  }

  getMetricBySelector(
    namespace: string,
    resource: string,
    selector: readonly Requirement[],
    metricName: string,
    metricSelector: readonly Requirement[],
  ): Promise<readonly CustomMetricValue[]> {
    const snapshot = this.source.snapshot();
    const nowMs = this.now();
    const matching = snapshot
      .inNamespace(namespace)
      .filter(
        (target) =>
          target.object.resource === resource &&
          serves(target, metricName) &&
          matchesSelector(selector, target.labels) &&
          matchesSelector(metricSelector, metricLabels(target)),
      );
    if (matching.length === 0) {
      return Promise.reject(
        this.notFound(namespace, resource, { selector: formatLabelSelector(selector) }, metricName),
      );
    }
    const items: CustomMetricValue[] = [];
    for (const target of matching) {
      const value = valueOf(snapshot, target, metricName, nowMs);
      // As on the external API: one object without a value fails the read rather than leave it out.
      if ('error' in value) return Promise.reject(value.error);
      items.push(value);
    }
    return Promise.resolve(Object.freeze(items));
  }

  /** A metric no target of `resource` serves is unknown (forwarded upstream, if any); else the object is missing. */
  private notFound(
    namespace: string,
    resource: string,
    object: { readonly name: string } | { readonly selector: string },
    metricName: string,
  ): Error {
    const known = this.listCustomMetrics().some(
      (metric) => metric.resource === resource && metric.name === metricName,
    );
    return known
      ? new MetricObjectNotFoundError(namespace, resource, object, metricName)
      : new UnknownMetricError(metricName);
  }
}

/** Metrics every target serves, with a value or the reason it has none (as the external API lists them). */
const ALWAYS_SERVED: ReadonlySet<string> = new Set([...FLINK_METRIC_NAMES, RECOMMENDED_TASKMANAGERS]);

/** Whether a target serves `metricName`: the catalogue, or a reading of its own (own properties only). */
function serves(target: ServedTarget, metricName: string): boolean {
  return ALWAYS_SERVED.has(metricName) || Object.hasOwn(target.metrics, metricName);
}

function valueOf(
  snapshot: MetricsSnapshot,
  target: ServedTarget,
  metricName: string,
  nowMs: number,
): CustomMetricValue | { readonly error: Error } {
  const value = servedValueOf(snapshot, target, metricName, nowMs);
  if ('error' in value) return value;
  return Object.freeze({
    describedObject: Object.freeze({
      apiVersion: target.object.apiVersion,
      kind: target.object.kind,
      namespace: target.namespace,
      name: target.name,
    }),
    metricName,
    timestampMs: value.timestampMs,
    windowSeconds: value.windowSeconds,
    valueMilli: value.valueMilli,
  });
}

/** The (resource, metric) pairs of a snapshot, sorted. */
export function customMetricsOf(snapshot: MetricsSnapshot): readonly CustomMetricInfo[] {
  const pairs = new Map<string, CustomMetricInfo>();
  for (const target of snapshot.targets) {
    for (const name of [...ALWAYS_SERVED, ...Object.keys(target.metrics)]) {
      const resource = target.object.resource;
      pairs.set(`${resource}/${name}`, Object.freeze({ resource, name }));
    }
  }
  return Object.freeze([...pairs.keys()].sort().map((key) => pairs.get(key) as CustomMetricInfo));
}
