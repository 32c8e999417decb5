/**
 * Who is calling, decided as k8s.io/apiserver's delegating authenticator decides it
 * (pkg/server/options/authentication.go, `DelegatingAuthenticatorConfig.New`): a union tried in
 * order, the first success wins:
 *
 * 1. front proxy: a client certificate that chains to `requestheader-client-ca-file` and, when
 *    `requestheader-allowed-names` is not empty, whose CN is in it; the user is then read from the
 *    request-header headers (pkg/authentication/request/headerrequest). Without a user header this
 *    method does not apply;
 * 2. client certificate: chains to `client-ca-file`; user = CN, groups = O
 *    (pkg/authentication/request/x509 `CommonNameUserConversion`);
 * 3. bearer token: a TokenReview, answers cached 10 s (the delegating authenticator's default
 *    `CacheTTL`), successes and failures alike; a failed review is not cached.
 *
 * Every authenticated user also gets the group `system:authenticated` (`AuthenticatedGroupAdder`),
 * which RBAC's `system:discovery` role needs. Certificate checks are cached per TLS connection.
 */
import { X509Certificate, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import type { DetailedPeerCertificate } from 'node:tls';

import type { Clock } from '../../domain/ports.js';
import type { Logger } from '../../observability/logger.js';
import type { AuthenticationConfig, RequestHeaderConfig } from './config.js';
import type { TokenReviewResult, TokenReviewer, UserInfo } from './ports.js';
import { subjectOf, verifyClientChain } from './x509.js';
import type { ChainFailure } from './x509.js';

/** How a request was authenticated. */
export type AuthenticationMethod = 'front-proxy' | 'client-certificate' | 'token' | 'disabled';

/** Why a request was not authenticated: the `reason` label of the auth-failure metric. */
export type AuthenticationFailure =
  | 'no_credentials'
  | 'invalid_client_certificate'
  | 'proxy_name_not_allowed'
  | 'invalid_token'
  | 'token_review_error';

export type AuthenticationResult =
  | { readonly ok: true; readonly user: UserInfo; readonly method: AuthenticationMethod }
  | { readonly ok: false; readonly reason: AuthenticationFailure; readonly detail: string };

const AUTHENTICATED_GROUP = 'system:authenticated';
const TOKEN_CACHE_MAX_ENTRIES = 10_000;

type CertificateFailure = ChainFailure | 'name-not-allowed';

type CertificateCheck =
  | { readonly ok: true; readonly commonName: string; readonly organizations: readonly string[] }
  | { readonly ok: false; readonly failure: CertificateFailure };

/** What one TLS connection's client certificate proved, under one generation of the trust settings. */
interface ConnectionChecks {
  readonly generation: number;
  /** The certificates the client sent; undefined when it sent none. */
  readonly chain: PeerChain | undefined;
  proxy?: CertificateCheck;
  client?: CertificateCheck;
}

interface PeerChain {
  readonly leaf: X509Certificate;
  readonly intermediates: readonly X509Certificate[];
}

function withAuthenticatedGroup(user: UserInfo): UserInfo {
  if (user.name === 'system:anonymous' || user.groups.includes(AUTHENTICATED_GROUP)) return user;
  return { ...user, groups: [...user.groups, AUTHENTICATED_GROUP] };
}

function peerChainOf(socket: TLSSocket): PeerChain | undefined {
  const peer = socket.getPeerCertificate(true) as Partial<DetailedPeerCertificate>;
  if (peer.raw === undefined) return undefined;
  const leaf = new X509Certificate(peer.raw);
  const intermediates: X509Certificate[] = [];
  let next = peer.issuerCertificate as Partial<DetailedPeerCertificate> | undefined;
  let previous: Partial<DetailedPeerCertificate> = peer;
  while (next?.raw !== undefined && next !== previous && intermediates.length < 10) {
    intermediates.push(new X509Certificate(next.raw));
    previous = next;
    next = next.issuerCertificate;
  }
  return { leaf, intermediates };
}

/** The first non-empty value of the first header that has one (headerrequest `headerValue`). */
function firstHeaderValue(headers: Record<string, string[] | undefined>, names: readonly string[]): string {
  for (const name of names) {
    const value = headers[name]?.find((item) => item !== '');
    if (value !== undefined) return value;
  }
  return '';
}

/** The user the front proxy vouches for, or undefined without a user header. */
function userFromHeaders(request: IncomingMessage, config: RequestHeaderConfig): UserInfo | undefined {
  const headers = request.headersDistinct;
  const name = firstHeaderValue(headers, config.usernameHeaders);
  if (name === '') return undefined;
  const uid = firstHeaderValue(headers, config.uidHeaders);
  const groups = config.groupHeaders.flatMap((header) =>
    (headers[header] ?? []).filter((value) => value !== ''),
  );
  const extra: Record<string, string[]> = {};
  for (const prefix of config.extraHeaderPrefixes) {
    for (const [header, values] of Object.entries(headers)) {
      if (values === undefined || !header.startsWith(prefix)) continue;
      const encoded = header.slice(prefix.length);
      let key = encoded;
      try {
        key = decodeURIComponent(encoded);
      } catch {
        // As upstream: a key that does not decode is recorded as it is.
      }
      (extra[key] ??= []).push(...values);
    }
  }
  return { name, ...(uid === '' ? {} : { uid }), groups, extra };
}

export class RequestAuthenticator {
  private config: AuthenticationConfig | undefined;
  private generation = 0;
  private readonly connections = new WeakMap<TLSSocket, ConnectionChecks>();
  private readonly tokenCache = new Map<
    string,
    { readonly expiresMs: number; readonly result: TokenReviewResult }
  >();

  constructor(
    private readonly options: {
      readonly tokenReviewer?: TokenReviewer | undefined;
      readonly clock: Clock;
      readonly logger: Logger;
      readonly tokenCacheTtlMs?: number;
    },
  ) {}

  /** Uses new trust settings from now on; connections are checked again on their next request. */
  setConfig(config: AuthenticationConfig | undefined): void {
    this.config = config;
    this.generation++;
  }

  hasConfig(): boolean {
    return this.config !== undefined;
  }

  async authenticate(request: IncomingMessage): Promise<AuthenticationResult> {
    let proxyFailure: CertificateFailure | undefined;
    let clientFailure: CertificateFailure | undefined;
    const socket = request.socket;
    const config = this.config;
    if (socket instanceof TLSSocket && config !== undefined) {
      const checks = this.checksOf(socket);
      if (checks.chain !== undefined && config.requestHeader !== undefined) {
        const { ca, allowedNames } = config.requestHeader;
        const proxy = (checks.proxy ??= this.checkCertificate(checks.chain, ca, allowedNames));
        if (proxy.ok) {
          const user = userFromHeaders(request, config.requestHeader);
          if (user !== undefined)
            return { ok: true, user: withAuthenticatedGroup(user), method: 'front-proxy' };
        } else {
          proxyFailure = proxy.failure;
        }
      }
      if (checks.chain !== undefined && config.clientCa.length > 0) {
        const client = (checks.client ??= this.checkCertificate(checks.chain, config.clientCa, []));
        if (client.ok && client.commonName !== '') {
          const user = { name: client.commonName, groups: client.organizations, extra: {} };
          return { ok: true, user: withAuthenticatedGroup(user), method: 'client-certificate' };
        }
        if (!client.ok) clientFailure = client.failure;
      }
    }
    const token = bearerToken(request.headers.authorization);
    if (token !== undefined) {
      if (this.options.tokenReviewer === undefined) {
        return { ok: false, reason: 'invalid_token', detail: 'bearer tokens are not accepted' };
      }
      return this.authenticateToken(token, this.options.tokenReviewer);
    }
    if (proxyFailure === 'name-not-allowed') {
      return {
        ok: false,
        reason: 'proxy_name_not_allowed',
        detail: 'front-proxy certificate CN not allowed',
      };
    }
    if (proxyFailure !== undefined || clientFailure !== undefined) {
      const detail = [
        proxyFailure && `front-proxy: ${proxyFailure}`,
        clientFailure && `client CA: ${clientFailure}`,
      ]
        .filter((part) => part !== undefined)
        .join('; ');
      return { ok: false, reason: 'invalid_client_certificate', detail };
    }
    return { ok: false, reason: 'no_credentials', detail: 'no credentials' };
  }

  private checksOf(socket: TLSSocket): ConnectionChecks {
    const existing = this.connections.get(socket);
    if (existing?.generation === this.generation) return existing;
    const fresh: ConnectionChecks = {
      generation: this.generation,
      chain: existing?.chain ?? peerChainOf(socket),
    };
    this.connections.set(socket, fresh);
    return fresh;
  }

  private checkCertificate(
    chain: PeerChain,
    roots: readonly X509Certificate[],
    allowedNames: readonly string[],
  ): CertificateCheck {
    const failure = verifyClientChain(chain.leaf, chain.intermediates, roots, this.options.clock.nowMs());
    if (failure !== undefined) return { ok: false, failure };
    const { commonName, organizations } = subjectOf(chain.leaf);
    if (allowedNames.length > 0 && !allowedNames.includes(commonName))
      return { ok: false, failure: 'name-not-allowed' };
    return { ok: true, commonName, organizations };
  }

  private async authenticateToken(token: string, reviewer: TokenReviewer): Promise<AuthenticationResult> {
    const key = createHash('sha256').update(token).digest('hex');
    const now = this.options.clock.nowMs();
    let result = this.tokenCache.get(key);
    if (result === undefined || result.expiresMs <= now) {
      let review: TokenReviewResult;
      try {
        review = await reviewer.review(token);
      } catch (err) {
        this.options.logger.error({ err }, 'TokenReview failed; the request is not authenticated');
        return { ok: false, reason: 'token_review_error', detail: 'TokenReview failed' };
      }
      result = { expiresMs: now + (this.options.tokenCacheTtlMs ?? 10_000), result: review };
      this.tokenCache.delete(key);
      this.tokenCache.set(key, result);
      if (this.tokenCache.size > TOKEN_CACHE_MAX_ENTRIES) {
        const oldest = this.tokenCache.keys().next();
        if (oldest.done !== true) this.tokenCache.delete(oldest.value);
      }
    }
    const review = result.result;
    if (review.authenticated) return { ok: true, user: withAuthenticatedGroup(review.user), method: 'token' };
    return { ok: false, reason: 'invalid_token', detail: review.error ?? 'token not authenticated' };
  }
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if any. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
