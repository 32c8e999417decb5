/**
 * The ports of the external metrics API's authentication and authorization, each with a
 * Kubernetes implementation (src/kube/auth-reviews.ts) and an in-memory fake
 * (test/fakes/auth.ts).
 */

/** Who is calling (k8s.io/apiserver pkg/authentication/user `Info`). */
export interface UserInfo {
  readonly name: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

/** The ConfigMap name and namespace every aggregated API server reads its client trust from. */
export const AUTHENTICATION_CONFIGMAP = {
  namespace: 'kube-system',
  name: 'extension-apiserver-authentication',
} as const;

/** The `data` of the ConfigMap kube-system/extension-apiserver-authentication. */
export type AuthenticationConfigData = Readonly<Record<string, string>>;

/**
 * The content of kube-system/extension-apiserver-authentication, as it changes. The kube-apiserver
 * writes it at start (keys `client-ca-file`, `requestheader-client-ca-file`,
 * `requestheader-allowed-names`, `requestheader-username-headers`, `requestheader-uid-headers`,
 * `requestheader-group-headers`, `requestheader-extra-headers-prefix`); aggregated API servers
 * watch it (k8s.io/apiserver pkg/server/options/authentication.go).
 */
export interface AuthenticationConfigSource {
  /** The ConfigMap's data as last read: undefined until the first read, `{}` when it does not exist. */
  current(): AuthenticationConfigData | undefined;
  /** Calls `listener` after every change. Returns the function that unsubscribes. */
  onChange(listener: (data: AuthenticationConfigData) => void): () => void;
}

/** The answer of a TokenReview. */
export type TokenReviewResult =
  | { readonly authenticated: true; readonly user: UserInfo }
  | { readonly authenticated: false; readonly error?: string };

/**
 * Checks a bearer token with the API server (`authentication.k8s.io/v1 TokenReview`). Throws a
 * `KubeApiError` when the review itself fails (the token is then not accepted, and not cached).
 */
export interface TokenReviewer {
  review(token: string): Promise<TokenReviewResult>;
}

/** What a request wants to do, as a SubjectAccessReview's spec names it. */
export type AccessAttributes =
  | {
      readonly kind: 'resource';
      readonly verb: string;
      readonly group: string;
      readonly version: string;
      readonly resource: string;
      /** '' for a cluster-scoped resource. */
      readonly namespace: string;
      /** The object's name, when the request names one (`*` included). */
      readonly name?: string;
      /** The custom metrics API's metric name sits here (the generic API server's RequestInfo). */
      readonly subresource?: string;
    }
  | { readonly kind: 'nonResource'; readonly verb: string; readonly path: string };

/** The answer of a SubjectAccessReview. */
export interface AccessDecision {
  readonly allowed: boolean;
  /** The authorizer's reason, shown after the Forbidden message when non-empty. */
  readonly reason: string;
}

/**
 * Asks the API server whether `user` may do `attributes` (`authorization.k8s.io/v1
 * SubjectAccessReview`). Throws a `KubeApiError` when the review itself fails (answered 500).
 */
export interface SubjectAccessReviewer {
  review(user: UserInfo, attributes: AccessAttributes): Promise<AccessDecision>;
}
