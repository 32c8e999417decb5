/**
 * `metav1.Status` error bodies, shaped as k8s.io/apimachinery/pkg/api/errors builds them
 * (NewBadRequest, NewUnauthorized, NewForbidden, NewNotFound, NewInternalError...), so kubectl and
 * client-go show their messages as they show the API server's own.
 *
 * Why a known target whose metric is unavailable answers **404 NotFound** (with the reason in the
 * message) and not 500: the HPA treats every error, and an empty list, the same way (the metric is
 * invalid for this sync: no scale-down on partial data, nothing at all if every metric failed), so the
 * code changes nothing for scaling. It matters to people and alerts: prometheus-adapter answers 404
 * when its query finds no series, custom-metrics-apiserver's `NewMetricNotFoundError` is a 404, and a
 * 5xx from an aggregated API counts against the API server's error budget (apiserver_request_total
 * code=5xx). A job that is restarting is a normal state, not a server fault; 500 stays for real
 * backend failures, whose details go to the log only.
 */

/** The reasons of metav1.StatusReason we answer with. */
export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'InternalError'
  | 'ServiceUnavailable';

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly causes?: readonly { readonly message: string }[];
}

/** A metav1.Status of status Failure. */
export interface Status {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure';
  readonly message: string;
  readonly reason: StatusReason;
  readonly details?: StatusDetails;
  readonly code: number;
}

const GROUP = 'external.metrics.k8s.io';

function failure(code: number, reason: StatusReason, message: string, details?: StatusDetails): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  };
}

/** 400: a label selector that does not parse (apimachinery NewBadRequest). */
export function badRequest(message: string): Status {
  return failure(400, 'BadRequest', message);
}

/** 401: no credentials, or none that check out (the authentication filter's `NewUnauthorized("Unauthorized")`). */
export function unauthorized(): Status {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

/** 403 for a metric read, worded as k8s.io/apiserver responsewriters.forbiddenMessage. */
export function forbiddenResource(options: {
  readonly user: string;
  readonly verb: string;
  readonly resource: string;
  readonly namespace: string;
  readonly reason?: string;
  /** Default external.metrics.k8s.io. */
  readonly group?: string;
  /** The custom metrics API's metric name (a subresource to the authorizer). */
  readonly subresource?: string;
  readonly name?: string;
}): Status {
  const group = options.group ?? GROUP;
  const resource =
    options.subresource === undefined ? options.resource : `${options.resource}/${options.subresource}`;
  const where = options.namespace === '' ? '' : ` in the namespace "${options.namespace}"`;
  const what = `User "${options.user}" cannot ${options.verb} resource "${resource}" in API group "${group}"${where}`;
  const subject =
    options.name === undefined
      ? `${options.resource}.${group}`
      : `${options.resource}.${group} "${options.name}"`;
  const message = `${subject} is forbidden: ${what}${options.reason ? `: ${options.reason}` : ''}`;
  return failure(403, 'Forbidden', message, {
    group,
    kind: options.resource,
    ...(options.name === undefined ? {} : { name: options.name }),
  });
}

/** 403 for a discovery path (a non-resource request). */
export function forbiddenPath(options: {
  readonly user: string;
  readonly verb: string;
  readonly path: string;
  readonly reason?: string;
}): Status {
  const what = `User "${options.user}" cannot ${options.verb} path "${options.path}"`;
  return failure(403, 'Forbidden', `forbidden: ${what}${options.reason ? `: ${options.reason}` : ''}`, {});
}

/** 404 for a path we do not serve (client-go's wording for a bare 404). */
export function pathNotFound(): Status {
  return failure(404, 'NotFound', 'the server could not find the requested resource');
}

/** 404 with our own message: an unknown metric, no matching target, or an unavailable value. */
export function notFound(message: string, metricName?: string, group: string = GROUP): Status {
  return failure(
    404,
    'NotFound',
    message,
    metricName === undefined ? undefined : { group, kind: metricName },
  );
}

/** 405 for anything but GET (and HEAD) on our paths. */
export function methodNotAllowed(): Status {
  return failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

/**
 * 500: a backend failure. The body names the request id only; the cause is in the log under that id
 * (reference/kubernetes.md: "keep details in the log, not the body").
 */
export function internalError(requestId: string): Status {
  const message = `an internal error occurred; see the Slotscaler log for request ${requestId}`;
  return failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
}

/**
 * 503: the upstream external metrics server (for a metric we forward) is down or too slow: what
 * kube-aggregator itself answers when an APIService's backend cannot be reached.
 */
export function serviceUnavailable(message: string): Status {
  return failure(503, 'ServiceUnavailable', message);
}
