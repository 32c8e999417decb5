/**
 * The scaler's Prometheus metrics in one object, for `startScaler` to hand to its parts: the
 * collector and Flink metrics, the Kubernetes request metrics, and the per-target metrics with the
 * leader and readiness gauges, whose scrape-time values come from the running scaler
 * (`scalerMetricsSource`).
 */
import type { Registry } from 'prom-client';

import { isAvailable } from '../domain/metrics.js';
import type { ServedTarget } from '../domain/metrics.js';
import type { Clock, Readiness } from '../domain/ports.js';
import type { KubeRequestObserver } from '../observability/metrics.js';
import type { LeaderState } from '../kube/leader-election.js';
import type { RecommendationSource } from './scaling-loop.js';
import type { TargetSource } from '../kube/target-registry.js';
import { RECOMMENDED_TASKMANAGERS } from '../metrics/catalogue.js';
import {
  createCollectorMetrics,
  createKubeRequestMetrics,
  createPeerRecordsMetrics,
} from '../observability/metrics.js';
import type { CollectorMetrics, PeerRecordsObserver } from '../observability/metrics.js';
import { TargetMetrics } from '../observability/target-metrics.js';
import type { ScalingObserver, TargetMetricsSource, TargetSample } from '../observability/target-metrics.js';

export interface ScalerMetrics {
  readonly collector: CollectorMetrics;
  readonly kube: KubeRequestObserver;
  readonly peers: PeerRecordsObserver;
  readonly targets: ScalingObserver & { bind(source: TargetMetricsSource): void };
}

/** Registers every metric of the scaler on `registry`. */
export function createScalerMetrics(registry: Registry, clock?: Clock): ScalerMetrics {
  const targets = new TargetMetrics(registry, clock);
  return {
    collector: createCollectorMetrics(registry, targets),
    kube: createKubeRequestMetrics(registry),
    peers: createPeerRecordsMetrics(registry),
    targets,
  };
}

/** The parts of a running scaler (`Scaler`) the per-target gauges read. */
export interface ScalerView {
  readonly registry: TargetSource;
  readonly recommendations: RecommendationSource;
  readonly leader: LeaderState;
  readonly collector: { readiness(nowMs: number): Readiness };
  servedTargets(): readonly ServedTarget[];
}

/**
 * The per-target gauges' source over a running scaler: every registered target (also one whose
 * annotations are invalid), its served metrics as the external metrics API serves them, its
 * TaskManagers and parallelism from its object, and the latest decision.
 */
export function scalerMetricsSource(scaler: ScalerView): TargetMetricsSource {
  return {
    targets(nowMs: number): readonly TargetSample[] {
      const served = new Map(scaler.servedTargets().map((target) => [target.id, target]));
      return scaler.registry.list().map((target): TargetSample => {
        const view = target.view !== null && !('problem' in target.view) ? target.view : null;
        const recommendation = scaler.recommendations.recommendation(target.id);
        const servedTarget = served.get(target.id);
        const sampledAtMs = servedTarget?.timestampMs ?? null;
        const sampleAgeSeconds = sampledAtMs === null ? null : (nowMs - sampledAtMs) / 1000;
        const decisionAgeSeconds = recommendation === undefined ? null : (nowMs - recommendation.atMs) / 1000;
        return {
          labels: {
            namespace: target.ref.namespace,
            name: target.ref.name,
            kind: target.ref.kind.toLowerCase(),
          },
          mode: target.parsed.ok ? target.parsed.config.mode : 'invalid',
          metrics: Object.entries(servedTarget?.metrics ?? {}).map(([name, reading]) => ({
            name,
            value: isAvailable(reading) ? reading.value : null,
            ageSeconds: name === RECOMMENDED_TASKMANAGERS ? decisionAgeSeconds : sampleAgeSeconds,
          })),
          currentTaskManagers: view?.currentReplicas ?? null,
          readyTaskManagers: view?.readyReplicas ?? null,
          desiredTaskManagers: recommendation?.replicas ?? null,
          currentParallelism: view?.currentParallelism ?? null,
          desiredParallelism: recommendation?.parallelism ?? null,
        };
      });
    },
    isLeader: () => scaler.leader.isLeader(),
    isReady: (nowMs) => scaler.collector.readiness(nowMs).ready,
  };
}
