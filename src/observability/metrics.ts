/**
 * Slotscaler's own Prometheus metrics (prom-client), registered on a registry the caller creates
 * (never the global default), so every test can have its own. Names are
 * `slotscaler_<what>_<unit>`; counters end in `_total` and nothing else does (`promtool check
 * metrics` passes with no warning). The per-target metrics are in ./target-metrics.ts.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metric } from 'prom-client';

import type { FlinkEndpoint, JobSnapshot } from '../domain/flink.js';
import type { SampleDropReason } from '../domain/metrics.js';

/** How one HTTP attempt against a JobManager ended: the `outcome` label. */
export type FlinkRequestOutcome =
  | 'ok'
  | 'timeout'
  | 'unreachable'
  | 'not_found'
  | 'http_4xx'
  | 'http_5xx'
  | 'bad_response'
  /** Cut while streaming: over `flink-max-response-bytes` (or too many JSON containers). */
  | 'too_large'
  /** A number beyond the bounds of src/flink/bounds.ts. */
  | 'implausible';

/** A target's state in the collector: the `state` label. */
export type CollectorTargetState = 'ok' | 'failing' | 'pending';

/** One HTTP attempt's answer: its status code (`error`: none came) and how long it took. */
export interface RequestAnswer {
  readonly code: number | 'error';
  readonly seconds: number;
}

/** Receives one observation per HTTP attempt (retries count separately). */
export interface FlinkRequestObserver {
  observeFlinkRequest(endpoint: FlinkEndpoint, outcome: FlinkRequestOutcome, answer?: RequestAnswer): void;
}

/** A collector target as the per-target metrics see it: its id and the labels bound to its logger. */
export interface CollectedTarget {
  readonly id: string;
  readonly logBindings?: Readonly<Record<string, unknown>> | undefined;
}

/** What the collector reports about one target (per-target metrics; ./target-metrics.ts). */
export interface CollectedTargetObserver {
  /** A snapshot was taken: the job's state and parallelism end a pending rescale. */
  observeTargetSnapshot(
    target: CollectedTarget,
    snapshot: Pick<JobSnapshot, 'state' | 'takenAtMs' | 'vertices'>,
  ): void;
  /** A snapshot could not be taken; `code` is the error's code (src/errors.ts). */
  observeTargetFailure(target: CollectedTarget, code: string): void;
}

/** What the collector reports about itself. */
export interface CollectorObserver extends CollectedTargetObserver {
  observeTickDuration(seconds: number): void;
  observeTickSkipped(): void;
  observeSamplesDropped(reason: SampleDropReason, count: number): void;
  setTargetCounts(counts: Readonly<Record<CollectorTargetState, number>>): void;
}

export type CollectorMetrics = FlinkRequestObserver & CollectorObserver;

const noTargetObserver: CollectedTargetObserver = {
  observeTargetSnapshot: () => undefined,
  observeTargetFailure: () => undefined,
};

/**
 * Registers the Flink and collector metrics on `registry`; what the collector says about single
 * targets goes to `targets` (the per-target metrics) when given.
 */
export function createCollectorMetrics(
  registry: Registry,
  targets: CollectedTargetObserver = noTargetObserver,
): CollectorMetrics {
  const requests = new Counter({
    name: 'slotscaler_flink_requests_total',
    help: 'HTTP requests to Flink JobManagers, by endpoint and outcome (each retry counts)',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: 'slotscaler_flink_request_duration_seconds',
    help: 'Time of one HTTP request to a Flink JobManager, by endpoint and HTTP status code (error: no answer)',
    labelNames: ['endpoint', 'code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const tickDuration = new Histogram({
    name: 'slotscaler_collector_tick_duration_seconds',
    help: 'Duration of one collector tick over all targets',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60],
    registers: [registry],
  });
  const ticksSkipped = new Counter({
    name: 'slotscaler_collector_ticks_skipped_total',
    help: 'Ticks skipped because the previous tick was still running',
    registers: [registry],
  });
  const samplesDropped = new Counter({
    name: 'slotscaler_collector_samples_dropped_total',
    help: 'Samples removed from metric windows before they aged out, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const targetCounts = new Gauge({
    name: 'slotscaler_collector_targets',
    help: 'Targets the collector polls, by state of their last tick',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  return {
    observeFlinkRequest: (endpoint, outcome, answer) => {
      requests.inc({ endpoint, outcome });
      if (answer !== undefined)
        requestDuration.observe({ endpoint, code: String(answer.code) }, answer.seconds);
    },
    observeTickDuration: (seconds) => tickDuration.observe(seconds),
    observeTickSkipped: () => ticksSkipped.inc(),
    observeSamplesDropped: (reason, count) => {
      if (count > 0) samplesDropped.inc({ reason }, count);
    },
    setTargetCounts: (counts) => {
      for (const [state, count] of Object.entries(counts)) targetCounts.set({ state }, count);
    },
    observeTargetSnapshot: (target, snapshot) => targets.observeTargetSnapshot(target, snapshot),
    observeTargetFailure: (target, code) => targets.observeTargetFailure(target, code),
  };
}

/**
 * The `resource` label of a Kubernetes API path: the plural, with its subresource
 * (`flinkdeployments`, `deployments/scale`, `leases`); `other` for paths outside a resource
 * (`/version`, discovery). And whether the path names one object (a GET of a collection is a LIST).
 */
export function kubeResourceOf(path: string): { readonly resource: string; readonly named: boolean } {
  const segments = (path.split('?')[0] ?? '').split('/').filter((segment) => segment !== '');
  // /api/v1/... or /apis/<group>/<version>/...
  let rest: string[];
  if (segments[0] === 'api') rest = segments.slice(2);
  else if (segments[0] === 'apis') rest = segments.slice(3);
  else return { resource: 'other', named: false };
  // namespaces/<ns>/<resource>/... (but /api/v1/namespaces and /api/v1/namespaces/<name> themselves)
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const [resource, name, subresource] = rest;
  if (resource === undefined) return { resource: 'other', named: false };
  return {
    resource: subresource === undefined ? resource : `${resource}/${subresource}`,
    named: name !== undefined,
  };
}

/** Told of every request the Kubernetes client makes. */
export interface KubeRequestObserver {
  observeKubeRequest(verb: string, path: string, status: number | 'error', seconds: number): void;
}

/**
 * Registers the Kubernetes API request metrics on `registry`: the observer of `HttpKubeClient`.
 * Labelled by resource, never by path, so the series stay bounded by the kinds the process uses.
 */
export function createKubeRequestMetrics(registry: Registry): KubeRequestObserver {
  const requests = new Counter({
    name: 'slotscaler_kube_requests_total',
    help: 'Requests to the Kubernetes API server, every one this process makes (TokenReviews and SubjectAccessReviews of the metrics API included), by verb (LIST, WATCH, GET, POST, ...), resource and HTTP status code (error: no answer)',
    labelNames: ['verb', 'resource', 'code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'slotscaler_kube_request_duration_seconds',
    help: 'Time of one request to the Kubernetes API server, by verb and resource (a WATCH: until its answer began)',
    labelNames: ['verb', 'resource'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return {
    observeKubeRequest: (method, path, status, seconds) => {
      const { resource, named } = kubeResourceOf(path);
      const verb = method === 'GET' && !named ? 'LIST' : method;
      requests.inc({ verb, resource, code: String(status) });
      duration.observe({ verb, resource }, seconds);
    },
  };
}

/** What a replica's fetch of another replica's records came to (with shards). */
export type PeerFetchResult = 'updated' | 'not_modified' | 'failed';

/** The observer of the record exchange between sharded replicas (`PeerRecords`). */
export interface PeerRecordsObserver {
  observePeerFetch(result: PeerFetchResult): void;
}

/** Registers the record exchange's metrics on `registry`. Not labelled by peer: pod names change at every restart. */
export function createPeerRecordsMetrics(registry: Registry): PeerRecordsObserver {
  const fetches = new Counter({
    name: 'slotscaler_peer_fetches_total',
    help: "With shards: fetches of another replica's records of its targets, by result (updated: new records; not_modified: nothing published since the last; failed: no answer, refused, or not records)",
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return { observePeerFetch: (result) => fetches.inc({ result }) };
}

/**
 * prom-client's gauges whose names end in `_total`: a name promtool refuses for anything but a
 * counter. Their per-type twins (`nodejs_active_handles{type}`, ...) summed give the same number.
 */
const GAUGES_NAMED_TOTAL: ReadonlySet<string> = new Set([
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
]);

/** What `slotscaler_build_info` carries. */
export interface BuildInfo {
  readonly version: string;
  readonly nodeVersion: string;
}

/**
 * The standard process and Node.js metrics of prom-client, unprefixed as the usual dashboards
 * query them (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
 * `nodejs_eventloop_lag_seconds`, ...) but for the gauges named `_total`, and
 * `slotscaler_build_info` (always 1).
 */
export function registerProcessMetrics(registry: Registry, build: BuildInfo): void {
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults });
  for (const metric of defaults.getMetricsAsArray()) {
    if (!GAUGES_NAMED_TOTAL.has(metric.name)) registry.registerMetric(metric as unknown as Metric);
  }
  new Gauge({
    name: 'slotscaler_build_info',
    help: 'Always 1; the labels say which Slotscaler runs: its version, the Node.js version, the platform',
    labelNames: ['version', 'node_version', 'platform'] as const,
    registers: [registry],
  }).set(
    {
      version: build.version,
      node_version: build.nodeVersion,
      platform: `${process.platform}/${process.arch}`,
    },
    1,
  );
}
