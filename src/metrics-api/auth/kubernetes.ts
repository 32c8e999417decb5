/**
 * The Kubernetes implementations of the auth ports, through @kubernetes/client-node. They need the
 * RBAC the reference charts ship: `system:auth-delegator` (TokenReview, SubjectAccessReview) and, in
 * kube-system, `extension-apiserver-authentication-reader` (the ConfigMap).
 */
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  ListWatch,
  V1NonResourceAttributes,
  V1ResourceAttributes,
  V1SubjectAccessReview,
  V1SubjectAccessReviewSpec,
  V1TokenReview,
  V1TokenReviewSpec,
  Watch,
} from '@kubernetes/client-node';
import type { KubeConfig, V1ConfigMap } from '@kubernetes/client-node';

import { KubeApiError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { AUTHENTICATION_CONFIGMAP } from './ports.js';
import type {
  AccessAttributes,
  AccessDecision,
  AuthenticationConfigData,
  AuthenticationConfigSource,
  SubjectAccessReviewer,
  TokenReviewResult,
  TokenReviewer,
  UserInfo,
} from './ports.js';

const CALL_TIMEOUT_MS = 10_000;
const RESTART_DELAY_MS = 5_000;

/** `promise`, or a KubeApiError after `timeoutMs` (the call itself is abandoned, not cancelled). */
async function withTimeout<T>(
  operation: string,
  promise: Promise<T>,
  timeoutMs = CALL_TIMEOUT_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new KubeApiError(operation, `no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } catch (err) {
    if (err instanceof KubeApiError) throw err;
    throw new KubeApiError(operation, err instanceof Error ? err.message : String(err), { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Watches kube-system/extension-apiserver-authentication with an informer (list, then watch; started
 * again after an error), as the reference servers' `DynamicRequestHeaderController` and
 * `ConfigMapCAController` do. A deleted ConfigMap reads as empty data.
 */
export class KubernetesAuthenticationConfigSource implements AuthenticationConfigSource {
  private data: AuthenticationConfigData | undefined;
  private readonly listeners = new Set<(data: AuthenticationConfigData) => void>();
  private readonly informer: ListWatch<V1ConfigMap>;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    kubeConfig: KubeConfig,
    private readonly logger: Logger,
  ) {
    const { namespace, name } = AUTHENTICATION_CONFIGMAP;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const fieldSelector = `metadata.name=${name}`;
    this.informer = new ListWatch<V1ConfigMap>(
      `/api/v1/namespaces/${namespace}/configmaps`,
      new Watch(kubeConfig),
      () => core.listNamespacedConfigMap({ namespace, fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    const update = (configMap: V1ConfigMap): void => this.publish({ ...(configMap.data ?? {}) });
    this.informer.on('add', update);
    this.informer.on('update', update);
    this.informer.on('delete', () => this.publish({}));
    this.informer.on('error', (err: unknown) => {
      if (this.stopped) return;
      this.logger.warn({ err }, 'watch of extension-apiserver-authentication failed; restarting');
      this.restartTimer = setTimeout(() => void this.startInformer(), RESTART_DELAY_MS);
    });
  }

  /** Lists the ConfigMap once (so `current()` is defined after this resolves), then watches it. */
  async start(): Promise<void> {
    await this.startInformer();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  current(): AuthenticationConfigData | undefined {
    return this.data;
  }

  onChange(listener: (data: AuthenticationConfigData) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async startInformer(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.informer.start();
      const configMap = this.informer.get(AUTHENTICATION_CONFIGMAP.name, AUTHENTICATION_CONFIGMAP.namespace);
      if (configMap === undefined) this.publish({});
    } catch (err) {
      this.logger.warn({ err }, 'cannot read extension-apiserver-authentication; retrying');
      this.restartTimer = setTimeout(() => void this.startInformer(), RESTART_DELAY_MS);
    }
  }

  private publish(data: AuthenticationConfigData): void {
    if (this.data !== undefined && JSON.stringify(this.data) === JSON.stringify(data)) return;
    this.data = data;
    for (const listener of this.listeners) listener(data);
  }
}

/** TokenReview through the API server. */
export class KubernetesTokenReviewer implements TokenReviewer {
  private readonly api: AuthenticationV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.api = kubeConfig.makeApiClient(AuthenticationV1Api);
  }

  async review(token: string): Promise<TokenReviewResult> {
    const review = await withTimeout(
      'TokenReview',
      this.api.createTokenReview({
        body: Object.assign(new V1TokenReview(), {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: Object.assign(new V1TokenReviewSpec(), { token }),
        }),
      }),
    );
    const status = review.status;
    if (status?.authenticated !== true || status.user?.username === undefined) {
      return { authenticated: false, ...(status?.error === undefined ? {} : { error: status.error }) };
    }
    const user = status.user;
    return {
      authenticated: true,
      user: {
        name: user.username ?? '',
        ...(user.uid === undefined ? {} : { uid: user.uid }),
        groups: user.groups ?? [],
        extra: user.extra ?? {},
      },
    };
  }
}

/** SubjectAccessReview through the API server. */
export class KubernetesSubjectAccessReviewer implements SubjectAccessReviewer {
  private readonly api: AuthorizationV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.api = kubeConfig.makeApiClient(AuthorizationV1Api);
  }

  async review(user: UserInfo, attributes: AccessAttributes): Promise<AccessDecision> {
    const spec = Object.assign(new V1SubjectAccessReviewSpec(), {
      user: user.name,
      groups: [...user.groups],
      extra: Object.fromEntries(Object.entries(user.extra).map(([key, values]) => [key, [...values]])),
    });
    if (user.uid !== undefined) spec.uid = user.uid;
    if (attributes.kind === 'resource') {
      spec.resourceAttributes = Object.assign(new V1ResourceAttributes(), {
        verb: attributes.verb,
        group: attributes.group,
        version: attributes.version,
        resource: attributes.resource,
        namespace: attributes.namespace,
      });
    } else {
      spec.nonResourceAttributes = Object.assign(new V1NonResourceAttributes(), {
        verb: attributes.verb,
        path: attributes.path,
      });
    }
    const body = Object.assign(new V1SubjectAccessReview(), {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec,
    });
    const review = await withTimeout('SubjectAccessReview', this.api.createSubjectAccessReview({ body }));
    const status = review.status;
    if (status === undefined) throw new KubeApiError('SubjectAccessReview', 'the answer has no status');
    return { allowed: status.allowed && status.denied !== true, reason: status.reason ?? '' };
  }
}
