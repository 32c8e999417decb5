/**
 * The metrics API's connection limits, chosen so that a flood of unauthenticated clients cannot take
 * the aggregator's place. The aggregator (kube-apiserver) always presents its front-proxy client
 * certificate, so the one thing that tells it apart from everyone else, on any network and on
 * loopback (where every client is 127.0.0.1), is a client certificate that verified at the TLS
 * handshake against the CAs of kube-system/extension-apiserver-authentication.
 *
 * - **Verified connections are never shed.** They get the keep-alive idle time and nothing else.
 * - **At most `maxConnections` open connections**, handshakes included. At the limit a new connection
 *   takes the place of an unverified one: the one idle the longest, else the oldest handshake (a new
 *   aggregator connection is the newest one); only when every open connection is verified or
 *   answering a request is the new one refused. So a new aggregator connection always gets in, and
 *   keeps its place once its certificate has verified.
 * - **Per remote address, for connections without a verified certificate:** at most
 *   `maxUnverifiedConnectionsPerClient` are served, and `unverifiedRequestsPerSecondPerClient`
 *   requests per second with a burst of twice that; beyond either, requests are answered 429 without
 *   any authentication work (no TokenReview). A connection over the cap is kept, not closed: closing
 *   it right after its TLS handshake only brings it back a moment later for another handshake, the
 *   most expensive thing a client can make the server do; it is closed as any unverified connection
 *   is (idle, or to make room). Health paths are not limited: they answer without authentication
 *   for the cost of a 429, and a kubelet probe refused because another client on its node floods
 *   would restart a healthy pod.
 * - **Time:** a TLS handshake within `handshakeTimeoutMs`; request headers within
 *   `headersTimeoutMs`, the whole request within `requestTimeoutMs` (Node's own checks). An
 *   unverified connection with no request in flight is closed after `headersTimeoutMs`: it must send
 *   a complete request that soon after it opened or was last answered, whether it is idle or sending
 *   its headers a byte at a time. A verified one may stay idle `keepAliveTimeoutMs`.
 * - **Size:** request headers of at most `maxHeaderBytes`.
 * - **HTTP/2** (what the aggregator negotiates): the same limits per connection, and per request
 *   whichever stream it comes on; at most `MAX_CONCURRENT_STREAMS` streams open on one connection;
 *   a verified connection quiet for `keepAliveTimeoutMs` is closed (GOAWAY).
 *
 * The aggregator's side of the numbers: its proxy transport keeps the defaults of Go's
 * `http.DefaultTransport` (golang/go src/net/http/transport.go; client-go applies them through
 * k8s.io/apimachinery pkg/util/net/http.go `SetTransportDefaults`): a TLS handshake timeout of 10 s and
 * idle connections closed after 90 s, so it reuses a few keep-alive connections and never waits for
 * a handshake longer than ours.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  Http2SecureServer,
  Http2ServerRequest,
  Http2ServerResponse,
  Http2Session,
  ServerHttp2Session,
} from 'node:http2';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { PeerCertificate } from 'node:tls';

import { TokenBucket } from '../lib/token-bucket.js';
import type { Logger } from '../observability/logger.js';
import type { MetricsApiObserver } from './metrics.js';
import { routeOf } from './paths.js';

/** A request as the server hands it over: HTTP/1.1 (node:http) or HTTP/2 (node:http2's compatibility API). */
export type ApiRequest = IncomingMessage | Http2ServerRequest;
export type ApiResponse = ServerResponse | Http2ServerResponse;

/**
 * The most streams one HTTP/2 connection may have open at once: Go's HTTP/2 server's default
 * (golang.org/x/net/http2 server.go `defaultMaxStreams`), which the aggregator's transport expects
 * of an API server; it opens another connection beyond it. Node's own default is unbounded.
 */
export const MAX_CONCURRENT_STREAMS = 250;

/** The limits; `connectionLimitsFromConfig` (options.ts) reads them from the config schema. */
export interface ConnectionLimits {
  /** Open connections at most, TLS handshakes included. */
  readonly maxConnections: number;
  /** Open connections without a verified client certificate, per remote address. */
  readonly maxUnverifiedConnectionsPerClient: number;
  /** Requests per second per remote address on connections without a verified client certificate. */
  readonly unverifiedRequestsPerSecondPerClient: number;
  readonly handshakeTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
}

/**
 * What a limit did to a connection, the `reason` label of the metric: closed or refused at
 * `max_connections`, served only 429s over the per-client cap (`client_connections`), closed when
 * `idle`, or at the `handshake_timeout`.
 */
export type ConnectionLimitReason = 'max_connections' | 'client_connections' | 'idle' | 'handshake_timeout';

interface Connection {
  readonly raw: Socket;
  /** Remote address and port: what the TLS socket is found by once its handshake is done. */
  readonly key: string;
  readonly address: string;
  tls: TLSSocket | undefined;
  verified: boolean;
  /** Counted in `unverifiedPerClient`. */
  counted: boolean;
  /** Over the per-client cap: its requests are answered 429. */
  parked: boolean;
  inFlight: number;
  idleSinceMs: number;
}

/** How often idle connections are looked for, and Node's header and request timeouts checked. */
const CHECK_INTERVAL_MS = 1000;
/** Rate-limited addresses remembered at most (least recently seen forgotten first). */
const MAX_CLIENT_BUCKETS = 10_000;
const LIMIT_WARNING_INTERVAL_MS = 60_000;
const LISTEN_BACKLOG_MAX = 4096;
/** How late a 429 is answered. */
const REFUSAL_DELAY_MS = 1000;

const nowMs = (): number => performance.now();
const monotonicClock = { nowMs };

function first<T>(items: Iterable<T>): T | undefined {
  for (const item of items) return item;
  return undefined;
}

function keyOf(socket: Socket): string | undefined {
  if (socket.remoteAddress === undefined || socket.remotePort === undefined) return undefined;
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

function pathOf(url: string | undefined): string {
  const path = url ?? '/';
  const query = path.indexOf('?');
  return query < 0 ? path : path.slice(0, query);
}

/**
 * Answers a metav1.Status 429 (apimachinery's NewTooManyRequests), a second late: a client that
 * sends its next request as soon as it has an answer (a flood) then sends one a second per
 * connection, instead of as many as the server can refuse, which would take the CPU the
 * aggregator's requests and handshakes need.
 */
function refuse(response: ApiResponse, message: string, retryAfterSeconds: number): void {
  const timer = setTimeout(() => {
    if (response.destroyed || response.writableEnded) return;
    response.statusCode = 429;
    response.setHeader('Content-Type', 'application/json');
    response.setHeader('Cache-Control', 'no-cache, private');
    response.setHeader('Retry-After', String(retryAfterSeconds));
    response.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message,
        reason: 'TooManyRequests',
        details: { retryAfterSeconds },
        code: 429,
      }),
    );
  }, REFUSAL_DELAY_MS);
  timer.unref();
  response.once('close', () => clearTimeout(timer));
}

/**
 * Whether the client presented a certificate that verified at the handshake. `authorized` alone is
 * not enough: Node reports a resumed TLS 1.3 session without any client certificate as authorized
 * (it takes the resumption for a PSK handshake; seen on Node 20), so a certificate must be there too.
 */
export function hasVerifiedClientCertificate(socket: TLSSocket): boolean {
  return socket.authorized && (socket.getPeerCertificate() as Partial<PeerCertificate>).raw !== undefined;
}

export interface ConnectionGuardDependencies {
  /** Whether the connection's client certificate verified against the trusted client CAs. */
  readonly isVerified: (socket: TLSSocket) => boolean;
  readonly observer: MetricsApiObserver;
  readonly logger: Logger;
}

export class ConnectionGuard {
  private readonly connections = new Map<string, Connection>();
  private readonly bySocket = new WeakMap<Socket, Connection>();
  private readonly bySession = new WeakMap<Http2Session, Connection>();
  /** Connections in their TLS handshake, oldest first. */
  private readonly handshaking = new Set<Connection>();
  /** Established unverified connections with no request in flight, idle the longest first. */
  private readonly idleUnverified = new Set<Connection>();
  /** Verified connections that have not sent a request yet, oldest first. */
  private readonly idleVerified = new Set<Connection>();
  private readonly unverifiedPerClient = new Map<string, number>();
  private readonly buckets = new Map<string, TokenBucket>();
  private verifiedCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly lastWarningMs = new Map<ConnectionLimitReason, number>();

  constructor(
    readonly limits: ConnectionLimits,
    private readonly deps: ConnectionGuardDependencies,
  ) {}

  /**
   * The options of `http2.createSecureServer` (or `https.createServer`, which takes the
   * handshake timeout and ignores the h2 settings) that carry the limits Node enforces itself.
   */
  serverOptions(): {
    handshakeTimeout: number;
    settings: { maxConcurrentStreams: number; maxHeaderListSize: number };
  } {
    return {
      handshakeTimeout: this.limits.handshakeTimeoutMs,
      settings: {
        maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
        maxHeaderListSize: this.limits.maxHeaderBytes,
      },
    };
  }

  /**
   * The HTTP/1.1 limits node:http enforces itself. node:https takes them as options (the interval
   * of its timeout checks only so: it starts them at construction); `attach` sets them on either
   * server.
   */
  http1ServerOptions(): {
    headersTimeout: number;
    requestTimeout: number;
    keepAliveTimeout: number;
    maxHeaderSize: number;
    connectionsCheckingInterval: number;
    requireHostHeader: boolean;
  } {
    return {
      headersTimeout: this.limits.headersTimeoutMs,
      requestTimeout: this.limits.requestTimeoutMs,
      keepAliveTimeout: this.limits.keepAliveTimeoutMs,
      maxHeaderSize: this.limits.maxHeaderBytes,
      connectionsCheckingInterval: CHECK_INTERVAL_MS,
      requireHostHeader: true,
    };
  }

  /**
   * The listen backlog: connections the kernel completes and queues before the server accepts them.
   * A flood arrives faster than a busy event loop accepts; once the queue is full the kernel drops
   * the handshakes of every client alike (an aggregator SYN waits 1 s, 3 s, 7 s... to be retried),
   * before any limit here can tell it apart. Node's default is 511; the kernel caps this at
   * net.core.somaxconn (4096 by default since Linux 5.4).
   */
  listenBacklog(): number {
    return Math.max(511, Math.min(LISTEN_BACKLOG_MAX, this.limits.maxConnections));
  }

  /** The request listener: `handler` runs for every request the limits let through. */
  requestListener(
    handler: (request: ApiRequest, response: ApiResponse) => void,
  ): (request: ApiRequest, response: ApiResponse) => void {
    return (request, response) => {
      if (this.admit(request, response)) handler(request, response);
    };
  }

  /**
   * Follows the server's connections from now on, and gives its HTTP/1.1 connections the limits:
   * node:https, and node:http2 for a connection that did not negotiate h2 (it hands those to
   * node:http's connection handling), read them from these server properties (`createSecureServer`
   * takes none of them as options; `requireHostHeader` is node:https's default, a 400 for an
   * HTTP/1.1 request without Host).
   */
  attach(server: Http2SecureServer | HttpsServer): void {
    Object.assign(server, this.http1ServerOptions());
    server.on('connection', (socket: Socket) => this.onConnection(socket));
    server.on('session', (session: ServerHttp2Session) => this.onSession(session));
    server.on('secureConnection', (socket: TLSSocket) => this.onSecureConnection(socket));
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT')
        this.deps.observer.observeConnectionLimited('handshake_timeout');
    });
    this.timer = setInterval(() => this.closeIdle(), CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * The TLS socket a request came in on. An HTTP/2 request's `socket` is a proxy made per stream
   * (node:http2 compatibility API), so the socket is found through the stream's session instead:
   * one TLS connection, whatever the protocol, is one identity for the certificate checks.
   */
  tlsSocketOf(request: ApiRequest): TLSSocket | undefined {
    if ('stream' in request) return this.connectionOfStream(request)?.tls;
    return request.socket instanceof TLSSocket ? request.socket : undefined;
  }

  /** Stops the idle check. */
  close(): void {
    clearInterval(this.timer);
  }

  /** Closes every open connection now (node:http2's server has no `closeAllConnections`). */
  destroyConnections(): void {
    for (const connection of [...this.connections.values()]) (connection.tls ?? connection.raw).destroy();
  }

  /** Open connections by whether their client certificate verified (handshakes are unverified). */
  openConnections(): { verified: number; unverified: number } {
    return { verified: this.verifiedCount, unverified: this.connections.size - this.verifiedCount };
  }

  private onConnection(raw: Socket): void {
    const key = keyOf(raw);
    if (key === undefined) return;
    const stale = this.connections.get(key);
    if (stale !== undefined) this.forget(stale);
    if (this.connections.size >= this.limits.maxConnections && !this.shedOne()) {
      this.deps.observer.observeConnectionLimited('max_connections');
      this.warn('max_connections', { maxConnections: this.limits.maxConnections });
      raw.destroy();
      return;
    }
    const connection: Connection = {
      raw,
      key,
      address: raw.remoteAddress ?? '',
      tls: undefined,
      verified: false,
      counted: false,
      parked: false,
      inFlight: 0,
      idleSinceMs: nowMs(),
    };
    this.connections.set(key, connection);
    this.handshaking.add(connection);
    raw.once('close', () => this.forget(connection));
  }

  /**
   * An HTTP/2 connection: node:http2 makes its session when the handshake is done, just before
   * `secureConnection` reaches us. A verified one that goes quiet is closed after the keep-alive
   * idle time, as node:http closes an idle HTTP/1.1 connection (GOAWAY: open streams finish first).
   */
  private onSession(session: ServerHttp2Session): void {
    const key = keyOf(session.socket);
    const connection = key === undefined ? undefined : this.connections.get(key);
    if (connection === undefined) return;
    this.bySession.set(session, connection);
    session.setTimeout(this.limits.keepAliveTimeoutMs, () => session.close());
  }

  private connectionOfStream(request: Http2ServerRequest): Connection | undefined {
    const session = request.stream.session;
    return session === undefined ? undefined : this.bySession.get(session);
  }

  private onSecureConnection(socket: TLSSocket): void {
    const key = keyOf(socket);
    const connection = key === undefined ? undefined : this.connections.get(key);
    if (connection === undefined) return;
    this.handshaking.delete(connection);
    connection.tls = socket;
    connection.idleSinceMs = nowMs();
    this.bySocket.set(socket, connection);
    if (this.deps.isVerified(socket)) {
      connection.verified = true;
      this.verifiedCount++;
      this.idleVerified.add(connection);
      return;
    }
    const count = (this.unverifiedPerClient.get(connection.address) ?? 0) + 1;
    if (count > this.limits.maxUnverifiedConnectionsPerClient) {
      connection.parked = true;
      this.deps.observer.observeConnectionLimited('client_connections');
      this.warn('client_connections', {
        address: connection.address,
        maxUnverifiedConnectionsPerClient: this.limits.maxUnverifiedConnectionsPerClient,
      });
    } else {
      this.unverifiedPerClient.set(connection.address, count);
      connection.counted = true;
    }
    this.idleUnverified.add(connection);
  }

  /** Tracks the request; answers 429 and returns false when its client is over its limits. */
  private admit(request: ApiRequest, response: ApiResponse): boolean {
    const connection =
      'stream' in request ? this.connectionOfStream(request) : this.bySocket.get(request.socket);
    if (connection === undefined) return true;
    if (connection.verified) {
      // From its first request on, Node's keep-alive timeout closes it once idle: nothing to count.
      this.idleVerified.delete(connection);
      return true;
    }
    if (connection.inFlight++ === 0) this.idleUnverified.delete(connection);
    response.once('close', () => {
      if (--connection.inFlight > 0 || this.connections.get(connection.key) !== connection) return;
      connection.idleSinceMs = nowMs();
      this.idleUnverified.add(connection);
    });
    if (routeOf(pathOf(request.url)).kind === 'health') return true;
    if (connection.parked) {
      refuse(
        response,
        'Too many connections from this client address without a verified client certificate',
        1,
      );
    } else {
      const bucket = this.bucketOf(connection.address);
      if (bucket.tryTake()) return true;
      refuse(
        response,
        'Too many requests from this client address without a verified client certificate',
        Math.max(1, Math.ceil(bucket.waitMs() / 1000)),
      );
    }
    this.deps.observer.observeRequest('_throttled', 429, 0);
    return false;
  }

  private bucketOf(address: string): TokenBucket {
    let bucket = this.buckets.get(address);
    if (bucket !== undefined) {
      // Least recently seen first: the first key is the one to forget when there are too many.
      this.buckets.delete(address);
    } else {
      const rate = this.limits.unverifiedRequestsPerSecondPerClient;
      bucket = new TokenBucket(rate, Math.max(1, 2 * rate), monotonicClock);
      const oldest = this.buckets.size >= MAX_CLIENT_BUCKETS ? first(this.buckets.keys()) : undefined;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    this.buckets.set(address, bucket);
    return bucket;
  }

  /** Closes one unverified connection to make room: idle the longest, else the oldest handshake. */
  private shedOne(): boolean {
    const victim = first(this.idleUnverified) ?? first(this.handshaking);
    if (victim === undefined) return false;
    this.drop(victim, 'max_connections');
    this.warn('max_connections', { maxConnections: this.limits.maxConnections });
    return true;
  }

  private closeIdle(): void {
    const now = nowMs();
    for (const connection of this.idleUnverified) {
      if (now - connection.idleSinceMs < this.limits.headersTimeoutMs) break;
      this.drop(connection, 'idle');
    }
    for (const connection of this.idleVerified) {
      if (now - connection.idleSinceMs < this.limits.keepAliveTimeoutMs) break;
      this.forget(connection);
      (connection.tls ?? connection.raw).destroy();
    }
    this.deps.observer.observeOpenConnections(this.openConnections());
  }

  private drop(connection: Connection, reason: ConnectionLimitReason): void {
    this.forget(connection);
    (connection.tls ?? connection.raw).destroy();
    this.deps.observer.observeConnectionLimited(reason);
  }

  private forget(connection: Connection): void {
    if (this.connections.get(connection.key) !== connection) return;
    this.connections.delete(connection.key);
    this.handshaking.delete(connection);
    this.idleUnverified.delete(connection);
    this.idleVerified.delete(connection);
    if (connection.verified) this.verifiedCount--;
    if (connection.counted) {
      const count = (this.unverifiedPerClient.get(connection.address) ?? 1) - 1;
      if (count <= 0) this.unverifiedPerClient.delete(connection.address);
      else this.unverifiedPerClient.set(connection.address, count);
    }
  }

  /** Logs a limit reached, at most once a minute per limit. */
  private warn(reason: 'max_connections' | 'client_connections', fields: Record<string, unknown>): void {
    const now = nowMs();
    if (now - (this.lastWarningMs.get(reason) ?? Number.NEGATIVE_INFINITY) < LIMIT_WARNING_INTERVAL_MS)
      return;
    this.lastWarningMs.set(reason, now);
    this.deps.logger.warn(
      { reason, ...this.openConnections(), ...fields },
      reason === 'max_connections'
        ? 'metrics API at its connection limit: unverified connections are closed to keep room for verified clients (the aggregator)'
        : 'a client address holds more unverified connections than allowed: the extra ones are answered 429',
    );
  }
}
