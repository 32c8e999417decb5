/**
 * A client-side token bucket (client-go's `flowcontrol.NewTokenBucketRateLimiter`): `qps` tokens per
 * second up to `burst`; `take` waits for a token. Every write to the API server takes one.
 */
import type { Clock } from '../domain/ports.js';

export class TokenBucket {
  private tokens: number;
  private lastMs: number;
  /** Waiters in order; each gets a token as it comes. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly qps: number,
    readonly burst: number,
    private readonly clock: Clock,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    if (!(qps > 0) || !(burst >= 1)) throw new RangeError(`invalid token bucket ${qps}/s burst ${burst}`);
    this.tokens = burst;
    this.lastMs = clock.nowMs();
  }

  /** Takes a token now if there is one. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there (0 when one is). */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.qps) * 1000);
  }

  /** Waits for a token, first come first served. */
  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      for (;;) {
        if (this.tryTake()) return;
        await this.sleep(this.waitMs());
      }
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private refill(): void {
    const now = this.clock.nowMs();
    const elapsedMs = Math.max(0, now - this.lastMs);
    this.lastMs = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs / 1000) * this.qps);
  }
}
