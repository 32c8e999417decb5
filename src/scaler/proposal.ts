/**
 * Per-metric replica proposals for External metrics, as the HPA controller computes them
 * (pkg/controller/podautoscaler/replica_calculator.go: GetExternalMetricReplicas,
 * GetExternalPerPodMetricReplicas, getUsageRatioReplicaCount; Tolerances.isWithin).
 *
 * Usage and target are integer milli-units, exactly what the controller gets from
 * `Quantity.MilliValue()`, so the float ratio below is computed from the same integers.
 */
import type { Tolerance } from '../domain/decision.js';

/** `(1 - scaleDown) <= ratio <= (1 + scaleUp)`: the change would be too small to act on. */
export function isWithinTolerance(ratio: number, tolerance: Tolerance): boolean {
  return 1 - tolerance.scaleDown <= ratio && ratio <= 1 + tolerance.scaleUp;
}

export interface ValueProposalArgs {
  readonly usageMilli: number;
  readonly targetMilli: number;
  /** `scale.spec.replicas`. */
  readonly currentReplicas: number;
  /** Ready pods matching the target's selector. */
  readonly readyReplicas: number;
  readonly tolerance: Tolerance;
}

/**
 * Target type `Value`: `ratio = usage / target`; within tolerance keep `current`, else
 * `ceil(ratio × readyReplicas)`; from zero replicas `ceil(ratio)` (tolerance ignored).
 */
export function proposeForValue(args: ValueProposalArgs): { replicas: number; ratio: number } {
  const ratio = args.usageMilli / args.targetMilli;
  if (args.currentReplicas === 0) {
    return { replicas: Math.ceil(ratio), ratio };
  }
  if (isWithinTolerance(ratio, args.tolerance)) {
    return { replicas: args.currentReplicas, ratio };
  }
  return { replicas: Math.ceil(ratio * args.readyReplicas), ratio };
}

export interface AverageValueProposalArgs {
  readonly usageMilli: number;
  readonly targetMilli: number;
  /** `scale.status.replicas`. */
  readonly statusReplicas: number;
  readonly tolerance: Tolerance;
}

/**
 * Target type `AverageValue`: `ratio = usage / (target × statusReplicas)`; within tolerance keep
 * `statusReplicas`, else `ceil(usage / target)`.
 */
export function proposeForAverageValue(args: AverageValueProposalArgs): { replicas: number; ratio: number } {
  const ratio = args.usageMilli / (args.targetMilli * args.statusReplicas);
  if (isWithinTolerance(ratio, args.tolerance)) {
    return { replicas: args.statusReplicas, ratio };
  }
  return { replicas: Math.ceil(args.usageMilli / args.targetMilli), ratio };
}
