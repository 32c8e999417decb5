/**
 * Plain types of one scaling decision, in the units the decision core computes with:
 * replica counts are integers, metric values are integer milli-units (what the HPA controller
 * gets from `Quantity.MilliValue()`), times are epoch milliseconds.
 */
import type { RescalePath } from './target.js';

/** How a metric's target is read, as in autoscaling/v2 `MetricTarget.type` for External metrics. */
export type MetricTargetType = 'Value' | 'AverageValue';

/** One metric as the decision sees it. `usageMilli === null` means it could not be read. */
export interface MetricObservation {
  readonly name: string;
  readonly type: MetricTargetType;
  /** Sum of the metric's items in milli-units, or null when the metric is unavailable. */
  readonly usageMilli: number | null;
  /** The target in milli-units; always > 0. */
  readonly targetMilli: number;
}

/** Relative tolerance around a ratio of 1 inside which no scaling happens (HPA `--horizontal-pod-autoscaler-tolerance`, KEP-4951). */
export interface Tolerance {
  readonly scaleUp: number;
  readonly scaleDown: number;
}

export type ScalingPolicyType = 'Pods' | 'Percent';

/** autoscaling/v2 `HPAScalingPolicy`. */
export interface ScalingPolicy {
  readonly type: ScalingPolicyType;
  readonly value: number;
  readonly periodSeconds: number;
}

/** autoscaling/v2 `ScalingPolicySelect`. */
export type SelectPolicy = 'Max' | 'Min' | 'Disabled';

/** autoscaling/v2 `HPAScalingRules`, with every field resolved. */
export interface ScalingRules {
  readonly stabilizationWindowSeconds: number;
  readonly selectPolicy: SelectPolicy;
  readonly policies: readonly ScalingPolicy[];
}

/** autoscaling/v2 `HorizontalPodAutoscalerBehavior`, with every field resolved. */
export interface Behavior {
  readonly scaleUp: ScalingRules;
  readonly scaleDown: ScalingRules;
}

/** A raw (unstabilized) recommendation remembered for the stabilization windows. */
export interface TimestampedRecommendation {
  readonly replicas: number;
  readonly timestampMs: number;
}

/** A scale that happened: `replicaChange` > 0 for a scale-up, < 0 for a scale-down. */
export interface TimestampedScaleEvent {
  readonly replicaChange: number;
  readonly timestampMs: number;
}

/** Why the desired replica count is what it is. The first five are the HPA controller's own. */
export type DecisionReason =
  | 'DesiredWithinRange'
  | 'ScaleUpLimit'
  | 'ScaleDownLimit'
  | 'TooManyReplicas'
  | 'TooFewReplicas'
  | 'ScaleUpStabilized'
  | 'ScaleDownStabilized'
  /** The max parallelism leaves slots of more TaskManagers unused: `ceil(maxParallelism / taskSlots)`. */
  | 'MaxParallelismLimit'
  /** `current > maxReplicas`: brought down to max, skipping stabilization and rate limits. */
  | 'AboveMaxReplicas'
  /** `current < minReplicas`: brought up to min, skipping stabilization and rate limits. */
  | 'BelowMinReplicas'
  /** `current == 0 && minReplicas != 0`: the target was scaled to zero by someone else. */
  | 'ScalingDisabled'
  /** Every metric is unavailable: nothing changes. */
  | 'AllMetricsMissing'
  /** Some metrics are unavailable and the rest would scale down: nothing changes. */
  | 'MissingMetricsBlockScaleDown'
  /** A keyed job: raised to the smallest count whose key groups per subtask give the capacity needed. */
  | 'KeyGroupAlignment'
  /** Raised to the smallest count whose partitions per source subtask give the capacity needed. */
  | 'SourcePartitionAlignment'
  /** The bounds leave no count that adds capacity over the current one: nothing changes. */
  | 'NoCapacityGain';

/**
 * What makes a parallelism buy less capacity than its subtask count: work dealt out in whole units.
 * A keyed (HASH) exchange deals the job's max parallelism in key groups over the subtasks; a source
 * deals its partitions (splits) over its subtasks. Null where the job has none of that kind.
 */
export interface CapacityUnits {
  /** Key groups (the max parallelism) when the job's plan has a keyed exchange. */
  readonly keyGroups: number | null;
  /** Partitions of the job's sources, when they report them (the smallest over sources). */
  readonly sourcePartitions: number | null;
}

/** How the decision's count was aligned to the units (see `alignTaskManagers`). */
export interface Alignment {
  /** The HPA algorithm's count, before alignment. */
  readonly hpaReplicas: number;
  /** Effective subtasks the HPA's count asks for: its TaskManagers × slots. */
  readonly neededParallelism: number;
  /** Effective subtasks of the parallelism decided (`units / ceil(units / p)`, the least over the units). */
  readonly effectiveParallelism: number;
}

/** Everything one decision needs, already parsed and validated. */
export interface DecisionInput {
  readonly nowMs: number;
  /** `scale.spec.replicas`: TaskManagers asked for now. */
  readonly currentReplicas: number;
  /** TaskManagers that are ready; used by `Value` targets. */
  readonly readyReplicas: number;
  /** `scale.status.replicas`; used by `AverageValue` targets. */
  readonly statusReplicas: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly metrics: readonly MetricObservation[];
  readonly tolerance: Tolerance;
  readonly behavior: Behavior;
  /** null: no history yet, seeded with `{currentReplicas, nowMs}` as the HPA controller does. */
  readonly recommendations: readonly TimestampedRecommendation[] | null;
  readonly scaleEvents: readonly TimestampedScaleEvent[];
  /** Task slots per TaskManager (>= 1). */
  readonly taskSlots: number;
  /** The job's max parallelism, if known. */
  readonly maxParallelism: number | null;
  /** Absent or both null: every subtask adds a subtask's capacity, the count is the HPA's. */
  readonly capacityUnits?: CapacityUnits;
}

/** One metric's proposal; `replicas === null` when the metric was unavailable. */
export interface MetricProposal {
  readonly name: string;
  readonly replicas: number | null;
  /** usage / target (per replica for AverageValue); null when unavailable. */
  readonly ratio: number | null;
}

export interface Decision {
  readonly desiredReplicas: number;
  readonly parallelism: number;
  readonly reason: DecisionReason;
  /** The max over valid proposals, before stabilization and limits (null when no proposal was made). */
  readonly proposedReplicas: number | null;
  /** After stabilization, before rate limits and the min/max clamp (null when not reached). */
  readonly stabilizedReplicas: number | null;
  readonly proposals: readonly MetricProposal[];
  /** Set when the input had capacity units: how the count was aligned to them. */
  readonly alignment: Alignment | null;
  /** The updated histories, to be passed to the next decision. */
  readonly recommendations: readonly TimestampedRecommendation[];
  readonly scaleEvents: readonly TimestampedScaleEvent[];
}

/** One metric of a decision, as recorded: value and target in the metric's units; value null when unavailable. */
export interface RecordedMetric {
  readonly name: string;
  readonly value: number | null;
  readonly target: number;
  readonly type: MetricTargetType;
}

/** The last decision, as `slotscaler explain` shows it. */
export interface RecordedDecision {
  readonly atMs: number;
  readonly fromReplicas: number;
  readonly toReplicas: number;
  readonly fromParallelism: number | null;
  readonly toParallelism: number;
  readonly reason: string;
  /** What happened: scaled, recommended (mode recommend / dry-run / not leader), held (why). */
  readonly outcome: string;
  readonly metrics: readonly RecordedMetric[];
  /** How a written decision reached the job (absent when nothing was written). */
  readonly path?: RescalePath;
}

/** What the scaler remembers of a target between ticks (kept in its status annotation). */
export interface TargetHistory {
  readonly lastDecision: RecordedDecision | null;
  /** When Slotscaler last changed the target (epoch ms), for the post-rescale hold. */
  readonly lastRescaleAtMs: number | null;
  /**
   * When the job ran again at the new parallelism after that rescale (our clock, from Flink's
   * RUNNING timestamp): the post-rescale cooldown counts from here. null while the rescale is in
   * flight, or when it was never seen.
   */
  readonly rescaleDoneAtMs: number | null;
  readonly recommendations: readonly TimestampedRecommendation[];
  readonly scaleEvents: readonly TimestampedScaleEvent[];
  /** When Slotscaler rescaled the target within the last hour (epoch ms), for the restart budget; absent: none known. */
  readonly rescalesAtMs?: readonly number[];
}
