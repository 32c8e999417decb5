/**
 * The Kubernetes API as the whole process uses it (scaler, Lease, Events, TokenReview,
 * SubjectAccessReview, the authentication ConfigMap, the APIService): plain requests and watch
 * streams, over node:https with the credentials @kubernetes/client-node's `KubeConfig` resolves
 * (kubeconfig file, in-cluster service account, exec plugins). Every request carries
 * `User-Agent: slotscaler/<version>` (so the API server's audit log can tell our load apart) and a
 * hard timeout that destroys the socket; a watch has an idle timeout. Every request is told to the
 * observer (`slotscaler_kube_requests_total`).
 *
 * Why not the generated API classes: the process needs the status code and `Retry-After` of every
 * answer (409, 429, 5xx handling), a real timeout that destroys the socket, and a user agent on the
 * watch streams too; the generated clients give none of these in one place.
 */
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { createInterface } from 'node:readline';

import type { KubeConfig } from '@kubernetes/client-node';

import { KubeApiError, KubeUnreachableError } from '../errors.js';
import type { KubeRequestObserver } from '../observability/metrics.js';
import { SLOTSCALER_VERSION } from '../version.js';

/** `slotscaler/<version>`, the version of package.json. */
export const USER_AGENT = `slotscaler/${SLOTSCALER_VERSION}`;

/** One answer of the API server. */
export interface KubeResponse {
  readonly status: number;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Parsed JSON, or the text when the body is not JSON. */
  readonly body: unknown;
}

export interface KubeRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path and query, e.g. `/apis/flink.apache.org/v1beta1/namespaces/ns/flinkdeployments/x`. */
  readonly path: string;
  readonly body?: unknown;
  /** Default for PATCH: `application/merge-patch+json`; otherwise `application/json`. */
  readonly contentType?: string;
  /** Overrides the client's request timeout. */
  readonly timeoutMs?: number;
}

/** One event of a watch stream (`metav1.WatchEvent`). */
export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: unknown;
}

/** How a watch stream ended: `closed` by the server (normal), or `http` with the status of a refused watch. */
export type WatchEnd =
  { readonly kind: 'closed' } | { readonly kind: 'http'; readonly status: number; readonly body: unknown };

/**
 * The Kubernetes API port. Real: `HttpKubeClient`. Fake: test/fakes/kube/in-memory-kube.ts (an in-memory API
 * server with resourceVersions, watches and injectable failures).
 *
 * `request` resolves with any HTTP answer (the caller reads the status) and rejects only with
 * `KubeUnreachableError` (connection refused or reset, timeout). `watch` streams events to `onEvent`
 * until the server closes the stream, `signal` aborts it, or no byte came for `idleTimeoutMs`
 * (rejects with `KubeUnreachableError` on a network failure or idle timeout, and with what
 * `onEvent` threw, which ends the stream).
 */
export interface KubeClient {
  request(request: KubeRequest): Promise<KubeResponse>;
  watch(
    path: string,
    query: Readonly<Record<string, string>>,
    onEvent: (event: WatchEvent) => void,
    options: { readonly signal: AbortSignal; readonly idleTimeoutMs: number },
  ): Promise<WatchEnd>;
}

export interface HttpKubeClientOptions {
  /** Hard limit on one request, connect to last byte. */
  readonly requestTimeoutMs?: number;
  /**
   * Receives one observation per request, for `slotscaler_kube_requests_total` and
   * `slotscaler_kube_request_duration_seconds` (src/observability/metrics.ts): the method (`WATCH`
   * for a watch), the path, the status (`error`: no answer) and the seconds until the answer began.
   * A watch its caller stops before any answer came is not a request that failed, and not counted.
   */
  readonly observer?: KubeRequestObserver;
  /** Refreshes credentials (token files rotate) at most this often. */
  readonly credentialsTtlMs?: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** The `KubeClient` over node:http(s). */
export class HttpKubeClient implements KubeClient {
  private readonly server: URL;
  private readonly requestTimeoutMs: number;
  private readonly credentialsTtlMs: number;
  private readonly agent: Agent;
  private credentials: { options: RequestOptions; atMs: number } | undefined;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly options: HttpKubeClientOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) throw new KubeUnreachableError('(none)', 'the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.credentialsTtlMs = options.credentialsTtlMs ?? 60_000;
    this.agent = new Agent({ keepAlive: true, maxSockets: 32, maxFreeSockets: 4 });
  }

  /** Closes the keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  async request(request: KubeRequest): Promise<KubeResponse> {
    const timeoutMs = request.timeoutMs ?? this.requestTimeoutMs;
    const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (payload !== undefined) {
      headers['Content-Type'] =
        request.contentType ??
        (request.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
    }
    const started = performance.now();
    const observe = (status: number | 'error'): void =>
      this.options.observer?.observeKubeRequest(
        request.method,
        request.path,
        status,
        (performance.now() - started) / 1000,
      );
    try {
      const options = await this.requestOptions(request.method, request.path, headers);
      const answer = await new Promise<KubeResponse>((resolve, reject) => {
        const fail = (err: Error): void =>
          reject(
            err instanceof KubeUnreachableError
              ? err
              : new KubeUnreachableError(
                  this.server.origin,
                  `${request.method} ${request.path}: ${err.message}`,
                  { cause: err },
                ),
          );
        const req = this.send(options, (res) => {
          readBody(res, resolve, fail);
        });
        // Both limits destroy the socket: the API server sees the connection close and stops work.
        req.setTimeout(timeoutMs, () => {
          req.destroy(
            new KubeUnreachableError(
              this.server.origin,
              `${request.method} ${request.path}: no answer within ${timeoutMs} ms`,
            ),
          );
        });
        // A hard deadline even while bytes trickle in.
        const deadline = setTimeout(() => {
          req.destroy(
            new KubeUnreachableError(
              this.server.origin,
              `${request.method} ${request.path}: not done within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        req.once('close', () => clearTimeout(deadline));
        req.on('error', (err) => {
          clearTimeout(deadline);
          fail(err);
        });
        req.end(payload);
      });
      observe(answer.status);
      return answer;
    } catch (err) {
      observe('error');
      throw err;
    }
  }

  async watch(
    path: string,
    query: Readonly<Record<string, string>>,
    onEvent: (event: WatchEvent) => void,
    watchOptions: { readonly signal: AbortSignal; readonly idleTimeoutMs: number },
  ): Promise<WatchEnd> {
    const { signal, idleTimeoutMs } = watchOptions;
    const started = performance.now();
    const observe = (status: number | 'error'): void =>
      this.options.observer?.observeKubeRequest('WATCH', path, status, (performance.now() - started) / 1000);
    const search = new URLSearchParams({ ...query, watch: 'true' });
    let options: RequestOptions;
    try {
      options = await this.requestOptions('GET', `${path}?${search.toString()}`, {
        Accept: 'application/json',
      });
    } catch (err) {
      observe('error');
      throw err;
    }
    if (signal.aborted) return { kind: 'closed' };
    return new Promise<WatchEnd>((resolve, reject) => {
      let settled = false;
      let answered = false;
      const finish = (end: WatchEnd | Error): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', abort);
        if (end instanceof Error) reject(end);
        else resolve(end);
      };
      const req = this.send(options, (res) => {
        const status = res.statusCode ?? 0;
        answered = true;
        observe(status);
        if (status !== 200) {
          readBody(
            res,
            (answer) => finish({ kind: 'http', status, body: answer.body }),
            (err) => finish(err),
          );
          return;
        }
        const lines = createInterface({ input: res, crlfDelay: Infinity });
        // readline forwards the stream's errors; the stream's own listener below handles them.
        lines.on('error', () => undefined);
        lines.on('line', (line) => {
          if (settled || line.trim() === '') return;
          let event: unknown;
          try {
            event = JSON.parse(line);
          } catch {
            return;
          }
          if (typeof event === 'object' && event !== null && 'type' in event && 'object' in event) {
            try {
              onEvent(event as WatchEvent);
            } catch (err) {
              // Thrown out of a stream listener it would end the process; it ends this watch instead.
              req.destroy();
              finish(err instanceof Error ? err : new Error(String(err)));
            }
          }
        });
        res.once('end', () => finish({ kind: 'closed' }));
        res.once('close', () => finish({ kind: 'closed' }));
        res.on('error', (err) =>
          finish(
            new KubeUnreachableError(this.server.origin, `watch ${path}: ${err.message}`, { cause: err }),
          ),
        );
      });
      req.setTimeout(idleTimeoutMs, () => {
        req.destroy(
          new KubeUnreachableError(this.server.origin, `watch ${path}: idle for ${idleTimeoutMs} ms`),
        );
      });
      req.on('error', (err) => {
        if (signal.aborted) {
          finish({ kind: 'closed' });
          return;
        }
        if (!answered) observe('error');
        finish(
          err instanceof KubeUnreachableError
            ? err
            : new KubeUnreachableError(this.server.origin, `watch ${path}: ${err.message}`, { cause: err }),
        );
      });
      const abort = (): void => {
        req.destroy();
        finish({ kind: 'closed' });
      };
      signal.addEventListener('abort', abort, { once: true });
      req.end();
    });
  }

  private send(
    options: RequestOptions,
    onResponse: (res: IncomingMessage) => void,
  ): ReturnType<typeof httpRequest> {
    return this.server.protocol === 'https:'
      ? httpsRequest(options, onResponse)
      : httpRequest(options, onResponse);
  }

  private async requestOptions(
    method: string,
    path: string,
    headers: Record<string, string>,
  ): Promise<RequestOptions> {
    const credentials = await this.credentialOptions();
    const basePath = this.server.pathname.replace(/\/$/, '');
    return {
      ...credentials,
      protocol: this.server.protocol,
      hostname: this.server.hostname.replace(/^\[|\]$/g, ''),
      port: this.server.port,
      method,
      path: `${basePath}${path}`,
      ...(this.server.protocol === 'https:' ? { agent: this.agent } : {}),
      headers: {
        ...(credentials.headers as Record<string, string> | undefined),
        ...headers,
        'User-Agent': USER_AGENT,
      },
    };
  }

  /** CA, client certificate and bearer token from the kubeconfig; cached for `credentialsTtlMs`. */
  private async credentialOptions(): Promise<RequestOptions> {
    const now = Date.now();
    if (this.credentials !== undefined && now - this.credentials.atMs < this.credentialsTtlMs) {
      return this.credentials.options;
    }
    const options: RequestOptions = {};
    try {
      await this.kubeConfig.applyToHTTPSOptions(options);
    } catch (err) {
      throw new KubeUnreachableError(
        this.server.origin,
        `cannot load credentials: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    // applyToHTTPSOptions may set an agent of its own; ours keeps the connections alive.
    delete options.agent;
    this.credentials = { options, atMs: now };
    return options;
  }
}

function readBody(
  res: IncomingMessage,
  resolve: (answer: KubeResponse) => void,
  reject: (err: Error) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) {
      res.destroy(new Error(`answer larger than ${MAX_RESPONSE_BYTES} bytes`));
      return;
    }
    chunks.push(chunk);
  });
  res.on('error', reject);
  res.once('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    if ((res.headers['content-type'] ?? '').includes('json')) {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        // keep the text
      }
    }
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    resolve({ status: res.statusCode ?? 0, headers, body });
  });
}

/** `Retry-After` in milliseconds (seconds or an HTTP date), or null. */
export function retryAfterMs(header: string | undefined, nowMs: number): number | null {
  if (header === undefined || header.trim() === '') return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - nowMs) : null;
}

/** A `metav1.Status` message, or a short preview of whatever came. */
export function statusMessage(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string') {
    return body.message;
  }
  return typeof body === 'string' ? body.slice(0, 200) : '';
}

/**
 * `client.request` for a call that must succeed: the body of a 2xx answer. Any other answer, or
 * none, is a `KubeApiError` naming `operation`, with the API server's message.
 */
export async function requestSuccess(
  client: KubeClient,
  operation: string,
  request: KubeRequest,
): Promise<unknown> {
  let answer: KubeResponse;
  try {
    answer = await client.request(request);
  } catch (err) {
    throw new KubeApiError(operation, err instanceof Error ? err.message : String(err), { cause: err });
  }
  if (answer.status < 200 || answer.status > 299) {
    const message = statusMessage(answer.body);
    throw new KubeApiError(operation, `HTTP ${answer.status}${message === '' ? '' : `: ${message}`}`);
  }
  return answer.body;
}
