/**
 * The upstream metrics server (KEDA, prometheus-adapter...) that owned
 * `v1beta1.external.metrics.k8s.io` (and, for prometheus-adapter, `v1beta2.custom.metrics.k8s.io`)
 * before Slotscaler: reads of metrics Slotscaler does not own, on either API, are sent there and its
 * answer, or error, is returned unchanged; its resource lists are merged into our discovery. A
 * server that does not serve the custom metrics API answers its discovery with a 404, and adds
 * nothing.
 *
 * Slotscaler calls it as itself (its token or client certificate), after authorizing the caller
 * with its own SubjectAccessReview: the upstream sees Slotscaler's identity, so Slotscaler's
 * ServiceAccount needs read access to external.metrics.k8s.io there. The caller's identity headers
 * are never passed on.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';

import { UpstreamMetricsError } from '../errors.js';
import type { Clock } from '../domain/ports.js';
import type { Logger } from '../observability/logger.js';
import { CUSTOM_GROUP_VERSION, customResourceNamesOf } from './custom-discovery.js';
import { GROUP_VERSION, resourceNamesOf } from './discovery.js';

export interface UpstreamOptions {
  /** Base URL, e.g. `https://keda-operator-metrics-apiserver.keda:443`. */
  readonly url: string;
  /** CA bundle that signs the upstream's serving certificate (PEM file); default: the system roots. */
  readonly caFile?: string;
  /** A bearer token file (a projected ServiceAccount token; read again every minute). */
  readonly tokenFile?: string;
  readonly clientCertFile?: string;
  readonly clientKeyFile?: string;
  /** Timeout of one forwarded read. Default 5 s. */
  readonly timeoutMs?: number;
  /** How long the upstream's resource list is reused. Default 10 s. */
  readonly discoveryTtlMs?: number;
  /** How long discovery waits for a fresh list before answering with what it has. Default 2 s. */
  readonly discoveryTimeoutMs?: number;
}

/** The upstream's answer, passed through as it is. */
export interface UpstreamAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

/** One of the upstream's resource lists as last read, and the read under way. */
interface ResourceList {
  names: { readonly names: readonly string[]; readonly fetchedAtMs: number } | undefined;
  refreshing: Promise<void> | undefined;
}

const TOKEN_REREAD_MS = 60_000;
/** How long a resource list is still served while the upstream is down. */
const STALE_LIST_MAX_AGE_MS = 5 * 60_000;

export class UpstreamClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private token: { readonly value: string; readonly readAtMs: number } | undefined;
  /** The resource lists of the upstream's APIs, by group version: the external one and the custom one. */
  private readonly lists = new Map<string, ResourceList>();

  private constructor(
    private readonly options: UpstreamOptions,
    tls: { ca?: string; cert?: string; key?: string },
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.base = new URL(options.url);
    this.agent =
      this.base.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, maxSockets: 64, ...tls })
        : new http.Agent({ keepAlive: true, maxSockets: 64 });
  }

  static async create(options: UpstreamOptions, clock: Clock, logger: Logger): Promise<UpstreamClient> {
    const read = async (file: string | undefined): Promise<string | undefined> =>
      file === undefined ? undefined : readFile(file, 'utf8');
    const [ca, cert, key] = await Promise.all([
      read(options.caFile),
      read(options.clientCertFile),
      read(options.clientKeyFile),
    ]);
    const tls = {
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
    };
    const client = new UpstreamClient(options, tls, clock, logger);
    if (options.tokenFile !== undefined) await client.bearerToken();
    return client;
  }

  get url(): string {
    return this.options.url;
  }

  /** Sends `GET pathAndQuery`; rejects with an UpstreamMetricsError when there is no answer. */
  async forward(pathAndQuery: string, requestId: string): Promise<UpstreamAnswer> {
    return this.get(pathAndQuery, requestId, this.options.timeoutMs ?? 5_000);
  }

  /**
   * The upstream's external metric names, from a list at most `discoveryTtlMs` old when it can be
   * had within `discoveryTimeoutMs`; otherwise the last list (up to 5 min old), else none. Never throws.
   */
  async metricNames(): Promise<readonly string[]> {
    return this.listedNames(GROUP_VERSION, resourceNamesOf);
  }

  /** The upstream's custom metrics (`<resource>/<metric>`), as `metricNames` reads its external ones. */
  async customResourceNames(): Promise<readonly string[]> {
    return this.listedNames(CUSTOM_GROUP_VERSION, customResourceNamesOf);
  }

  private async listedNames(
    groupVersion: string,
    parse: (document: unknown) => readonly string[],
  ): Promise<readonly string[]> {
    let list = this.lists.get(groupVersion);
    if (list === undefined) {
      list = { names: undefined, refreshing: undefined };
      this.lists.set(groupVersion, list);
    }
    const now = this.clock.nowMs();
    const held = list.names;
    if (held !== undefined && now - held.fetchedAtMs < (this.options.discoveryTtlMs ?? 10_000)) {
      return held.names;
    }
    const current = list;
    current.refreshing ??= this.refreshNames(groupVersion, parse, current).finally(() => {
      current.refreshing = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.discoveryTimeoutMs ?? 2_000);
    });
    await Promise.race([current.refreshing, timeout]);
    clearTimeout(timer);
    const names = current.names;
    if (names === undefined || this.clock.nowMs() - names.fetchedAtMs > STALE_LIST_MAX_AGE_MS) return [];
    return names.names;
  }

  close(): void {
    this.agent.destroy();
  }

  private async refreshNames(
    groupVersion: string,
    parse: (document: unknown) => readonly string[],
    list: ResourceList,
  ): Promise<void> {
    try {
      const answer = await this.get(`/apis/${groupVersion}`, 'discovery', this.options.timeoutMs ?? 5_000);
      // A server without this API (KEDA has no custom metrics) lists nothing of it: not a failure.
      if (answer.status === 404) {
        list.names = { names: [], fetchedAtMs: this.clock.nowMs() };
        return;
      }
      if (answer.status !== 200) {
        this.logger.warn(
          { status: answer.status, upstream: this.options.url, groupVersion },
          'upstream discovery failed',
        );
        return;
      }
      list.names = {
        names: parse(JSON.parse(answer.body.toString('utf8'))),
        fetchedAtMs: this.clock.nowMs(),
      };
    } catch (err) {
      this.logger.warn({ err, upstream: this.options.url, groupVersion }, 'upstream discovery failed');
    }
  }

  private async bearerToken(): Promise<string | undefined> {
    const file = this.options.tokenFile;
    if (file === undefined) return undefined;
    const now = this.clock.nowMs();
    if (this.token === undefined || now - this.token.readAtMs > TOKEN_REREAD_MS) {
      try {
        this.token = { value: (await readFile(file, 'utf8')).trim(), readAtMs: now };
      } catch (err) {
        if (this.token === undefined)
          throw new UpstreamMetricsError(this.options.url, `cannot read ${file}`, { cause: err });
        this.logger.warn({ err, file }, 'cannot read the upstream token file again; using the last token');
      }
    }
    return this.token.value;
  }

  private async get(pathAndQuery: string, requestId: string, timeoutMs: number): Promise<UpstreamAnswer> {
    const token = await this.bearerToken();
    const url = new URL(pathAndQuery, this.base);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<UpstreamAnswer>((resolve, reject) => {
      const request = transport.request(
        url,
        {
          method: 'GET',
          agent: this.agent,
          timeout: timeoutMs,
          headers: {
            accept: 'application/json',
            'audit-id': requestId,
            ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', (err) =>
            reject(new UpstreamMetricsError(this.options.url, 'the answer broke off', { cause: err })),
          );
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 502,
              contentType: response.headers['content-type'],
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      request.on('timeout', () =>
        request.destroy(new UpstreamMetricsError(this.options.url, `no answer within ${timeoutMs} ms`)),
      );
      request.on('error', (err) =>
        reject(
          err instanceof UpstreamMetricsError
            ? err
            : new UpstreamMetricsError(this.options.url, err.message, { cause: err }),
        ),
      );
      request.end();
    });
  }
}
