/**
 * A model of the Apache Flink Kubernetes Operator's autoscaler (flink-autoscaler, 1.15), the peer
 * `simulate --compare` sets beside Slotscaler. A model of its published algorithm, not its code:
 * what its documentation and its `ScalingMetricEvaluator`, `JobVertexScaler` and
 * `AutoScalerUtils.getTargetProcessingCapacity` describe, on the simulated job's one bottleneck
 * vertex:
 *
 * - After the job (re)starts, no samples for `stabilization.interval`; then one sample per control
 *   loop, and no decision until the samples span `metrics.window`.
 * - True processing rate = records processed per second / busy ratio (what the vertex would do
 *   busy all the time); target data rate = records arriving per second at the source (read plus
 *   the growth of `pendingRecords`), averaged over the window.
 * - Target capacity = pendingRecords / `catch-up.duration` + rate × `restart.time` /
 *   `catch-up.duration` + rate / `utilization.target`.
 * - The vertex is rescaled only when its true processing rate leaves the band between the scale-up
 *   threshold (the capacity at `utilization.max`, no restart term) and the scale-down threshold (at
 *   `utilization.min`, with the restart term), both target ± `target.utilization.boundary`.
 * - New parallelism = ceil(p × capacity / true processing rate), at least p × (1 −
 *   `scale-down.max-factor`), within the vertex bounds. A scale-up is applied at once; a scale-down
 *   only once it was asked for continuously for `scale-down.interval`, at the highest parallelism
 *   asked for meanwhile (its `DelayedScaleDown`).
 *
 * Left out: key-group and partition alignment, observed-scalability and effectiveness detection,
 * memory tuning, restart-time tracking. Pure: time is an argument.
 */
import type { JobSnapshot } from '../domain/flink.js';

/** The peer's `job.autoscaler.*` options the model reads, in seconds and fractions. */
export interface PeerModelKnobs {
  /** `metrics.window` (default 15 min). */
  readonly metricsWindowSeconds: number;
  /** `stabilization.interval` (default 5 min). */
  readonly stabilizationSeconds: number;
  /** `catch-up.duration` (default 30 min). */
  readonly catchUpSeconds: number;
  /** `restart.time` (default 5 min): the rate × restart time is added to what must be caught up. */
  readonly restartSeconds: number;
  /** `scale-down.interval` (default 1 h). */
  readonly scaleDownIntervalSeconds: number;
  /** `utilization.target` (default 0.7). */
  readonly targetUtilization: number;
  /** `target.utilization.boundary` (default 0.3). */
  readonly utilizationBoundary: number;
  /** `scale-down.max-factor` (default 0.6). */
  readonly scaleDownMaxFactor: number;
  /** `vertex.min-parallelism`, `vertex.max-parallelism`. */
  readonly minParallelism: number;
  readonly maxParallelism: number;
}

/** The peer's defaults (flink-autoscaler `AutoScalerOptions`, 1.15). */
export const PEER_DEFAULT_KNOBS: PeerModelKnobs = {
  metricsWindowSeconds: 15 * 60,
  stabilizationSeconds: 5 * 60,
  catchUpSeconds: 30 * 60,
  restartSeconds: 5 * 60,
  scaleDownIntervalSeconds: 60 * 60,
  targetUtilization: 0.7,
  utilizationBoundary: 0.3,
  scaleDownMaxFactor: 0.6,
  minParallelism: 1,
  maxParallelism: 200,
};

/** What the model evaluated over its window. */
export interface PeerEvaluation {
  readonly busyRatio: number;
  readonly trueProcessingRate: number;
  readonly targetDataRate: number;
  readonly pendingRecords: number;
  readonly targetCapacity: number;
  readonly scaleUpThreshold: number;
  readonly scaleDownThreshold: number;
}

export type PeerTick =
  | { readonly action: 'collecting'; readonly why: string }
  | { readonly action: 'keep'; readonly evaluation: PeerEvaluation }
  | {
      readonly action: 'delayed-scale-down';
      readonly parallelism: number;
      readonly evaluation: PeerEvaluation;
    }
  | { readonly action: 'rescale'; readonly parallelism: number; readonly evaluation: PeerEvaluation };

interface Sample {
  readonly atMs: number;
  readonly busyMs: number;
  readonly processed: number;
  /** Records read from the source plus its pending records: what has arrived so far. */
  readonly arrived: number;
  readonly pending: number;
}

/** The bottleneck: the non-source vertex busiest per subtask (the model's one processing vertex). */
function bottleneckOf(snapshot: JobSnapshot): JobSnapshot['vertices'][number] | undefined {
  return snapshot.vertices.find((vertex) => !vertex.isSource) ?? snapshot.vertices[0];
}

/** Target capacity in records per second at `utilization` (`AutoScalerUtils.getTargetProcessingCapacity`). */
export function targetProcessingCapacity(
  targetDataRate: number,
  pendingRecords: number,
  utilization: number,
  withRestart: boolean,
  knobs: Pick<PeerModelKnobs, 'catchUpSeconds' | 'restartSeconds'>,
): number {
  const bounded = Math.min(1, Math.max(0, utilization));
  if (bounded === 0) return Number.POSITIVE_INFINITY;
  const catchUp = knobs.catchUpSeconds > 0 ? pendingRecords / knobs.catchUpSeconds : 0;
  const restart =
    withRestart && knobs.catchUpSeconds > 0
      ? (targetDataRate * knobs.restartSeconds) / knobs.catchUpSeconds
      : 0;
  return Math.round(catchUp + restart + targetDataRate / bounded);
}

/** ceil(p × capacity / true rate), at least p × (1 − max scale-down factor), within the bounds. */
export function peerParallelism(
  current: number,
  targetCapacity: number,
  trueProcessingRate: number,
  knobs: Pick<PeerModelKnobs, 'scaleDownMaxFactor' | 'minParallelism' | 'maxParallelism'>,
): number {
  const factor = Math.max(targetCapacity / trueProcessingRate, 1 - knobs.scaleDownMaxFactor);
  const wanted = Math.ceil(current * factor - 1e-9);
  return Math.min(knobs.maxParallelism, Math.max(knobs.minParallelism, wanted));
}

/** One job under the modelled peer: feed it a snapshot every control loop. */
export class PeerModel {
  private samples: Sample[] = [];
  private runningSinceMs: number | null = null;
  /** Since when a scale-down has been asked for without a break, and the highest one asked. */
  private scaleDown: { sinceMs: number; parallelism: number } | null = null;

  constructor(readonly knobs: PeerModelKnobs) {}

  tick(snapshot: JobSnapshot, nowMs: number): PeerTick {
    const vertex = bottleneckOf(snapshot);
    const source = snapshot.vertices.find((v) => v.isSource)?.source ?? null;
    if (snapshot.state !== 'RUNNING' || vertex === undefined || source === null) {
      this.reset(null);
      return { action: 'collecting', why: 'the job is not running' };
    }
    if (snapshot.runningSinceMs !== this.runningSinceMs) this.reset(snapshot.runningSinceMs);
    const since = this.runningSinceMs ?? nowMs;
    if (nowMs < since + this.knobs.stabilizationSeconds * 1000)
      return { action: 'collecting', why: 'stabilizing after the (re)start' };
    this.samples.push({
      atMs: nowMs,
      busyMs: vertex.counters.busyTimeMs ?? 0,
      processed: vertex.counters.recordsRead ?? 0,
      arrived: (source.recordsOut ?? 0) + (source.pendingRecords ?? 0),
      pending: source.pendingRecords ?? 0,
    });
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (
      first === undefined ||
      last === undefined ||
      last.atMs - first.atMs < this.knobs.metricsWindowSeconds * 1000
    )
      return { action: 'collecting', why: 'the metrics window is not full' };
    // Keep the samples of one window (the oldest one starts it).
    while (
      (this.samples[1]?.atMs ?? Number.POSITIVE_INFINITY) <=
      last.atMs - this.knobs.metricsWindowSeconds * 1000
    )
      this.samples.shift();
    const start = this.samples[0] ?? first;
    const seconds = (last.atMs - start.atMs) / 1000;
    const p = vertex.parallelism;
    const busyRatio = Math.min(1, (last.busyMs - start.busyMs) / (seconds * 1000 * p));
    const processedRate = (last.processed - start.processed) / seconds;
    const targetDataRate = Math.max(0, (last.arrived - start.arrived) / seconds);
    if (!(busyRatio > 0)) return { action: 'collecting', why: 'no busy time in the window' };
    const trueProcessingRate = processedRate / busyRatio;
    const k = this.knobs;
    const evaluation: PeerEvaluation = {
      busyRatio,
      trueProcessingRate,
      targetDataRate,
      pendingRecords: last.pending,
      targetCapacity: targetProcessingCapacity(targetDataRate, last.pending, k.targetUtilization, true, k),
      scaleUpThreshold: targetProcessingCapacity(
        targetDataRate,
        last.pending,
        Math.min(1, k.targetUtilization + k.utilizationBoundary),
        false,
        k,
      ),
      scaleDownThreshold: targetProcessingCapacity(
        targetDataRate,
        last.pending,
        Math.max(0, k.targetUtilization - k.utilizationBoundary),
        true,
        k,
      ),
    };
    const outside =
      trueProcessingRate < evaluation.scaleUpThreshold || trueProcessingRate > evaluation.scaleDownThreshold;
    const wanted = outside ? peerParallelism(p, evaluation.targetCapacity, trueProcessingRate, k) : p;
    if (wanted > p) {
      this.scaleDown = null;
      return { action: 'rescale', parallelism: wanted, evaluation };
    }
    if (wanted === p) {
      this.scaleDown = null;
      return { action: 'keep', evaluation };
    }
    const delayed = {
      sinceMs: this.scaleDown?.sinceMs ?? nowMs,
      parallelism: Math.max(wanted, this.scaleDown?.parallelism ?? wanted),
    };
    this.scaleDown = delayed;
    if (nowMs - delayed.sinceMs < k.scaleDownIntervalSeconds * 1000)
      return { action: 'delayed-scale-down', parallelism: delayed.parallelism, evaluation };
    this.scaleDown = null;
    return { action: 'rescale', parallelism: delayed.parallelism, evaluation };
  }

  private reset(runningSinceMs: number | null): void {
    this.samples = [];
    this.runningSinceMs = runningSinceMs;
  }
}
