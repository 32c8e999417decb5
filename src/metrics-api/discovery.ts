/**
 * The legacy discovery documents of external.metrics.k8s.io/v1beta1 and the ExternalMetricValueList
 * answer, in the JSON shapes of k8s.io/apimachinery metav1 (APIGroupList, APIGroup, APIResourceList)
 * and k8s.io/metrics external_metrics/v1beta1.
 *
 * We serve no aggregated discovery (apidiscovery.k8s.io/v2): kube-aggregator asks `/apis` for it
 * first and, on any answer that is not that type, falls back to these documents
 * (kube-aggregator pkg/apiserver/handler_discovery.go `fetchFreshDiscoveryForService`). It must not
 * get a 503 there: that is the one answer it does not fall back from.
 */
import type { ExternalMetricValue } from '../domain/ports.js';
import { formatQuantityMilli } from './quantity.js';

export const GROUP = 'external.metrics.k8s.io';
export const VERSION = 'v1beta1';
export const GROUP_VERSION = `${GROUP}/${VERSION}`;

const groupVersion = { groupVersion: GROUP_VERSION, version: VERSION } as const;

/** metav1.APIGroup without its type meta (as it appears in an APIGroupList). */
const apiGroup = { name: GROUP, versions: [groupVersion], preferredVersion: groupVersion } as const;

/** `GET /apis`: external.metrics.k8s.io and the other groups served (custom.metrics.k8s.io). */
export function apiGroupList(otherGroups: readonly object[] = []): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [apiGroup, ...otherGroups] };
}

/** `GET /apis/external.metrics.k8s.io`. */
export function apiGroupDocument(): object {
  return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup };
}

/**
 * `GET /apis/external.metrics.k8s.io/v1beta1`: one resource per metric name, as
 * custom-metrics-apiserver's external metrics discovery lists them (namespaced, verb get).
 */
export function apiResourceList(metricNames: Iterable<string>): object {
  const names = [...new Set(metricNames)].sort();
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: GROUP_VERSION,
    resources: names.map((name) => ({
      name,
      singularName: '',
      namespaced: true,
      kind: 'ExternalMetricValueList',
      verbs: ['get'],
    })),
  };
}

/** RFC 3339 in UTC with whole seconds, as metav1.Time marshals. */
export function formatTimestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * The quantity string of a milli-value, canonical and always one the HPA parses: `930m`, `2`,
 * `-1500m`, `4k`; see ./quantity.ts (a fraction is rounded up, beyond ±9P clamped).
 */
export function formatValue(valueMilli: number): string {
  return formatQuantityMilli(valueMilli);
}

/** The answer to a metric read. */
export function externalMetricValueList(items: readonly ExternalMetricValue[]): object {
  return {
    kind: 'ExternalMetricValueList',
    apiVersion: GROUP_VERSION,
    metadata: {},
    items: items.map((item) => ({
      metricName: item.metricName,
      metricLabels: item.metricLabels,
      timestamp: formatTimestamp(item.timestampMs),
      window: Math.round(item.windowSeconds),
      value: formatValue(item.valueMilli),
    })),
  };
}

/**
 * Reads the resource names of an APIResourceList (the upstream's) that `accept` takes; ignores what
 * is not one. By default the external metrics API's: plain names, no `/`.
 */
export function resourceNamesOf(
  document: unknown,
  accept: (name: string) => boolean = (name) => name !== '' && !name.includes('/'),
): string[] {
  if (typeof document !== 'object' || document === null) return [];
  const resources = (document as { resources?: unknown }).resources;
  if (!Array.isArray(resources)) return [];
  const names: string[] = [];
  for (const resource of resources as unknown[]) {
    const name = (resource as { name?: unknown } | null)?.name;
    if (typeof name === 'string' && accept(name)) names.push(name);
  }
  return names;
}
