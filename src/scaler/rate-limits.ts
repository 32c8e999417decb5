/**
 * Scaling policies (rate limits) over the history of scale events, as the HPA controller's
 * convertDesiredReplicasWithBehaviorRate, calculateScaleUpLimitWithScalingRules and
 * calculateScaleDownLimitWithBehaviors (pkg/controller/podautoscaler/horizontal.go).
 */
import type { Behavior, ScalingRules, TimestampedScaleEvent } from '../domain/decision.js';

/** Replicas added (sign > 0) or removed (sign < 0) by events strictly newer than `now - period`. */
function changeInPeriod(
  events: readonly TimestampedScaleEvent[],
  nowMs: number,
  periodSeconds: number,
  sign: 1 | -1,
): number {
  const cutoffMs = nowMs - periodSeconds * 1000;
  let replicas = 0;
  for (const event of events) {
    if (event.timestampMs > cutoffMs && Math.sign(event.replicaChange) === sign) {
      replicas += Math.abs(event.replicaChange);
    }
  }
  return replicas;
}

/** `current - added + removed` within a policy's period: where the period started. */
function periodStartReplicas(
  currentReplicas: number,
  events: readonly TimestampedScaleEvent[],
  nowMs: number,
  periodSeconds: number,
): number {
  return (
    currentReplicas -
    changeInPeriod(events, nowMs, periodSeconds, 1) +
    changeInPeriod(events, nowMs, periodSeconds, -1)
  );
}

export interface LimitArgs {
  readonly nowMs: number;
  readonly currentReplicas: number;
  readonly scaleEvents: readonly TimestampedScaleEvent[];
  readonly rules: ScalingRules;
}

/**
 * The most replicas the scale-up policies allow now. Pods: `start + value`; Percent:
 * `ceil(start × (1 + value/100))`; selectPolicy Max takes the largest, Min the smallest,
 * Disabled keeps `current`.
 */
export function scaleUpLimit(args: LimitArgs): number {
  const { rules } = args;
  if (rules.selectPolicy === 'Disabled') return args.currentReplicas;
  let result = rules.selectPolicy === 'Min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  for (const policy of rules.policies) {
    const start = periodStartReplicas(
      args.currentReplicas,
      args.scaleEvents,
      args.nowMs,
      policy.periodSeconds,
    );
    const proposed =
      policy.type === 'Pods' ? start + policy.value : Math.ceil(start * (1 + policy.value / 100));
    result = rules.selectPolicy === 'Min' ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

/**
 * The fewest replicas the scale-down policies allow now. Pods: `start - value`; Percent:
 * `trunc(start × (1 - value/100))`; selectPolicy Max takes the smallest (the biggest change),
 * Min the largest, Disabled keeps `current`.
 */
export function scaleDownLimit(args: LimitArgs): number {
  const { rules } = args;
  if (rules.selectPolicy === 'Disabled') return args.currentReplicas;
  let result = rules.selectPolicy === 'Min' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  for (const policy of rules.policies) {
    const start = periodStartReplicas(
      args.currentReplicas,
      args.scaleEvents,
      args.nowMs,
      policy.periodSeconds,
    );
    const proposed =
      policy.type === 'Pods' ? start - policy.value : Math.trunc(start * (1 - policy.value / 100));
    result = rules.selectPolicy === 'Min' ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

export interface RateArgs {
  readonly nowMs: number;
  readonly currentReplicas: number;
  readonly desiredReplicas: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly scaleEvents: readonly TimestampedScaleEvent[];
  readonly behavior: Behavior;
}

export type RateReason =
  'DesiredWithinRange' | 'ScaleUpLimit' | 'TooManyReplicas' | 'ScaleDownLimit' | 'TooFewReplicas';

/**
 * Bounds the desired count by the policies and by min/max. The limit never goes past `current`
 * in the wrong direction (no scale-down while scaling up), and the reason names what bound it.
 */
export function limitByRate(args: RateArgs): { replicas: number; reason: RateReason } {
  const { currentReplicas, desiredReplicas } = args;
  if (desiredReplicas > currentReplicas) {
    const limit = Math.max(
      scaleUpLimit({ ...args, rules: args.behavior.scaleUp }),
      currentReplicas, // no further scale-up until older events leave the period
    );
    const bound = Math.min(args.maxReplicas, limit);
    const reason: RateReason = args.maxReplicas > limit ? 'ScaleUpLimit' : 'TooManyReplicas';
    if (desiredReplicas > bound) return { replicas: bound, reason };
  } else if (desiredReplicas < currentReplicas) {
    const limit = Math.min(
      scaleDownLimit({ ...args, rules: args.behavior.scaleDown }),
      currentReplicas, // no further scale-down until older events leave the period
    );
    const bound = Math.max(args.minReplicas, limit);
    const reason: RateReason = args.minReplicas < limit ? 'ScaleDownLimit' : 'TooFewReplicas';
    if (desiredReplicas < bound) return { replicas: bound, reason };
  }
  return { replicas: desiredReplicas, reason: 'DesiredWithinRange' };
}
