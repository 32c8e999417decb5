/**
 * Slotscaler's error codes, and the errors that cross a port or are raised in several modules. Each
 * error class has a stable `code` (for logs, Events, metrics labels and tests) and wraps its cause
 * with `{ cause }`. Messages are one line: the CLI prints them as they are.
 *
 * An error raised and handled within one module sits with it (`ConfigError` in src/config/load.ts,
 * `ExpressionError` in src/metrics/expression-metric.ts, the job discovery errors in
 * src/flink/snapshot.ts); its code is listed here all the same. Never reuse or rename a code.
 */
import type { UnavailableReason } from './domain/metrics.js';

/** Every code an error of ours can carry. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'FLINK_UNREACHABLE'
  | 'FLINK_TIMEOUT'
  | 'FLINK_SNAPSHOT_DEADLINE'
  | 'FLINK_HTTP_ERROR'
  | 'FLINK_BAD_RESPONSE'
  | 'FLINK_JOB_NOT_FOUND'
  | 'FLINK_NO_RUNNING_JOB'
  | 'FLINK_MULTIPLE_RUNNING_JOBS'
  | 'FLINK_IMPLAUSIBLE_VALUE'
  | 'FLINK_RESPONSE_TOO_LARGE'
  | 'EXPRESSION_INVALID'
  | 'METRIC_UNKNOWN'
  | 'METRIC_TARGET_NOT_FOUND'
  | 'METRIC_OBJECT_NOT_FOUND'
  | 'METRIC_UNAVAILABLE'
  | 'AUTH_CONFIG_INVALID'
  | 'TLS_CERTIFICATE_INVALID'
  | 'KUBE_API_FAILED'
  | 'UPSTREAM_METRICS_UNAVAILABLE'
  | 'KUBE_UNREACHABLE'
  | 'SIMULATE_INPUT_INVALID';

/** The base of all our errors: `err instanceof SlotscalerError` tells ours from everything else. */
export abstract class SlotscalerError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** True for our own typed errors. */
export function isSlotscalerError(err: unknown): err is SlotscalerError {
  return err instanceof SlotscalerError;
}

/** The JobManager could not be reached: connection refused or reset, DNS failure, TLS failure. */
export class FlinkUnreachableError extends SlotscalerError {
  readonly code: ErrorCode = 'FLINK_UNREACHABLE';
  constructor(
    readonly url: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`Flink JobManager at ${url} is unreachable: ${detail}`, options);
  }
}

/**
 * The JobManager did not answer within the per-call timeout, or its answer (a body trickling in, or
 * one that never ends) did not complete within it. A kind of unreachable.
 */
export class FlinkTimeoutError extends FlinkUnreachableError {
  override readonly code: ErrorCode = 'FLINK_TIMEOUT';
  constructor(
    url: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown; answerStarted?: boolean },
  ) {
    super(
      url,
      options?.answerStarted === true
        ? `its answer did not complete within ${timeoutMs} ms (cut there)`
        : `no answer within ${timeoutMs} ms`,
      options,
    );
  }
}

/**
 * One snapshot (its calls and their retries) took longer than the collector's per-target deadline.
 * Not "unreachable": the JobManager may have answered every call, slowly or with 503s and
 * Retry-After; the call errors, when the snapshot ends, say which.
 */
export class FlinkSnapshotDeadlineError extends SlotscalerError {
  readonly code: ErrorCode = 'FLINK_SNAPSHOT_DEADLINE';
  constructor(
    readonly url: string,
    readonly deadlineMs: number,
  ) {
    super(
      `Flink JobManager at ${url}: no complete snapshot within the ${deadlineMs} ms deadline (calls still in flight or being retried)`,
    );
  }
}

/** The JobManager answered with an HTTP error status (other than a 404 for a job). */
export class FlinkHttpError extends SlotscalerError {
  readonly code: ErrorCode = 'FLINK_HTTP_ERROR';
  constructor(
    readonly url: string,
    readonly status: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`Flink JobManager at ${url} answered HTTP ${status}${detail ? `: ${detail}` : ''}`, options);
  }
}

/**
 * The answer is not what a Flink JobManager sends: not JSON (an HTML page, garbage, a truncated
 * body), or JSON of the wrong shape. Often means the URL points at something that is not Flink.
 */
export class FlinkBadResponseError extends SlotscalerError {
  readonly code: ErrorCode = 'FLINK_BAD_RESPONSE';
  constructor(
    readonly url: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`unexpected answer from ${url} (is it a Flink JobManager?): ${detail}`, options);
  }
}

/**
 * The JobManager reported a number no real Flink job has: a parallelism above Flink's ceiling or the
 * vertex's max parallelism, a timestamp after its own clock, more vertices or source operators than
 * Slotscaler reads (checked by src/flink/bounds.ts). Nothing else of the answer is used:
 * the target has no metrics until the JobManager answers within the bounds again.
 */
export class FlinkImplausibleResponseError extends SlotscalerError {
  readonly code: ErrorCode = 'FLINK_IMPLAUSIBLE_VALUE';
  constructor(
    readonly url: string,
    /** Where in the answer, e.g. `vertices[0].parallelism`. */
    readonly field: string,
    readonly value: number,
    /** The bound it broke, as a phrase: `above Flink's maximum parallelism of 32768`. */
    readonly bound: string,
  ) {
    super(`implausible value from the Flink JobManager at ${url}: ${field} = ${value}, ${bound}`);
  }
}

/**
 * An answer larger than `flink-max-response-bytes` (or with more JSON objects and arrays than any
 * JobManager sends): cut while it streamed in, never parsed.
 */
export class FlinkResponseTooLargeError extends SlotscalerError {
  readonly code: ErrorCode = 'FLINK_RESPONSE_TOO_LARGE';
  constructor(
    readonly url: string,
    detail: string,
  ) {
    super(`answer from ${url} refused: ${detail}`);
  }
}

/** The JobManager does not know the job (HTTP 404 on a job endpoint): it vanished or never existed. */
export class FlinkJobNotFoundError extends SlotscalerError {
  readonly code: ErrorCode = 'FLINK_JOB_NOT_FOUND';
  constructor(
    readonly jobManagerUrl: string,
    readonly jobId: string,
    options?: { cause?: unknown },
  ) {
    super(`job ${jobId} not found on the Flink JobManager at ${jobManagerUrl}`, options);
  }
}

/** A metric name Slotscaler does not serve. The API answers 404 NotFound. */
export class UnknownMetricError extends SlotscalerError {
  readonly code: ErrorCode = 'METRIC_UNKNOWN';
  constructor(readonly metricName: string) {
    super(`the server could not find the metric ${metricName}`);
  }
}

/** No target in the namespace matches the label selector. The API answers 404 NotFound. */
export class MetricTargetNotFoundError extends SlotscalerError {
  readonly code: ErrorCode = 'METRIC_TARGET_NOT_FOUND';
  constructor(
    readonly namespace: string,
    readonly metricName: string,
    /** The selector as the caller wrote it (`""` for none). */
    readonly selector: string,
  ) {
    super(
      `no scale target in namespace ${namespace} matches ${selector === '' ? 'an empty selector' : `the selector "${selector}"`} for metric ${metricName}`,
    );
  }
}

/**
 * A custom metrics read names an object that is no opted-in scale target (or none of that name
 * serves the metric). The API answers 404 NotFound.
 */
export class MetricObjectNotFoundError extends SlotscalerError {
  readonly code: ErrorCode = 'METRIC_OBJECT_NOT_FOUND';
  constructor(
    readonly namespace: string,
    /** The group resource of the path (`flinkdeployments.flink.apache.org`). */
    readonly resource: string,
    /** The object's name, or the selector of a `*` read as the caller wrote it. */
    readonly object: { readonly name: string } | { readonly selector: string },
    readonly metricName: string,
  ) {
    const matching =
      'name' in object
        ? `named ${object.name}`
        : `matching ${object.selector === '' ? 'an empty selector' : `the selector "${object.selector}"`}`;
    super(
      resource === 'pods'
        ? `no TaskManager pod of a scale target in namespace ${namespace} ${matching} has metric ${metricName}`
        : 'name' in object
          ? `${resource} ${namespace}/${object.name} is not a scale target Slotscaler serves metric ${metricName} for`
          : `no ${resource} in namespace ${namespace} ${matching} is a scale target Slotscaler serves metric ${metricName} for`,
    );
  }
}

/**
 * A known target has no value for the metric right now: stale samples, a job restarting, an unknown
 * source lag... `reason` is the stable code, `detail` a human sentence. The API answers 404 NotFound
 * with a message that names the target and says why (see src/metrics-api/status.ts for why 404).
 */
export class MetricUnavailableError extends SlotscalerError {
  readonly code: ErrorCode = 'METRIC_UNAVAILABLE';
  constructor(
    readonly namespace: string,
    readonly metricName: string,
    /** The target's name (its `target` metric label). */
    readonly target: string,
    readonly reason: UnavailableReason,
    readonly detail?: string,
  ) {
    super(
      `metric ${metricName} of target ${namespace}/${target} is unavailable (${reason})${detail === undefined ? '' : `: ${detail}`}`,
    );
  }
}

/**
 * The ConfigMap kube-system/extension-apiserver-authentication has a value that cannot be used: a
 * list that is not a JSON array of strings, a CA bundle without a certificate. The previous good
 * settings stay in force.
 */
export class AuthenticationConfigError extends SlotscalerError {
  readonly code: ErrorCode = 'AUTH_CONFIG_INVALID';
  constructor(
    readonly key: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`extension-apiserver-authentication: ${key}: ${detail}`, options);
  }
}

/** A serving or client certificate (or its key) cannot be read or used. */
export class TlsCertificateError extends SlotscalerError {
  readonly code: ErrorCode = 'TLS_CERTIFICATE_INVALID';
  constructor(
    readonly source: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`certificate ${source}: ${detail}`, options);
  }
}

/** A call to the Kubernetes API failed (TokenReview, SubjectAccessReview, APIService...). */
export class KubeApiError extends SlotscalerError {
  readonly code: ErrorCode = 'KUBE_API_FAILED';
  constructor(
    readonly operation: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`Kubernetes API: ${operation} failed: ${detail}`, options);
  }
}

/** The upstream external metrics server could not be reached or did not answer in time. */
export class UpstreamMetricsError extends SlotscalerError {
  readonly code: ErrorCode = 'UPSTREAM_METRICS_UNAVAILABLE';
  constructor(
    readonly url: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`upstream external metrics server ${url}: ${detail}`, options);
  }
}

/** The Kubernetes API server could not be reached, or did not answer within the timeout. */
export class KubeUnreachableError extends SlotscalerError {
  readonly code: ErrorCode = 'KUBE_UNREACHABLE';
  constructor(
    readonly server: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`Kubernetes API server ${server}: ${detail}`, options);
  }
}

/** A trace, annotations file or option of `slotscaler simulate` is invalid; `source` names the file (and line). */
export class SimulateInputError extends SlotscalerError {
  readonly code: ErrorCode = 'SIMULATE_INPUT_INVALID';
  constructor(
    readonly source: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${detail}`, options);
  }
}
