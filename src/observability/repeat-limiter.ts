/**
 * Says a persisting condition once, then at most once per interval: for Events on a broken target
 * and for log lines of a failure that lasts (an unreachable API server, a JobManager that keeps
 * answering 503). Keyed by cause, so two causes that alternate are each said once per interval
 * instead of at every change. Pure apart from the time it is given.
 */
export class RepeatLimiter {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(private readonly intervalMs: number) {}

  /** null: hold this one back; else the number held back since the last one said. */
  admit(key: string, nowMs: number): number | null {
    const entry = this.last.get(key);
    if (entry !== undefined && nowMs - entry.atMs < this.intervalMs) {
      entry.suppressed += 1;
      return null;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { atMs: nowMs, suppressed: 0 });
    if (this.last.size > 10_000) this.prune(nowMs);
    return suppressed;
  }

  /** Forgets every key that starts with `prefix` (a deleted target; a cause that cleared). */
  forget(prefix = ''): void {
    for (const key of this.last.keys()) if (key.startsWith(prefix)) this.last.delete(key);
  }

  private prune(nowMs: number): void {
    for (const [key, entry] of this.last) if (nowMs - entry.atMs >= this.intervalMs) this.last.delete(key);
  }
}
