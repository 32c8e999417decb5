/**
 * The discovery documents of custom.metrics.k8s.io/v1beta2 and its `MetricValueList` answer, in
 * the JSON shapes of k8s.io/metrics custom_metrics/v1beta2 and of custom-metrics-apiserver's
 * discovery (one resource `<group resource>/<metric>` per pair, namespaced, verb get).
 *
 * Only v1beta2: the HPA controller's custom metrics client (k8s.io/metrics
 * pkg/client/custom_metrics `NewAvailableAPIsGetter`, `MetricVersions`) reads the group's
 * discovery and takes its preferred version when it knows it (v1beta2 or v1beta1), so every
 * Kubernetes this README supports (1.27 and newer) reads v1beta2.
 */
import type { CustomMetricInfo, CustomMetricValue } from '../domain/ports.js';
import { formatTimestamp, formatValue, resourceNamesOf } from './discovery.js';

export const CUSTOM_GROUP = 'custom.metrics.k8s.io';
export const CUSTOM_VERSION = 'v1beta2';
export const CUSTOM_GROUP_VERSION = `${CUSTOM_GROUP}/${CUSTOM_VERSION}`;

const groupVersion = { groupVersion: CUSTOM_GROUP_VERSION, version: CUSTOM_VERSION } as const;

/** metav1.APIGroup of custom.metrics.k8s.io without its type meta (an entry of an APIGroupList). */
export const customApiGroup = {
  name: CUSTOM_GROUP,
  versions: [groupVersion],
  preferredVersion: groupVersion,
} as const;

/** `GET /apis/custom.metrics.k8s.io`. */
export function customApiGroupDocument(): object {
  return { kind: 'APIGroup', apiVersion: 'v1', ...customApiGroup };
}

/** `GET /apis/custom.metrics.k8s.io/v1beta2`: `<resource>/<metric>` per pair, ours and the upstream's. */
export function customApiResourceList(resourceNames: Iterable<string>): object {
  const names = [...new Set(resourceNames)].sort();
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: CUSTOM_GROUP_VERSION,
    resources: names.map((name) => ({
      name,
      singularName: '',
      namespaced: true,
      kind: 'MetricValueList',
      verbs: ['get'],
    })),
  };
}

/** The discovery name of one pair. */
export function customResourceName(metric: CustomMetricInfo): string {
  return `${metric.resource}/${metric.name}`;
}

/** The answer to a custom metric read. */
export function metricValueList(items: readonly CustomMetricValue[]): object {
  return {
    kind: 'MetricValueList',
    apiVersion: CUSTOM_GROUP_VERSION,
    metadata: {},
    items: items.map((item) => ({
      describedObject: {
        kind: item.describedObject.kind,
        namespace: item.describedObject.namespace,
        name: item.describedObject.name,
        apiVersion: item.describedObject.apiVersion,
      },
      metric: { name: item.metricName },
      timestamp: formatTimestamp(item.timestampMs),
      windowSeconds: Math.round(item.windowSeconds),
      value: formatValue(item.valueMilli),
    })),
  };
}

/** The `<resource>/<metric>` names of an upstream's APIResourceList; ignores what is not one. */
export function customResourceNamesOf(document: unknown): string[] {
  return resourceNamesOf(document, (name) => /^[^/]+\/[^/]+$/.test(name));
}
