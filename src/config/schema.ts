/**
 * The one config schema of Slotscaler. Every option is declared here once: its value form, bounds,
 * default and description. Per-target options are set with `slotscaler.dev/<kebab-key>`
 * annotations and default to the global config; global options come from flags, environment
 * variables and the config file. The annotation reference in the README and the chart's values
 * schema are generated from these declarations.
 */
import { getCiphers } from 'node:tls';

import { z } from 'zod';

import {
  ValueError,
  formatDuration,
  formatMetricTargets,
  formatPolicies,
  formatTolerance,
  parseBoolean,
  parseDuration,
  parseInteger,
  parseMetricTargets,
  parsePolicies,
  parseTolerance,
} from './values.js';
import { kebabCase } from './keys.js';
import type { Behavior } from '../domain/decision.js';

/**
 * The HPA v2 defaults of `behavior` (k8s.io/kubernetes pkg/apis/autoscaling/v2/defaults.go): the
 * defaults of the scaling fields below and of `slotscaler decide`'s input.
 */
export const HPA_DEFAULT_BEHAVIOR: Behavior = {
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ],
  },
  scaleDown: {
    stabilizationWindowSeconds: 300,
    selectPolicy: 'Max',
    policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
  },
};

/** `target`: an annotation per target, defaulting to the global value. `global`: the process only. */
export type FieldScope = 'target' | 'global';

/** What the docs generator needs to know about a field, beyond its zod type. */
export interface FieldMeta {
  readonly scope: FieldScope;
  /** The value form, as the docs name it: `duration`, `integer`, `policies`... */
  readonly form: string;
  readonly description: string;
  /** The default in the form users write, or undefined when the field is unset by default. */
  readonly default?: string;
  readonly example?: string;
}

type Raw = string | number | boolean | readonly string[];
const rawInput = z.union([z.string(), z.number(), z.boolean(), z.array(z.string()).readonly()]);

/** A field parsed from its text form (or a native YAML value, via its text) and checked. */
function parsed<T>(parse: (text: string) => T, check?: (value: T) => string | undefined) {
  return rawInput.transform((raw: Raw, ctx): T => {
    const text = Array.isArray(raw) ? raw.join(',') : String(raw);
    try {
      const value = parse(text);
      const problem = check?.(value);
      if (problem === undefined) return value;
      ctx.addIssue({ code: 'custom', message: problem, input: raw });
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message, input: raw });
    }
    return z.NEVER;
  });
}

function inRange(min: number, max: number, unit = ''): (value: number) => string | undefined {
  return (value) =>
    value < min || value > max ? `expected a value from ${min}${unit} to ${max}${unit}` : undefined;
}

const forms = {
  boolean: () => parsed(parseBoolean),
  integer: (min: number, max: number) => parsed(parseInteger, inRange(min, max)),
  number: (min: number, max: number) =>
    parsed(
      (text) => {
        const value = Number(text.trim());
        if (text.trim() === '' || !Number.isFinite(value)) throw new ValueError('expected a number');
        return value;
      },
      inRange(min, max),
    ),
  /** Seconds. */
  duration: (minSeconds: number, maxSeconds: number) =>
    parsed(parseDuration, (value) =>
      value < minSeconds || value > maxSeconds
        ? `expected a duration from ${formatDuration(minSeconds)} to ${formatDuration(maxSeconds)}`
        : undefined,
    ),
  oneOf: <const T extends string>(values: readonly [T, ...T[]]) =>
    parsed((text): T => {
      const value = values.find((candidate) => candidate.toLowerCase() === text.trim().toLowerCase());
      if (value === undefined) throw new ValueError(`expected one of ${values.join(', ')}`);
      return value;
    }),
  text: (pattern: RegExp, expected: string) =>
    parsed((text) => {
      if (!pattern.test(text.trim())) throw new ValueError(`expected ${expected}`);
      return text.trim();
    }),
  url: () =>
    parsed((text) => {
      let url: URL;
      try {
        url = new URL(text.trim());
      } catch {
        throw new ValueError('expected an http:// or https:// URL');
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new ValueError('expected an http:// or https:// URL');
      // A base URL: request paths are appended to it, so a query or fragment would end up in the
      // middle of every request; credentials would show in Events and logs.
      if (text.includes('?') || text.includes('#'))
        throw new ValueError('expected a base URL without a query (?) or fragment (#)');
      if (url.username !== '' || url.password !== '')
        throw new ValueError('expected a URL without credentials (user:password@)');
      return url.toString().replace(/\/$/, '');
    }),
  list: (pattern: RegExp, expected: string, known: (item: string) => boolean = () => true) =>
    parsed((text) => {
      const items = text
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
      const bad = items.find((item) => !pattern.test(item) || !known(item));
      if (bad !== undefined) throw new ValueError(`"${bad}" is not ${expected}`);
      return [...new Set(items)];
    }),
  policies: () => parsed(parsePolicies),
  metricTargets: () => parsed(parseMetricTargets),
  tolerance: () => parsed(parseTolerance),
};

/** Declares a field with a default, applied through the same parser as any value. */
function field<T extends z.ZodType<unknown, Raw>>(schema: T, meta: FieldMeta & { readonly default: string }) {
  return schema
    .prefault(meta.default as z.input<T>)
    .meta({ description: meta.description, slotscaler: meta });
}

/** Declares a field that is unset unless given. */
function optionalField<T extends z.ZodType<unknown, Raw>>(
  schema: T,
  meta: FieldMeta & { readonly default?: never },
) {
  return schema.optional().meta({ description: meta.description, slotscaler: meta });
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const RESOURCE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/v[a-z0-9]+\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const FIELD_PATH = /^(\.[A-Za-z_][A-Za-z0-9_-]*)+$/;
const FILE_PATH = /^[^\0]+$/;
const HOST = /^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$/;
const API_SERVICE_NAME = /^v[0-9][a-z0-9]*\.[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const CIPHER = /^[A-Za-z0-9_-]+$/;
/** A cipher suite name the linked OpenSSL knows (an unknown one would be dropped without a word). */
const isKnownCipher = (name: string): boolean => getCiphers().includes(name.toLowerCase());

/** Options of one scale target: annotations `slotscaler.dev/<kebab-key>`, defaulting to the global config. */
export const targetFields = {
  enabled: field(forms.boolean(), {
    scope: 'target',
    form: 'boolean',
    default: 'false',
    description: 'Opt the target in; only targets with enabled=true are watched.',
  }),
  mode: field(forms.oneOf(['scale', 'recommend', 'metrics-only']), {
    scope: 'target',
    form: 'scale | recommend | metrics-only',
    default: 'scale',
    description:
      'scale: decide and write; recommend: decide and report (Events, status), never write; metrics-only: only serve metrics.',
  }),
  metrics: field(forms.metricTargets(), {
    scope: 'target',
    form: 'metric targets',
    default: 'flink_demand_ratio=0.7',
    example: 'flink_busy_ratio=0.7,flink_source_lag_seconds=60:AverageValue',
    description:
      'Metrics to scale on with their targets, as an HPA External metric: Value compares the job-wide value with the target; AverageValue divides it by the TaskManagers. The default, the demand ratio, is the busy ratio while the job keeps up and goes past 1 when its backlog grows, so one rescale sizes a job that fell behind (`slotscaler simulate --rescale redeploy`, step trace: 1 scale-up, where flink_busy_ratio=0.7 takes 3).',
  }),
  minTaskmanagers: field(forms.integer(0, 10_000), {
    scope: 'target',
    form: 'integer',
    default: '1',
    description: 'Fewest TaskManagers the scaler will set.',
  }),
  maxTaskmanagers: field(forms.integer(1, 10_000), {
    scope: 'target',
    form: 'integer',
    default: '10',
    description: 'Most TaskManagers the scaler will set (also bounded by max parallelism / task slots).',
  }),
  tolerance: field(forms.tolerance(), {
    scope: 'target',
    form: 'tolerance',
    default: '0.1',
    example: 'up=0.05,down=0.2',
    description:
      "No scaling while usage/target is from 1 - down to 1 + up; one value for both or separate up= and down=. Each is a number or quantity of 0 or more with no upper bound, as the HPA's behavior tolerance (down=1 or more: no scale-down while usage is 0 or more).",
  }),
  scaleUpStabilization: field(forms.duration(0, 3600), {
    scope: 'target',
    form: 'duration',
    default: formatDuration(HPA_DEFAULT_BEHAVIOR.scaleUp.stabilizationWindowSeconds),
    description:
      'Scale up only to the lowest recommendation of this window (HPA behavior.scaleUp.stabilizationWindowSeconds).',
  }),
  scaleDownStabilization: field(forms.duration(0, 3600), {
    scope: 'target',
    form: 'duration',
    default: formatDuration(HPA_DEFAULT_BEHAVIOR.scaleDown.stabilizationWindowSeconds),
    description:
      'Scale down only to the highest recommendation of this window (HPA behavior.scaleDown.stabilizationWindowSeconds).',
  }),
  scaleUpPolicies: field(forms.policies(), {
    scope: 'target',
    form: 'policies',
    default: formatPolicies(HPA_DEFAULT_BEHAVIOR.scaleUp.policies),
    description:
      'How fast TaskManagers may be added: pods=<n>/<period> and percent=<n>/<period> (HPA behavior.scaleUp.policies).',
  }),
  scaleDownPolicies: field(forms.policies(), {
    scope: 'target',
    form: 'policies',
    default: formatPolicies(HPA_DEFAULT_BEHAVIOR.scaleDown.policies),
    description: 'How fast TaskManagers may be removed (HPA behavior.scaleDown.policies).',
  }),
  selectPolicy: field(forms.oneOf(['Max', 'Min', 'Disabled']), {
    scope: 'target',
    form: 'Max | Min | Disabled',
    // The HPA's default is the same in both directions.
    default: HPA_DEFAULT_BEHAVIOR.scaleUp.selectPolicy,
    description:
      'Which policy wins in both directions: Max allows the biggest change, Min the smallest, Disabled none.',
  }),
  scaleUpSelectPolicy: optionalField(forms.oneOf(['Max', 'Min', 'Disabled']), {
    scope: 'target',
    form: 'Max | Min | Disabled',
    description: 'select-policy for scale-up only (overrides select-policy).',
  }),
  scaleDownSelectPolicy: optionalField(forms.oneOf(['Max', 'Min', 'Disabled']), {
    scope: 'target',
    form: 'Max | Min | Disabled',
    example: 'Disabled',
    description: 'select-policy for scale-down only (overrides select-policy); Disabled never scales down.',
  }),
  cooldownAfterRescale: field(forms.duration(0, 3600), {
    scope: 'target',
    form: 'duration',
    default: '60s',
    description:
      'After a rescale, no further scale-up until the job is RUNNING again and this long has passed: catch-up after a restart is not new load.',
  }),
  maxRescalesPerHour: optionalField(forms.integer(1, 3600), {
    scope: 'target',
    form: 'integer',
    description:
      'A restart budget: past this many rescales in the last hour, only a scale-up that the lag demands (a backlog that grows, or that the current capacity would not drain within catch-up-duration) is written; anything else is held, with an Event saying the budget was spent. Unset: no budget.',
  }),
  taskSlots: optionalField(forms.integer(1, 1024), {
    scope: 'target',
    form: 'integer',
    description:
      'Task slots per TaskManager; by default read from flinkConfiguration taskmanager.numberOfTaskSlots or the spec.',
  }),
  maxParallelism: optionalField(forms.integer(1, 32_768), {
    scope: 'target',
    form: 'integer',
    description: "Upper bound of the job's parallelism; by default the job's own max parallelism.",
  }),
  jobmanagerUrl: optionalField(forms.url(), {
    scope: 'target',
    form: 'URL',
    example: 'http://my-job-rest.flink:8081',
    description: 'JobManager REST URL; for a FlinkDeployment by default http://<name>-rest.<namespace>:8081.',
  }),
  jobId: optionalField(forms.text(/^[0-9a-f]{32}$/, 'a Flink job id (32 hex digits)'), {
    scope: 'target',
    form: 'job id',
    description:
      'The job to read; by default the one RUNNING job of the JobManager (or status.jobStatus.jobId).',
  }),
  replicasPath: optionalField(forms.text(FIELD_PATH, 'a field path such as .spec.replicas'), {
    scope: 'target',
    form: 'field path',
    example: '.spec.taskManagers',
    description:
      'For other custom resources: where the TaskManager count lives (otherwise the scale subresource).',
  }),
  parallelismPath: optionalField(forms.text(FIELD_PATH, 'a field path such as .spec.parallelism'), {
    scope: 'target',
    form: 'field path',
    example: '.spec.job.parallelism',
    description:
      'For other custom resources: where the parallelism lives (written before the TaskManager count).',
  }),
  rescale: field(forms.oneOf(['auto', 'in-place', 'redeploy']), {
    scope: 'target',
    form: 'auto | in-place | redeploy',
    default: 'auto',
    description:
      'How a rescale reaches the job. auto: in place where the spec allows it (adaptive scheduler, Flink 1.18 or later), else a redeploy, and a redeploy after an in-place rescale that the job did not take; in-place: only in place (a Warning names what is missing, never a silent redeploy); redeploy: always the full upgrade.',
  }),
  rescaleConfirmTimeout: field(forms.duration(1, 3600), {
    scope: 'target',
    form: 'duration',
    default: '120s',
    description:
      'How long an in-place rescale may take to show on the JobManager (same job, every vertex RUNNING at the new parallelism) before it is reported as not taken.',
  }),
  rescaleAfterCheckpoint: field(forms.boolean(), {
    scope: 'target',
    form: 'boolean',
    default: 'true',
    description:
      "Time a rescale that restores from the latest checkpoint (in place, or Flink's reactive mode) right after the job's next completed checkpoint, so it replays seconds of input rather than up to a whole checkpoint interval. It waits at most one interval (read from the JobManager) and a tick, and not at all for a scale-up whose backlog, grown over the wait, the new capacity would not drain within catch-up-duration, or would grow by more than the replay saved. A redeploy stops with a savepoint and is never held for it.",
  }),
  allowStatelessRescale: field(forms.boolean(), {
    scope: 'target',
    form: 'boolean',
    default: 'false',
    description:
      'Allow rescaling a FlinkDeployment with upgradeMode stateless, which restarts from empty state: only for jobs with no state to lose.',
  }),
  metricsWindow: field(forms.duration(1, 3600), {
    scope: 'target',
    form: 'duration',
    default: '60s',
    description: 'Metrics are averaged over this window.',
  }),
  metricsHoldAfterRestart: field(forms.duration(0, 3600), {
    scope: 'target',
    form: 'duration',
    default: '5m',
    description:
      'No metrics for this long after the job (re)starts: catching up on the backlog a restart built is not new load (`slotscaler simulate --rescale redeploy`, step trace, default metrics: with 60s 1 rescale, with 5m 1: the catching-up hold already keeps the drain of that backlog from scaling up).',
  }),
  catchUpDuration: field(forms.duration(1, 86_400), {
    scope: 'target',
    form: 'duration',
    default: '5m',
    description:
      "flink_demand_ratio counts a backlog as load to drain within this long: while the job drains one, the demand does not fall below that pace (nor rise above the busy ratio for it). Like the Flink operator autoscaler's job.autoscaler.catch-up.duration.",
  }),
  metricsMaxAge: field(forms.duration(1, 3600), {
    scope: 'target',
    form: 'duration',
    default: '60s',
    description:
      'A target whose last good sample is older than this has no metrics (so nothing scales it down).',
  }),
};

/** Options of the process: flags `--<kebab-key>`, environment `SLOTSCALER_<UPPER_SNAKE_KEY>`, config file `<key>`. */
export const globalFields = {
  namespaces: field(forms.list(DNS_LABEL, 'a namespace name'), {
    scope: 'global',
    form: 'list of namespaces',
    default: '',
    example: 'flink,flink-staging',
    description: 'Namespaces to watch; empty watches all.',
  }),
  tickInterval: field(forms.duration(1, 600), {
    scope: 'global',
    form: 'duration',
    default: '15s',
    description: 'How often metrics are collected and decisions made.',
  }),
  dryRun: field(forms.boolean(), {
    scope: 'global',
    form: 'boolean',
    default: 'false',
    description: 'Decide and report, but write nothing to any target.',
  }),
  writeQps: field(forms.number(0.1, 1000), {
    scope: 'global',
    form: 'number',
    default: '5',
    description: 'Client-side rate limit of writes to the API server, requests per second.',
  }),
  writeBurst: field(forms.integer(1, 1000), {
    scope: 'global',
    form: 'integer',
    default: '10',
    description: 'Burst of the write rate limit.',
  }),
  leaderElect: field(forms.boolean(), {
    scope: 'global',
    form: 'boolean',
    default: 'true',
    description: 'Only the holder of the Lease writes; every replica collects and serves metrics.',
  }),
  leaseName: field(forms.text(DNS_LABEL, 'a Lease name'), {
    scope: 'global',
    form: 'name',
    default: 'slotscaler',
    description: 'Name of the coordination.k8s.io Lease used for leader election.',
  }),
  leaseDuration: field(forms.duration(2, 300), {
    scope: 'global',
    form: 'duration',
    default: '15s',
    description: 'How long a leader holds the Lease without renewing it.',
  }),
  leaseNamespace: optionalField(forms.text(DNS_LABEL, 'a namespace name'), {
    scope: 'global',
    form: 'namespace',
    description:
      'Namespace of the leader-election Lease; by default the namespace Slotscaler runs in ($POD_NAMESPACE), else default.',
  }),
  shards: field(forms.boolean(), {
    scope: 'global',
    form: 'boolean',
    default: 'false',
    description:
      "The replicas share the targets: each holds a Lease of its own (named after lease-name, in lease-namespace, renewed like the leader Lease), and each target is collected, decided and written by one replica, its owner on a consistent-hash ring over the live replicas; a dead replica's targets move to the others within one lease-duration. Off: one leader writes every target (leader-elect). For more targets than one replica collects within a tick (see the README, Sizing).",
  }),
  peerPort: field(forms.integer(1, 65_535), {
    scope: 'global',
    form: 'integer',
    default: '6444',
    description:
      'With shards: HTTPS port (mutual TLS, peer-tls-*) on which a replica hands the records of the targets it owns to the other replicas, so that any replica answers a metrics read of any target. Each replica writes its address ($POD_IP and this port) into its Lease.',
  }),
  peerTlsCertFile: optionalField(forms.text(FILE_PATH, 'a file path'), {
    scope: 'global',
    form: 'file path',
    example: '/etc/slotscaler/peer/tls.crt',
    description:
      'With shards: the certificate (PEM, for both server and client use) a replica shows the others on peer-port, with peer-tls-key-file and peer-tls-ca-file; read at start (a new one takes a restart). Unset: the replicas do not share their records, and a metrics read answers only for the targets of the replica it reaches.',
  }),
  peerTlsKeyFile: optionalField(forms.text(FILE_PATH, 'a file path'), {
    scope: 'global',
    form: 'file path',
    example: '/etc/slotscaler/peer/tls.key',
    description: 'Private key (PEM) of peer-tls-cert-file.',
  }),
  peerTlsCaFile: optionalField(forms.text(FILE_PATH, 'a file path'), {
    scope: 'global',
    form: 'file path',
    example: '/etc/slotscaler/peer/ca.crt',
    description:
      "The CA (PEM) that signed every replica's peer certificate: a replica trusts a peer, server or client, whose certificate it signed, and no other. Used for nothing else, so keep it to the replicas.",
  }),
  kinds: field(forms.list(RESOURCE, 'group/version/plural'), {
    scope: 'global',
    form: 'list of group/version/plural',
    default: '',
    example: 'example.com/v1/flinkjobs',
    description:
      'Further custom resources to scale, besides FlinkDeployment, FlinkApplication and Deployment; their TaskManagers at slotscaler.dev/replicas-path or the scale subresource, their parallelism at slotscaler.dev/parallelism-path.',
  }),
  statusAnnotation: field(forms.boolean(), {
    scope: 'global',
    form: 'boolean',
    default: 'true',
    description:
      'Record the last decision and the stabilization and scale-event histories in the slotscaler.dev/status annotation of each target (read back at start).',
  }),
  warningEventInterval: field(forms.duration(0, 86_400), {
    scope: 'global',
    form: 'duration',
    default: '5m',
    description:
      'Least time between two Events of the same reason on the same target (Rescaled is never held back).',
  }),
  kubeRequestTimeout: field(forms.duration(0.1, 120), {
    scope: 'global',
    form: 'duration',
    default: '10s',
    description: 'Timeout of one Kubernetes API request (watches excepted).',
  }),
  flinkRequestTimeout: field(forms.duration(0.1, 120), {
    scope: 'global',
    form: 'duration',
    default: '5s',
    description: 'Timeout of one JobManager REST call.',
  }),
  flinkConcurrency: field(forms.integer(1, 1024), {
    scope: 'global',
    form: 'integer',
    default: '32',
    description: 'JobManager REST calls in flight at once, over all targets.',
  }),
  flinkMaxResponseBytes: field(forms.integer(65_536, 1_073_741_824), {
    scope: 'global',
    form: 'integer',
    default: '4194304',
    description:
      "Largest answer of one JobManager REST call, in bytes (4194304: 4 MiB): a larger one is cut while it streams in, its target reported and served no metric. Flink's largest answers, GET /jobs/<id> of a job of a thousand vertices, are about 1 MB.",
  }),
  logLevel: field(forms.oneOf(['trace', 'debug', 'info', 'warn', 'error']), {
    scope: 'global',
    form: 'trace | debug | info | warn | error',
    default: 'info',
    description: 'Log level: debug logs every tick, info every decision, warn every skipped target.',
  }),
  logFormat: field(forms.oneOf(['json', 'text', 'auto']), {
    scope: 'global',
    form: 'json | text | auto',
    default: 'auto',
    description:
      'Log format: json (one object a line, level names, ISO 8601 times), text (one readable line a record), or auto: text when stdout is a terminal, else json.',
  }),
  metricsApiPort: field(forms.integer(1, 65_535), {
    scope: 'global',
    form: 'integer',
    default: '6443',
    description:
      'HTTPS port of the external metrics API (external.metrics.k8s.io/v1beta1) the aggregator calls.',
  }),
  metricsApiMaxConnections: field(forms.integer(16, 1_000_000), {
    scope: 'global',
    form: 'integer',
    default: '1000',
    description:
      "Open connections to the metrics API at most, TLS handshakes included. Connections whose client certificate verified (the aggregator's front-proxy certificate, or one of client-ca-file) are never closed for it: at the limit, a new connection replaces the unverified one idle the longest, else the oldest handshake. An open connection costs about 30 KB of memory (45 KB while 8 KB of headers arrive).",
  }),
  metricsApiMaxConnectionsPerClient: field(forms.integer(1, 1_000_000), {
    scope: 'global',
    form: 'integer',
    default: '32',
    description:
      'Connections without a verified client certificate served per remote address; the requests of more are answered 429 (with no TokenReview), and they are kept open rather than closed, so that the client does not come back for another TLS handshake at once.',
  }),
  metricsApiRequestsPerSecondPerClient: field(forms.number(0.1, 1_000_000), {
    scope: 'global',
    form: 'number',
    default: '20',
    description:
      'Requests per second per remote address on connections without a verified client certificate (a burst of twice that); more are answered 429, a second late. Health checks are not counted.',
  }),
  metricsApiHandshakeTimeout: field(forms.duration(1, 120), {
    scope: 'global',
    form: 'duration',
    default: '10s',
    description:
      "Time a client has to complete its TLS handshake with the metrics API (the aggregator's own handshake timeout is 10s).",
  }),
  metricsApiHeadersTimeout: field(forms.duration(1, 120), {
    scope: 'global',
    form: 'duration',
    default: '10s',
    description:
      "Time a client has to send a request's headers; a connection without a verified client certificate is also closed when it has sent no complete request for this long.",
  }),
  metricsApiRequestTimeout: field(forms.duration(1, 600), {
    scope: 'global',
    form: 'duration',
    default: '30s',
    description: 'Time a client has to send a whole request (at least metrics-api-headers-timeout).',
  }),
  metricsApiKeepAliveTimeout: field(forms.duration(1, 3600), {
    scope: 'global',
    form: 'duration',
    default: '120s',
    description:
      "How long a connection with a verified client certificate stays open without a request; longer than the aggregator's own 90s, so the aggregator closes its idle connections, not the server.",
  }),
  metricsApiMaxHeaderBytes: field(forms.integer(4096, 1_048_576), {
    scope: 'global',
    form: 'integer',
    default: '32768',
    description:
      "Largest request header block the metrics API accepts, in bytes (431 beyond); room for the aggregator's X-Remote-Group and X-Remote-Extra headers of a user in many groups.",
  }),
  metricsPort: field(forms.integer(1, 65_535), {
    scope: 'global',
    form: 'integer',
    default: '9090',
    description: "Plain-HTTP port of Slotscaler's own Prometheus metrics (/metrics).",
  }),
  tlsCertFile: optionalField(forms.text(FILE_PATH, 'a file path'), {
    scope: 'global',
    form: 'file path',
    example: '/etc/slotscaler/tls/tls.crt',
    description:
      'Serving certificate (PEM) of the metrics API, with tls-key-file; read again when it changes. Unset: a self-signed certificate is generated at start.',
  }),
  tlsKeyFile: optionalField(forms.text(FILE_PATH, 'a file path'), {
    scope: 'global',
    form: 'file path',
    example: '/etc/slotscaler/tls/tls.key',
    description: 'Private key (PEM) of tls-cert-file.',
  }),
  tlsSelfSignedHosts: field(forms.list(HOST, 'a DNS name or IP address'), {
    scope: 'global',
    form: 'list of hosts',
    default: 'localhost',
    example: 'slotscaler.slotscaler.svc,localhost',
    description:
      "Names of the self-signed certificate (without tls-cert-file); include the APIService Service's NAME.NAMESPACE.svc.",
  }),
  metricsApiHttp2: field(forms.boolean(), {
    scope: 'global',
    form: 'boolean',
    default: 'false',
    description:
      "Offer HTTP/2 to the metrics API's clients (ALPN). The aggregator takes it when offered; on Node.js a read over h2 costs about twice the CPU of one over HTTP/1.1 and has a higher p99 at the same rate (npm run bench -- metrics-api), so it is off by default.",
  }),
  tlsMinVersion: field(forms.oneOf(['TLSv1.2', 'TLSv1.3']), {
    scope: 'global',
    form: 'TLSv1.2 | TLSv1.3',
    default: 'TLSv1.2',
    description: 'Oldest TLS version the metrics API accepts.',
  }),
  tlsCipherSuites: optionalField(
    forms.list(CIPHER, 'a cipher suite OpenSSL knows (such as ECDHE-RSA-AES128-GCM-SHA256)', isKnownCipher),
    {
      scope: 'global',
      form: 'list of cipher suites',
      example: 'ECDHE-ECDSA-AES128-GCM-SHA256,ECDHE-RSA-AES128-GCM-SHA256',
      description:
        "TLS 1.2 cipher suites of the metrics API, by their OpenSSL names (ECDHE-RSA-AES128-GCM-SHA256 for Kubernetes' TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); TLS 1.3 suites (TLS_AES_128_GCM_SHA256...) keep their defaults unless listed. Unset: Node.js's defaults.",
    },
  ),
  writeApiServiceCaBundle: field(forms.boolean(), {
    scope: 'global',
    form: 'boolean',
    default: 'false',
    description:
      "With a self-signed certificate, the leader writes its CA into the APIService's caBundle (one replica only: each generates its own CA).",
  }),
  apiServiceName: field(
    forms.text(API_SERVICE_NAME, 'an APIService name such as v1beta1.external.metrics.k8s.io'),
    {
      scope: 'global',
      form: 'name',
      default: 'v1beta1.external.metrics.k8s.io',
      description: 'The APIService that routes external.metrics.k8s.io to Slotscaler.',
    },
  ),
  customApiServiceName: field(
    forms.text(API_SERVICE_NAME, 'an APIService name such as v1beta2.custom.metrics.k8s.io'),
    {
      scope: 'global',
      form: 'name',
      default: 'v1beta2.custom.metrics.k8s.io',
      description:
        'The APIService that routes custom.metrics.k8s.io to Slotscaler; with write-api-service-ca-bundle the leader writes its CA there too, once it exists.',
    },
  ),
  authenticationDisabled: field(forms.boolean(), {
    scope: 'global',
    form: 'boolean',
    default: 'false',
    description:
      'Serve the metrics API without authentication or authorization: local development only; a warning is logged at every start.',
  }),
  upstreamExternalMetrics: optionalField(forms.url(), {
    scope: 'global',
    form: 'URL',
    example: 'https://keda-operator-metrics-apiserver.keda:443',
    description:
      'Another metrics server (KEDA, prometheus-adapter): reads of metrics Slotscaler does not serve, on the external and the custom metrics API, are forwarded there after authorization, and discovery lists both.',
  }),
  upstreamCaFile: optionalField(forms.text(FILE_PATH, 'a file path'), {
    scope: 'global',
    form: 'file path',
    description: "CA bundle (PEM) of the upstream's serving certificate; unset: the system roots.",
  }),
  upstreamTokenFile: optionalField(forms.text(FILE_PATH, 'a file path'), {
    scope: 'global',
    form: 'file path',
    example: '/var/run/secrets/kubernetes.io/serviceaccount/token',
    description: 'Bearer token Slotscaler presents to the upstream; read again every minute.',
  }),
  upstreamClientCertFile: optionalField(forms.text(FILE_PATH, 'a file path'), {
    scope: 'global',
    form: 'file path',
    description:
      'Client certificate (PEM) Slotscaler presents to the upstream, with upstream-client-key-file.',
  }),
  upstreamClientKeyFile: optionalField(forms.text(FILE_PATH, 'a file path'), {
    scope: 'global',
    form: 'file path',
    description: 'Private key (PEM) of upstream-client-cert-file.',
  }),
  upstreamTimeout: field(forms.duration(0.1, 60), {
    scope: 'global',
    form: 'duration',
    default: '5s',
    description: 'Timeout of one read forwarded to the upstream.',
  }),
};

export const TargetConfigSchema = z.object(targetFields).superRefine((config, ctx) => {
  if (config.minTaskmanagers > config.maxTaskmanagers) {
    ctx.addIssue({
      code: 'custom',
      path: ['minTaskmanagers'],
      input: config.minTaskmanagers,
      message: `must not be more than max-taskmanagers (${config.maxTaskmanagers})`,
    });
  }
});

/**
 * The checks that span several settings of the process. An issue names the setting it is about by
 * its path, so the loader reports it where that setting came from (a flag, a variable, a key of the
 * file); its message names the other settings by their kebab-case names, whatever their source.
 */
export const GlobalConfigSchema = z
  .object({ ...globalFields, ...targetFields })
  .superRefine((config, ctx) => {
    const issue = (key: GlobalFieldKey, message: string): void => {
      ctx.addIssue({ code: 'custom', path: [key], input: config[key], message });
    };
    const pairs: readonly (readonly [GlobalFieldKey, GlobalFieldKey])[] = [
      ['tlsCertFile', 'tlsKeyFile'],
      ['upstreamClientCertFile', 'upstreamClientKeyFile'],
      ['peerTlsCertFile', 'peerTlsKeyFile'],
      ['peerTlsCertFile', 'peerTlsCaFile'],
    ];
    for (const [a, b] of pairs) {
      if ((config[a] === undefined) === (config[b] === undefined)) continue;
      const [given, missing] = config[a] === undefined ? [b, a] : [a, b];
      issue(given, `needs ${kebabCase(missing)} too`);
    }
    if (config.upstreamExternalMetrics === undefined) {
      const credentials = ['upstreamCaFile', 'upstreamTokenFile', 'upstreamClientCertFile'] as const;
      for (const key of credentials) {
        if (config[key] !== undefined) issue(key, 'needs upstream-external-metrics');
      }
    }
    if (config.peerTlsCertFile !== undefined && !config.shards) {
      issue('peerTlsCertFile', 'needs shards: without it every replica has every target');
    }
    if (config.writeApiServiceCaBundle && config.tlsCertFile !== undefined) {
      issue('writeApiServiceCaBundle', 'only applies to a self-signed certificate (without tls-cert-file)');
    }
    if (config.metricsApiRequestTimeout < config.metricsApiHeadersTimeout) {
      issue(
        'metricsApiRequestTimeout',
        `must be at least metrics-api-headers-timeout (${formatDuration(config.metricsApiHeadersTimeout)}): the headers are part of the request`,
      );
    }
  });

/** The options of one target, parsed and resolved. */
export type TargetConfig = z.output<typeof TargetConfigSchema>;
/** The options of the process, including the defaults of every target-scope option. */
export type GlobalConfig = z.output<typeof GlobalConfigSchema>;
export type TargetFieldKey = keyof typeof targetFields;
export type GlobalFieldKey = keyof typeof globalFields;
export type FieldKey = TargetFieldKey | GlobalFieldKey;

/** Every field's metadata, target fields first, in declaration order. */
export function describeFields(): { key: FieldKey; meta: FieldMeta }[] {
  const all = { ...targetFields, ...globalFields };
  return (Object.keys(all) as FieldKey[]).map((key) => {
    const meta = all[key].meta() as { slotscaler: FieldMeta } | undefined;
    if (meta === undefined) throw new Error(`field ${key} has no metadata`);
    return { key, meta: meta.slotscaler };
  });
}

/** Formatters for values of the structured forms, for status annotations and docs. */
export const formatters = { formatDuration, formatMetricTargets, formatPolicies, formatTolerance };
