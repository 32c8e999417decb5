/**
 * The Kubernetes implementations of the auth ports, over the process's one `KubeClient` (so these
 * requests carry its user agent and timeout, and are counted with all the others). They need the
 * RBAC the reference charts ship: `system:auth-delegator` (TokenReview, SubjectAccessReview) and, in
 * kube-system, `extension-apiserver-authentication-reader` (the ConfigMap).
 */
import { KubeApiError } from '../errors.js';
import { Informer } from './informer.js';
import type { InformerOptions } from './informer.js';
import { requestSuccess } from './kube-client.js';
import type { KubeClient } from './kube-client.js';
import type { KubeObject } from './objects.js';
import type { Logger } from '../observability/logger.js';
import { AUTHENTICATION_CONFIGMAP } from '../domain/auth.js';
import type {
  AccessAttributes,
  AccessDecision,
  AuthenticationConfigData,
  AuthenticationConfigSource,
  SubjectAccessReviewer,
  TokenReviewResult,
  TokenReviewer,
  UserInfo,
} from '../domain/auth.js';

const TOKEN_REVIEWS_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
const SUBJECT_ACCESS_REVIEWS_PATH = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** A ConfigMap's `data`, keeping only string values (the API server only stores strings there). */
function configMapData(object: KubeObject): AuthenticationConfigData {
  const data = (object as { data?: unknown }).data;
  if (!isRecord(data)) return {};
  return Object.fromEntries(
    Object.entries(data).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

/** Back-off of the ConfigMap watch (tests shorten it). */
export type AuthenticationConfigBackoff = Pick<InformerOptions, 'backoffInitialMs' | 'backoffMaxMs'>;

/**
 * Watches kube-system/extension-apiserver-authentication with an informer (list, then watch,
 * resumed with back-off after any failure), as the reference servers' `DynamicRequestHeaderController`
 * and `ConfigMapCAController` do. A deleted or absent ConfigMap reads as empty data.
 */
export class KubernetesAuthenticationConfigSource implements AuthenticationConfigSource {
  private data: AuthenticationConfigData | undefined;
  private readonly listeners = new Set<(data: AuthenticationConfigData) => void>();
  private readonly informer: Informer;

  constructor(
    client: KubeClient,
    private readonly logger: Logger,
    backoff: AuthenticationConfigBackoff = {},
  ) {
    const { namespace, name } = AUTHENTICATION_CONFIGMAP;
    this.informer = new Informer(client, {
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      fieldSelector: `metadata.name=${name}`,
      logger,
      ...backoff,
      onEvent: (type, object) => this.publish(type === 'deleted' ? {} : configMapData(object)),
    });
  }

  /**
   * Starts the watch and resolves once the first LIST was tried: `current()` is then defined unless
   * that LIST failed (missing RBAC, API server down), which is logged and retried meanwhile; the
   * server must not wait for it to start.
   */
  async start(): Promise<void> {
    this.informer.start();
    // A ConfigMap that does not exist brings no event: once listed, its absence is news too.
    const publishIfAbsent = (): void => {
      const { namespace, name } = AUTHENTICATION_CONFIGMAP;
      if (this.informer.get(namespace, name) === undefined) this.publish({});
    };
    if (await this.informer.waitForFirstList()) {
      publishIfAbsent();
      return;
    }
    this.logger.warn({}, 'cannot read extension-apiserver-authentication yet; retrying in the background');
    void this.informer.waitForSync().then(publishIfAbsent);
  }

  async stop(): Promise<void> {
    await this.informer.stop();
  }

  current(): AuthenticationConfigData | undefined {
    return this.data;
  }

  onChange(listener: (data: AuthenticationConfigData) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private publish(data: AuthenticationConfigData): void {
    if (this.data !== undefined && JSON.stringify(this.data) === JSON.stringify(data)) return;
    this.data = data;
    for (const listener of this.listeners) {
      // One listener's failure must neither stop the others nor end the watch.
      try {
        listener(data);
      } catch (err) {
        this.logger.error({ err }, 'applying extension-apiserver-authentication failed');
      }
    }
  }
}

/** TokenReview through the API server. */
export class KubernetesTokenReviewer implements TokenReviewer {
  constructor(private readonly client: KubeClient) {}

  async review(token: string): Promise<TokenReviewResult> {
    const answer = await requestSuccess(this.client, 'TokenReview', {
      method: 'POST',
      path: TOKEN_REVIEWS_PATH,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
    });
    const status = isRecord(answer) && isRecord(answer['status']) ? answer['status'] : {};
    const error = typeof status['error'] === 'string' ? status['error'] : undefined;
    const user = isRecord(status['user']) ? status['user'] : undefined;
    const username = user?.['username'];
    if (status['authenticated'] !== true || user === undefined || typeof username !== 'string') {
      return { authenticated: false, ...(error === undefined ? {} : { error }) };
    }
    const uid = user['uid'];
    const extra = isRecord(user['extra']) ? user['extra'] : {};
    return {
      authenticated: true,
      user: {
        name: username,
        ...(typeof uid === 'string' ? { uid } : {}),
        groups: strings(user['groups']),
        extra: Object.fromEntries(Object.entries(extra).map(([key, values]) => [key, strings(values)])),
      },
    };
  }
}

/** SubjectAccessReview through the API server. */
export class KubernetesSubjectAccessReviewer implements SubjectAccessReviewer {
  constructor(private readonly client: KubeClient) {}

  async review(user: UserInfo, attributes: AccessAttributes): Promise<AccessDecision> {
    const spec = {
      user: user.name,
      ...(user.uid === undefined ? {} : { uid: user.uid }),
      groups: [...user.groups],
      extra: Object.fromEntries(Object.entries(user.extra).map(([key, values]) => [key, [...values]])),
      ...(attributes.kind === 'resource'
        ? {
            resourceAttributes: {
              verb: attributes.verb,
              group: attributes.group,
              version: attributes.version,
              resource: attributes.resource,
              namespace: attributes.namespace,
              ...(attributes.name === undefined ? {} : { name: attributes.name }),
              ...(attributes.subresource === undefined ? {} : { subresource: attributes.subresource }),
            },
          }
        : { nonResourceAttributes: { verb: attributes.verb, path: attributes.path } }),
    };
    const answer = await requestSuccess(this.client, 'SubjectAccessReview', {
      method: 'POST',
      path: SUBJECT_ACCESS_REVIEWS_PATH,
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec },
    });
    const status = isRecord(answer) ? answer['status'] : undefined;
    if (!isRecord(status)) throw new KubeApiError('SubjectAccessReview', 'the answer has no status');
    const reason = status['reason'];
    return {
      allowed: status['allowed'] === true && status['denied'] !== true,
      reason: typeof reason === 'string' ? reason : '',
    };
  }
}
