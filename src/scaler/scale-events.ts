/**
 * The history of scale events the rate limits look at, kept as the HPA controller's storeScaleEvent
 * and markScaleEventsOutdated do (pkg/controller/podautoscaler/horizontal.go): scale-ups and
 * scale-downs are two lists; an event older than the direction's longest policy period is outdated,
 * and the last outdated one is overwritten by the new event instead of growing the list.
 */
import type { ScalingRules, TimestampedScaleEvent } from '../domain/decision.js';

function longestPeriodSeconds(rules: ScalingRules): number {
  return rules.policies.reduce((longest, policy) => Math.max(longest, policy.periodSeconds), 0);
}

export interface RecordScaleEventArgs {
  readonly nowMs: number;
  readonly previousReplicas: number;
  readonly newReplicas: number;
  readonly scaleEvents: readonly TimestampedScaleEvent[];
  readonly scaleUp: ScalingRules;
  readonly scaleDown: ScalingRules;
}

/** Returns the history with the scale from `previousReplicas` to `newReplicas` recorded (ups first, then downs). */
export function recordScaleEvent(args: RecordScaleEventArgs): TimestampedScaleEvent[] {
  const ups = args.scaleEvents.filter((event) => event.replicaChange > 0);
  const downs = args.scaleEvents.filter((event) => event.replicaChange < 0);
  const change = args.newReplicas - args.previousReplicas;
  if (change === 0) return [...ups, ...downs];

  const scalingUp = change > 0;
  const list = scalingUp ? ups : downs;
  const cutoffMs = args.nowMs - longestPeriodSeconds(scalingUp ? args.scaleUp : args.scaleDown) * 1000;
  let outdatedIndex = -1;
  list.forEach((event, i) => {
    if (event.timestampMs < cutoffMs) outdatedIndex = i;
  });
  const fresh: TimestampedScaleEvent = { replicaChange: change, timestampMs: args.nowMs };
  if (outdatedIndex >= 0) list[outdatedIndex] = fresh;
  else list.push(fresh);
  return [...ups, ...downs];
}
