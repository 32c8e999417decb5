/**
 * The per-tick snapshot of the targets' metrics: after each collection, one immutable record per
 * target (catalogue metrics, expression metrics, the recommendation, freshness, window, identity).
 * Every reader uses it: the external metrics API (discovery and reads), the scaling loop (its
 * window readings) and the per-target Prometheus gauges. A target's window is read, and its
 * expression metrics are evaluated, once per tick, here, however many reads come.
 *
 * A tick is built in two steps because the recommendation comes from the scaling loop, which runs
 * on the tick's readings: `collected` (after the collector's tick) builds the readings and the
 * records, which the loop then reads; `publish` (after the loop's pass) adds each target's
 * recommendation and makes the snapshot the one served. Publishing after the pass, rather than
 * publishing at once and filling the recommendation in later, keeps a published record immutable
 * and its values consistent: a reader never sees this tick's Flink metrics next to a recommendation
 * that was decided on the previous tick's. Until the pass ends, reads get the previous snapshot.
 */
import { MetricsSnapshot } from '../domain/metrics-snapshot.js';
import type { DescribedKind, MetricReading, ServedPod, ServedTarget } from '../domain/metrics.js';
import type { Clock, MetricsSnapshotSource } from '../domain/ports.js';
import type { RegisteredTarget } from '../kube/target-registry.js';
import { RECOMMENDED_TASKMANAGERS } from '../metrics/catalogue.js';
import type { WindowReadings } from '../metrics/metric-window.js';
import { metricValues } from '../metrics/expression-metric.js';
import type { EvaluableMetric, MetricValues } from '../metrics/expression-metric.js';
import type { MetricsSource, RecommendationSource } from './scaling-loop.js';

/** A target as the snapshot needs it. */
export interface SnapshotTarget {
  /** `<lowercase kind>/<namespace>/<name>`. */
  readonly id: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** The window its averages span (`metrics-window`). */
  readonly windowSeconds: number;
  /** How old its last sample may get before its metrics are stale (`metrics-max-age`). */
  readonly maxSampleAgeSeconds: number;
  /** Its expression metrics (`metric.<name>` annotations). */
  readonly expressions: readonly EvaluableMetric[];
  /** Its kind as the custom metrics API names it. */
  readonly object: DescribedKind;
  /** The object's labels. */
  readonly labels: Readonly<Record<string, string>>;
}

/** A registered target as the snapshot serves it; null while its annotations are invalid (nothing is served). */
export function snapshotTargetOf(target: RegisteredTarget): SnapshotTarget | null {
  if (!target.parsed.ok) return null;
  const { config, expressions } = target.parsed;
  return {
    id: target.id,
    kind: target.ref.kind,
    namespace: target.ref.namespace,
    name: target.ref.name,
    windowSeconds: config.metricsWindow,
    maxSampleAgeSeconds: config.metricsMaxAge,
    expressions,
    object: {
      apiVersion: target.ref.apiVersion,
      kind: target.ref.kind,
      resource: groupResourceOf(target.adapter.resource),
    },
    labels: target.object.metadata.labels ?? {},
  };
}

/** `<plural>.<group>`, or the plural alone in the core group (apimachinery `GroupResource.String()`). */
export function groupResourceOf(resource: { readonly group: string; readonly plural: string }): string {
  return resource.group === '' ? resource.plural : `${resource.plural}.${resource.group}`;
}

/**
 * A target's record without its recommendation: the window's catalogue metrics and the target's
 * expression metrics over them (each evaluated here, once).
 */
export function servedTargetOf(
  target: SnapshotTarget,
  readings: WindowReadings | undefined,
  pods?: readonly ServedPod[],
): ServedTarget {
  const metrics = readings === undefined ? {} : metricValues(readings.metrics, target.expressions);
  const lastSampleAtMs = readings?.lastSampleAtMs ?? null;
  return {
    id: target.id,
    kind: target.kind.toLowerCase(),
    namespace: target.namespace,
    name: target.name,
    jobId: readings?.jobId ?? null,
    windowSeconds: target.windowSeconds,
    timestampMs: lastSampleAtMs,
    freshUntilMs: lastSampleAtMs === null ? null : lastSampleAtMs + target.maxSampleAgeSeconds * 1000,
    metrics,
    object: target.object,
    labels: target.labels,
    ...(pods === undefined ? {} : { pods }),
  };
}

/** `flink_recommended_taskmanagers` of one target: the loop's latest recommendation, or no-data. */
function recommendationReading(recommendations: RecommendationSource, targetId: string): MetricReading {
  const recommendation = recommendations.recommendation(targetId);
  return recommendation === undefined ? { unavailable: 'no-data' } : { value: recommendation.replicas };
}

export interface SnapshotStoreDependencies {
  /** The targets now (the registry's, mapped with `snapshotTargetOf`). */
  readonly targets: () => readonly SnapshotTarget[];
  /** A target's window readings as of `nowMs` (the collector's). */
  readonly readings: (targetId: string, nowMs: number) => WindowReadings | undefined;
  /** The scaling loop's recommendations. */
  readonly recommendations: RecommendationSource;
  /** A target's TaskManager pods with their Pods metrics, when they are collected (src/runtime/taskmanager-loads.ts). */
  readonly pods?: (targetId: string) => readonly ServedPod[] | undefined;
  readonly clock: Clock;
}

interface CollectedTick {
  readonly tick: number;
  readonly builtAtMs: number;
  readonly readings: ReadonlyMap<string, WindowReadings>;
  /** By target id, in the registry's order. */
  readonly records: ReadonlyMap<string, ServedTarget>;
}

/**
 * Builds the snapshot of each tick and holds the one published. The external metrics API reads
 * `snapshot()`; the scaling loop reads `readings()` of the tick it plans.
 */
export class SnapshotStore implements MetricsSnapshotSource, MetricsSource {
  private ticks = 0;
  private collectedTick: CollectedTick | null = null;
  private published = MetricsSnapshot.EMPTY;

  constructor(private readonly deps: SnapshotStoreDependencies) {}

  /** After a collection: reads every target's window once and builds its record. */
  collected(): void {
    const nowMs = this.deps.clock.nowMs();
    const readings = new Map<string, WindowReadings>();
    const records = new Map<string, ServedTarget>();
    for (const target of this.deps.targets()) {
      const targetReadings = this.deps.readings(target.id, nowMs);
      if (targetReadings !== undefined) readings.set(target.id, targetReadings);
      records.set(target.id, servedTargetOf(target, targetReadings, this.deps.pods?.(target.id)));
    }
    this.ticks += 1;
    this.collectedTick = { tick: this.ticks, builtAtMs: nowMs, readings, records };
  }

  /** After the scaling loop's pass: the collected records with their recommendations, served from now on. */
  publish(): void {
    const collected = this.collectedTick;
    if (collected === null) return;
    const { recommendations } = this.deps;
    const records = [...collected.records.values()].map((record) => ({
      ...record,
      metrics: {
        ...record.metrics,
        [RECOMMENDED_TASKMANAGERS]: recommendationReading(recommendations, record.id),
      },
    }));
    this.published = new MetricsSnapshot(records, { tick: collected.tick, builtAtMs: collected.builtAtMs });
  }

  /** The snapshot served now (`EMPTY` until the first tick is published). */
  snapshot(): MetricsSnapshot {
    return this.published;
  }

  /** A target's window readings as of the latest collection (what the scaling loop plans with). */
  readings(targetId: string): WindowReadings | undefined {
    return this.collectedTick?.readings.get(targetId);
  }

  /** A target's metric values of the latest collection (expressions evaluated there, once), for the loop to plan with. */
  values(targetId: string): MetricValues | undefined {
    const tick = this.collectedTick;
    if (tick?.readings.has(targetId) !== true) return undefined;
    return tick.records.get(targetId)?.metrics;
  }
}
