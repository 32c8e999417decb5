/**
 * From a target's config and its window readings to the decision core's input, and the hold the
 * scaler puts on a change right after a rescale. Pure (the time is an argument): the scaling loop
 * runs these against the cluster, `slotscaler simulate` against a job model, so both run the same
 * mapping.
 */
import type { WindowReadings } from '../metrics/metric-window.js';
import type { TargetConfig } from '../config/schema.js';
import type {
  CapacityUnits,
  DecisionInput,
  MetricObservation,
  TimestampedRecommendation,
  TimestampedScaleEvent,
} from '../domain/decision.js';
import { isAvailable } from '../domain/metrics.js';
import type { MetricReading } from '../domain/metrics.js';

/** The metrics of a target's config as the decision sees them (values in milli-units). */
export function observeMetrics(
  metrics: readonly { readonly spec: TargetConfig['metrics'][number]; readonly reading: MetricReading }[],
): MetricObservation[] {
  return metrics.map(({ spec, reading }) => ({
    name: spec.name,
    type: spec.type,
    usageMilli: isAvailable(reading) ? Math.round(reading.value * 1000) : null,
    targetMilli: spec.targetMilli,
  }));
}

/** TaskManager counts of a target as its scale subresource reports them. */
export interface TargetReplicas {
  readonly currentReplicas: number;
  readonly readyReplicas: number;
  readonly statusReplicas: number;
}

/** The histories the decision core threads from one decision to the next. */
export interface TargetHistories {
  readonly recommendations: readonly TimestampedRecommendation[] | null;
  readonly scaleEvents: readonly TimestampedScaleEvent[];
}

/** The decision core's input for one target: its config's bounds, tolerance and behavior. */
export function targetDecisionInput(
  config: TargetConfig,
  replicas: TargetReplicas,
  metrics: readonly MetricObservation[],
  histories: TargetHistories,
  taskSlots: number,
  jobMaxParallelism: number | null,
  nowMs: number,
  capacityUnits?: CapacityUnits,
): DecisionInput {
  const maxParallelism = config.maxParallelism ?? jobMaxParallelism;
  return {
    nowMs,
    currentReplicas: replicas.currentReplicas,
    readyReplicas: replicas.readyReplicas,
    statusReplicas: replicas.statusReplicas,
    minReplicas: config.minTaskmanagers,
    maxReplicas: config.maxTaskmanagers,
    metrics,
    tolerance: config.tolerance,
    behavior: {
      scaleUp: {
        stabilizationWindowSeconds: config.scaleUpStabilization,
        selectPolicy: config.scaleUpSelectPolicy ?? config.selectPolicy,
        policies: config.scaleUpPolicies,
      },
      scaleDown: {
        stabilizationWindowSeconds: config.scaleDownStabilization,
        selectPolicy: config.scaleDownSelectPolicy ?? config.selectPolicy,
        policies: config.scaleDownPolicies,
      },
    },
    recommendations: histories.recommendations,
    scaleEvents: histories.scaleEvents,
    taskSlots,
    maxParallelism,
    // The key groups are the max parallelism the job runs with, the config's when it sets one.
    ...(capacityUnits === undefined
      ? {}
      : {
          capacityUnits: {
            keyGroups: capacityUnits.keyGroups === null ? null : maxParallelism,
            sourcePartitions: capacityUnits.sourcePartitions,
          },
        }),
  };
}

/**
 * Why a change must wait after the last rescale, or null: the job must be RUNNING again with every
 * sample of the window taken after the rescale, and no scale-up comes within the cooldown
 * (catch-up after a restart is not new load).
 */
export function postRescaleHold(args: {
  readonly lastRescaleAtMs: number | null;
  readonly readings: Pick<WindowReadings, 'state' | 'lastSampleAtMs' | 'spanSeconds'> | undefined;
  readonly currentReplicas: number;
  readonly desiredReplicas: number;
  readonly cooldownAfterRescaleSeconds: number;
  readonly nowMs: number;
}): string | null {
  const { lastRescaleAtMs: since, readings } = args;
  if (since === null) return null;
  const oldestSampleMs =
    readings?.lastSampleAtMs === null || readings === undefined
      ? null
      : readings.lastSampleAtMs - readings.spanSeconds * 1000;
  if (readings?.state !== 'RUNNING' || oldestSampleMs === null || oldestSampleMs <= since) {
    return 'the job is not RUNNING with fresh metrics since the last rescale';
  }
  const cooldownMs = args.cooldownAfterRescaleSeconds * 1000;
  if (args.desiredReplicas > args.currentReplicas && args.nowMs - since < cooldownMs) {
    return `cooldown after rescale (${args.cooldownAfterRescaleSeconds}s)`;
  }
  return null;
}
