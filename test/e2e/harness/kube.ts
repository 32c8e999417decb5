/**
 * Small Kubernetes helpers for tests, over plain node:https with the control plane's admin
 * certificate: apply YAML, wait for a condition with a deadline, and stream a watch.
 */
import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { createInterface } from 'node:readline';

import { parseAllDocuments } from 'yaml';

import type { ApiResponse, ControlPlane } from './control-plane.js';

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly generation?: number;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: unknown;
  readonly status?: unknown;
}

export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: KubeObject;
}

/** Plurals of the kinds tests apply. */
const RESOURCES: Record<string, { plural: string; namespaced: boolean }> = {
  Namespace: { plural: 'namespaces', namespaced: false },
  Pod: { plural: 'pods', namespaced: true },
  Service: { plural: 'services', namespaced: true },
  ServiceAccount: { plural: 'serviceaccounts', namespaced: true },
  ConfigMap: { plural: 'configmaps', namespaced: true },
  Deployment: { plural: 'deployments', namespaced: true },
  HorizontalPodAutoscaler: { plural: 'horizontalpodautoscalers', namespaced: true },
  CustomResourceDefinition: { plural: 'customresourcedefinitions', namespaced: false },
  APIService: { plural: 'apiservices', namespaced: false },
  FlinkDeployment: { plural: 'flinkdeployments', namespaced: true },
  FlinkApplication: { plural: 'flinkapplications', namespaced: true },
  StreamJob: { plural: 'streamjobs', namespaced: true },
  ClusterRole: { plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { plural: 'clusterrolebindings', namespaced: false },
  Role: { plural: 'roles', namespaced: true },
  RoleBinding: { plural: 'rolebindings', namespaced: true },
  Lease: { plural: 'leases', namespaced: true },
};

/** The collection path of a kind: `/apis/flink.apache.org/v1beta1/namespaces/ns/flinkdeployments`. */
export function collectionPath(apiVersion: string, kind: string, namespace?: string): string {
  const resource = RESOURCES[kind];
  if (resource === undefined) throw new Error(`the test helpers do not know the kind ${kind}`);
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  if (!resource.namespaced) return `${base}/${resource.plural}`;
  if (namespace === undefined) throw new Error(`${kind} is namespaced: give a namespace`);
  return `${base}/namespaces/${namespace}/${resource.plural}`;
}

export function objectPath(object: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  return `${collectionPath(object.apiVersion, object.kind, object.metadata.namespace)}/${object.metadata.name}`;
}

/** Fails with the answer's status and body unless it is 2xx. */
export function expectOk(answer: ApiResponse, what: string): ApiResponse {
  if (answer.statusCode < 200 || answer.statusCode >= 300) {
    throw new Error(`${what}: HTTP ${answer.statusCode}: ${answer.text.slice(0, 500)}`);
  }
  return answer;
}

/** Creates each object of a YAML stream, or replaces it (server-side apply) when it exists. */
export async function applyYaml(cp: ControlPlane, yaml: string, namespace?: string): Promise<KubeObject[]> {
  const applied: KubeObject[] = [];
  for (const document of parseAllDocuments(yaml)) {
    const object = document.toJS() as KubeObject | null;
    if (object === null) continue;
    const withNamespace =
      namespace !== undefined &&
      RESOURCES[object.kind]?.namespaced === true &&
      object.metadata.namespace === undefined
        ? { ...object, metadata: { ...object.metadata, namespace } }
        : object;
    const answer = await cp.request(
      'PATCH',
      `${objectPath(withNamespace)}?fieldManager=slotscaler-tests&force=true`,
      JSON.stringify(withNamespace),
      'application/apply-patch+yaml',
    );
    applied.push(expectOk(answer, `apply ${object.kind} ${object.metadata.name}`).body as KubeObject);
  }
  return applied;
}

/** Polls `probe` until it returns a value other than undefined, or fails naming `what` at the deadline. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${options.timeoutMs ?? 60_000} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}

export interface Watch {
  /** Ends the watch; the event loop is left with nothing of it. */
  stop(): void;
  /** Resolves when the stream ends (stopped, or closed by the server). */
  readonly done: Promise<void>;
}

/**
 * Streams a watch of a collection from `resourceVersion` ('' for "now, with a synthetic ADDED per
 * object"), calling `onEvent` for each event in order.
 */
export function watch(
  cp: ControlPlane,
  path: string,
  resourceVersion: string,
  onEvent: (event: WatchEvent) => void,
): Watch {
  const agent = new Agent({
    ca: readFileSync(cp.caCertPath),
    cert: readFileSync(cp.adminCertPath),
    key: readFileSync(cp.adminKeyPath),
    keepAlive: false,
  });
  const url = new URL(path, cp.server);
  url.searchParams.set('watch', '1');
  if (resourceVersion !== '') {
    url.searchParams.set('resourceVersion', resourceVersion);
    // Only with a resourceVersion: without one, this apiserver answers bookmarks with one ERROR
    // event ("the required storage feature RequestWatchProgress is disabled").
    url.searchParams.set('allowWatchBookmarks', 'true');
  }
  let stopped = false;
  const req = httpsRequest(url, { agent, headers: { Accept: 'application/json' } });
  const done = new Promise<void>((resolve) => {
    req.once('response', (res) => {
      // Destroying the request on stop() aborts the response stream: that is the end, not an error.
      res.on('error', () => {
        resolve();
      });
      const lines = createInterface({ input: res });
      lines.on('line', (line) => {
        if (line.trim() === '' || stopped) return;
        onEvent(JSON.parse(line) as WatchEvent);
      });
      // readline re-emits its input's errors: the abort on stop() arrives here too.
      lines.on('error', () => {
        resolve();
      });
      lines.once('close', () => {
        resolve();
      });
    });
    req.on('error', () => {
      resolve();
    });
    req.once('close', () => {
      resolve();
    });
  });
  req.end();
  return {
    stop() {
      stopped = true;
      req.destroy();
      agent.destroy();
    },
    done,
  };
}

/**
 * A `slotscaler serve` on 127.0.0.1:`port` as the external metrics APIService: an ExternalName
 * Service the aggregator resolves to loopback, and the APIService with `insecureSkipTLSVerify`
 * until the leader writes its self-signed CA into `caBundle`.
 */
/** The custom metrics APIService on the same Service (apply after `externalMetricsApiServiceYaml`). */
export function customMetricsApiServiceYaml(port: number): string {
  return `apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: { name: v1beta2.custom.metrics.k8s.io }
spec:
  group: custom.metrics.k8s.io
  version: v1beta2
  groupPriorityMinimum: 100
  versionPriority: 100
  service: { name: slotscaler, namespace: default, port: ${port} }
  insecureSkipTLSVerify: true
`;
}

export function externalMetricsApiServiceYaml(port: number): string {
  return `apiVersion: v1
kind: Service
metadata: { name: slotscaler, namespace: default }
spec:
  type: ExternalName
  externalName: 127.0.0.1
  ports: [{ name: https, port: ${port} }]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: { name: v1beta1.external.metrics.k8s.io }
spec:
  group: external.metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  service: { name: slotscaler, namespace: default, port: ${port} }
  insecureSkipTLSVerify: true
`;
}
