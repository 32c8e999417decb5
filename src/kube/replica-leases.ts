/**
 * Membership of the replicas that share the targets: each replica holds a coordination.k8s.io/v1
 * Lease of its own, labelled with the replica set's name, and renews it; the replicas whose Leases
 * are held and unexpired are the live ones.
 *
 * Expiry follows client-go's leader election (k8s.io/client-go/tools/leaderelection): another
 * replica's Lease is live until this replica has seen it unchanged for its `leaseDurationSeconds`
 * by its own clock (the holder's timestamps are not trusted across clocks). A replica counts itself
 * live only while its last renewal is younger than `renewDeadlineMs` by its own clock, which is
 * shorter than the lease duration: it stops writing before anyone else may take its targets. A
 * renewal counts only once this replica's own watch has brought it back: a replica whose watch has
 * stalled would not see a joiner take its targets, nor the others renew (and would take theirs), so
 * it fences itself too until the watch delivers again.
 *
 * One watch (a label selector) brings every replica's Lease; only the holder writes its own. A
 * Lease left by a replica that is gone for good (a Deployment's pod names change on every restart)
 * is deleted by any replica once it has been unchanged for `GC_AFTER_DURATIONS` lease durations.
 */
import type { Clock } from '../domain/ports.js';
import type { Logger } from '../observability/logger.js';
import { RepeatLimiter } from '../observability/repeat-limiter.js';
import { microTime } from './events.js';
import { Informer } from './informer.js';
import type { KubeClient } from './kube-client.js';
import { statusMessage } from './kube-client.js';
import { leaseDurationSeconds, leaseObject, leasesPath, renewDeadlineMs, renewIntervalMs } from './lease.js';
import type { LeaseSpec, LeaseTimingOptions } from './lease.js';
import type { KubeObject } from './objects.js';

/** The label that puts a replica's Lease in its replica set. */
export const REPLICA_SET_LABEL = 'slotscaler.dev/replica-set';

/**
 * The annotation of a replica's Lease that says where the other replicas fetch the records of its
 * targets (`host:port`, src/runtime/peer-records.ts): the Lease is what they already watch, so the
 * address comes and goes with the replica.
 */
export const PEER_ADDRESS_ANNOTATION = 'slotscaler.dev/peer-address';

/** A Lease unchanged for this many of its durations belongs to a replica gone for good: deleted. */
export const GC_AFTER_DURATIONS = 5;

export interface ReplicaLeasesOptions extends LeaseTimingOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  /** The replica set: the label value, and the prefix of each replica's Lease name. */
  readonly replicaSet: string;
  readonly identity: string;
  /** Where the others reach this replica's records (`host:port`), written into its Lease; none: not shared. */
  readonly peerAddress?: string;
  /** How often the local state is checked (no API call unless renewing). Default 500 ms. */
  readonly checkIntervalMs?: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called when the set of live replicas changes (by a watch event or an expiry). */
  readonly onChange?: () => void;
}

/** A Lease name for a replica: the set's name and the identity, as a DNS subdomain. */
export function replicaLeaseName(replicaSet: string, identity: string): string {
  const cleaned = identity
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return `${replicaSet}-${cleaned}`.slice(0, 253).replace(/[^a-z0-9]+$/, '');
}

export class ReplicaLeases {
  private readonly informer: Informer;
  private readonly collection: string;
  private readonly name: string;
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private stopped = false;
  /** When this replica last renewed its Lease (its clock); 0: never. */
  private lastRenewMs = 0;
  /** The answer of this replica's last write of its Lease: the version the next renewal is guarded by. */
  private own: KubeObject | undefined;
  /** The last renewal not yet seen back through the watch. */
  private awaitingEcho: { readonly renewTime: string; readonly renewedAtMs: number } | null = null;
  /** When the last renewal the watch brought back was sent (this replica's clock); 0: none. */
  private echoedRenewMs = 0;
  /** Per Lease name, its record as last seen and when (this replica's clock) it last changed. */
  private readonly observed = new Map<string, { key: string; atMs: number }>();
  private lastLive = '';
  private readonly failureLog = new RepeatLimiter(60_000);
  /** Per Lease name, when this replica last tried to delete it: one try per lease duration. */
  private readonly gcTriedAtMs = new Map<string, number>();

  constructor(private readonly options: ReplicaLeasesOptions) {
    this.collection = leasesPath(options.namespace);
    this.name = replicaLeaseName(options.replicaSet, options.identity);
    this.informer = new Informer(options.client, {
      path: this.collection,
      labelSelector: `${REPLICA_SET_LABEL}=${options.replicaSet}`,
      logger: options.logger,
      onEvent: (type, object) => {
        if (object.metadata.name === this.name) this.ownSeen(type, object);
        this.observe();
      },
    });
  }

  get identity(): string {
    return this.options.identity;
  }

  /** This replica's own Lease was renewed, and seen renewed through the watch, recently enough to act on: its fence. */
  holds(): boolean {
    return (
      this.echoedRenewMs > 0 &&
      this.options.clock.nowMs() - this.echoedRenewMs < renewDeadlineMs(this.options)
    );
  }

  /** The identities of the live replicas: this one while it holds its Lease, the others until theirs expire. */
  live(): ReadonlySet<string> {
    const nowMs = this.options.clock.nowMs();
    const live = new Set<string>();
    for (const lease of this.informer.list()) {
      const name = lease.metadata.name;
      const spec = lease.spec as LeaseSpec | undefined;
      const holder = spec?.holderIdentity ?? '';
      if (holder === '' || name === this.name) continue;
      const seen = this.observed.get(name);
      const durationMs = (spec?.leaseDurationSeconds ?? 0) * 1000;
      if (seen !== undefined && nowMs - seen.atMs < durationMs) live.add(holder);
    }
    if (this.holds()) live.add(this.options.identity);
    return live;
  }

  /** The live replicas other than this one that publish an address, by identity. */
  peerAddresses(): ReadonlyMap<string, string> {
    const live = this.live();
    const out = new Map<string, string>();
    for (const lease of this.informer.list()) {
      if (lease.metadata.name === this.name) continue;
      const holder = (lease.spec as LeaseSpec | undefined)?.holderIdentity ?? '';
      const address = lease.metadata.annotations?.[PEER_ADDRESS_ANNOTATION];
      if (holder !== '' && live.has(holder) && address !== undefined && address !== '')
        out.set(holder, address);
    }
    return out;
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
    if (this.stopped) return;
    this.observe();
    this.timer = setInterval(() => void this.check(), this.options.checkIntervalMs ?? 500);
    this.timer.unref();
    await this.check();
  }

  /** Stops; deletes this replica's Lease so the others take its targets at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    while (this.checking) await new Promise((resolve) => setTimeout(resolve, 20));
    this.echoedRenewMs = 0;
    const own = this.own ?? this.informer.get(this.options.namespace, this.name);
    if (own !== undefined) {
      await this.options.client
        .request({
          method: 'DELETE',
          path: `${this.collection}/${encodeURIComponent(this.name)}`,
          body: { preconditions: { uid: own.metadata.uid } },
        })
        .catch(() => undefined);
    }
    await this.informer.stop();
  }

  private observe(): void {
    const nowMs = this.options.clock.nowMs();
    const names = new Set<string>();
    for (const lease of this.informer.list()) {
      const name = lease.metadata.name;
      names.add(name);
      const spec = lease.spec as LeaseSpec | undefined;
      const key = JSON.stringify([spec?.holderIdentity, spec?.renewTime, spec?.leaseDurationSeconds]);
      if (this.observed.get(name)?.key !== key) this.observed.set(name, { key, atMs: nowMs });
    }
    for (const name of this.observed.keys()) if (!names.has(name)) this.observed.delete(name);
    this.notifyIfChanged();
  }

  private notifyIfChanged(): void {
    const live = [...this.live()].sort().join('\n');
    if (live === this.lastLive) return;
    this.lastLive = live;
    this.options.logger.info({ identity: this.options.identity, live: live.split('\n') }, 'live replicas');
    this.options.onChange?.();
  }

  /** Renew (or create) this replica's Lease when due, delete Leases gone for good. Never throws, never overlaps. */
  private async check(): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    try {
      const nowMs = this.options.clock.nowMs();
      if (this.lastRenewMs === 0 || nowMs - this.lastRenewMs >= renewIntervalMs(this.options))
        await this.renew(nowMs);
      await this.collectGarbage(nowMs);
    } catch (err) {
      this.warn(
        `check:${err instanceof Error ? err.message : String(err)}`,
        { err },
        'replica Lease step failed',
      );
    } finally {
      this.checking = false;
    }
    // Expiries happen with no event: look at the live set on every check.
    this.notifyIfChanged();
  }

  /** This replica's own Lease as the watch brought it: a renewal seen back, or the Lease gone. */
  private ownSeen(type: 'added' | 'updated' | 'deleted', object: KubeObject): void {
    if (type === 'deleted') {
      // Gone for the others at once (their rings drop it): no fence until it is renewed again.
      this.own = undefined;
      this.echoedRenewMs = 0;
      this.awaitingEcho = null;
      return;
    }
    const renewTime = (object.spec as LeaseSpec | undefined)?.renewTime;
    if (this.awaitingEcho !== null && renewTime === this.awaitingEcho.renewTime) {
      this.echoedRenewMs = this.awaitingEcho.renewedAtMs;
      this.awaitingEcho = null;
    }
  }

  private async renew(nowMs: number): Promise<void> {
    const own = this.own ?? this.informer.get(this.options.namespace, this.name);
    const spec: LeaseSpec = {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: leaseDurationSeconds(this.options),
      renewTime: microTime(nowMs),
      ...(own === undefined || this.lastRenewMs === 0
        ? { acquireTime: microTime(nowMs) }
        : { acquireTime: (own.spec as LeaseSpec | undefined)?.acquireTime ?? microTime(nowMs) }),
    };
    const annotations =
      this.options.peerAddress === undefined
        ? own?.metadata.annotations
        : { ...own?.metadata.annotations, [PEER_ADDRESS_ANNOTATION]: this.options.peerAddress };
    const metadata = {
      ...(own === undefined
        ? {
            name: this.name,
            namespace: this.options.namespace,
            labels: { [REPLICA_SET_LABEL]: this.options.replicaSet },
          }
        : own.metadata),
      ...(annotations === undefined ? {} : { annotations }),
    };
    // Expected back before the answer is read: the watch may bring the write first. A write that
    // failed brings nothing back; one whose answer was lost but that went through does, rightly.
    this.awaitingEcho = { renewTime: spec.renewTime ?? '', renewedAtMs: nowMs };
    const answer = await this.options.client.request({
      ...(own === undefined
        ? { method: 'POST', path: this.collection }
        : { method: 'PUT', path: `${this.collection}/${encodeURIComponent(this.name)}` }),
      body: leaseObject(metadata, spec),
    });
    if (answer.status === 200 || answer.status === 201) {
      // Not put into the watch's cache: the watch must bring it back itself (see holds()).
      this.own = answer.body as KubeObject;
      this.lastRenewMs = nowMs;
      return;
    }
    // 409: our copy is old (or the Lease was left by a process of the same name): the next check
    // renews on the watch's copy. 404: deleted under us; created again once the watch says so.
    if (answer.status === 409 || answer.status === 404) this.own = undefined;
    if (answer.status !== 409 && answer.status !== 404) {
      this.warn(
        `renew:${answer.status}`,
        { status: answer.status, message: statusMessage(answer.body) },
        'cannot renew the replica Lease',
      );
    }
  }

  private async collectGarbage(nowMs: number): Promise<void> {
    for (const lease of this.informer.list()) {
      const name = lease.metadata.name;
      if (name === this.name) continue;
      const seen = this.observed.get(name);
      const durationMs = ((lease.spec as LeaseSpec | undefined)?.leaseDurationSeconds ?? 1) * 1000;
      if (seen === undefined || nowMs - seen.atMs < GC_AFTER_DURATIONS * durationMs) continue;
      if (nowMs - (this.gcTriedAtMs.get(name) ?? -Infinity) < durationMs) continue;
      this.gcTriedAtMs.set(name, nowMs);
      // Guarded by the resourceVersion: a replica that came back and renewed keeps its Lease.
      const answer = await this.options.client.request({
        method: 'DELETE',
        path: `${this.collection}/${encodeURIComponent(name)}`,
        body: { preconditions: { resourceVersion: lease.metadata.resourceVersion } },
      });
      if (answer.status === 200 || answer.status === 404) {
        this.options.logger.info({ lease: name }, 'deleted the Lease of a replica gone for good');
        this.observed.delete(name);
        this.gcTriedAtMs.delete(name);
      }
    }
  }

  private warn(cause: string, fields: Record<string, unknown>, message: string): void {
    const heldBack = this.failureLog.admit(cause, this.options.clock.nowMs());
    if (heldBack === null) return;
    this.options.logger.warn({ ...fields, lease: this.name, heldBack }, message);
  }
}
