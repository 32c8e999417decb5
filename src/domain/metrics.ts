/**
 * Plain types of the metrics Slotscaler serves and decides on: each is either a finite value or
 * "unavailable" with a reason, never a made-up number.
 */

/** The job-level Flink metrics of the catalogue (`flink_recommended_taskmanagers` comes with the scaler). */
export type FlinkMetricName =
  | 'flink_busy_ratio'
  | 'flink_backpressure_ratio'
  | 'flink_source_pending_records'
  | 'flink_source_lag_seconds'
  | 'flink_records_in_per_second'
  | 'flink_demand_ratio';

/** Why a metric has no value. Stable strings: they show in `slotscaler collect`, logs and Events. */
export type UnavailableReason =
  /** No sample of this target yet. */
  | 'no-data'
  /** The last good sample is older than the maximum sample age. */
  | 'stale'
  /** The job restarted less than the restart hold-off ago (catch-up load is not load). */
  | 'restarting'
  /** The job is not RUNNING (or there is no running job to read). */
  | 'job-not-running'
  /** Fewer than two usable samples in the window. */
  | 'not-enough-samples'
  /** Flink did not report the counters this metric needs (NaN or missing). */
  | 'counters-missing'
  /** The job has no source vertex. */
  | 'no-source'
  /** Some source's `pendingRecords` is unknown (not registered yet, not reported). */
  | 'unknown-lag'
  /** Records are pending but the sources read nothing: the time to drain is not finite. */
  | 'zero-rate'
  /** An expression metric depends on a metric that is unavailable. */
  | 'input-unavailable'
  /** An expression metric evaluated to something that is not a finite number. */
  | 'not-finite'
  /**
   * The JobManager reported, or the window computed, a value beyond the bounds no real job passes
   * (src/flink/bounds.ts, src/metrics/sample-bounds.ts, src/metrics/metric-bounds.ts): no metric
   * rather than a wrong one.
   */
  | 'implausible';

/** One metric's reading. */
export type MetricReading =
  { readonly value: number } | { readonly unavailable: UnavailableReason; readonly detail?: string };

export function isAvailable(reading: MetricReading): reading is { readonly value: number } {
  return 'value' in reading;
}

/**
 * One scale target as the external metrics API serves it: its identity and every metric's reading
 * as of one collection. The scaler builds one per target per tick (src/runtime/snapshot.ts) and
 * publishes them together as a `MetricsSnapshot`; the MetricsProvider only reads them.
 */
export interface ServedTarget {
  /** `<lowercase kind>/<namespace>/<name>`. */
  readonly id: string;
  /** The kind, the `kind` metric label (lower-cased there). */
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly jobId: string | null;
  readonly windowSeconds: number;
  /** When the readings were taken (the last sample), epoch ms; null without a sample. */
  readonly timestampMs: number | null;
  /**
   * Until when the Flink and expression metrics may be served (the last sample plus the target's
   * maximum sample age), epoch ms; null without a sample. After it they are `stale`, as the metric
   * window would say, even when no newer snapshot has been published.
   */
  readonly freshUntilMs: number | null;
  /** The catalogue metrics, the target's expression metrics and `flink_recommended_taskmanagers`. */
  readonly metrics: Readonly<Record<string, MetricReading>>;
  /** The target object as the custom metrics API describes it (its Object metrics' `describedObject`). */
  readonly object: DescribedKind;
  /** The object's own labels: what a custom metrics API `labelSelector` on `*` matches. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Its TaskManager pods with their Pods metrics; absent when nobody read its Pods metrics lately,
   * so none were collected (`PodMetricsDemand`).
   */
  readonly pods?: readonly ServedPod[];
}

/** One TaskManager pod of a target, as the custom metrics API serves it (its Pods metrics). */
export interface ServedPod {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** When its figures were taken (the later of the two samples they come from), epoch ms. */
  readonly timestampMs: number;
  /** The time between those two samples, seconds. */
  readonly windowSeconds: number;
  /** Until when they may be served, epoch ms (as `ServedTarget.freshUntilMs`). */
  readonly freshUntilMs: number;
  /** By Pods metric name (src/metrics/catalogue.ts `POD_METRICS`). */
  readonly metrics: Readonly<Record<string, MetricReading>>;
}

/** The kind of a target object, as Kubernetes names it in an object reference and in a URL. */
export interface DescribedKind {
  /** `flink.apache.org/v1beta1`, `apps/v1`. */
  readonly apiVersion: string;
  /** `FlinkDeployment`, `Deployment` (as the object spells it). */
  readonly kind: string;
  /**
   * The group resource, `<plural>.<group>` (`flinkdeployments.flink.apache.org`, `deployments.apps`),
   * or the plural alone in the core group: the path segment of a custom metrics read, which the HPA
   * controller builds from its REST mapping (`GroupResource.String()`).
   */
  readonly resource: string;
}

/** One requirement of a Kubernetes label selector (`key in (a,b)`, `!key`, `key>3`). */
export type SelectorOperator = 'exists' | 'doesNotExist' | '=' | '==' | '!=' | 'in' | 'notin' | '>' | '<';

export interface Requirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values: readonly string[];
}

/** Why samples left a window before their time: the `reason` label. */
export type SampleDropReason = 'restart' | 'job_not_running' | 'capacity' | 'out_of_order' | 'implausible';
