/**
 * Targets' histories in memory: what `simulate` and the tests keep, and what the cluster's
 * annotation-backed store keeps between two writes of a status annotation.
 */
import type { TargetHistory } from '../domain/decision.js';
import type { HistoryStore } from '../domain/ports.js';
import type { PlanHistory } from './plan-target.js';

export class InMemoryHistoryStore implements HistoryStore {
  private readonly histories = new Map<string, TargetHistory>();

  get(targetId: string): TargetHistory | undefined {
    return this.histories.get(targetId);
  }

  set(targetId: string, history: TargetHistory): void {
    this.histories.set(targetId, history);
  }

  delete(targetId: string): void {
    this.histories.delete(targetId);
  }
}

/** Nothing known yet: no recommendation (the decision core seeds its window), no scale event. */
export const NO_HISTORY: TargetHistory = Object.freeze({
  lastDecision: null,
  lastRescaleAtMs: null,
  recommendations: [],
  scaleEvents: [],
});

/** The histories a plan takes: the stored ones (none yet: no recommendations at all) and the back-off. */
export function planHistoryOf(stored: TargetHistory | undefined, backoffUntilMs: number): PlanHistory {
  return {
    ...(stored ?? NO_HISTORY),
    recommendations: stored === undefined ? null : stored.recommendations,
    backoffUntilMs,
  };
}
