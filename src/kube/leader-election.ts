/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics
 * (k8s.io/client-go/tools/leaderelection): a holder renews the Lease; a candidate takes it over once
 * it has seen no change to the Lease for `leaseDurationSeconds` (its own clock: the holder's
 * timestamps are not trusted across clocks). Every write is guarded by the resourceVersion, so two
 * candidates cannot both win.
 *
 * Unlike client-go, candidates do not poll the Lease with GETs: they watch it (one watch stream),
 * and only the holder writes (a renewal every `renewIntervalMs`). A holder that has not renewed for
 * `renewDeadlineMs` considers itself no longer leader before anyone else may take over.
 */
import type { Clock } from '../domain/ports.js';
import type { Logger } from '../observability/logger.js';
import { RepeatLimiter } from '../observability/repeat-limiter.js';
import { Informer } from './informer.js';
import type { KubeClient } from './kube-client.js';
import { statusMessage } from './kube-client.js';
import { microTime } from './events.js';
import { leaseDurationSeconds, leaseObject, leasesPath, renewDeadlineMs, renewIntervalMs } from './lease.js';
import type { LeaseSpec, LeaseTimingOptions } from './lease.js';
import type { KubeObject } from './objects.js';

/**
 * Whether this replica may write now. Real: `LeaseElector` (one leader writes every target),
 * `ShardOwnership` (each target has its owner among the replicas); `alwaysLeader` when election is
 * off.
 */
export interface LeaderState {
  /**
   * With a target id: whether this replica may write that target. Without: whether it does the
   * cluster-wide duties (the APIService's CA bundle), which one replica does at a time.
   */
  isLeader(targetId?: string): boolean;
}

export const alwaysLeader: LeaderState = { isLeader: () => true };

export interface LeaseElectorOptions extends LeaseTimingOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  /** How often the local state is checked (no API call unless acquiring or renewing). Default 500 ms. */
  readonly checkIntervalMs?: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called (and awaited) once leadership is won, before `isLeader()` answers true. */
  readonly onStartedLeading?: () => Promise<void> | void;
  readonly onStoppedLeading?: () => void;
}

export class LeaseElector implements LeaderState {
  private readonly informer: Informer;
  private readonly path: string;
  private timer: NodeJS.Timeout | null = null;
  private tryInFlight = false;
  private leader = false;
  private lastRenewMs = 0;
  /** The Lease record as last seen, and when (our clock) it last changed. */
  private observed: { key: string; atMs: number } | null = null;
  private stopped = false;
  /** Failed steps in a row, and their log lines: one per cause per minute while the API server is away. */
  private failedSteps = 0;
  private readonly failureLog = new RepeatLimiter(60_000);
  /** Transitions won by this replica, for tests. */
  wins = 0;

  constructor(private readonly options: LeaseElectorOptions) {
    const collection = leasesPath(options.namespace);
    this.path = `${collection}/${encodeURIComponent(options.name)}`;
    this.informer = new Informer(options.client, {
      path: collection,
      fieldSelector: `metadata.name=${options.name}`,
      logger: options.logger,
      onEvent: () => {
        this.observe();
      },
    });
  }

  get identity(): string {
    return this.options.identity;
  }

  isLeader(): boolean {
    if (!this.leader) return false;
    return this.options.clock.nowMs() - this.lastRenewMs < renewDeadlineMs(this.options);
  }

  /** The holder named by the Lease as last seen. */
  holder(): string | undefined {
    return this.spec()?.holderIdentity;
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
    // Stopped while the first LIST was in flight: no checks start after stop().
    if (this.stopped) return;
    this.observe();
    this.timer = setInterval(() => void this.check(), this.options.checkIntervalMs ?? 500);
    this.timer.unref();
    await this.check();
  }

  /** Stops; a leader releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    while (this.tryInFlight) await new Promise((resolve) => setTimeout(resolve, 20));
    if (this.leader) this.setLeader(false);
    // Released whenever it names us: also when a take-over won just as we were stopping, which
    // never made us leader here but would leave the others waiting a whole lease duration.
    const lease = this.current();
    if (lease !== undefined && this.spec()?.holderIdentity === this.options.identity) {
      // client-go's ReleaseOnCancel: an empty holder and a 1 s duration, the transitions kept.
      await this.put(lease, {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        renewTime: microTime(this.options.clock.nowMs()),
        leaseTransitions: this.spec()?.leaseTransitions ?? 0,
      }).catch(() => undefined);
    }
    await this.informer.stop();
  }

  private current(): KubeObject | undefined {
    return this.informer.get(this.options.namespace, this.options.name);
  }

  private spec(): LeaseSpec | undefined {
    return this.current()?.spec as LeaseSpec | undefined;
  }

  private observe(): void {
    const spec = this.spec();
    const key = JSON.stringify([
      spec?.holderIdentity,
      spec?.renewTime,
      spec?.leaseTransitions,
      spec?.leaseDurationSeconds,
    ]);
    if (this.observed?.key !== key) this.observed = { key, atMs: this.options.clock.nowMs() };
  }

  private setLeader(leader: boolean): void {
    if (this.leader === leader) return;
    this.leader = leader;
    if (leader) {
      this.wins += 1;
      this.options.logger.info(
        { identity: this.options.identity, lease: this.options.name },
        'became leader',
      );
    } else {
      this.options.logger.info(
        { identity: this.options.identity, lease: this.options.name },
        'no longer leader',
      );
      this.options.onStoppedLeading?.();
    }
  }

  /** One look at the Lease: renew it, take it over, or wait. Never throws, never overlaps. */
  private async check(): Promise<void> {
    if (this.tryInFlight || this.stopped) return;
    this.tryInFlight = true;
    const failedBefore = this.failedSteps;
    try {
      await this.checkOnce();
      // A step that wrote nothing, or whose write went through, ends a run of failures.
      if (this.failedSteps > 0 && this.failedSteps === failedBefore) {
        this.options.logger.info(
          { lease: this.options.name, failedSteps: this.failedSteps },
          'leader election steps succeed again',
        );
        this.failedSteps = 0;
        this.failureLog.forget();
      }
    } catch (err) {
      this.failedSteps += 1;
      this.warnFailure(
        `step:${err instanceof Error ? err.message : String(err)}`,
        { err, failedSteps: this.failedSteps },
        'leader election step failed',
      );
    } finally {
      this.tryInFlight = false;
    }
    if (this.leader && !this.isLeader()) this.setLeader(false);
  }

  private async checkOnce(): Promise<void> {
    const now = this.options.clock.nowMs();
    const lease = this.current();
    const spec = this.spec();
    const me = this.options.identity;
    if (lease === undefined) {
      if (!this.informer.hasSynced) return;
      await this.create(now);
      return;
    }
    const holder = spec?.holderIdentity ?? '';
    if (holder === me) {
      if (!this.leader) {
        // We hold it (say, from before a restart): carry on as leader after the usual checks.
        if (await this.renew(lease, now)) await this.becomeLeader(now);
        return;
      }
      if (now - this.lastRenewMs >= renewIntervalMs(this.options)) await this.renew(lease, now);
      return;
    }
    if (this.leader) this.setLeader(false);
    const durationMs = (spec?.leaseDurationSeconds ?? leaseDurationSeconds(this.options)) * 1000;
    const expired = holder === '' || (this.observed !== null && now - this.observed.atMs >= durationMs);
    if (!expired) return;
    const taken = await this.put(lease, {
      holderIdentity: me,
      leaseDurationSeconds: leaseDurationSeconds(this.options),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (spec?.leaseTransitions ?? 0) + 1,
    });
    if (taken) {
      this.lastRenewMs = now;
      await this.becomeLeader(now);
    }
  }

  private async becomeLeader(now: number): Promise<void> {
    this.lastRenewMs = now;
    await this.options.onStartedLeading?.();
    if (!this.stopped) this.setLeader(true);
  }

  private async renew(lease: KubeObject, now: number): Promise<boolean> {
    const ok = await this.put(lease, { ...(lease.spec as LeaseSpec), renewTime: microTime(now) });
    if (ok) this.lastRenewMs = now;
    return ok;
  }

  private async create(now: number): Promise<void> {
    const answer = await this.options.client.request({
      method: 'POST',
      path: leasesPath(this.options.namespace),
      body: leaseObject(
        { name: this.options.name, namespace: this.options.namespace },
        {
          holderIdentity: this.options.identity,
          leaseDurationSeconds: leaseDurationSeconds(this.options),
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      ),
    });
    if (answer.status === 201 || answer.status === 200) {
      this.adopt(answer.body);
      await this.becomeLeader(now);
    } else if (answer.status !== 409) {
      this.failedSteps += 1;
      this.warnFailure(
        `create:${answer.status}`,
        { status: answer.status, message: statusMessage(answer.body) },
        'cannot create the Lease',
      );
    }
  }

  /** An update guarded by the resourceVersion we saw; false when someone else got there first. */
  private async put(lease: KubeObject, spec: LeaseSpec): Promise<boolean> {
    const answer = await this.options.client.request({
      method: 'PUT',
      path: this.path,
      body: leaseObject(lease.metadata, spec),
    });
    if (answer.status === 200) {
      this.adopt(answer.body);
      return true;
    }
    if (answer.status !== 409) {
      this.failedSteps += 1;
      this.warnFailure(
        `update:${answer.status}`,
        { status: answer.status, message: statusMessage(answer.body) },
        'cannot update the Lease',
      );
    }
    return false;
  }

  /** A warning for a failure that may last (the API server away): once per cause per minute, with the count held back. */
  private warnFailure(cause: string, fields: Record<string, unknown>, message: string): void {
    const heldBack = this.failureLog.admit(cause, this.options.clock.nowMs());
    if (heldBack === null) return;
    this.options.logger.warn({ ...fields, lease: this.options.name, heldBack }, message);
  }

  /** Our own write's answer is the newest Lease: use it before the watch brings it. */
  private adopt(body: unknown): void {
    this.informer.inject(body);
    this.observe();
  }
}
