/**
 * Which targets this replica collects, decides and writes when the replicas share them
 * (`--shards`): the live replicas (their Leases, `ReplicaLeases`) make a consistent-hash ring
 * (src/scaler/shard-ring.ts), and a target belongs to its point's replica.
 *
 * Two answers per target. `assigned`: the current ring gives it to this replica, so it collects
 * the target and plans it (a target just moved here warms its metric window and keeps taking the
 * former owner's status annotation). `isLeader(id)`: it may also write it: its own Lease is fresh
 * (the fence) and the hand-over rule (`mayClaim`) says no live replica may still be writing it.
 */
import type { Clock } from '../domain/ports.js';
import type { LeaderState } from '../kube/leader-election.js';
import type { Logger } from '../observability/logger.js';
import { DEFAULT_VIRTUAL_NODES, mayClaim, recentEpochs, ShardRing } from '../scaler/shard-ring.js';
import type { RingEpoch } from '../scaler/shard-ring.js';

/** What the ownership needs of the membership. Real: `ReplicaLeases`. */
export interface Membership {
  /** The live replicas, this one included while it holds its Lease. */
  live(): ReadonlySet<string>;
  /** This replica's Lease is fresh enough to write on. */
  holds(): boolean;
}

/** The ring key of the cluster-wide duties (the APIService's CA bundle): one replica has them. */
export const CLUSTER_DUTIES_KEY = '(cluster-wide duties)';

export interface ShardOwnershipOptions {
  readonly membership: Membership;
  readonly identity: string;
  readonly clock: Clock;
  /** How long a joiner waits before writing a target a live replica owned: see `mayClaim`. */
  readonly settleMs: number;
  readonly virtualNodes?: number;
  readonly logger: Logger;
}

export class ShardOwnership implements LeaderState {
  private epochs: RingEpoch[];
  /** The targets this replica may write as of its last look, to log each hand-over once. */
  private readonly writing = new Set<string>();

  constructor(private readonly options: ShardOwnershipOptions) {
    // Before any ring: the owners are unknown, so nothing is taken for `settleMs`.
    this.epochs = [{ ring: null, sinceMs: options.clock.nowMs() }];
  }

  /** The ring as of now: the membership changed (a Lease appeared, expired or went). */
  refresh(): void {
    const nowMs = this.options.clock.nowMs();
    const ring = new ShardRing(
      this.options.membership.live(),
      this.options.virtualNodes ?? DEFAULT_VIRTUAL_NODES,
    );
    const current = this.epochs[this.epochs.length - 1]?.ring ?? null;
    if (current !== null && current.sameAs(ring)) return;
    this.epochs = recentEpochs([...this.epochs, { ring, sinceMs: nowMs }], nowMs, this.options.settleMs);
    this.options.logger.info(
      { identity: this.options.identity, members: ring.members },
      'shard ring changed',
    );
    for (const id of this.writing) if (ring.ownerOf(id) !== this.options.identity) this.handOver(id, false);
  }

  /** The current ring gives the target to this replica: it collects and plans it. */
  assigned(targetId: string): boolean {
    return this.currentRing()?.ownerOf(targetId) === this.options.identity;
  }

  isLeader(targetId: string = CLUSTER_DUTIES_KEY): boolean {
    const { membership, identity, clock, settleMs } = this.options;
    const may =
      membership.holds() &&
      mayClaim(targetId, identity, this.epochs, membership.live(), clock.nowMs(), settleMs);
    if (may !== this.writing.has(targetId)) this.handOver(targetId, may);
    return may;
  }

  /** The replicas on the current ring (none before the first look). */
  members(): readonly string[] {
    return this.currentRing()?.members ?? [];
  }

  private currentRing(): ShardRing | null {
    return this.epochs[this.epochs.length - 1]?.ring ?? null;
  }

  private handOver(targetId: string, taken: boolean): void {
    if (taken) this.writing.add(targetId);
    else this.writing.delete(targetId);
    this.options.logger.info(
      { target: targetId, identity: this.options.identity },
      taken ? 'target taken' : 'target given up',
    );
  }
}
