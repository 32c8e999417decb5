/**
 * The real CustomMetricsProvider: the custom metrics API answers from the scaler's per-tick
 * snapshot, like the external one (./targets-provider.ts), and never calls Flink on a read. Every
 * metric an opted-in target serves externally is also an Object metric of the target object
 * itself, described by its own kind (`flinkdeployments.flink.apache.org/<name>`,
 * `deployments.apps/<name>`...), with the same value: both go through `servedValueOf`.
 *
 * Pods metrics (`pods/<name>` or `pods/*` with the HPA's pod selector) are per TaskManager pod
 * (src/metrics/catalogue.ts `POD_METRICS`). They are collected only for the targets whose Pods
 * metrics are read: a read marks, in the `PodMetricsDemand`, each target of the namespace whose
 * pods it may concern (those with a matching pod, and those whose pods are not known yet), and the
 * scaler collects their figures from the next tick on (src/runtime/taskmanager-loads.ts).
 */
import type { MetricsSnapshot } from '../domain/metrics-snapshot.js';
import type { Requirement, ServedPod, ServedTarget } from '../domain/metrics.js';
import type {
  CustomMetricInfo,
  CustomMetricValue,
  CustomMetricsProvider,
  MetricsSnapshotSource,
  PodMetricsDemand,
} from '../domain/ports.js';
import { MetricObjectNotFoundError, MetricUnavailableError, UnknownMetricError } from '../errors.js';
import { FLINK_METRIC_NAMES, POD_METRIC_NAMES, RECOMMENDED_TASKMANAGERS } from '../metrics/catalogue.js';
import { formatLabelSelector, matchesSelector } from './label-selector.js';
import { metricLabels, servedValueOf, toValueMilli } from './targets-provider.js';

export class TargetsCustomMetricsProvider implements CustomMetricsProvider {
  private view:
    { readonly snapshot: MetricsSnapshot; readonly metrics: readonly CustomMetricInfo[] } | undefined;

  constructor(
    private readonly source: MetricsSnapshotSource,
    private readonly now: () => number,
    /** Where Pods metric reads are marked; without it, none are ever collected. */
    private readonly demand?: PodMetricsDemand,
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
    if (resource === PODS) {
      return this.readPods(namespace, { name }, metricName, metricSelector).then(
        (items) => items[0] as CustomMetricValue,
      );
    }
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
    if (resource === PODS) return this.readPods(namespace, { selector }, metricName, metricSelector);
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

  /**
   * A Pods metric of one pod or of the pods a selector matches: the fresh values of the TaskManager
   * pods known, each target they may belong to marked as read. A pod without a fresh value is left
   * out, as the HPA expects of a pod not reporting yet (it assumes the worst of it for the move).
   */
  private readPods(
    namespace: string,
    which: { readonly name: string } | { readonly selector: readonly Requirement[] },
    metricName: string,
    metricSelector: readonly Requirement[],
  ): Promise<readonly CustomMetricValue[]> {
    if (!(POD_METRIC_NAMES as readonly string[]).includes(metricName)) {
      return Promise.reject(new UnknownMetricError(metricName));
    }
    const snapshot = this.source.snapshot();
    const nowMs = this.now();
    const selects = (pod: ServedPod): boolean =>
      'name' in which ? pod.name === which.name : matchesSelector(which.selector, pod.labels);
    const items: CustomMetricValue[] = [];
    const pending: ServedTarget[] = [];
    for (const target of snapshot.inNamespace(namespace)) {
      if (!matchesSelector(metricSelector, metricLabels(target))) continue;
      const pods = target.pods ?? [];
      const matching = pods.filter(selects);
      if (pods.length === 0) pending.push(target);
      if (pods.length === 0 || matching.length > 0) this.demand?.markRead(target.id, nowMs);
      for (const pod of matching) {
        const reading = Object.hasOwn(pod.metrics, metricName) ? pod.metrics[metricName] : undefined;
        if (reading === undefined || !('value' in reading) || !Number.isFinite(reading.value)) continue;
        if (nowMs > pod.freshUntilMs) continue;
        items.push(
          Object.freeze({
            describedObject: Object.freeze({ apiVersion: 'v1', kind: 'Pod', namespace, name: pod.name }),
            metricName,
            timestampMs: pod.timestampMs,
            windowSeconds: pod.windowSeconds,
            valueMilli: toValueMilli(reading.value),
          }),
        );
      }
    }
    if (items.length > 0) return Promise.resolve(Object.freeze(items));
    const [first] = pending;
    if (first !== undefined) {
      return Promise.reject(
        new MetricUnavailableError(
          namespace,
          metricName,
          first.name,
          'no-data',
          `the TaskManager pods of ${pending.length === 1 ? 'this target' : `${pending.length} targets of the namespace`} have no Pods metrics yet: they are collected from the next two ticks on, for as long as they are read`,
        ),
      );
    }
    const object = 'name' in which ? { name: which.name } : { selector: formatLabelSelector(which.selector) };
    return Promise.reject(new MetricObjectNotFoundError(namespace, PODS, object, metricName));
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

/** The resource of the Pods metrics. */
const PODS = 'pods';

/** The (resource, metric) pairs of a snapshot, sorted: each target kind's metrics, and the Pods metrics. */
export function customMetricsOf(snapshot: MetricsSnapshot): readonly CustomMetricInfo[] {
  const pairs = new Map<string, CustomMetricInfo>();
  if (snapshot.targets.length > 0) {
    for (const name of POD_METRIC_NAMES)
      pairs.set(`${PODS}/${name}`, Object.freeze({ resource: PODS, name }));
  }
  for (const target of snapshot.targets) {
    for (const name of [...ALWAYS_SERVED, ...Object.keys(target.metrics)]) {
      const resource = target.object.resource;
      pairs.set(`${resource}/${name}`, Object.freeze({ resource, name }));
    }
  }
  return Object.freeze([...pairs.keys()].sort().map((key) => pairs.get(key) as CustomMetricInfo));
}
