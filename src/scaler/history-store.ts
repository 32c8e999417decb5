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
  rescaleDoneAtMs: null,
  recommendations: [],
  scaleEvents: [],
});

/** What a plan takes besides the stored histories: the executor's memory of the target's writes. */
export type PlanTransients = Pick<PlanHistory, 'backoffUntilMs' | 'inFlight' | 'notTaken'>;

export const NO_TRANSIENTS: PlanTransients = Object.freeze({
  backoffUntilMs: 0,
  inFlight: null,
  notTaken: null,
});

/** The histories a plan takes: the stored ones (none yet: no recommendations at all) and the transients. */
export function planHistoryOf(
  stored: TargetHistory | undefined,
  transients: PlanTransients = NO_TRANSIENTS,
): PlanHistory {
  return {
    ...(stored ?? NO_HISTORY),
    recommendations: stored === undefined ? null : stored.recommendations,
    ...transients,
  };
}
