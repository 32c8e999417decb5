/**
 * What a request path names. Anything else is a 404, including the paths reference/kubernetes.md
 * lists: `/apis/external.metrics.k8s.io/v1beta1/some-metric` (not namespaced),
 * `.../namespaces/foo` (no metric) and a metric name with a slash (`a/b` or `a%2Fb`).
 *
 * custom.metrics.k8s.io has the three read forms of custom-metrics-apiserver's installer
 * (pkg/apiserver/installer): an object of a namespaced resource
 * (`/namespaces/{ns}/{resource}/{name}/{metric}`, name `*` for every object a `labelSelector`
 * matches), an object of a cluster-scoped resource (`/{resource}/{name}/{metric}`), and a namespace
 * itself (`/namespaces/{ns}/metrics/{metric}`).
 */
import { CUSTOM_GROUP, CUSTOM_VERSION } from './custom-discovery.js';
import { GROUP, VERSION } from './discovery.js';

/** Which of the custom metrics API's read forms a path is. */
export type CustomScope = 'namespaced' | 'cluster' | 'namespace';

export type Route =
  | { readonly kind: 'health'; readonly check: 'healthz' | 'livez' | 'readyz' }
  | { readonly kind: 'apis' }
  | { readonly kind: 'group' }
  | { readonly kind: 'version' }
  | { readonly kind: 'metric'; readonly namespace: string; readonly metricName: string }
  | { readonly kind: 'customGroup' }
  | { readonly kind: 'customVersion' }
  | {
      readonly kind: 'customMetric';
      readonly scope: CustomScope;
      /** The namespace of the object (`namespaced`), or the namespace described (`namespace`); '' for `cluster`. */
      readonly namespace: string;
      /** The group resource (`flinkdeployments.flink.apache.org`, `pods`); `namespaces` for the namespace form. */
      readonly resource: string;
      /** The object's name, or `*`. */
      readonly name: string;
      readonly metricName: string;
    }
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
    case `/apis/${CUSTOM_GROUP}`:
      return { kind: 'customGroup' };
    case `/apis/${CUSTOM_GROUP}/${CUSTOM_VERSION}`:
      return { kind: 'customVersion' };
    case '/openapi/v2':
    case '/openapi/v3':
      return { kind: 'openapi' };
  }
  if (path.startsWith('/openapi/v3/')) return { kind: 'openapi' };
  const customPrefix = `/apis/${CUSTOM_GROUP}/${CUSTOM_VERSION}/`;
  if (path.startsWith(customPrefix)) return customRouteOf(path.slice(customPrefix.length).split('/'));
  const prefix = `/apis/${GROUP}/${VERSION}/namespaces/`;
  if (!path.startsWith(prefix)) return UNKNOWN;
  const rest = path.slice(prefix.length).split('/');
  if (rest.length !== 2) return UNKNOWN;
  const namespace = decode(rest[0] ?? '');
  const metricName = decode(rest[1] ?? '');
  if (namespace === undefined || metricName === undefined) return UNKNOWN;
  return { kind: 'metric', namespace, metricName };
}

/** The route of the segments after `/apis/custom.metrics.k8s.io/v1beta2/`. */
function customRouteOf(raw: readonly string[]): Route {
  const segments = raw.map(decode);
  if (segments.some((segment) => segment === undefined)) return UNKNOWN;
  const [first, second, third, fourth, fifth] = segments as string[];
  if (first === 'namespaces' && segments.length === 5 && second && third && fourth && fifth) {
    return {
      kind: 'customMetric',
      scope: 'namespaced',
      namespace: second,
      resource: third,
      name: fourth,
      metricName: fifth,
    };
  }
  if (first === 'namespaces' && segments.length === 4 && second && third === 'metrics' && fourth) {
    return {
      kind: 'customMetric',
      scope: 'namespace',
      namespace: second,
      resource: 'namespaces',
      name: second,
      metricName: fourth,
    };
  }
  if (first !== 'namespaces' && segments.length === 3 && first && second && third) {
    return {
      kind: 'customMetric',
      scope: 'cluster',
      namespace: '',
      resource: first,
      name: second,
      metricName: third,
    };
  }
  return UNKNOWN;
}
