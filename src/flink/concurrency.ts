/**
 * A counting semaphore: at most `limit` tasks run at once, the others wait in FIFO order. One is
 * shared by the REST clients of all targets, so a thousand JobManagers never mean a thousand sockets.
 */
export class ConcurrencyLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private waitingHead = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`limit must be an integer ≥ 1, not ${limit}`);
  }

  /** Runs `task` when a slot is free; the slot is released when its promise settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting[this.waitingHead];
    if (next === undefined) {
      this.running -= 1;
      return;
    }
    // Hand the slot over directly: `running` stays the same.
    this.waitingHead += 1;
    if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitingHead);
      this.waitingHead = 0;
    }
    next();
  }
}
