/**
 * From a target's config and its window readings to the decision core's input, and the hold the
 * scaler puts on a change right after a rescale. Pure (the time is an argument): the scaling loop
 * runs these against the cluster, `slotscaler simulate` against a job model, so both run the same
 * mapping.
 */
import type { CheckpointsAsSeen, WindowReadings } from '../metrics/metric-window.js';
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
import type { RescalePath } from '../domain/target.js';

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

/** The sources' backlog as the window read it; null where a source's is not known. */
export interface Backlog {
  readonly pendingRecords: number;
  /** Records per second the backlog shrinks by over the window (negative: it grows). */
  readonly drainRecordsPerSecond: number;
  /** A source's backlog grew in the newest interval of the window, or over the window. */
  readonly growing: boolean;
}

/** A backlog that grows by less than this per record read is jitter (as the demand ratio reads it). */
const GROWING_PER_RECORD = 0.05;

/** The backlog of the readings' sources: pending records and how fast the current capacity drains them. */
export function backlogOf(readings: Pick<WindowReadings, 'vertices'> | undefined): Backlog | null {
  const sources = readings?.vertices.filter((vertex) => vertex.isSource) ?? [];
  if (sources.length === 0) return null;
  let pendingRecords = 0;
  let drainRecordsPerSecond = 0;
  let growing = false;
  for (const source of sources) {
    const { pendingRecords: pending, recordsInPerSecond: read, backlogGrowthPerRecord: growth } = source;
    if (pending === null || read === null || growth === null) return null;
    pendingRecords += pending;
    drainRecordsPerSecond -= read * growth;
    const newest = source.newestBacklogGrowthPerRecord;
    if (growth >= GROWING_PER_RECORD || (newest !== null && newest >= GROWING_PER_RECORD)) growing = true;
  }
  return { pendingRecords, drainRecordsPerSecond, growing };
}

/** Seconds the current capacity takes to drain the backlog; infinite when it does not shrink. */
function drainSeconds(backlog: Backlog): number {
  if (backlog.pendingRecords <= 0) return 0;
  return backlog.drainRecordsPerSecond > 0
    ? backlog.pendingRecords / backlog.drainRecordsPerSecond
    : Number.POSITIVE_INFINITY;
}

/**
 * The lag demands more capacity: the backlog grows, or the current capacity would not drain it within
 * `catchUpSeconds`. Unknown backlog: it does not.
 */
export function lagDemandsScaleUp(backlog: Backlog | null, catchUpSeconds: number): boolean {
  if (backlog === null || backlog.pendingRecords <= 0) return false;
  return backlog.growing || drainSeconds(backlog) > catchUpSeconds;
}

/** What the load-change holds read of a decision. */
export interface LoadChangeArgs {
  readonly currentReplicas: number;
  readonly desiredReplicas: number;
  /** This tick's proposal (the HPA's raw recommendation); null when none was made. */
  readonly proposedReplicas: number | null;
  /** The recommendations before this tick (null: none yet). */
  readonly previousRecommendations: readonly TimestampedRecommendation[] | null;
  /** The recommendations after this tick (this tick's included), as the stabilization window holds them. */
  readonly recommendations: readonly TimestampedRecommendation[];
  readonly backlog: Backlog | null;
  readonly catchUpSeconds: number;
  readonly scaleDownWindowSeconds: number;
  /** The metric window: how much of the past each reading averages. */
  readonly settleSeconds: number;
  readonly nowMs: number;
}

/**
 * Flink's default `metrics.fetcher.update-interval`. The JobManager answers REST metric requests
 * from a store that a request refreshes once it is older than that, asynchronously: the answer
 * holds what the previous refresh fetched (`MetricFetcherImpl.update`), up to this or the time
 * since the previous request old, whichever is longer.
 */
export const METRIC_FETCH_INTERVAL_SECONDS = 10;

/**
 * How long after the last reading of the old load a reading can still hold part of it: the metric
 * window, how old the JobManager's metrics may be (the fetch interval or a tick, the longer) and one
 * tick (the last reading of the old load may come up to a tick before the change). The tick is the
 * time since the previous recommendation, at most the window.
 */
export function settleHorizonMs(
  settleSeconds: number,
  previousRecommendations: readonly TimestampedRecommendation[] | null,
  nowMs: number,
): number {
  const windowMs = settleSeconds * 1000;
  const previous = newestBefore(previousRecommendations ?? [], nowMs);
  const tickMs = previous === null ? 0 : Math.min(windowMs, nowMs - previous.timestampMs);
  return windowMs + Math.max(METRIC_FETCH_INTERVAL_SECONDS * 1000, tickMs) + tickMs;
}

export type LoadChangeHold = {
  readonly kind: 'partial-reading' | 'catching-up' | 'settling';
  readonly why: string;
} | null;

/**
 * One load change, one rescale. After the HPA algorithm (whose count these only delay, never change):
 * - `partial-reading`: the first reading to ask for a scale-up may have caught only part of a change
 *   (a step inside the window); the scale-up waits for the next, which has seen it whole. Costs one
 *   tick per load increase;
 * - `catching-up`: a scale-up while the backlog shrinks fast enough that the current capacity drains
 *   it within `catchUpSeconds` is catch-up alone, not new load;
 * - `settling`: a scale-down whose stabilization window still holds readings of the transition (a
 *   first partial reading of a drop, say) waits for them to age out, then goes in one step to where
 *   the recommendations settled. A reading is of the transition when its window began before the
 *   drop: the last of them comes up to `settleHorizonMs` after the last reading of the old load,
 *   and the first scale-down the HPA would make comes when that one leaves the window, so the
 *   readings above this one that leave within the horizon are the transition's. A window of steadily
 *   higher readings (a ramp down) is not waited for: each of its steps is a change of load.
 */
export function loadChangeHold(args: LoadChangeArgs): LoadChangeHold {
  const { currentReplicas: current, desiredReplicas: desired, proposedReplicas: proposed, nowMs } = args;
  if (proposed === null || desired === current) return null;
  if (desired > current) {
    if (args.backlog !== null && args.backlog.pendingRecords > 0 && !args.backlog.growing) {
      const seconds = drainSeconds(args.backlog);
      if (seconds <= args.catchUpSeconds) {
        return {
          kind: 'catching-up',
          why: `catching up: the current capacity drains the backlog (${Math.round(args.backlog.pendingRecords)} records) in ${Math.round(seconds)}s, within catch-up-duration (${args.catchUpSeconds}s)`,
        };
      }
    }
    const previous = newestBefore(args.previousRecommendations ?? [], nowMs);
    if (previous !== null && previous.replicas <= current) {
      return {
        kind: 'partial-reading',
        why: `the first reading to ask for more (${proposed} TaskManagers) may have seen part of the change; waiting for the next`,
      };
    }
    return null;
  }
  const windowStartMs = nowMs - args.scaleDownWindowSeconds * 1000;
  let lastAboveMs: number | null = null;
  for (const rec of args.recommendations) {
    if (rec.timestampMs > windowStartMs && rec.replicas > proposed) {
      lastAboveMs = Math.max(lastAboveMs ?? rec.timestampMs, rec.timestampMs);
    }
  }
  if (lastAboveMs === null) return null;
  const settlesInMs = lastAboveMs + args.scaleDownWindowSeconds * 1000 - nowMs;
  if (settlesInMs > settleHorizonMs(args.settleSeconds, args.previousRecommendations, nowMs)) return null;
  return {
    kind: 'settling',
    why: `the recommendations settle in ${Math.ceil(settlesInMs / 1000)}s: one scale-down then, not a step now and another after`,
  };
}

function newestBefore(
  recommendations: readonly TimestampedRecommendation[],
  nowMs: number,
): TimestampedRecommendation | null {
  let newest: TimestampedRecommendation | null = null;
  for (const rec of recommendations) {
    if (rec.timestampMs >= nowMs) continue;
    // At one time the seed of a new history ({current, now}) and that tick's proposal: the proposal counts.
    if (
      newest === null ||
      rec.timestampMs > newest.timestampMs ||
      (rec.timestampMs === newest.timestampMs && rec.replicas > newest.replicas)
    ) {
      newest = rec;
    }
  }
  return newest;
}

const HOUR_MS = 3_600_000;

/** The rescales of the last hour, and this one: what the history keeps for the budget. */
export function rescalesWithin(rescalesAtMs: readonly number[] | undefined, nowMs: number): number[] {
  return (rescalesAtMs ?? []).filter((atMs) => atMs > nowMs - HOUR_MS && atMs <= nowMs);
}

/**
 * Why the restart budget holds a change, or null: past `maxPerHour` rescales in the last hour only a
 * scale-up the lag demands (`lagDemandsScaleUp`) is written.
 */
export function budgetHold(args: {
  readonly maxPerHour: number | undefined;
  readonly rescalesAtMs: readonly number[] | undefined;
  readonly scalingUp: boolean;
  readonly lagDemands: boolean;
  readonly nowMs: number;
}): string | null {
  if (args.maxPerHour === undefined) return null;
  const spent = rescalesWithin(args.rescalesAtMs, args.nowMs).length;
  if (spent < args.maxPerHour) return null;
  if (args.scalingUp && args.lagDemands) return null;
  return `restart budget spent: ${spent} rescales in the last hour (max-rescales-per-hour ${args.maxPerHour}); only a scale-up the lag demands goes through`;
}

/** Records per second the sources read over the window; null where a source's rate is not known. */
export function sourceReadRate(readings: Pick<WindowReadings, 'vertices'> | undefined): number | null {
  const sources = readings?.vertices.filter((vertex) => vertex.isSource) ?? [];
  if (sources.length === 0) return null;
  let read = 0;
  for (const source of sources) {
    if (source.recordsInPerSecond === null) return null;
    read += source.recordsInPerSecond;
  }
  return read;
}

/**
 * Waiting `waitSeconds` before a scale-up would break the lag objective: the backlog, grown over
 * the wait at today's rate, would not drain within `catchUpSeconds` at the capacity the scale-up
 * brings. That capacity is taken as the records read now times `desired / current` (a lower bound:
 * a job not yet saturated can read more than it does); the arrivals as what is read plus what the
 * backlog grows by. A scale-down only adds capacity by waiting, and an unknown backlog or rate
 * gives no reason to hurry: neither breaks it.
 */
export function checkpointWaitBreaksLag(args: {
  readonly backlog: Backlog | null;
  readonly readRecordsPerSecond: number | null;
  readonly currentReplicas: number;
  readonly desiredReplicas: number;
  readonly waitSeconds: number;
  readonly catchUpSeconds: number;
}): boolean {
  const { backlog, readRecordsPerSecond: read } = args;
  if (args.desiredReplicas <= args.currentReplicas || backlog === null || read === null || read <= 0)
    return false;
  const growth = -backlog.drainRecordsPerSecond;
  const pendingAfterWait = backlog.pendingRecords + Math.max(0, growth) * args.waitSeconds;
  if (pendingAfterWait <= 0) return false;
  const capacityAfter = (read * args.desiredReplicas) / Math.max(1, args.currentReplicas);
  const arriving = read + growth;
  if (capacityAfter <= arriving) return true;
  return pendingAfterWait / (capacityAfter - arriving) > args.catchUpSeconds;
}

/**
 * Waiting pays when the backlog it lets grow (`growth × waitSeconds`) is smaller than the replay it
 * saves (`read × replaySeconds`, what the job read since its latest checkpoint): either way the job
 * has those records to work through after the rescale. A backlog that does not grow, or an unknown
 * one, always makes the wait pay.
 */
export function checkpointWaitPays(args: {
  readonly backlog: Backlog | null;
  readonly readRecordsPerSecond: number | null;
  readonly waitSeconds: number;
  readonly replaySeconds: number;
}): boolean {
  const { backlog, readRecordsPerSecond: read } = args;
  if (backlog === null || read === null) return true;
  const growth = -backlog.drainRecordsPerSecond;
  return growth * args.waitSeconds < read * args.replaySeconds;
}

/**
 * A checkpoint completed since the previous tick, as far as the JobManager shows: its id is new
 * (or, when the previous tick did not read the checkpoints, it completed after that tick).
 */
function newSinceLastTick(seen: CheckpointsAsSeen): boolean {
  const { latestCompletedId: id, previousLatestCompletedId: previousId } = seen;
  if (id === null) return false;
  if (previousId !== undefined) return id !== previousId;
  const { latestCompletedAtMs: atMs, previousSnapshotAtMs: previousMs } = seen;
  return atMs !== null && previousMs !== null && atMs > previousMs;
}

/**
 * How late the JobManager may show a completed checkpoint: it serves `GET /jobs/{jid}/checkpoints`
 * from a cache kept `rest.cache.checkpoint-statistics.timeout`, by default `web.refresh-interval`
 * (3 s; flink-runtime `AbstractCheckpointStatsHandler`). A checkpoint is not taken for late before.
 */
export const CHECKPOINT_STATS_CACHE_MS = 3_000;

/** What the checkpoint hold reads of a decided rescale. */
export interface CheckpointHoldArgs {
  /** `rescale-after-checkpoint`. */
  readonly enabled: boolean;
  /** The path the write takes: a redeploy stops with a savepoint and replays nothing. */
  readonly path: RescalePath;
  readonly checkpoints: CheckpointsAsSeen | null | undefined;
  /** When the job last started running (our clock): its first checkpoint is due an interval later. */
  readonly runningSinceMs: number | null;
  readonly currentReplicas: number;
  readonly desiredReplicas: number;
  readonly backlog: Backlog | null;
  readonly readRecordsPerSecond: number | null;
  readonly catchUpSeconds: number;
  readonly nowMs: number;
}

/**
 * Why a decided rescale waits for the next completed checkpoint, or null: write it now.
 *
 * A job restored from its latest completed checkpoint (in place, and Flink's reactive mode)
 * processes again what it read since that checkpoint; written on the first tick after a checkpoint
 * completed, a rescale replays at most one tick of input, written at a random moment half an
 * interval on average. So the change waits until a checkpoint completed since the previous tick,
 * and no longer than until the next one is due (an interval after the later of the latest completed
 * one and the job's last start) and one tick and the JobManager's cache time after it, to see it:
 * a late or failing checkpoint costs one interval (and those seconds) at most. It is written at once when checkpoint timing is off, the path takes a
 * savepoint, checkpoints are off or unknown, or waiting would break the lag objective
 * (`checkpointWaitBreaksLag`) or let the backlog grow by more than the replay it saves
 * (`checkpointWaitPays`).
 */
export function checkpointHold(args: CheckpointHoldArgs): string | null {
  const { checkpoints: seen, nowMs } = args;
  if (!args.enabled || args.path === 'redeploy') return null;
  if (seen === null || seen === undefined || seen.intervalMs === null) return null;
  const previousMs = seen.previousSnapshotAtMs;
  const latestMs = seen.latestCompletedAtMs;
  if (newSinceLastTick(seen)) return null;
  // A (re)started job's checkpoint timer starts anew (`CheckpointCoordinator.startCheckpointScheduler`
  // draws the first delay within one interval), so the next one is due an interval after the later
  // of the two.
  const since = [latestMs, args.runningSinceMs].filter((atMs): atMs is number => atMs !== null);
  if (since.length === 0) return null;
  const sinceMs = Math.max(...since);
  const dueMs = sinceMs + seen.intervalMs;
  const tickMs = previousMs === null ? 0 : Math.max(0, seen.seenAtMs - previousMs);
  const waitMs = dueMs + tickMs + CHECKPOINT_STATS_CACHE_MS - nowMs;
  if (waitMs <= 0) return null;
  if (
    checkpointWaitBreaksLag({
      backlog: args.backlog,
      readRecordsPerSecond: args.readRecordsPerSecond,
      currentReplicas: args.currentReplicas,
      desiredReplicas: args.desiredReplicas,
      waitSeconds: waitMs / 1000,
      catchUpSeconds: args.catchUpSeconds,
    })
  )
    return null;
  const ageSeconds = latestMs === null ? null : Math.round((nowMs - latestMs) / 1000);
  if (
    ageSeconds !== null &&
    !checkpointWaitPays({
      backlog: args.backlog,
      readRecordsPerSecond: args.readRecordsPerSecond,
      waitSeconds: waitMs / 1000,
      replaySeconds: (nowMs - (latestMs ?? nowMs)) / 1000,
    })
  )
    return null;
  return `waiting for the next checkpoint (due in ${Math.max(0, Math.ceil((dueMs - nowMs) / 1000))}s, every ${formatSeconds(seen.intervalMs)}): written now it would replay ${ageSeconds === null ? 'everything since the job started' : `the last ${ageSeconds}s of input`}`;
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toPrecision(4))}s`;
}
