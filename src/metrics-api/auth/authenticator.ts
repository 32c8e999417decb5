/**
 * Who is calling, decided as k8s.io/apiserver's delegating authenticator decides it
 * (pkg/authentication/authenticatorfactory/delegating.go, `DelegatingAuthenticatorConfig.New`): a
 * union tried in order, the first success wins; when none succeeds and one failed (a refused
 * certificate, a rejected token), the answer is 401, not anonymous (`unionauth.NewFailOnError`):
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
 * OpenSSL verifies the chain during the TLS handshake; this decides which bundle it ended at
 * (./x509.ts). Every authenticated user also gets the group `system:authenticated`
 * (`AuthenticatedGroupAdder`), which RBAC's `system:discovery` role needs. Certificate checks are
 * cached per TLS connection and trust settings; validity dates are checked on every request.
 */
import { createHash } from 'node:crypto';
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

import type { Clock } from '../../domain/ports.js';
import type { Logger } from '../../observability/logger.js';
import type { ApiRequest } from '../connection-guard.js';
import { firstHeaderValue as firstRawHeaderValue } from '../raw-headers.js';
import type { AuthenticationConfig, RequestHeaderConfig } from './config.js';
import type { TokenReviewResult, TokenReviewer, UserInfo } from '../../domain/auth.js';
import {
  lengthToAnchor,
  peerCertificateOf,
  subjectOf,
  validityOf,
  verifiedUnderOtherBundles,
} from './x509.js';
import type { PeerCertificate } from './x509.js';

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

/**
 * Why a certificate was not accepted for one method: OpenSSL refused the chain at the handshake,
 * it ends at another bundle, node:tls reported none of its issuers (so no bundle can be told; some
 * Node.js releases drop the client's intermediates, nodejs/node#65579), it is outside its validity
 * dates now, or its CN is not allowed.
 */
type CertificateFailure =
  | 'not-verified'
  | 'unknown-authority'
  | 'chain-not-reported'
  | 'expired-or-not-yet-valid'
  | 'name-not-allowed';

type CertificateCheck =
  | {
      readonly ok: true;
      readonly commonName: string;
      readonly organizations: readonly string[];
      /** When every certificate from the leaf to the bundle's is valid, epoch milliseconds. */
      readonly validity: { readonly fromMs: number; readonly toMs: number };
    }
  | { readonly ok: false; readonly failure: CertificateFailure };

/** What one TLS connection's client certificate proved, under one generation of the trust settings. */
interface ConnectionChecks {
  readonly generation: number;
  /**
   * The front-proxy headers of this connection's last request (flat name, value pairs) and the user
   * they named: the aggregator sends the same ones for every read of the same HPA controller, so
   * the same frozen user is answered again (and found again in the authorizer's cache) without
   * building it.
   */
  lastProxyUser?: { readonly headers: readonly string[]; readonly user: UserInfo | undefined };
  /** The client certificate and the handshake's verdict; undefined when it sent none. */
  readonly peer: PeerCertificate | undefined;
  proxy?: CertificateCheck;
  client?: CertificateCheck;
}

function withAuthenticatedGroup(user: UserInfo): UserInfo {
  if (user.name === 'system:anonymous' || user.groups.includes(AUTHENTICATED_GROUP)) return user;
  return { ...user, groups: [...user.groups, AUTHENTICATED_GROUP] };
}

/** The first non-empty value of the first header that has one (headerrequest `headerValue`). */
function firstHeaderValue(headers: ReadonlyMap<string, string[]>, names: readonly string[]): string {
  for (const name of names) {
    const value = headers.get(name)?.find((item) => item !== '');
    if (value !== undefined) return value;
  }
  return '';
}

/**
 * The headers the front proxy may set, as flat (lower-case name, value) pairs in the order sent,
 * from one pass over `rawHeaders`: the same for HTTP/1.1 and HTTP/2 requests (node:http2's
 * compatibility API has no `headersDistinct`, and joins repeated values in `headers`).
 */
function requestHeaderPairs(rawHeaders: readonly string[], config: RequestHeaderConfig): string[] {
  const pairs: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = (rawHeaders[index] ?? '').toLowerCase();
    const named =
      config.usernameHeaders.includes(name) ||
      config.uidHeaders.includes(name) ||
      config.groupHeaders.includes(name) ||
      config.extraHeaderPrefixes.some((prefix) => name.startsWith(prefix));
    if (named) pairs.push(name, rawHeaders[index + 1] ?? '');
  }
  return pairs;
}

/** The front-proxy user of `request`, the connection's last one again when its headers are the same. */
function proxyUserOf(
  checks: ConnectionChecks,
  request: ApiRequest,
  config: RequestHeaderConfig,
): UserInfo | undefined {
  const headers = requestHeaderPairs(request.rawHeaders, config);
  const last = checks.lastProxyUser;
  if (last !== undefined && samePairs(last.headers, headers)) return last.user;
  const user = userFromHeaders(headers, config);
  checks.lastProxyUser = { headers, user };
  return user;
}

function samePairs(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

/** The user the front proxy vouches for in `pairs` (frozen, authenticated group added), or undefined without a user header. */
function userFromHeaders(pairs: readonly string[], config: RequestHeaderConfig): UserInfo | undefined {
  // Every value of each header, by name in order of first appearance.
  const headers = new Map<string, string[]>();
  for (let index = 0; index + 1 < pairs.length; index += 2) {
    const name = pairs[index] ?? '';
    const value = pairs[index + 1] ?? '';
    const list = headers.get(name);
    if (list === undefined) headers.set(name, [value]);
    else list.push(value);
  }
  const name = firstHeaderValue(headers, config.usernameHeaders);
  if (name === '') return undefined;
  const uid = firstHeaderValue(headers, config.uidHeaders);
  const groups = config.groupHeaders.flatMap((header) =>
    (headers.get(header) ?? []).filter((value) => value !== ''),
  );
  const extra: Record<string, string[]> = {};
  for (const prefix of config.extraHeaderPrefixes) {
    for (const [header, values] of headers) {
      if (!header.startsWith(prefix)) continue;
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
  const user = withAuthenticatedGroup({ name, ...(uid === '' ? {} : { uid }), groups, extra });
  Object.freeze(user.groups);
  for (const values of Object.values(user.extra)) Object.freeze(values);
  Object.freeze(user.extra);
  return Object.freeze(user);
}

/** Checks the handshake's verdict on `peer` against one CA bundle and the allowed CNs. */
function checkCertificate(
  peer: PeerCertificate,
  bundle: readonly X509Certificate[],
  allowedNames: readonly string[],
): CertificateCheck {
  if (!peer.verified) return { ok: false, failure: 'not-verified' };
  const [leaf] = peer.chain;
  if (leaf === undefined) return { ok: false, failure: 'unknown-authority' };
  const length = lengthToAnchor(peer.chain, bundle);
  if (length === 0) {
    const lost = peer.chain.length === 1 && !leaf.checkIssued(leaf);
    return { ok: false, failure: lost ? 'chain-not-reported' : 'unknown-authority' };
  }
  const { commonName, organizations } = subjectOf(leaf);
  if (allowedNames.length > 0 && !allowedNames.includes(commonName))
    return { ok: false, failure: 'name-not-allowed' };
  return { ok: true, commonName, organizations, validity: validityOf(peer.chain.slice(0, length)) };
}

/** Why `check` does not hold at `nowMs`, or undefined when it does. */
function failureAt(check: CertificateCheck, nowMs: number): CertificateFailure | undefined {
  if (!check.ok) return check.failure;
  const { fromMs, toMs } = check.validity;
  return fromMs <= nowMs && nowMs <= toMs ? undefined : 'expired-or-not-yet-valid';
}

function describeFailure(method: string, failure: CertificateFailure, peer: PeerCertificate): string {
  return failure === 'not-verified'
    ? `${method}: ${failure} (${peer.error ?? 'unknown'})`
    : `${method}: ${failure}`;
}

export class RequestAuthenticator {
  private config: AuthenticationConfig | undefined;
  private generation = 0;
  private readonly connections = new WeakMap<TLSSocket, ConnectionChecks>();
  /** Open connections whose certificate the handshake refused: to close when the trust changes. */
  private readonly refusedConnections = new Set<TLSSocket>();
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

  /**
   * Uses new trust settings from now on; connections are checked again on their next request. A
   * connection whose certificate was refused under CA bundles that no longer hold, and that the
   * new ones may accept, is closed: only a new handshake can verify it again, and HTTP clients
   * open a new connection for their next request.
   */
  setConfig(config: AuthenticationConfig | undefined): void {
    this.config = config;
    this.generation++;
    for (const socket of this.refusedConnections) {
      const peer = this.connections.get(socket)?.peer;
      if (peer !== undefined && this.verifiedUnderOtherTrust(peer)) this.closeStale(socket);
    }
  }

  hasConfig(): boolean {
    return this.config !== undefined;
  }

  /** Authenticates `request`, which came in on the TLS connection `socket` (undefined: none). */
  async authenticate(request: ApiRequest, socket: TLSSocket | undefined): Promise<AuthenticationResult> {
    const failures: string[] = [];
    let proxyNameNotAllowed = false;
    const config = this.config;
    if (socket !== undefined && config !== undefined) {
      const checks = this.checksOf(socket);
      const peer = checks.peer;
      if (peer !== undefined && !peer.verified && this.verifiedUnderOtherTrust(peer)) {
        this.closeStale(socket);
        return {
          ok: false,
          reason: 'invalid_client_certificate',
          detail: 'client certificate verified under earlier CA bundles; connection closed',
        };
      }
      const nowMs = this.options.clock.nowMs();
      if (peer !== undefined && config.requestHeader !== undefined) {
        const { ca, allowedNames } = config.requestHeader;
        const proxy = (checks.proxy ??= checkCertificate(peer, ca, allowedNames));
        const failure = failureAt(proxy, nowMs);
        if (failure === undefined) {
          const user = proxyUserOf(checks, request, config.requestHeader);
          if (user !== undefined) return { ok: true, user, method: 'front-proxy' };
        } else {
          proxyNameNotAllowed = failure === 'name-not-allowed';
          failures.push(describeFailure('front-proxy', failure, peer));
        }
      }
      if (peer !== undefined && config.clientCa.length > 0) {
        const client = (checks.client ??= checkCertificate(peer, config.clientCa, []));
        const failure = failureAt(client, nowMs);
        if (failure === undefined && client.ok && client.commonName !== '') {
          const user = { name: client.commonName, groups: client.organizations, extra: {} };
          return { ok: true, user: withAuthenticatedGroup(user), method: 'client-certificate' };
        }
        if (failure !== undefined) failures.push(describeFailure('client CA', failure, peer));
      }
    }
    const token = bearerToken(firstRawHeaderValue(request.rawHeaders, 'authorization'));
    if (token !== undefined) {
      if (this.options.tokenReviewer === undefined) {
        return { ok: false, reason: 'invalid_token', detail: 'bearer tokens are not accepted' };
      }
      return this.authenticateToken(token, this.options.tokenReviewer);
    }
    if (proxyNameNotAllowed) {
      return {
        ok: false,
        reason: 'proxy_name_not_allowed',
        detail: 'front-proxy certificate CN not allowed',
      };
    }
    if (failures.length > 0) {
      return { ok: false, reason: 'invalid_client_certificate', detail: failures.join('; ') };
    }
    return { ok: false, reason: 'no_credentials', detail: 'no credentials' };
  }

  private checksOf(socket: TLSSocket): ConnectionChecks {
    const existing = this.connections.get(socket);
    if (existing?.generation === this.generation) return existing;
    const peer = existing === undefined ? peerCertificateOf(socket) : existing.peer;
    if (existing === undefined && peer !== undefined && !peer.verified && !socket.destroyed) {
      this.refusedConnections.add(socket);
      socket.once('close', () => this.refusedConnections.delete(socket));
    }
    const fresh: ConnectionChecks = { generation: this.generation, peer };
    this.connections.set(socket, fresh);
    return fresh;
  }

  private verifiedUnderOtherTrust(peer: PeerCertificate): boolean {
    const config = this.config;
    if (config === undefined) return false;
    return verifiedUnderOtherBundles(peer, [config.clientCa, config.requestHeader?.ca ?? []]);
  }

  private closeStale(socket: TLSSocket): void {
    this.options.logger.info(
      { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort },
      'closing a connection whose client certificate was refused under earlier CA bundles; the client reconnects',
    );
    this.refusedConnections.delete(socket);
    socket.destroy();
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
