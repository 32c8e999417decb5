/**
 * The in-memory twin of the `Clock` port: time moves only when the test says so.
 */
import type { Clock } from '../../src/domain/ports.js';

export class FakeClock implements Clock {
  constructor(private currentMs: number = Date.UTC(2026, 0, 1)) {}

  nowMs(): number {
    return this.currentMs;
  }

  /** Moves the time forward by `ms`. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`cannot move time by ${ms} ms`);
    this.currentMs += ms;
  }

  set(ms: number): void {
    this.currentMs = ms;
  }
}
