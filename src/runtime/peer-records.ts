/**
 * With shards, any replica answers a metrics read of any target: each replica serves the records of
 * the targets it owns (its published snapshot's records) to the other replicas over HTTPS with
 * mutual TLS, fetches theirs, and the metrics API reads the merge of its own snapshot and theirs.
 *
 * Records are pulled, not pushed, and not forwarded per read: a read stays a lookup in memory (the
 * metrics API's latency does not depend on the pod network), a selector that spans the targets of
 * several replicas needs no fan-out, and a replica asks only the peers it sees live in their Leases,
 * at the addresses they wrote there, so it never has to trust a sender's claim to be a member. A
 * poll whose peer has published nothing new is answered 304 (the tick is the ETag), so asking every
 * half tick costs a few hundred bytes. A dead replica's last records keep answering reads during the
 * move until its targets' own `metrics-max-age` marks them stale, or its successor publishes newer.
 *
 * Trust: a peer, as server and as client, must show a certificate signed by the peer CA
 * (`peer-tls-ca-file`), which signs nothing else. The peers are reached by pod IP, which changes at
 * every restart, so the server's name is not checked against its certificate: the CA is the
 * identity of the replica set.
 */
import { randomBytes } from 'node:crypto';
import { Agent, createServer, request } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';

import { z } from 'zod';

import { MetricsSnapshot } from '../domain/metrics-snapshot.js';
import { isAvailable } from '../domain/metrics.js';
import type { ServedTarget } from '../domain/metrics.js';
import type { Clock, MetricsSnapshotSource } from '../domain/ports.js';
import type { Logger } from '../observability/logger.js';
import type { PeerRecordsObserver } from '../observability/metrics.js';
import { RepeatLimiter } from '../observability/repeat-limiter.js';

/** The path a replica serves its records on. */
export const PEER_RECORDS_PATH = '/v1/records';

/**
 * The serving replica's clock (epoch ms) when it answered. The records' times are on that clock;
 * the receiver moves them onto its own by the difference (network latency aside), so a peer whose
 * clock runs ahead neither wins over newer records nor keeps its own past their freshness.
 */
const CLOCK_HEADER = 'slotscaler-clock-ms';

/** A record with its times moved by `offsetMs` (onto the receiver's clock). */
function shifted(record: ServedTarget, offsetMs: number): ServedTarget {
  if (offsetMs === 0) return record;
  const move = (ms: number | null): number | null => (ms === null ? null : ms + offsetMs);
  return {
    ...record,
    timestampMs: move(record.timestampMs),
    freshUntilMs: move(record.freshUntilMs),
    ...(record.pods === undefined
      ? {}
      : {
          pods: record.pods.map((pod) => ({
            ...pod,
            timestampMs: pod.timestampMs + offsetMs,
            freshUntilMs: pod.freshUntilMs + offsetMs,
          })),
        }),
  };
}

/** Of two records of one target, the one to serve: see `mergeRecords`. */
export function preferredRecord(a: ServedTarget, b: ServedTarget): ServedTarget {
  const aJudges = judges(a);
  if (aJudges !== judges(b)) return aJudges ? a : b;
  return (b.timestampMs ?? -Infinity) > (a.timestampMs ?? -Infinity) ? b : a;
}

/** Unavailable for want of samples (a window warming, or no window here), not for anything the job did. */
const WANT_OF_SAMPLES: ReadonlySet<string> = new Set([
  'no-data',
  'not-enough-samples',
  'input-unavailable',
  'stale',
]);

/** The record says something of its job (a value, or a reason the job gave), not only that its window is too young. */
function judges(record: ServedTarget): boolean {
  return Object.values(record.metrics).some(
    (reading) => isAvailable(reading) || !WANT_OF_SAMPLES.has(reading.unavailable),
  );
}

/**
 * This replica's snapshot, each record replaced by the best one known of its target (`known`: its
 * own and its peers', kept until stale): a record that says something of the job before one whose
 * window is only warming, then the newest sample. A replica's own record of a target it does not
 * own has no sample, so the owner's wins; during a move the former owner's last values are kept
 * over the new owner's warming window, until the new owner has a value or a reason of its own (the
 * metrics API still refuses them once past their `freshUntilMs`). Only the targets this replica
 * knows of are served, with its own labels: a target gone from its informer is gone.
 */
export function mergeRecords(
  own: MetricsSnapshot,
  known: ReadonlyMap<string, ServedTarget>,
): MetricsSnapshot {
  const records = own.targets.map((record) => {
    const other = known.get(record.id);
    if (other === undefined || other === record || preferredRecord(record, other) === record) return record;
    return { ...other, labels: record.labels, object: record.object };
  });
  return new MetricsSnapshot(records, { tick: own.tick, builtAtMs: own.builtAtMs });
}

const readingSchema = z.union([
  z.object({ value: z.number() }).strict(),
  z.object({ unavailable: z.string(), detail: z.string().optional() }).strict(),
]);
const labelsSchema = z.record(z.string(), z.string());
const recordSchema = z.object({
  id: z.string(),
  kind: z.string(),
  namespace: z.string(),
  name: z.string(),
  jobId: z.string().nullable(),
  windowSeconds: z.number(),
  timestampMs: z.number().nullable(),
  freshUntilMs: z.number().nullable(),
  metrics: z.record(z.string(), readingSchema),
  object: z.object({ apiVersion: z.string(), kind: z.string(), resource: z.string() }),
  labels: labelsSchema,
  pods: z
    .array(
      z.object({
        name: z.string(),
        labels: labelsSchema,
        timestampMs: z.number(),
        windowSeconds: z.number(),
        freshUntilMs: z.number(),
        metrics: z.record(z.string(), readingSchema),
      }),
    )
    .optional(),
});
const answerSchema = z.object({ identity: z.string(), records: z.array(recordSchema) });

/** The PEM files of `peer-tls-*`, read. */
export interface PeerTls {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
}

export interface PeerRecordsOptions {
  readonly identity: string;
  /** This replica's published snapshot. */
  readonly own: MetricsSnapshotSource;
  /** This replica owns the target now: only those records are handed out. */
  readonly owns: (targetId: string) => boolean;
  /** The live peers (not this replica) and their `host:port`, from their Leases. */
  readonly peers: () => ReadonlyMap<string, string>;
  readonly tls: PeerTls;
  readonly port: number;
  readonly host?: string;
  /** How often each peer is asked (half a tick: a peer's tick is seen within half a tick of it). */
  readonly pollIntervalMs: number;
  /** Per request, connection included. */
  readonly requestTimeoutMs: number;
  /** Largest answer read from a peer; beyond it the answer is dropped. */
  readonly maxResponseBytes: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Counts each fetch by its result (`slotscaler_peer_fetches_total`). */
  readonly observer?: PeerRecordsObserver;
}

/** This replica's records served to its peers, theirs fetched, and the merge of both. */
export class PeerRecords implements MetricsSnapshotSource {
  private readonly server: Server;
  private readonly agent: Agent;
  /** Changes at every start, so that a peer's ETag of a former process never matches. */
  private readonly boot = randomBytes(4).toString('hex');
  /** Per peer, the ETag of its last answer. */
  private readonly etags = new Map<string, string>();
  /** Per target, the best record known (this replica's and its peers'), until it is stale. */
  private readonly known = new Map<string, ServedTarget>();
  /** The own snapshot last taken into `known`. */
  private absorbed: MetricsSnapshot | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private generation = 0;
  private merged: { own: MetricsSnapshot; generation: number; snapshot: MetricsSnapshot } | null = null;
  private served: { own: MetricsSnapshot; body: string; etag: string } | null = null;
  private readonly failureLog = new RepeatLimiter(60_000);

  constructor(private readonly options: PeerRecordsOptions) {
    const { tls } = options;
    this.server = createServer(
      {
        cert: tls.certPem,
        key: tls.keyPem,
        ca: tls.caPem,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
      },
      (req, res) => {
        if (req.method !== 'GET' || req.url !== PEER_RECORDS_PATH) {
          res.writeHead(404).end();
          return;
        }
        const { body, etag } = this.ownRecords();
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304, { etag }).end();
          return;
        }
        res
          .writeHead(200, {
            'content-type': 'application/json',
            etag,
            [CLOCK_HEADER]: String(this.options.clock.nowMs()),
          })
          .end(body);
      },
    );
    this.server.headersTimeout = options.requestTimeoutMs;
    this.server.requestTimeout = options.requestTimeoutMs;
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      cert: tls.certPem,
      key: tls.keyPem,
      ca: tls.caPem,
      minVersion: 'TLSv1.3',
      // Pod IPs are in no certificate: the peer CA alone says who is a replica.
      checkServerIdentity: () => undefined,
    });
  }

  /** Listens; resolves to the port (useful with port 0). */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.timer = setInterval(() => void this.poll(), this.options.pollIntervalMs);
    this.timer.unref();
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** This replica's snapshot with its peers' records (the same object until either changes). */
  snapshot(): MetricsSnapshot {
    const own = this.options.own.snapshot();
    if (this.absorbed !== own) {
      this.absorbed = own;
      for (const record of own.targets) this.absorb(record);
    }
    const cached = this.merged;
    if (cached?.own === own && cached.generation === this.generation) return cached.snapshot;
    const snapshot = mergeRecords(own, this.known);
    this.merged = { own, generation: this.generation, snapshot };
    return snapshot;
  }

  private absorb(record: ServedTarget): void {
    if (record.timestampMs === null) return;
    const kept = this.known.get(record.id);
    const best = kept === undefined ? record : preferredRecord(kept, record);
    if (best === kept) return;
    this.known.set(record.id, best);
    this.generation += 1;
  }

  /** Asks every live peer for its records once; never throws, never overlaps. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const peers = this.options.peers();
      await Promise.all([...peers].map(([identity, address]) => this.fetchFrom(identity, address)));
      for (const identity of this.etags.keys()) if (!peers.has(identity)) this.etags.delete(identity);
      // A record is kept, whoever sent it, until it is stale: its target may not be collected again yet.
      const nowMs = this.options.clock.nowMs();
      for (const [id, record] of this.known) {
        if ((record.freshUntilMs ?? -Infinity) <= nowMs) {
          this.known.delete(id);
          this.generation += 1;
        }
      }
    } finally {
      this.polling = false;
    }
  }

  private ownRecords(): { body: string; etag: string } {
    const own = this.options.own.snapshot();
    if (this.served?.own === own) return this.served;
    const records = own.targets.filter((record) => this.options.owns(record.id));
    const body = JSON.stringify({ identity: this.options.identity, records });
    this.served = { own, body, etag: `"${this.boot}-${own.tick}"` };
    return this.served;
  }

  private async fetchFrom(identity: string, address: string): Promise<void> {
    try {
      const answer = await this.get(address, this.etags.get(identity));
      if (answer === 'not-modified') {
        this.options.observer?.observePeerFetch('not_modified');
        return;
      }
      const parsed = answerSchema.parse(JSON.parse(answer.body));
      if (parsed.identity !== identity) throw new Error(`answered as ${parsed.identity}`);
      const offsetMs = answer.clockMs === null ? 0 : answer.receivedAtMs - answer.clockMs;
      for (const record of parsed.records as readonly ServedTarget[]) this.absorb(shifted(record, offsetMs));
      this.etags.set(identity, answer.etag);
      this.options.observer?.observePeerFetch('updated');
    } catch (err) {
      this.options.observer?.observePeerFetch('failed');
      const cause = `${identity}:${err instanceof Error ? err.message : String(err)}`;
      const heldBack = this.failureLog.admit(cause, this.options.clock.nowMs());
      if (heldBack !== null)
        this.options.logger.warn(
          { err, peer: identity, address, heldBack },
          'cannot fetch the records of a peer',
        );
    }
  }

  private get(
    address: string,
    etag: string | undefined,
  ): Promise<'not-modified' | { body: string; etag: string; clockMs: number | null; receivedAtMs: number }> {
    const { hostname, port } = new URL(`https://${address}`);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: hostname.replace(/^\[|\]$/g, ''),
          port,
          path: PEER_RECORDS_PATH,
          method: 'GET',
          headers: etag === undefined ? {} : { 'if-none-match': etag },
        },
        (res) => {
          if (res.statusCode === 304) {
            res.resume();
            resolve('not-modified');
            return;
          }
          if (res.statusCode !== 200) {
            res.resume();
            reject(new Error(`status ${String(res.statusCode)}`));
            return;
          }
          const chunks: Buffer[] = [];
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > this.options.maxResponseBytes) {
              req.destroy(new Error(`answer larger than ${this.options.maxResponseBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          const clock = Number(res.headers[CLOCK_HEADER]);
          const receivedAtMs = this.options.clock.nowMs();
          res.on('end', () =>
            resolve({
              body: Buffer.concat(chunks).toString('utf8'),
              etag: res.headers.etag ?? '',
              clockMs: Number.isFinite(clock) && clock > 0 ? clock : null,
              receivedAtMs,
            }),
          );
          res.on('error', reject);
        },
      );
      // A deadline on the whole request, not only on an idle socket: a peer that trickles is cut too.
      const deadline = setTimeout(() => req.destroy(new Error('timed out')), this.options.requestTimeoutMs);
      req.on('close', () => clearTimeout(deadline));
      req.on('error', reject);
      req.end();
    });
  }
}
