/**
 * The answers the API server gives when it refuses: a `metav1.Status` body with the reason and the
 * message kube-apiserver writes for each case (k8s.io/apimachinery pkg/api/errors), and the
 * headers `HttpKubeClient` hands on (lower-case names).
 */
import type { KubeResponse } from '../../../src/kube/kube-client.js';

export const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json' };

const REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

const MESSAGES: Readonly<Record<number, string>> = {
  429: 'Too many requests, please try again later.',
  500: 'Internal error occurred: etcdserver: request timed out',
  503: 'the server is currently unable to handle the request',
  504: 'the server was unable to return a response in the time allotted, but may still be processing the request',
};

export interface StatusOptions {
  readonly message?: string;
  readonly reason?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** The `Retry-After` header (seconds or an HTTP date); null: none. Default for 429: `1`, as API Priority and Fairness sends. */
  readonly retryAfter?: string | null;
}

/** The `metav1.Status` of a failure. */
export function statusBody(code: number, options: StatusOptions = {}): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: options.message ?? MESSAGES[code] ?? `the server answered ${code}`,
    reason: options.reason ?? REASONS[code] ?? 'Unknown',
    details: options.details ?? {},
    code,
  };
}

export function statusAnswer(code: number, options: StatusOptions = {}): KubeResponse {
  const retryAfter = options.retryAfter === undefined ? (code === 429 ? '1' : null) : options.retryAfter;
  const details =
    options.details ??
    (retryAfter !== null && /^\d+$/.test(retryAfter) ? { retryAfterSeconds: Number(retryAfter) } : {});
  return {
    status: code,
    headers: retryAfter === null ? { ...JSON_HEADERS } : { ...JSON_HEADERS, 'retry-after': retryAfter },
    body: statusBody(code, { ...options, details }),
  };
}

/** `flinkdeployments.flink.apache.org` (`leases` style for the core group), as messages name a resource. */
export function qualifiedResource(group: string, plural: string): string {
  return group === '' ? plural : `${plural}.${group}`;
}

export const notFound = (group: string, plural: string, name: string): KubeResponse =>
  statusAnswer(404, {
    message: `${qualifiedResource(group, plural)} "${name}" not found`,
    details: { name, group, kind: plural },
  });

export const alreadyExists = (group: string, plural: string, name: string): KubeResponse =>
  statusAnswer(409, {
    reason: 'AlreadyExists',
    message: `${qualifiedResource(group, plural)} "${name}" already exists`,
    details: { name, group, kind: plural },
  });

export const modified = (group: string, plural: string, name: string): KubeResponse =>
  statusAnswer(409, {
    message: `Operation cannot be fulfilled on ${qualifiedResource(group, plural)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    details: { name, group, kind: plural },
  });

/** A DELETE whose precondition (uid or resourceVersion) the object no longer meets (apimachinery's storage.NewPreconditionError). */
export const preconditionFailed = (
  group: string,
  plural: string,
  name: string,
  field: 'UID' | 'ResourceVersion',
  asked: string,
  found: string,
): KubeResponse =>
  statusAnswer(409, {
    message: `Operation cannot be fulfilled on ${qualifiedResource(group, plural)} "${name}": Precondition failed: ${field} in precondition: ${asked}, ${field} in object meta: ${found}`,
    details: { name, group, kind: plural },
  });

export const tooOld = (asked: number, oldest: number): Record<string, unknown> =>
  statusBody(410, { message: `too old resource version: ${asked} (${oldest})` });

/** Not served (no such group, version or resource: a CRD not installed). */
export const notServed = (): KubeResponse =>
  statusAnswer(404, { message: 'the server could not find the requested resource' });
