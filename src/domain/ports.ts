/**
 * The ports: small interfaces through which the core talks to the outside world. Each has a real
 * implementation under src/ and an in-memory fake under test/fakes/.
 */
import type { TargetHistory } from './decision.js';
import type {
  AggregatedMetric,
  CheckpointConfig,
  CheckpointStats,
  JobDetails,
  JobOverview,
  MetricValue,
  ResourceRequirements,
  TaskManagerSummary,
  TaskManagerVertexTimes,
} from './flink.js';
import type { Requirement } from './metrics.js';
import type { MetricsSnapshot } from './metrics-snapshot.js';

// ---------------------------------------------------------------------------------------------
// Clock. Real: `systemClock` in src/runtime/clock.ts. Fake: test/fakes/fake-clock.ts.
// ---------------------------------------------------------------------------------------------

/** The wall clock. Code that needs the time takes a Clock (or the time as an argument), never `Date.now()`. */
export interface Clock {
  /** Milliseconds since the epoch. */
  nowMs(): number;
}

// ---------------------------------------------------------------------------------------------
// FlinkClient. Real: `FlinkRestClient` in src/flink/rest-client.ts. Fake: the fake
// JobManager HTTP server in test/fakes/fake-jobmanager.ts, read through the real client.
// ---------------------------------------------------------------------------------------------

/**
 * Read access to one Flink JobManager's REST API. Every method validates the answer before it
 * returns: a value Flink did not report is `null`, never NaN.
 *
 * Fails only with the typed errors of src/errors.ts: `FlinkUnreachableError` (and its
 * `FlinkTimeoutError`), `FlinkHttpError`, `FlinkBadResponseError`, `FlinkJobNotFoundError` (a 404 on
 * a job-scoped endpoint).
 */
/**
 * Changes a running job's parallelism in place, through the adaptive scheduler's
 * `GET|PUT /jobs/{jid}/resource-requirements`. Real: `FlinkRestClient`.
 */
export interface JobRequirementsClient {
  readonly baseUrl: string;
  getResourceRequirements(jobId: string): Promise<ResourceRequirements>;
  /** Resolves when the JobManager accepted the requirements; throws a `FlinkError` when it refused. */
  setResourceRequirements(jobId: string, requirements: ResourceRequirements): Promise<void>;
}

export interface FlinkClient {
  /** The JobManager's REST base URL, for messages. */
  readonly baseUrl: string;
  /** `GET /jobs/overview`. */
  listJobs(): Promise<readonly JobOverview[]>;
  /** `GET /jobs/{jid}`: state, RUNNING timestamp, plan and every vertex's cumulative counters in one call. */
  getJobDetails(jobId: string): Promise<JobDetails>;
  /**
   * `GET /jobs/{jid}/vertices/{vid}/metrics?get=a,b`: per-subtask values (ids `<subtask>.<metric>`).
   * Flink leaves out ids it does not know.
   */
  getVertexMetrics(
    jobId: string,
    vertexId: string,
    metricIds: readonly string[],
  ): Promise<readonly MetricValue[]>;
  /**
   * `GET /jobs/{jid}/vertices/{vid}/subtasks/metrics` without `get`: the names of the metrics the
   * vertex's subtasks have (union, without the subtask index).
   */
  listSubtaskMetricNames(jobId: string, vertexId: string): Promise<readonly string[]>;
  /**
   * `GET /jobs/{jid}/vertices/{vid}/subtasks/metrics?get=a,b&agg=...`: aggregated over subtasks. Flink
   * answers an empty list when any asked-for name exists on no subtask.
   */
  getAggregatedSubtaskMetrics(
    jobId: string,
    vertexId: string,
    names: readonly string[],
    aggregations: readonly ('min' | 'max' | 'avg' | 'sum')[],
  ): Promise<readonly AggregatedMetric[]>;
  /** `GET /taskmanagers`. */
  listTaskManagers(): Promise<readonly TaskManagerSummary[]>;
  /**
   * `GET /jobs/{jid}/vertices/{vid}/taskmanagers`: the vertex's time counters per TaskManager.
   * Called only for targets whose Pods metrics were read lately (`PodMetricsDemand`).
   */
  getVertexTaskManagers(jobId: string, vertexId: string): Promise<readonly TaskManagerVertexTimes[]>;
  /**
   * `GET /jobs/{jid}/checkpoints/config`: the checkpoint interval. A job without a checkpoint
   * coordinator (Flink answers 404 here) has `intervalMs: null`.
   */
  getCheckpointConfig(jobId: string): Promise<CheckpointConfig>;
  /** `GET /jobs/{jid}/checkpoints`: the counts and the latest completed checkpoint. */
  getCheckpointStats(jobId: string): Promise<CheckpointStats>;
}

// ---------------------------------------------------------------------------------------------
// MetricsProvider. Real: `TargetsMetricsProvider` (src/metrics-api/targets-provider.ts) over the
// scaler's per-tick snapshot. Fake: test/fakes/metrics-provider.ts.
// ---------------------------------------------------------------------------------------------

/** The newest published snapshot of the targets' metrics. Real: the scaler (src/runtime/snapshot.ts). */
export interface MetricsSnapshotSource {
  /** The same object until the next tick publishes another; never blocks, never fails. */
  snapshot(): MetricsSnapshot;
}

/** A metric Slotscaler serves on the external metrics API (one entry of the APIResourceList). */
export interface ExternalMetricInfo {
  readonly name: string;
}

/** One item of an `ExternalMetricValueList` (k8s.io/metrics external_metrics/v1beta1 `ExternalMetricValue`). */
export interface ExternalMetricValue {
  readonly metricName: string;
  /** `{target, kind, job_id}` for Slotscaler's metrics. */
  readonly metricLabels: Readonly<Record<string, string>>;
  /** When the value was measured (end of its window), epoch milliseconds. */
  readonly timestampMs: number;
  /** The window the value is averaged over, whole seconds (the item's `window`). */
  readonly windowSeconds: number;
  /**
   * The value in thousandths, an integer: the API sends it as a milli-precision quantity (`"930m"`)
   * because the HPA reads it back with `Quantity.MilliValue()`.
   */
  readonly valueMilli: number;
}

/**
 * Where the external metrics API reads its values: the server knows HTTP, this knows metrics (the
 * split of kubernetes-sigs/custom-metrics-apiserver's `provider.ExternalMetricsProvider`, whose two
 * methods these mirror). Reads answer from memory; they never call Flink.
 *
 * `getMetric` fails only with these typed errors of src/errors.ts:
 * - `UnknownMetricError`: Slotscaler does not serve `metricName` (answered 404, or forwarded to the
 *   upstream provider when one is configured);
 * - `MetricTargetNotFoundError`: no target in `namespace` matches the selector (404; an empty list
 *   is treated the same way);
 * - `MetricUnavailableError`: a matching target has no value now (stale, restarting, unknown lag...);
 *   when several targets match and any of them is unavailable the whole read fails, because the HPA
 *   sums the items and a partial sum would look like less load (answered 404 with the reason).
 * Anything else is a backend failure (500, details only in the log).
 */
export interface MetricsProvider {
  /** The metric names Slotscaler owns now (built-ins and expression metrics). Cheap; called per request. */
  listMetrics(): readonly ExternalMetricInfo[];
  /**
   * The values of `metricName` for the targets of `namespace` whose labels match every requirement.
   * The list is never changed after it is returned: a provider may answer the same read with the
   * same list while its data has not changed, and the server then reuses the list's serialization.
   */
  getMetric(
    namespace: string,
    metricName: string,
    selector: readonly Requirement[],
  ): Promise<readonly ExternalMetricValue[]>;
}

/** A metric of one kind of object on the custom metrics API (one `<resource>/<metric>` of its discovery). */
export interface CustomMetricInfo {
  /** The group resource of the objects it describes (`flinkdeployments.flink.apache.org`). */
  readonly resource: string;
  readonly name: string;
}

/** One item of a `MetricValueList` (k8s.io/metrics custom_metrics/v1beta2 `MetricValue`). */
export interface CustomMetricValue {
  readonly describedObject: {
    readonly apiVersion: string;
    readonly kind: string;
    readonly namespace: string;
    readonly name: string;
  };
  readonly metricName: string;
  /** When the value was measured (end of its window), epoch milliseconds. */
  readonly timestampMs: number;
  /** The window the value is averaged over, whole seconds. */
  readonly windowSeconds: number;
  /** The value in thousandths, an integer (as `ExternalMetricValue.valueMilli`). */
  readonly valueMilli: number;
}

/**
 * Where the custom metrics API (custom.metrics.k8s.io) gets its values: the metrics of objects,
 * each read naming the object's group resource. It mirrors kubernetes-sigs/custom-metrics-apiserver's
 * `provider.CustomMetricsProvider` (`GetMetricByName`, `GetMetricBySelector`, `ListAllMetrics`),
 * and fails with the same typed errors as `MetricsProvider`, plus `MetricObjectNotFoundError` when
 * the object named, or every object selected, is no target serving the metric (404).
 * `metricSelector` is the read's `metricLabelSelector`, matched against the labels
 * `MetricsProvider` items carry (`target`, `kind`, `job_id`).
 */
export interface CustomMetricsProvider {
  /** Every (resource, metric) pair served now. Cheap; called per request. */
  listCustomMetrics(): readonly CustomMetricInfo[];
  /** The metric of the one object `namespace/name` of `resource`. */
  getMetricByName(
    namespace: string,
    resource: string,
    name: string,
    metricName: string,
    metricSelector: readonly Requirement[],
  ): Promise<CustomMetricValue>;
  /** The metric of every object of `resource` in `namespace` whose labels match `selector` (the `*` form). */
  getMetricBySelector(
    namespace: string,
    resource: string,
    selector: readonly Requirement[],
    metricName: string,
    metricSelector: readonly Requirement[],
  ): Promise<readonly CustomMetricValue[]>;
}

/**
 * Which targets' Pods metrics someone read lately: the custom metrics API marks a target when a
 * read may concern its TaskManager pods, and the per-TaskManager collection reads only the targets
 * marked within its memory, so every other target keeps the collector's budget of REST calls.
 * Real: `RecentReads` (src/lib/recent-reads.ts).
 */
export interface PodMetricsDemand {
  markRead(targetId: string, nowMs: number): void;
  wanted(targetId: string, nowMs: number): boolean;
}

/** A running pod as the Pods metrics need it: its name, labels and IP. */
export interface PodFacts {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly podIp: string | null;
}

/** The running pods of a namespace. Real: `KubePodLister` (src/kube/pods.ts). Throws a `KubeApiError`. */
export interface PodLister {
  runningPods(namespace: string): Promise<readonly PodFacts[]>;
}

/** Whether a part is fit to serve (`/readyz`), and why not. */
export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: string };

/**
 * Where each target's histories (stabilization recommendations, scale events, the last rescale and
 * decision) live from one tick to the next. Absent: nothing is known of the target yet. In memory:
 * `InMemoryHistoryStore` (src/scaler/history-store.ts; `simulate`, tests). In the cluster:
 * `AnnotationHistoryStore` (src/kube/status-annotation.ts), which also takes them from, and encodes
 * them for, each target's status annotation, so a new leader carries on where the last one stopped.
 */
export interface HistoryStore {
  get(targetId: string): TargetHistory | undefined;
  set(targetId: string, history: TargetHistory): void;
  delete(targetId: string): void;
}
