/**
 * The real `FlinkClient`: the JobManager REST API over HTTP/1.1 (src/flink/http-connections.ts).
 *
 * - Every attempt has a hard timeout, connect to last byte: a slow or endless body is cut there.
 * - An answer is read while it streams in and cut (the socket destroyed) as soon as it passes
 *   `maxResponseBytes`: nothing larger is ever buffered, whatever Content-Length says or omits.
 *   Compression is not asked for (`Accept-Encoding: identity`), so the bytes counted are the bytes
 *   parsed.
 * - Keep-alive sockets and a `ConcurrencyLimiter` live in a `FlinkHttpPool` shared by all targets.
 * - GETs are retried with jittered exponential backoff on network errors, timeouts, 5xx and 429
 *   (honouring `Retry-After` up to the maximum delay); nothing else is retried.
 * - Every answer is decoded and validated (src/flink/responses.ts) before it is returned; failures
 *   are the typed errors of src/errors.ts, never a number.
 * - Every attempt is reported to an optional observer (for `slotscaler_flink_requests_total`).
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type {
  AggregatedMetric,
  CheckpointConfig,
  CheckpointStats,
  FlinkEndpoint,
  JobDetails,
  JobOverview,
  MetricValue,
  ResourceRequirements,
  TaskManagerSummary,
  TaskManagerVertexTimes,
} from '../domain/flink.js';
import type { FlinkClient, JobRequirementsClient } from '../domain/ports.js';
import {
  FlinkBadResponseError,
  FlinkHttpError,
  FlinkImplausibleResponseError,
  FlinkJobNotFoundError,
  FlinkResponseTooLargeError,
  FlinkTimeoutError,
  FlinkUnreachableError,
  SlotscalerError,
} from '../errors.js';
import type { FlinkRequestObserver, FlinkRequestOutcome } from '../observability/metrics.js';
import { ConcurrencyLimiter } from './concurrency.js';
import { HttpConnections, originOf } from './http-connections.js';
import type { ExchangeOutcome, HttpOrigin } from './http-connections.js';
import {
  decodeJsonBody,
  parseAggregatedMetrics,
  parseCheckpointConfig,
  parseCheckpointStats,
  parseJobDetails,
  parseJobsOverview,
  parseMetricNames,
  parseResourceRequirements,
  parseVertexTaskManagers,
  parseMetricValues,
  parseTaskManagers,
} from './responses.js';

/** HTTP behaviour of the Flink clients; one set for all targets. */
export interface FlinkHttpOptions {
  /** Hard limit on one HTTP attempt, connect to last byte. */
  readonly requestTimeoutMs: number;
  /** Retries after the first attempt of a GET (network error, timeout, 5xx, 429). */
  readonly maxRetries: number;
  /** Backoff before the first retry; doubles per retry, with jitter (half fixed, half random). */
  readonly retryInitialDelayMs: number;
  /** Upper bound of one backoff delay (and of an honoured `Retry-After`). */
  readonly retryMaxDelayMs: number;
  /** HTTP requests in flight at once, over all JobManagers. */
  readonly maxConcurrentRequests: number;
  /** Idle keep-alive sockets kept per JobManager. */
  readonly maxIdleSocketsPerHost: number;
  /** An idle keep-alive socket is closed after this long unused (four ticks at the default interval). */
  readonly idleSocketTimeoutMs: number;
  /**
   * Answers larger than this are cut while they stream in (`FlinkResponseTooLargeError`): the
   * `flink-max-response-bytes` setting.
   */
  readonly maxResponseBytes: number;
}

export const DEFAULT_FLINK_HTTP_OPTIONS: FlinkHttpOptions = Object.freeze({
  requestTimeoutMs: 5_000,
  maxRetries: 2,
  retryInitialDelayMs: 200,
  retryMaxDelayMs: 2_000,
  maxConcurrentRequests: 32,
  maxIdleSocketsPerHost: 4,
  idleSocketTimeoutMs: 60_000,
  maxResponseBytes: 4 * 1024 * 1024,
});

export interface FlinkHttpPoolDependencies {
  readonly observer?: FlinkRequestObserver;
  /** Uniform in [0, 1), for the backoff jitter; `Math.random` by default. */
  readonly random?: () => number;
  /** Waits between retries; `timers/promises` setTimeout by default. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What every target's client shares: options, keep-alive sockets, the concurrency limit, the observer. */
export class FlinkHttpPool {
  readonly options: FlinkHttpOptions;
  readonly limiter: ConcurrencyLimiter;
  /** @internal */ readonly connections: HttpConnections;
  /** @internal */ readonly observer: FlinkRequestObserver | undefined;
  /** @internal */ readonly random: () => number;
  /** @internal */ readonly sleep: (ms: number) => Promise<void>;

  constructor(options: Partial<FlinkHttpOptions> = {}, dependencies: FlinkHttpPoolDependencies = {}) {
    this.options = Object.freeze({ ...DEFAULT_FLINK_HTTP_OPTIONS, ...options });
    this.limiter = new ConcurrencyLimiter(this.options.maxConcurrentRequests);
    this.connections = new HttpConnections({
      maxIdlePerOrigin: this.options.maxIdleSocketsPerHost,
      idleTimeoutMs: this.options.idleSocketTimeoutMs,
    });
    this.observer = dependencies.observer;
    this.random = dependencies.random ?? Math.random;
    this.sleep = dependencies.sleep ?? ((ms) => sleep(ms));
  }

  /** A client for one JobManager, sharing this pool. */
  clientFor(baseUrl: string): FlinkRestClient {
    return new FlinkRestClient(baseUrl, this);
  }

  /** Closes the idle keep-alive sockets. */
  close(): void {
    this.connections.close();
  }
}

/** A failed attempt: the error to throw if it is the last, and whether another may follow. */
interface AttemptFailure {
  readonly error: SlotscalerError;
  readonly retryable: boolean;
  readonly retryAfterMs: number | null;
}

function isJsonContentType(contentType: unknown): boolean {
  return typeof contentType !== 'string' || !/text\/html/i.test(contentType);
}

/** The first line of Flink's `{"errors": [...]}`, or a short preview of whatever came. */
function errorDetail(body: unknown): string {
  if (typeof body !== 'string' || body.trim() === '') return '';
  if (body.trimStart().startsWith('<')) return 'an HTML page';
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === 'object' && parsed !== null && 'errors' in parsed && Array.isArray(parsed.errors)) {
      const first: unknown = parsed.errors[0];
      if (typeof first === 'string') return (first.split('\n', 1)[0] ?? '').slice(0, 200);
    }
  } catch {
    // not JSON: show the start
  }
  return body.replace(/\s+/g, ' ').trim().slice(0, 120);
}

function retryAfterMs(header: unknown): number | null {
  if (typeof header !== 'string') return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  return null;
}

/** A `FlinkClient` for one JobManager. */
export class FlinkRestClient implements FlinkClient, JobRequirementsClient {
  readonly baseUrl: string;
  /**
   * Where requests go, or, when `baseUrl` is not an http(s) URL, the error every call fails with (a
   * bad target must not throw in a loop).
   */
  private readonly target: { readonly origin: HttpOrigin; readonly basePath: string } | FlinkUnreachableError;

  constructor(
    baseUrl: string,
    private readonly pool: FlinkHttpPool = new FlinkHttpPool(),
  ) {
    this.baseUrl = baseUrl.trim().replace(/\/+$/, '');
    this.target = checkUrl(this.baseUrl);
  }

  listJobs(): Promise<readonly JobOverview[]> {
    return this.get('jobs_overview', '/jobs/overview', parseJobsOverview);
  }

  getJobDetails(jobId: string): Promise<JobDetails> {
    return this.get('job_details', `/jobs/${enc(jobId)}`, parseJobDetails, jobId);
  }

  getVertexMetrics(
    jobId: string,
    vertexId: string,
    metricIds: readonly string[],
  ): Promise<readonly MetricValue[]> {
    if (metricIds.length === 0) return Promise.resolve([]);
    return this.get(
      'vertex_metrics',
      `/jobs/${enc(jobId)}/vertices/${enc(vertexId)}/metrics?get=${encodedList(metricIds)}`,
      parseMetricValues,
      jobId,
    );
  }

  listSubtaskMetricNames(jobId: string, vertexId: string): Promise<readonly string[]> {
    return this.get(
      'subtask_metrics',
      `/jobs/${enc(jobId)}/vertices/${enc(vertexId)}/subtasks/metrics`,
      parseMetricNames,
      jobId,
    );
  }

  getAggregatedSubtaskMetrics(
    jobId: string,
    vertexId: string,
    names: readonly string[],
    aggregations: readonly ('min' | 'max' | 'avg' | 'sum')[],
  ): Promise<readonly AggregatedMetric[]> {
    if (names.length === 0) return Promise.resolve([]);
    const agg = aggregations.length > 0 ? `&agg=${aggregations.join(',')}` : '';
    return this.get(
      'subtask_metrics',
      `/jobs/${enc(jobId)}/vertices/${enc(vertexId)}/subtasks/metrics?get=${names.map(enc).join(',')}${agg}`,
      parseAggregatedMetrics,
      jobId,
    );
  }

  listTaskManagers(): Promise<readonly TaskManagerSummary[]> {
    return this.get('taskmanagers', '/taskmanagers', parseTaskManagers);
  }

  getVertexTaskManagers(jobId: string, vertexId: string): Promise<readonly TaskManagerVertexTimes[]> {
    return this.get(
      'vertex_taskmanagers',
      `/jobs/${enc(jobId)}/vertices/${enc(vertexId)}/taskmanagers`,
      parseVertexTaskManagers,
      jobId,
    );
  }

  async getCheckpointConfig(jobId: string): Promise<CheckpointConfig> {
    try {
      // Not marked job-scoped: Flink answers this 404 for a job it runs without a checkpoint
      // coordinator (`CheckpointConfigHandler`), so here it means "no checkpoints", not "no job".
      return await this.get(
        'checkpoint_config',
        `/jobs/${enc(jobId)}/checkpoints/config`,
        parseCheckpointConfig,
      );
    } catch (err) {
      if (err instanceof FlinkHttpError && err.status === 404) return { intervalMs: null };
      throw err;
    }
  }

  getCheckpointStats(jobId: string): Promise<CheckpointStats> {
    return this.get('checkpoints', `/jobs/${enc(jobId)}/checkpoints`, parseCheckpointStats, jobId);
  }

  getResourceRequirements(jobId: string): Promise<ResourceRequirements> {
    return this.get(
      'resource_requirements',
      `/jobs/${enc(jobId)}/resource-requirements`,
      parseResourceRequirements,
      jobId,
    );
  }

  async setResourceRequirements(jobId: string, requirements: ResourceRequirements): Promise<void> {
    // Idempotent: the same PUT again sets the same bounds, so it is retried like a GET.
    await this.get(
      'resource_requirements',
      `/jobs/${enc(jobId)}/resource-requirements`,
      () => undefined,
      jobId,
      JSON.stringify(requirements),
    );
  }

  /**
   * One logical GET with its retries. `jobId` marks a job-scoped endpoint: a 404 there means the job
   * is gone (`FlinkJobNotFoundError`).
   */
  private async get<T>(
    endpoint: FlinkEndpoint,
    path: string,
    parse: (body: unknown, url: string) => T,
    jobId?: string,
    putBody?: string,
  ): Promise<T> {
    const { target } = this;
    if (target instanceof FlinkUnreachableError) throw target;
    const url = `${this.baseUrl}${path}`;
    const requestPath = `${target.basePath}${path}`;
    const { maxRetries, retryInitialDelayMs, retryMaxDelayMs } = this.pool.options;
    for (let attempt = 0; ; attempt += 1) {
      const result = await this.attempt(endpoint, target.origin, requestPath, url, parse, jobId, putBody);
      if (result.ok) return result.value;
      const { failure } = result;
      if (!failure.retryable || attempt >= maxRetries) throw failure.error;
      const ceiling = Math.min(retryMaxDelayMs, retryInitialDelayMs * 2 ** attempt);
      const backoff = ceiling / 2 + (this.pool.random() * ceiling) / 2;
      await this.pool.sleep(Math.min(retryMaxDelayMs, Math.max(backoff, failure.retryAfterMs ?? 0)));
    }
  }

  private async attempt<T>(
    endpoint: FlinkEndpoint,
    origin: HttpOrigin,
    requestPath: string,
    url: string,
    parse: (body: unknown, url: string) => T,
    jobId: string | undefined,
    putBody: string | undefined,
  ): Promise<{ ok: true; value: T } | { ok: false; failure: AttemptFailure }> {
    // The answer's status code and the attempt's time (not its wait for the limiter), for the observer.
    let code: number | 'error' = 'error';
    let seconds = 0;
    const observe = (outcome: FlinkRequestOutcome): void =>
      this.pool.observer?.observeFlinkRequest(endpoint, outcome, { code, seconds });
    const sent = await this.pool.limiter.run(async () => {
      const started = performance.now();
      const result = await this.send(origin, requestPath, url, putBody);
      seconds = (performance.now() - started) / 1000;
      return result;
    });
    if (!sent.ok) {
      const { error } = sent.failure;
      observe(
        error instanceof FlinkTimeoutError
          ? 'timeout'
          : error instanceof FlinkResponseTooLargeError
            ? 'too_large'
            : error instanceof FlinkUnreachableError
              ? 'unreachable'
              : 'bad_response',
      );
      return sent;
    }

    const response = sent.answer;
    const { status } = response;
    code = status;
    if (status >= 200 && status < 300) {
      try {
        if (!isJsonContentType(response.contentType)) {
          throw new FlinkBadResponseError(url, 'an HTML page, not JSON');
        }
        const value = parse(putBody === undefined ? decodeJsonBody(response.body, url) : null, url);
        observe('ok');
        return { ok: true, value };
      } catch (err) {
        observe(
          err instanceof FlinkImplausibleResponseError
            ? 'implausible'
            : err instanceof FlinkResponseTooLargeError
              ? 'too_large'
              : 'bad_response',
        );
        const error =
          err instanceof SlotscalerError ? err : new FlinkBadResponseError(url, String(err), { cause: err });
        return { ok: false, failure: { error, retryable: false, retryAfterMs: null } };
      }
    }
    if (status === 404 && jobId !== undefined) {
      observe('not_found');
      return {
        ok: false,
        failure: {
          error: new FlinkJobNotFoundError(this.baseUrl, jobId),
          retryable: false,
          retryAfterMs: null,
        },
      };
    }
    const retryable = status >= 500 || status === 429;
    observe(status >= 500 ? 'http_5xx' : status === 404 ? 'not_found' : 'http_4xx');
    return {
      ok: false,
      failure: {
        error: new FlinkHttpError(url, status, errorDetail(response.body)),
        retryable,
        retryAfterMs: retryable ? retryAfterMs(response.retryAfter) : null,
      },
    };
  }

  /**
   * One HTTP request, settled once: the answer, or the failure of the attempt. The body is counted
   * while it streams in; past `maxResponseBytes` (or a Content-Length above it) the socket is
   * destroyed at once. The timer bounds the whole attempt, connect to last byte; a timeout after the
   * headers came (a body trickling in, or endless) is not retried: the server answered, slowly on
   * purpose or not.
   */
  private send(
    origin: HttpOrigin,
    requestPath: string,
    url: string,
    putBody?: string,
  ): Promise<{ ok: true; answer: RawAnswer } | { ok: false; failure: AttemptFailure }> {
    const { requestTimeoutMs, maxResponseBytes } = this.pool.options;
    return new Promise((resolve) => {
      const failed = (error: SlotscalerError, retryable: boolean): void => {
        resolve({ ok: false, failure: { error, retryable, retryAfterMs: null } });
      };
      const done = (outcome: ExchangeOutcome): void => {
        clearTimeout(timer);
        switch (outcome.kind) {
          case 'answer':
            resolve({ ok: true, answer: outcome });
            return;
          case 'too-large':
            failed(
              new FlinkResponseTooLargeError(
                url,
                `${outcome.detail}, over the limit of ${maxResponseBytes} bytes (flink-max-response-bytes)`,
              ),
              false,
            );
            return;
          case 'encoded':
            failed(
              new FlinkBadResponseError(url, `a ${outcome.encoding}-encoded answer, which was not asked for`),
              false,
            );
            return;
          case 'failed':
            // A network failure (refused, reset, cut short, not HTTP): tried again.
            failed(new FlinkUnreachableError(this.baseUrl, outcome.detail, { cause: outcome.cause }), true);
            return;
        }
      };
      const exchange = this.pool.connections.send(
        origin,
        putBody === undefined ? 'GET' : 'PUT',
        requestPath,
        putBody,
        maxResponseBytes,
        done,
      );
      const timer = setTimeout(() => {
        // Cancelling destroys the socket: it never goes back to the keep-alive pool.
        exchange.cancel();
        failed(
          new FlinkTimeoutError(this.baseUrl, requestTimeoutMs, { answerStarted: exchange.answerStarted }),
          !exchange.answerStarted,
        );
      }, requestTimeoutMs);
    });
  }
}

/** An answer as read off the wire. */
interface RawAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly retryAfter: string | undefined;
  readonly body: string;
}

function checkUrl(
  baseUrl: string,
): { readonly origin: HttpOrigin; readonly basePath: string } | FlinkUnreachableError {
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    return new FlinkUnreachableError(baseUrl, 'not a URL (expected http://host:port)');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return new FlinkUnreachableError(
      baseUrl,
      `unsupported scheme ${parsed.protocol} (expected http or https)`,
    );
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    return new FlinkUnreachableError(baseUrl, 'the URL must not have a query or fragment');
  }
  return { origin: originOf(parsed), basePath: parsed.pathname.replace(/\/+$/, '') };
}

function enc(part: string): string {
  return encodeURIComponent(part);
}

/**
 * `get=` lists by the array they were encoded from: the snapshot asks for the same array of a
 * source's metric ids every tick (src/flink/snapshot.ts), so each is encoded once.
 */
const ENCODED_LISTS = new WeakMap<readonly string[], string>();

function encodedList(parts: readonly string[]): string {
  let encoded = ENCODED_LISTS.get(parts);
  if (encoded === undefined) {
    encoded = parts.map(enc).join(',');
    ENCODED_LISTS.set(parts, encoded);
  }
  return encoded;
}
