/**
 * One scaling decision, step by step as the HPA controller's reconcileAutoscaler with a behavior
 * (pkg/controller/podautoscaler/horizontal.go), then Flink's parallelism. Pure: time is an argument.
 */
import type {
  Alignment,
  Behavior,
  Decision,
  DecisionInput,
  DecisionReason,
  MetricObservation,
  MetricProposal,
  TimestampedRecommendation,
  TimestampedScaleEvent,
} from '../domain/decision.js';
import {
  alignTaskManagers,
  effectiveParallelism,
  parallelismFor,
  usableTaskManagers,
} from './parallelism.js';
import { proposeForAverageValue, proposeForValue } from './proposal.js';
import { limitByRate } from './rate-limits.js';
import { recordScaleEvent } from './scale-events.js';
import { stabilizeRecommendation } from './stabilization.js';

/** Histories never grow past this many entries, even from a hostile input. */
export const MAX_HISTORY_ENTRIES = 1000;

/**
 * One metric's proposal. A `Value` target with no ready TaskManagers (all restarting, say) has no
 * proposal: `ceil(ratio × 0)` would scale the job toward zero. The HPA controller treats "no pods"
 * as a metric error the same way; Slotscaler also treats "none ready" so.
 */
function proposeForMetric(metric: MetricObservation, input: DecisionInput): MetricProposal {
  if (metric.usageMilli === null) return { name: metric.name, replicas: null, ratio: null };
  if (metric.type === 'Value' && input.currentReplicas > 0 && input.readyReplicas === 0) {
    return { name: metric.name, replicas: null, ratio: null };
  }
  const proposal =
    metric.type === 'Value'
      ? proposeForValue({
          usageMilli: metric.usageMilli,
          targetMilli: metric.targetMilli,
          currentReplicas: input.currentReplicas,
          readyReplicas: input.readyReplicas,
          tolerance: input.tolerance,
        })
      : proposeForAverageValue({
          usageMilli: metric.usageMilli,
          targetMilli: metric.targetMilli,
          statusReplicas: input.statusReplicas,
          tolerance: input.tolerance,
        });
  return { name: metric.name, replicas: proposal.replicas, ratio: proposal.ratio };
}

export type CombinedProposal =
  | { readonly ok: true; readonly replicas: number; readonly metric: string }
  | { readonly ok: false; readonly reason: 'AllMetricsMissing' | 'MissingMetricsBlockScaleDown' };

/**
 * The max over valid proposals (computeReplicasForMetrics). If every metric is missing, or some are
 * missing and the others would scale down, there is no proposal: no scale-down on partial data.
 */
export function combineProposals(
  proposals: readonly MetricProposal[],
  currentReplicas: number,
): CombinedProposal {
  let replicas = 0;
  let metric = '';
  let invalid = 0;
  for (const proposal of proposals) {
    if (proposal.replicas === null) {
      invalid++;
      continue;
    }
    if (replicas === 0 || proposal.replicas > replicas) {
      replicas = proposal.replicas;
      metric = proposal.name;
    }
  }
  if (invalid >= proposals.length) return { ok: false, reason: 'AllMetricsMissing' };
  if (invalid > 0 && replicas < currentReplicas) return { ok: false, reason: 'MissingMetricsBlockScaleDown' };
  return { ok: true, replicas, metric };
}

/**
 * Keeps a history bounded: entries that can no longer matter (`isStale`) are dropped, except the
 * last one, which the controller's bookkeeping would overwrite next; past `MAX_HISTORY_ENTRIES`
 * the oldest go.
 */
function boundHistory<T extends { readonly timestampMs: number }>(
  entries: readonly T[],
  isStale: (entry: T) => boolean,
): T[] {
  let lastStale = -1;
  entries.forEach((entry, i) => {
    if (isStale(entry)) lastStale = i;
  });
  const kept = entries.filter((entry, i) => !isStale(entry) || i === lastStale);
  if (kept.length <= MAX_HISTORY_ENTRIES) return kept;
  return [...kept].sort((a, b) => a.timestampMs - b.timestampMs).slice(kept.length - MAX_HISTORY_ENTRIES);
}

function longestPeriodMs(input: DecisionInput, scalingUp: boolean): number {
  const rules = scalingUp ? input.behavior.scaleUp : input.behavior.scaleDown;
  return rules.policies.reduce((longest, policy) => Math.max(longest, policy.periodSeconds * 1000), 0);
}

export interface NormalizeArgs {
  readonly nowMs: number;
  readonly currentReplicas: number;
  readonly desiredReplicas: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly behavior: Behavior;
  readonly recommendations: readonly TimestampedRecommendation[];
  readonly scaleEvents: readonly TimestampedScaleEvent[];
}

export interface NormalizeResult {
  readonly replicas: number;
  readonly reason: DecisionReason;
  readonly stabilizedReplicas: number;
  readonly recommendations: readonly TimestampedRecommendation[];
}

/**
 * Stabilization, then rate limits and the min/max clamp (normalizeDesiredReplicasWithBehaviors).
 * The reason is the limit that bound the result, or the stabilization that held it back.
 */
export function normalizeWithBehavior(args: NormalizeArgs): NormalizeResult {
  const stabilized = stabilizeRecommendation({
    nowMs: args.nowMs,
    currentReplicas: args.currentReplicas,
    desiredReplicas: args.desiredReplicas,
    recommendations: args.recommendations,
    scaleUpWindowSeconds: args.behavior.scaleUp.stabilizationWindowSeconds,
    scaleDownWindowSeconds: args.behavior.scaleDown.stabilizationWindowSeconds,
  });
  const limited = limitByRate({ ...args, desiredReplicas: stabilized.replicas });
  const reason =
    limited.reason === 'DesiredWithinRange' && stabilized.reason !== 'ReadyForNewScale'
      ? stabilized.reason
      : limited.reason;
  return {
    replicas: limited.replicas,
    reason,
    stabilizedReplicas: stabilized.replicas,
    recommendations: stabilized.recommendations,
  };
}

/**
 * The HPA's count, aligned to the job's capacity units: the HPA sizes in plain subtasks (its count ×
 * slots), so that is the effective parallelism needed, and the count becomes the smallest one within
 * the bounds whose effective parallelism reaches it (`alignTaskManagers`). Why the HPA's subtasks
 * are the effective ones needed, metric by metric (load L, capacity c per subtask, p subtasks):
 * - busy ratio: the window averages it over subtasks, `L / (p · c)`, work over nominal capacity, so
 *   `ratio × p` subtasks of full capacity carry L at the target; the busiest subtask carries
 *   `L · ceil(M / p') / M`, which is within the target at p' exactly when
 *   `M / ceil(M / p') ≥ ratio × p`;
 * - demand ratio: arrival over records read per unit of busy time, so its capacity is nominal too;
 * - metrics read against the capacity the job delivers (lag, pending records, expressions): they
 *   need `ratio × effective(p)`, at most the same count; they agree once the current parallelism
 *   is aligned, as every count written here is.
 * Only a change is aligned, and never against its direction: a count the HPA keeps stays, a
 * scale-up that buys nothing is no scale-up (`NoCapacityGain`), a scale-down aligned back to the
 * current count or above stays at the current count.
 */
function alignToUnits(
  input: DecisionInput,
  desiredReplicas: number,
  maxReplicas: number,
): { replicas: number; reason: DecisionReason; alignment: Alignment } {
  const { currentReplicas, taskSlots, maxParallelism } = input;
  const units = input.capacityUnits ?? { keyGroups: null, sourcePartitions: null };
  const neededParallelism = parallelismFor(desiredReplicas, taskSlots, maxParallelism);
  const alignmentOf = (replicas: number): Alignment => ({
    hpaReplicas: desiredReplicas,
    neededParallelism,
    effectiveParallelism: effectiveParallelism(parallelismFor(replicas, taskSlots, maxParallelism), units),
  });
  const keep = (replicas: number, reason: DecisionReason) => ({
    replicas,
    reason,
    alignment: alignmentOf(replicas),
  });
  if (desiredReplicas === currentReplicas || desiredReplicas === 0)
    return keep(desiredReplicas, 'DesiredWithinRange');
  const aligned = alignTaskManagers({
    neededParallelism,
    taskSlots,
    minTaskManagers: input.minReplicas,
    maxTaskManagers: maxReplicas,
    maxParallelism,
    units,
  });
  const scalingUp = desiredReplicas > currentReplicas;
  if (scalingUp && aligned.taskManagers <= currentReplicas) return keep(currentReplicas, 'NoCapacityGain');
  if (!scalingUp && aligned.taskManagers >= currentReplicas) return keep(currentReplicas, 'NoCapacityGain');
  const keyGroupsShort =
    units.keyGroups !== null &&
    effectiveParallelism(neededParallelism, { keyGroups: units.keyGroups, sourcePartitions: null }) <
      neededParallelism;
  return keep(aligned.taskManagers, keyGroupsShort ? 'KeyGroupAlignment' : 'SourcePartitionAlignment');
}

/** Decides the TaskManager count and parallelism for one target. */
export function decide(input: DecisionInput): Decision {
  const { currentReplicas, nowMs } = input;
  // recordInitialRecommendation: a target seen for the first time remembers {current, now}.
  let recommendations: readonly TimestampedRecommendation[] = input.recommendations ?? [
    { replicas: currentReplicas, timestampMs: nowMs },
  ];
  let scaleEvents: readonly TimestampedScaleEvent[] = input.scaleEvents;
  // Never ask for TaskManagers whose slots parallelism cannot use.
  const maxReplicas = Math.max(
    Math.min(input.maxReplicas, usableTaskManagers(input.maxParallelism, input.taskSlots)),
    input.minReplicas,
  );

  const proposals = input.metrics.map((metric) => proposeForMetric(metric, input));
  let desiredReplicas: number;
  let reason: DecisionReason;
  let proposedReplicas: number | null = null;
  let stabilizedReplicas: number | null = null;

  if (currentReplicas === 0 && input.minReplicas !== 0) {
    desiredReplicas = 0;
    reason = 'ScalingDisabled';
  } else if (currentReplicas > maxReplicas) {
    desiredReplicas = maxReplicas;
    reason = 'AboveMaxReplicas';
  } else if (currentReplicas < input.minReplicas) {
    desiredReplicas = input.minReplicas;
    reason = 'BelowMinReplicas';
  } else {
    const combined = combineProposals(proposals, currentReplicas);
    if (!combined.ok) {
      desiredReplicas = currentReplicas;
      reason = combined.reason;
    } else {
      proposedReplicas = combined.replicas;
      const normalized = normalizeWithBehavior({
        nowMs,
        currentReplicas,
        // reconcileAutoscaler starts desiredReplicas at 0 and only raises it to the metrics'
        // proposal, so a negative proposal (a negative External value) counts as 0 from here on.
        desiredReplicas: Math.max(combined.replicas, 0),
        minReplicas: input.minReplicas,
        maxReplicas,
        behavior: input.behavior,
        recommendations,
        scaleEvents,
      });
      recommendations = normalized.recommendations;
      stabilizedReplicas = normalized.stabilizedReplicas;
      desiredReplicas = normalized.replicas;
      reason =
        normalized.reason === 'TooManyReplicas' && maxReplicas < input.maxReplicas
          ? 'MaxParallelismLimit'
          : normalized.reason;
    }
  }

  let alignment: Alignment | null = null;
  const units = input.capacityUnits;
  if (units !== undefined && (units.keyGroups !== null || units.sourcePartitions !== null)) {
    const aligned = alignToUnits(input, desiredReplicas, maxReplicas);
    alignment = aligned.alignment;
    if (aligned.replicas !== desiredReplicas) {
      desiredReplicas = aligned.replicas;
      reason = aligned.reason;
    }
  }

  if (desiredReplicas !== currentReplicas) {
    scaleEvents = recordScaleEvent({
      nowMs,
      previousReplicas: currentReplicas,
      newReplicas: desiredReplicas,
      scaleEvents,
      scaleUp: input.behavior.scaleUp,
      scaleDown: input.behavior.scaleDown,
    });
  }

  const upCutoffMs = nowMs - input.behavior.scaleUp.stabilizationWindowSeconds * 1000;
  const downCutoffMs = nowMs - input.behavior.scaleDown.stabilizationWindowSeconds * 1000;
  const upEventCutoffMs = nowMs - longestPeriodMs(input, true);
  const downEventCutoffMs = nowMs - longestPeriodMs(input, false);

  return {
    desiredReplicas,
    parallelism: parallelismFor(desiredReplicas, input.taskSlots, input.maxParallelism),
    reason,
    proposedReplicas,
    stabilizedReplicas,
    proposals,
    alignment,
    recommendations: boundHistory(
      recommendations,
      (rec) => rec.timestampMs < upCutoffMs && rec.timestampMs < downCutoffMs,
    ),
    scaleEvents: [
      ...boundHistory(
        scaleEvents.filter((event) => event.replicaChange > 0),
        (event) => event.timestampMs < upEventCutoffMs,
      ),
      ...boundHistory(
        scaleEvents.filter((event) => event.replicaChange < 0),
        (event) => event.timestampMs < downEventCutoffMs,
      ),
    ],
  };
}
