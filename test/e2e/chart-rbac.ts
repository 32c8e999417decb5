/**
 * What Slotscaler asks of the Kubernetes API, kept next to the chart test that checks the chart's RBAC
 * against it. Each need names the code that makes the call (`evidence`: a file and a string found in
 * it), and the test also scans the code for every API path and request method, so a new call without
 * a need here fails the test.
 */

export interface ApiNeed {
  readonly group: string;
  readonly resource: string;
  readonly verbs: readonly string[];
  /**
   * `cluster`: the ClusterRole, bound cluster-wide. `targets`: the `:targets` ClusterRole, bound
   * cluster-wide, or in each of `config.namespaces` when set. `lease-namespace`: a Role there.
   */
  readonly scope: 'cluster' | 'targets' | 'lease-namespace';
  /** Only when this setting is true. */
  readonly when?: 'writeApiServiceCaBundle' | 'upstreamExternalMetrics' | 'shards';
  readonly evidence: readonly (readonly [file: string, text: string])[];
}

/** Informers LIST then WATCH (src/kube/informer.ts); writes are merge PATCHes, creations POST, updates PUT. */
export const CODE_NEEDS: readonly ApiNeed[] = [
  {
    group: 'apiextensions.k8s.io',
    resource: 'customresourcedefinitions',
    verbs: ['list', 'watch'],
    scope: 'cluster',
    evidence: [['src/kube/target-registry.ts', "'/apis/apiextensions.k8s.io/v1/customresourcedefinitions'"]],
  },
  {
    group: 'flink.apache.org',
    resource: 'flinkdeployments',
    verbs: ['list', 'watch', 'patch'],
    scope: 'targets',
    evidence: [
      ['src/kube/adapters/flink-deployment.ts', "plural: 'flinkdeployments'"],
      ['src/kube/adapters/flink-deployment.ts', 'guardedObjectPatch('],
    ],
  },
  {
    group: 'flink.k8s.io',
    resource: 'flinkapplications',
    verbs: ['list', 'watch', 'patch'],
    scope: 'targets',
    evidence: [
      ['src/kube/adapters/flink-application.ts', "plural: 'flinkapplications'"],
      ['src/kube/adapters/flink-application.ts', 'guardedObjectPatch('],
    ],
  },
  {
    group: 'apps',
    resource: 'deployments',
    verbs: ['list', 'watch', 'patch'],
    scope: 'targets',
    evidence: [
      ['src/kube/adapters/deployment.ts', "plural: 'deployments'"],
      ['src/kube/adapters/deployment.ts', 'planStatusWrite'],
    ],
  },
  {
    group: 'apps',
    resource: 'deployments/scale',
    verbs: ['patch'],
    scope: 'targets',
    evidence: [
      ['src/kube/adapters/deployment.ts', 'scaleSubresourcePatch('],
      ['src/kube/adapters/adapter.ts', '/scale`'],
    ],
  },
  {
    group: 'autoscaling',
    resource: 'horizontalpodautoscalers',
    verbs: ['list', 'watch'],
    scope: 'targets',
    evidence: [['src/kube/hpa-index.ts', "plural: 'horizontalpodautoscalers'"]],
  },
  {
    group: '',
    resource: 'pods',
    verbs: ['list'],
    scope: 'targets',
    evidence: [
      ['src/kube/pods.ts', '`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods'],
      ['src/kube/pods.ts', "method: 'GET'"],
    ],
  },
  {
    group: 'events.k8s.io',
    resource: 'events',
    verbs: ['create'],
    scope: 'targets',
    evidence: [
      ['src/kube/events.ts', '/apis/events.k8s.io/v1/namespaces/'],
      ['src/kube/events.ts', "method: 'POST'"],
    ],
  },
  {
    group: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['create', 'list', 'watch', 'update'],
    scope: 'lease-namespace',
    evidence: [
      ['src/kube/leader-election.ts', 'new Informer('],
      ['src/kube/leader-election.ts', "method: 'POST'"],
      ['src/kube/leader-election.ts', "method: 'PUT'"],
    ],
  },
  {
    group: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['create', 'list', 'watch', 'update', 'delete'],
    scope: 'lease-namespace',
    when: 'shards',
    evidence: [
      ['src/kube/replica-leases.ts', 'new Informer('],
      ['src/kube/replica-leases.ts', "method: 'POST'"],
      ['src/kube/replica-leases.ts', "method: 'PUT'"],
      ['src/kube/replica-leases.ts', "method: 'DELETE'"],
    ],
  },
  {
    group: 'apiregistration.k8s.io',
    resource: 'apiservices',
    verbs: ['get', 'patch'],
    scope: 'cluster',
    when: 'writeApiServiceCaBundle',
    evidence: [
      ['src/kube/api-service.ts', '`/apis/apiregistration.k8s.io/v1/apiservices/'],
      ['src/kube/api-service.ts', "method: 'GET'"],
      ['src/kube/api-service.ts', "method: 'PATCH'"],
    ],
  },
  {
    // The upstream authorizes the caller it sees, Slotscaler's ServiceAccount, as the aggregator's
    // callers are authorized: a SubjectAccessReview for `list` (and `get`) on the metric.
    group: 'external.metrics.k8s.io',
    resource: '*',
    verbs: ['get', 'list'],
    scope: 'cluster',
    when: 'upstreamExternalMetrics',
    evidence: [
      ['src/metrics-api/upstream.ts', 'Slotscaler calls it as itself'],
      ['src/metrics-api/upstream.ts', "method: 'GET'"],
    ],
  },
  {
    // The same for the custom metrics API, which the upstream (prometheus-adapter) may serve too:
    // `get` on the described object's resource.
    group: 'custom.metrics.k8s.io',
    resource: '*',
    verbs: ['get', 'list'],
    scope: 'cluster',
    when: 'upstreamExternalMetrics',
    evidence: [
      ['src/metrics-api/upstream.ts', 'Slotscaler calls it as itself'],
      ['src/metrics-api/upstream.ts', 'customResourceNames'],
    ],
  },
];

/**
 * Calls covered by the standard roles the chart binds (system:auth-delegator,
 * kube-system/extension-apiserver-authentication-reader), with the code that makes them.
 */
export const DELEGATED_NEEDS: readonly ApiNeed[] = [
  {
    group: 'authentication.k8s.io',
    resource: 'tokenreviews',
    verbs: ['create'],
    scope: 'cluster',
    evidence: [['src/kube/auth-reviews.ts', "'/apis/authentication.k8s.io/v1/tokenreviews'"]],
  },
  {
    group: 'authorization.k8s.io',
    resource: 'subjectaccessreviews',
    verbs: ['create'],
    scope: 'cluster',
    evidence: [['src/kube/auth-reviews.ts', "'/apis/authorization.k8s.io/v1/subjectaccessreviews'"]],
  },
  {
    group: '',
    resource: 'configmaps',
    verbs: ['list', 'watch'],
    scope: 'cluster',
    evidence: [
      ['src/kube/auth-reviews.ts', 'new Informer('],
      ['src/kube/auth-reviews.ts', '`/api/v1/namespaces/${namespace}/configmaps`'],
    ],
  },
];

/**
 * The API groups the code's request paths name (`/apis/<group>/...`, `/api/v1/...` as ""), and the
 * groups of the typed clients it makes, so a call to a group no need covers fails the test.
 */
export const PATH_PATTERN = /['`]\/(apis\/([a-z0-9.-]+)|api\/v1)\//g;
export const CLIENT_PATTERN = /makeApiClient\((\w+)\)/g;
export const CLIENT_GROUPS: Readonly<Record<string, string>> = {
  ApiregistrationV1Api: 'apiregistration.k8s.io',
  CoreV1Api: '',
  AuthenticationV1Api: 'authentication.k8s.io',
  AuthorizationV1Api: 'authorization.k8s.io',
};
/** Groups in paths that are not calls to the Kubernetes API: the group Slotscaler serves. */
export const SERVED_GROUPS: readonly string[] = ['external.metrics.k8s.io', 'custom.metrics.k8s.io'];
