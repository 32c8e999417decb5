/**
 * The kinds the in-memory Kubernetes serves from the start (those the process reads and writes),
 * and CustomResourceDefinitions to create for the custom ones.
 */
import type { KubeObject } from '../../../src/kube/objects.js';

/** A kind the fake serves. */
export interface ServedResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Writes to the object leave its status alone; `/status` writes only the status. */
  readonly statusSubresource: boolean;
  /** The `/scale` subresource: where its replicas live in the object. */
  readonly scale?: {
    readonly specReplicasPath: string;
    readonly statusReplicasPath?: string;
    readonly labelSelectorPath?: string;
  };
  /** A custom resource (served from a CRD): list items keep kind and apiVersion, a PUT needs a resourceVersion. */
  readonly custom: boolean;
  /** `metadata.generation` counts spec changes. */
  readonly generation: boolean;
}

/** Kinds served and stored: Leases, Events, Deployments, HPAs, ConfigMaps, APIServices, CRDs. */
export const BUILT_IN: readonly ServedResource[] = [
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    kind: 'Lease',
    namespaced: true,
    statusSubresource: false,
    custom: false,
    generation: false,
  },
  {
    group: 'events.k8s.io',
    version: 'v1',
    plural: 'events',
    kind: 'Event',
    namespaced: true,
    statusSubresource: false,
    custom: false,
    generation: false,
  },
  {
    group: 'apps',
    version: 'v1',
    plural: 'deployments',
    kind: 'Deployment',
    namespaced: true,
    statusSubresource: true,
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' },
    custom: false,
    generation: true,
  },
  {
    group: 'autoscaling',
    version: 'v2',
    plural: 'horizontalpodautoscalers',
    kind: 'HorizontalPodAutoscaler',
    namespaced: true,
    statusSubresource: true,
    custom: false,
    generation: true,
  },
  {
    group: '',
    version: 'v1',
    plural: 'configmaps',
    kind: 'ConfigMap',
    namespaced: true,
    statusSubresource: false,
    custom: false,
    generation: false,
  },
  {
    group: 'apiregistration.k8s.io',
    version: 'v1',
    plural: 'apiservices',
    kind: 'APIService',
    namespaced: false,
    statusSubresource: true,
    custom: false,
    generation: true,
  },
  {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    plural: 'customresourcedefinitions',
    kind: 'CustomResourceDefinition',
    namespaced: false,
    statusSubresource: true,
    custom: false,
    generation: true,
  },
];

/** Kinds that are only created and answered, never stored. */
export const REVIEWS: readonly ServedResource[] = [
  {
    group: 'authentication.k8s.io',
    version: 'v1',
    plural: 'tokenreviews',
    kind: 'TokenReview',
    namespaced: false,
    statusSubresource: false,
    custom: false,
    generation: false,
  },
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    plural: 'subjectaccessreviews',
    kind: 'SubjectAccessReview',
    namespaced: false,
    statusSubresource: false,
    custom: false,
    generation: false,
  },
];

/** A CustomResourceDefinition as `kubectl apply` would create it (Established once the fake stores it). */
export function customResourceDefinition(spec: {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly scale?: {
    readonly specReplicasPath: string;
    readonly statusReplicasPath?: string;
    readonly labelSelectorPath?: string;
  };
  readonly namespaced?: boolean;
}): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${spec.plural}.${spec.group}` },
    spec: {
      group: spec.group,
      scope: spec.namespaced === false ? 'Cluster' : 'Namespaced',
      names: {
        plural: spec.plural,
        kind: spec.kind,
        listKind: `${spec.kind}List`,
        singular: spec.kind.toLowerCase(),
      },
      versions: [
        {
          name: spec.version,
          served: true,
          storage: true,
          subresources: { status: {}, ...(spec.scale === undefined ? {} : { scale: spec.scale }) },
        },
      ],
    },
    status: {
      conditions: [
        { type: 'NamesAccepted', status: 'True' },
        { type: 'Established', status: 'True' },
      ],
    },
  };
}

/** The FlinkDeployment CRD (flink.apache.org/v1beta1), with its scale subresource as the operator declares it. */
export const FLINK_DEPLOYMENT_CRD: KubeObject = customResourceDefinition({
  group: 'flink.apache.org',
  version: 'v1beta1',
  plural: 'flinkdeployments',
  kind: 'FlinkDeployment',
  scale: {
    specReplicasPath: '.spec.taskManager.replicas',
    statusReplicasPath: '.status.taskManager.replicas',
    labelSelectorPath: '.status.taskManager.labelSelector',
  },
});
