/**
 * What a request path names. Anything else is a 404, including the paths reference/kubernetes.md
 * lists: `/apis/external.metrics.k8s.io/v1beta1/some-metric` (not namespaced),
 * `.../namespaces/foo` (no metric) and a metric name with a slash (`a/b` or `a%2Fb`).
 */
import { GROUP, VERSION } from './discovery.js';

export type Route =
  | { readonly kind: 'health'; readonly check: 'healthz' | 'livez' | 'readyz' }
  | { readonly kind: 'apis' }
  | { readonly kind: 'group' }
  | { readonly kind: 'version' }
  | { readonly kind: 'metric'; readonly namespace: string; readonly metricName: string }
  | { readonly kind: 'openapi' }
  | { readonly kind: 'unknown' };

const UNKNOWN: Route = { kind: 'unknown' };

function decode(segment: string): string | undefined {
  try {
    const decoded = decodeURIComponent(segment);
    return decoded === '' || decoded.includes('/') ? undefined : decoded;
  } catch {
    return undefined;
  }
}

/** The route of a raw (still percent-encoded) path; one trailing slash is ignored. */
export function routeOf(rawPath: string): Route {
  const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  switch (path) {
    case '/healthz':
    case '/livez':
    case '/readyz':
      return { kind: 'health', check: path.slice(1) as 'healthz' | 'livez' | 'readyz' };
    case '/apis':
      return { kind: 'apis' };
    case `/apis/${GROUP}`:
      return { kind: 'group' };
    case `/apis/${GROUP}/${VERSION}`:
      return { kind: 'version' };
    case '/openapi/v2':
    case '/openapi/v3':
      return { kind: 'openapi' };
  }
  if (path.startsWith('/openapi/v3/')) return { kind: 'openapi' };
  const prefix = `/apis/${GROUP}/${VERSION}/namespaces/`;
  if (!path.startsWith(prefix)) return UNKNOWN;
  const rest = path.slice(prefix.length).split('/');
  if (rest.length !== 2) return UNKNOWN;
  const namespace = decode(rest[0] ?? '');
  const metricName = decode(rest[1] ?? '');
  if (namespace === undefined || metricName === undefined) return UNKNOWN;
  return { kind: 'metric', namespace, metricName };
}
