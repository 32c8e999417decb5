/**
 * Stabilization windows over the history of raw recommendations, as the HPA controller's
 * stabilizeRecommendationWithBehaviors (pkg/controller/podautoscaler/horizontal.go).
 */
import type { TimestampedRecommendation } from '../domain/decision.js';

export interface StabilizeArgs {
  readonly nowMs: number;
  readonly currentReplicas: number;
  /** The raw proposal of this tick. */
  readonly desiredReplicas: number;
  readonly recommendations: readonly TimestampedRecommendation[];
  readonly scaleUpWindowSeconds: number;
  readonly scaleDownWindowSeconds: number;
}

export interface StabilizeResult {
  readonly replicas: number;
  /** The controller's AbleToScale reason for a stabilized value. */
  readonly reason: 'ScaleUpStabilized' | 'ScaleDownStabilized' | 'ReadyForNewScale';
  /** The history with this tick's raw proposal recorded. */
  readonly recommendations: readonly TimestampedRecommendation[];
}

/**
 * `upRec = min(desired, recommendations newer than now - scaleUp window)`,
 * `downRec = max(desired, recommendations newer than now - scaleDown window)`, and the result is
 * `current` clamped to `[upRec, downRec]`. "Newer than" is strict. The raw proposal is stored over
 * the last record older than both windows, or appended when there is none.
 */
export function stabilizeRecommendation(args: StabilizeArgs): StabilizeResult {
  const upCutoffMs = args.nowMs - args.scaleUpWindowSeconds * 1000;
  const downCutoffMs = args.nowMs - args.scaleDownWindowSeconds * 1000;
  let upRecommendation = args.desiredReplicas;
  let downRecommendation = args.desiredReplicas;
  let oldSampleIndex = -1;
  args.recommendations.forEach((rec, i) => {
    if (rec.timestampMs > upCutoffMs) upRecommendation = Math.min(rec.replicas, upRecommendation);
    if (rec.timestampMs > downCutoffMs) downRecommendation = Math.max(rec.replicas, downRecommendation);
    if (rec.timestampMs < upCutoffMs && rec.timestampMs < downCutoffMs) oldSampleIndex = i;
  });

  let replicas = args.currentReplicas;
  if (replicas < upRecommendation) replicas = upRecommendation;
  if (replicas > downRecommendation) replicas = downRecommendation;

  const fresh: TimestampedRecommendation = { replicas: args.desiredReplicas, timestampMs: args.nowMs };
  const recommendations =
    oldSampleIndex >= 0
      ? args.recommendations.map((rec, i) => (i === oldSampleIndex ? fresh : rec))
      : [...args.recommendations, fresh];

  let reason: StabilizeResult['reason'] = 'ReadyForNewScale';
  if (replicas !== args.desiredReplicas) {
    reason = args.desiredReplicas >= args.currentReplicas ? 'ScaleUpStabilized' : 'ScaleDownStabilized';
  }
  return { replicas, reason, recommendations };
}
