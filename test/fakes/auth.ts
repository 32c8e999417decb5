/**
 * In-memory twins of the metrics API's auth ports (src/domain/auth.ts): the
 * extension-apiserver-authentication ConfigMap, TokenReview and SubjectAccessReview.
 */
import { KubeApiError } from '../../src/errors.js';
import type {
  AccessAttributes,
  AccessDecision,
  AuthenticationConfigData,
  AuthenticationConfigSource,
  SubjectAccessReviewer,
  TokenReviewResult,
  TokenReviewer,
  UserInfo,
} from '../../src/domain/auth.js';

export class FakeAuthenticationConfigSource implements AuthenticationConfigSource {
  private readonly listeners = new Set<(data: AuthenticationConfigData) => void>();

  constructor(private data?: AuthenticationConfigData) {}

  current(): AuthenticationConfigData | undefined {
    return this.data;
  }

  onChange(listener: (data: AuthenticationConfigData) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Replaces the ConfigMap's data, as an update event would. */
  set(data: AuthenticationConfigData): void {
    this.data = data;
    for (const listener of this.listeners) listener(data);
  }
}

export class FakeTokenReviewer implements TokenReviewer {
  readonly tokens = new Map<string, UserInfo>();
  calls = 0;
  failWith: Error | undefined;

  review(token: string): Promise<TokenReviewResult> {
    this.calls++;
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    const user = this.tokens.get(token);
    return Promise.resolve(
      user === undefined ? { authenticated: false, error: 'token not known' } : { authenticated: true, user },
    );
  }
}

/** Allows what a rule allows; denies everything else. */
export class FakeSubjectAccessReviewer implements SubjectAccessReviewer {
  readonly calls: { user: UserInfo; attributes: AccessAttributes }[] = [];
  failWith: Error | undefined;

  constructor(
    public rule: (user: UserInfo, attributes: AccessAttributes) => boolean = (_user, attributes) =>
      attributes.kind === 'nonResource',
  ) {}

  review(user: UserInfo, attributes: AccessAttributes): Promise<AccessDecision> {
    this.calls.push({ user, attributes });
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    const allowed = this.rule(user, attributes);
    return Promise.resolve({ allowed, reason: allowed ? 'allowed by the fake' : '' });
  }

  /** Fails every review from now on with a KubeApiError, as an unreachable API server would. */
  failReviews(): void {
    this.failWith = new KubeApiError('SubjectAccessReview', 'connection refused');
  }
}
