/**
 * Which keys were read within the last `memoryMs`: the `PodMetricsDemand` of the Pods metrics. The
 * time is an argument; nothing here reads the clock. Bounded: past `maxKeys`, the oldest marks go.
 */
import type { PodMetricsDemand } from '../domain/ports.js';

/** How long a read keeps a target's per-TaskManager figures collected: several HPA syncs (15 s each by default). */
export const POD_METRICS_DEMAND_MS = 5 * 60_000;

export class RecentReads implements PodMetricsDemand {
  /** Key → when it was last read; in order of the last read (a Map keeps insertion order). */
  private readonly reads = new Map<string, number>();

  constructor(
    private readonly memoryMs: number = POD_METRICS_DEMAND_MS,
    private readonly maxKeys: number = 100_000,
  ) {}

  markRead(key: string, nowMs: number): void {
    this.reads.delete(key);
    this.reads.set(key, nowMs);
    if (this.reads.size > this.maxKeys) {
      const oldest = this.reads.keys().next();
      if (oldest.done !== true) this.reads.delete(oldest.value);
    }
  }

  wanted(key: string, nowMs: number): boolean {
    const at = this.reads.get(key);
    if (at === undefined) return false;
    if (nowMs - at <= this.memoryMs) return true;
    this.reads.delete(key);
    return false;
  }
}
