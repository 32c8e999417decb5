/**
 * Per-target Prometheus metrics, labelled `namespace`, `name` and `kind` (the lower-case kind, as
 * the external metrics API's `kind` label): what each opted-in target is served, its TaskManagers
 * and parallelism (current, desired, running), its decisions, holds, rescales, failed writes and
 * collection errors, and how long a rescale takes to run.
 *
 * Cardinality is bounded: one series set per opted-in target, removed when the target goes. The
 * gauges are read from a source at scrape time (so a gone target has none); the counters and the
 * histogram remember the label sets they were given per target and drop them once the source no
 * longer lists the target.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

import type { Clock } from '../domain/ports.js';
import type { RescalePath } from '../domain/target.js';
import type { CollectedTarget, CollectedTargetObserver } from './metrics.js';

/** The labels of every per-target series. */
export interface TargetLabels {
  readonly namespace: string;
  readonly name: string;
  /** Lower-case (`flinkdeployment`), as the external metrics API's `kind` label. */
  readonly kind: string;
}

/** One served metric of a target: its value (null while unavailable) and the age of its reading. */
export interface ServedMetricSample {
  readonly name: string;
  readonly value: number | null;
  /** Seconds since the reading it comes from was taken; null when there is none. */
  readonly ageSeconds: number | null;
}

/** A target as the gauges show it at one scrape. */
export interface TargetSample {
  readonly labels: TargetLabels;
  /** `scale`, `recommend`, `metrics-only`, or `invalid` while its annotations are. */
  readonly mode: string;
  readonly metrics: readonly ServedMetricSample[];
  readonly currentTaskManagers: number | null;
  readonly readyTaskManagers: number | null;
  readonly desiredTaskManagers: number | null;
  /** The parallelism the target's spec asks for, where it says. */
  readonly currentParallelism: number | null;
  readonly desiredParallelism: number | null;
}

/** Where the gauges come from at scrape time. Real: `scalerMetricsSource` (./scaler-metrics.ts). */
export interface TargetMetricsSource {
  /** The opted-in targets now; the only ones with series. */
  targets(nowMs: number): readonly TargetSample[];
  /** This replica holds the leader-election Lease (and so writes). */
  isLeader(): boolean;
  /** This replica answers /readyz with ready. */
  isReady(nowMs: number): boolean;
}

/** A target as the scaling loop reports it (its `ref`: `RegisteredTarget.ref`). */
export interface ObservedTarget {
  readonly ref: { readonly namespace: string; readonly name: string; readonly kind: string };
}

/** One write of a decision. `outcome` is structurally the writer's `WriteOutcome`. */
export interface ObservedWrite {
  readonly atMs: number;
  readonly fromReplicas: number;
  readonly toReplicas: number;
  readonly parallelism: number;
  /** How the rescale reaches the job. */
  readonly path: RescalePath;
  /** The requests of the write. */
  readonly steps: readonly { readonly path: string; readonly what: string }[];
  readonly outcome: { readonly ok: true } | { readonly ok: false; readonly kind: string };
}

/** What the scaling loop reports per target and pass. */
export interface ScalingObserver {
  /**
   * The outcome of one target's pass. `reason` is the target's latest decision reason; it is
   * counted only with the outcomes that follow a decision in the same pass.
   */
  observeOutcome(target: ObservedTarget, outcome: string, reason: string | undefined): void;
  /** A wanted change was not written; `reason` is the kind of hold (`operator-busy`, `post-rescale`, ...). */
  observeHold(target: ObservedTarget, reason: string): void;
  /** A decision was written, or its write failed. */
  observeWrite(target: ObservedTarget, write: ObservedWrite): void;
  /**
   * What became of a written rescale: `done` (the job runs at the new parallelism), `replaced` (an
   * in-place rescale reached it under a new job id: the job was redeployed instead), `not-taken`
   * (not seen in time).
   */
  observeRescaleResult(target: ObservedTarget, path: RescalePath, result: RescaleResult): void;
}

export type RescaleResult = 'done' | 'replaced' | 'not-taken';

/** Outcomes that come after a decision: they carry its reason. */
const DECIDED_OUTCOMES: ReadonlySet<string> = new Set([
  'unchanged',
  'scaled',
  'recommended',
  'held',
  'conflict',
  'write-failed',
]);

/** Outcomes during which a hold goes on. */
const HOLDING_OUTCOMES: ReadonlySet<string> = new Set(['held', 'recommended']);

/** Gauges read the source at most this often (one scrape reads every gauge). */
const SNAPSHOT_TTL_MS = 1_000;
/** Without scrapes, gone targets are forgotten this often (from the loop's reports). */
const PRUNE_INTERVAL_MS = 10_000;

const TARGET_LABEL_NAMES = ['namespace', 'name', 'kind'] as const;

/** The labels of a target id `<kind>/<namespace>/<name>` (the collector's fallback). */
function labelsOfId(id: string): TargetLabels {
  const [kind = '', namespace = '', ...name] = id.split('/');
  return { namespace, name: name.join('/'), kind };
}

function labelsOfRef(ref: ObservedTarget['ref']): TargetLabels {
  return { namespace: ref.namespace, name: ref.name, kind: ref.kind.toLowerCase() };
}

function labelsOfCollected(target: CollectedTarget): TargetLabels {
  const bindings = target.logBindings ?? {};
  const { namespace, name, kind } = bindings;
  if (typeof namespace === 'string' && typeof name === 'string' && typeof kind === 'string')
    return { namespace, name, kind: kind.toLowerCase() };
  return labelsOfId(target.id);
}

function keyOf(labels: TargetLabels): string {
  return `${labels.kind}/${labels.namespace}/${labels.name}`;
}

/** A rescale written and not yet seen running. */
interface PendingRescale {
  readonly atMs: number;
  readonly parallelism: number;
}

interface TargetState {
  readonly labels: TargetLabels;
  /** Label sets given to each counter and the histogram, by their JSON, to remove when the target goes. */
  readonly series: Map<RemovableMetric, Map<string, Record<string, string>>>;
  hold: { reason: string; sinceMs: number } | null;
  pending: PendingRescale | null;
  /** The job's parallelism when last seen RUNNING; null when it was not running. */
  runningParallelism: number | null;
}

interface RemovableMetric {
  remove(labels: Record<string, string>): void;
}

export class TargetMetrics implements ScalingObserver, CollectedTargetObserver {
  private source: TargetMetricsSource | undefined;
  private readonly states = new Map<string, TargetState>();
  private snapshotCache: { atMs: number; targets: readonly TargetSample[] } | null = null;
  private lastPruneMs = Number.NEGATIVE_INFINITY;

  private readonly decisions: Counter;
  private readonly holds: Counter;
  private readonly rescales: Counter;
  private readonly rescaleResults: Counter;
  private readonly writeFailures: Counter;
  private readonly collectionErrors: Counter;
  private readonly rescaleDuration: Histogram;

  constructor(
    registry: Registry,
    private readonly clock: Clock = { nowMs: () => Date.now() },
  ) {
    // Each read of a per-target metric first drops the targets that went (once per scrape: cached).
    const prune = (): void => {
      this.snapshot();
    };
    const counter = (name: string, help: string, more: readonly string[]): Counter =>
      new Counter({
        name,
        help,
        labelNames: [...TARGET_LABEL_NAMES, ...more],
        registers: [registry],
        collect: prune,
      });
    this.decisions = counter(
      'slotscaler_target_decisions_total',
      "Scaling passes per target, by outcome (scaled, unchanged, held, no-metrics, invalid, ...) and the decision's reason (none without a decision)",
      ['outcome', 'reason'],
    );
    this.holds = counter(
      'slotscaler_target_holds_total',
      'Passes in which a wanted change was not written, by reason (operator-busy, post-rescale, backoff, stateless, recommend, not-leader, conflict)',
      ['reason'],
    );
    this.rescales = counter(
      'slotscaler_target_rescales_total',
      'Rescales written, by direction (up, down) and path (in-place: the running job rescaled by the adaptive scheduler; redeploy: a full upgrade; scale: the scale fields alone, reactive mode)',
      ['direction', 'path'],
    );
    this.rescaleResults = counter(
      'slotscaler_target_rescale_results_total',
      'What became of written rescales, by path and result (done: the job runs at the new parallelism; replaced: an in-place rescale reached it under a new job id, a redeploy; not-taken: not seen on the JobManager in time)',
      ['path', 'result'],
    );
    this.writeFailures = counter(
      'slotscaler_target_write_failures_total',
      'Writes of a decision that failed, by reason (refused, throttled, unreachable, conflict, gone)',
      ['reason'],
    );
    this.collectionErrors = counter(
      'slotscaler_target_collection_errors_total',
      "Failed reads of a target's Flink job, by reason (the error code, e.g. FLINK_UNREACHABLE)",
      ['reason'],
    );
    this.rescaleDuration = new Histogram({
      name: 'slotscaler_target_rescale_duration_seconds',
      help: 'From the write of a rescale until the collector saw the job RUNNING at the new parallelism',
      labelNames: TARGET_LABEL_NAMES,
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600],
      registers: [registry],
      collect: prune,
    });

    const targets = (): readonly TargetSample[] => this.snapshot();
    const gauge = (
      name: string,
      help: string,
      more: readonly string[],
      fill: (set: (labels: Record<string, string>, value: number) => void) => void,
    ): void => {
      new Gauge({
        name,
        help,
        labelNames: [...TARGET_LABEL_NAMES, ...more],
        registers: [registry],
        collect() {
          this.reset();
          fill((labels, value) => this.set(labels, value));
        },
      });
    };
    const perTarget = (name: string, help: string, value: (target: TargetSample) => number | null): void => {
      gauge(name, help, [], (set) => {
        for (const target of targets()) {
          const number = value(target);
          if (number !== null) set({ ...target.labels }, number);
        }
      });
    };

    gauge(
      'slotscaler_target_info',
      'Always 1 for each opted-in target; mode: scale, recommend, metrics-only, or invalid while its annotations are',
      ['mode'],
      (set) => {
        for (const target of targets()) set({ ...target.labels, mode: target.mode }, 1);
      },
    );
    gauge(
      'slotscaler_target_metric_value',
      'The value the external metrics API serves for the target, per metric (absent while unavailable)',
      ['metric'],
      (set) => {
        for (const target of targets())
          for (const metric of target.metrics)
            if (metric.value !== null) set({ ...target.labels, metric: metric.name }, metric.value);
      },
    );
    gauge(
      'slotscaler_target_metric_available',
      'Whether the external metrics API has a value for the target, per metric (0: it answers 404)',
      ['metric'],
      (set) => {
        for (const target of targets())
          for (const metric of target.metrics)
            set({ ...target.labels, metric: metric.name }, metric.value === null ? 0 : 1);
      },
    );
    gauge(
      'slotscaler_target_metric_age_seconds',
      'Seconds since the reading a served metric comes from was taken (the last sample; the last decision for flink_recommended_taskmanagers)',
      ['metric'],
      (set) => {
        for (const target of targets())
          for (const metric of target.metrics)
            if (metric.ageSeconds !== null)
              set({ ...target.labels, metric: metric.name }, Math.max(0, metric.ageSeconds));
      },
    );
    perTarget(
      'slotscaler_target_current_taskmanagers',
      'TaskManagers the target asks for now (scale.spec.replicas)',
      (target) => target.currentTaskManagers,
    );
    perTarget(
      'slotscaler_target_ready_taskmanagers',
      'TaskManagers of the target that are ready',
      (target) => target.readyTaskManagers,
    );
    perTarget(
      'slotscaler_target_desired_taskmanagers',
      "TaskManagers Slotscaler's latest decision wants (flink_recommended_taskmanagers)",
      (target) => target.desiredTaskManagers,
    );
    perTarget(
      'slotscaler_target_current_parallelism',
      "The job parallelism the target's spec asks for (where its spec has one)",
      (target) => target.currentParallelism,
    );
    perTarget(
      'slotscaler_target_desired_parallelism',
      "The job parallelism Slotscaler's latest decision wants",
      (target) => target.desiredParallelism,
    );
    perTarget(
      'slotscaler_target_running_parallelism',
      "The parallelism the target's job runs at, as its JobManager last said (absent while not RUNNING)",
      (target) => this.states.get(keyOf(target.labels))?.runningParallelism ?? null,
    );
    gauge(
      'slotscaler_target_held_seconds',
      'How long a wanted change of the target has been held, by reason (absent while none is held)',
      ['reason'],
      (set) => {
        const nowMs = this.clock.nowMs();
        for (const target of targets()) {
          const hold = this.states.get(keyOf(target.labels))?.hold ?? null;
          if (hold !== null) set({ ...target.labels, reason: hold.reason }, (nowMs - hold.sinceMs) / 1000);
        }
      },
    );
    perTarget(
      'slotscaler_target_rescale_pending_seconds',
      'Seconds since a rescale was written that the job does not run yet (absent when none is pending)',
      (target) => {
        const pending = this.states.get(keyOf(target.labels))?.pending ?? null;
        return pending === null ? null : Math.max(0, (this.clock.nowMs() - pending.atMs) / 1000);
      },
    );

    const source = (): TargetMetricsSource | undefined => this.source;
    new Gauge({
      name: 'slotscaler_leader_status',
      help: '1 while this replica holds the leader-election Lease and so may write to targets, else 0',
      registers: [registry],
      collect() {
        this.set(source()?.isLeader() === true ? 1 : 0);
      },
    });
    new Gauge({
      name: 'slotscaler_ready',
      help: '1 while this replica is ready (/readyz: its collections keep completing), else 0',
      registers: [registry],
      collect() {
        this.set(source()?.isReady(clock.nowMs()) === true ? 1 : 0);
      },
    });
  }

  /** Where the gauges read the targets; until bound, there are no per-target gauges. */
  bind(source: TargetMetricsSource): void {
    this.source = source;
    this.snapshotCache = null;
  }

  observeOutcome(target: ObservedTarget, outcome: string, reason: string | undefined): void {
    const state = this.stateOf(labelsOfRef(target.ref));
    this.count(state, this.decisions, {
      outcome,
      reason: DECIDED_OUTCOMES.has(outcome) ? (reason ?? 'none') : 'none',
    });
    if (!HOLDING_OUTCOMES.has(outcome)) state.hold = null;
    this.pruneEvery(PRUNE_INTERVAL_MS);
  }

  observeHold(target: ObservedTarget, reason: string): void {
    const state = this.stateOf(labelsOfRef(target.ref));
    this.count(state, this.holds, { reason });
    if (state.hold?.reason !== reason) state.hold = { reason, sinceMs: this.clock.nowMs() };
  }

  observeRescaleResult(target: ObservedTarget, path: RescalePath, result: RescaleResult): void {
    this.count(this.stateOf(labelsOfRef(target.ref)), this.rescaleResults, { path, result });
  }

  observeWrite(target: ObservedTarget, write: ObservedWrite): void {
    const state = this.stateOf(labelsOfRef(target.ref));
    if (!write.outcome.ok) {
      this.count(state, this.writeFailures, { reason: write.outcome.kind });
      return;
    }
    this.count(state, this.rescales, {
      direction: write.toReplicas > write.fromReplicas ? 'up' : 'down',
      path: write.path,
    });
    state.hold = null;
    state.pending = { atMs: write.atMs, parallelism: write.parallelism };
  }

  /**
   * A pending rescale ends at the first snapshot after its write in which the job is RUNNING at the
   * written parallelism (the highest of its vertices'). Where the parallelism did not change (capped
   * by the job's max parallelism), that is the first RUNNING snapshot after the write.
   */
  observeTargetSnapshot(
    target: CollectedTarget,
    snapshot: {
      readonly state: string;
      readonly takenAtMs: number;
      readonly vertices: readonly { readonly parallelism: number }[];
    },
  ): void {
    const state = this.stateOf(labelsOfCollected(target));
    const running =
      snapshot.state === 'RUNNING' && snapshot.vertices.length > 0
        ? Math.max(...snapshot.vertices.map((vertex) => vertex.parallelism))
        : null;
    state.runningParallelism = running;
    const { pending } = state;
    if (pending === null || snapshot.takenAtMs < pending.atMs || running !== pending.parallelism) return;
    this.count(state, this.rescaleDuration, {}, (snapshot.takenAtMs - pending.atMs) / 1000);
    state.pending = null;
  }

  observeTargetFailure(target: CollectedTarget, code: string): void {
    const state = this.stateOf(labelsOfCollected(target));
    this.count(state, this.collectionErrors, { reason: code });
  }

  /** Forgets every target the source no longer lists: its series are removed. */
  prune(nowMs: number = this.clock.nowMs()): void {
    if (this.source === undefined) return;
    this.lastPruneMs = nowMs;
    this.retain(this.source.targets(nowMs));
  }

  private pruneEvery(intervalMs: number): void {
    const nowMs = this.clock.nowMs();
    if (nowMs - this.lastPruneMs >= intervalMs) this.prune(nowMs);
  }

  private retain(targets: readonly TargetSample[]): void {
    const keep = new Set(targets.map((target) => keyOf(target.labels)));
    for (const [key, state] of this.states) {
      if (keep.has(key)) continue;
      for (const [metric, labelSets] of state.series)
        for (const labels of labelSets.values()) metric.remove(labels);
      this.states.delete(key);
    }
  }

  /** The source's targets, read once per scrape (cached briefly), gone ones pruned. */
  private snapshot(): readonly TargetSample[] {
    if (this.source === undefined) return [];
    const nowMs = this.clock.nowMs();
    const cached = this.snapshotCache;
    if (cached !== null && nowMs - cached.atMs >= 0 && nowMs - cached.atMs < SNAPSHOT_TTL_MS)
      return cached.targets;
    const targets = this.source.targets(nowMs);
    this.snapshotCache = { atMs: nowMs, targets };
    this.lastPruneMs = nowMs;
    this.retain(targets);
    return targets;
  }

  private stateOf(labels: TargetLabels): TargetState {
    const key = keyOf(labels);
    let state = this.states.get(key);
    if (state === undefined) {
      state = { labels, series: new Map(), hold: null, pending: null, runningParallelism: null };
      this.states.set(key, state);
    }
    return state;
  }

  private count(
    state: TargetState,
    metric: Counter | Histogram,
    more: Record<string, string>,
    value = 1,
  ): void {
    const labels: Record<string, string> = { ...state.labels, ...more };
    let labelSets = state.series.get(metric);
    if (labelSets === undefined) {
      labelSets = new Map();
      state.series.set(metric, labelSets);
    }
    labelSets.set(JSON.stringify(labels), labels);
    if (metric instanceof Histogram) metric.observe(labels, value);
    else metric.inc(labels, value);
  }
}
