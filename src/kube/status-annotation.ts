/**
 * The `slotscaler.dev/status` annotation: the last decision and the histories the decision core
 * needs (stabilization recommendations and scale events), so a restarted or new leader does not
 * forget a scale-down window. Compact JSON, bounded: histories keep their newest entries only.
 */
import { z } from 'zod';

import type { TimestampedRecommendation, TimestampedScaleEvent } from '../domain/decision.js';

/** The most entries of each history kept in the annotation. */
export const MAX_STATUS_ENTRIES = 100;

/** One metric of a decision, as recorded: value and target in the metric's units; value null when unavailable. */
export interface RecordedMetric {
  readonly name: string;
  readonly value: number | null;
  readonly target: number;
  readonly type: 'Value' | 'AverageValue';
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
}

export interface TargetStatus {
  readonly lastDecision: RecordedDecision | null;
  /** When Slotscaler last changed the target (epoch ms), for the post-rescale hold. */
  readonly lastRescaleAtMs: number | null;
  readonly recommendations: readonly TimestampedRecommendation[];
  readonly scaleEvents: readonly TimestampedScaleEvent[];
}

const wire = z.object({
  v: z.literal(1),
  last: z
    .object({
      at: z.number(),
      from: z.number().int(),
      to: z.number().int(),
      pFrom: z.number().int().nullable(),
      pTo: z.number().int(),
      reason: z.string(),
      outcome: z.string(),
      metrics: z.array(
        z.object({
          n: z.string(),
          v: z.number().nullable(),
          t: z.number(),
          type: z.enum(['Value', 'AverageValue']),
        }),
      ),
    })
    .nullable(),
  rescaledAt: z.number().nullable(),
  /** [replicas, epoch ms] */
  rec: z.array(z.tuple([z.number().int().min(0), z.number()])),
  /** [replica change, epoch ms] */
  ev: z.array(z.tuple([z.number().int(), z.number()])),
});

function newest<T extends { readonly timestampMs: number }>(entries: readonly T[]): T[] {
  return [...entries].sort((a, b) => a.timestampMs - b.timestampMs).slice(-MAX_STATUS_ENTRIES);
}

export function encodeStatus(status: TargetStatus): string {
  const last = status.lastDecision;
  return JSON.stringify({
    v: 1,
    last:
      last === null
        ? null
        : {
            at: last.atMs,
            from: last.fromReplicas,
            to: last.toReplicas,
            pFrom: last.fromParallelism,
            pTo: last.toParallelism,
            reason: last.reason,
            outcome: last.outcome,
            metrics: last.metrics.map((m) => ({ n: m.name, v: m.value, t: m.target, type: m.type })),
          },
    rescaledAt: status.lastRescaleAtMs,
    rec: newest(status.recommendations).map((r) => [r.replicas, r.timestampMs]),
    ev: newest(status.scaleEvents).map((e) => [e.replicaChange, e.timestampMs]),
  } satisfies z.input<typeof wire>);
}

/** The status from an annotation value; null when absent or not ours (a hand-edited value is ignored, not fatal). */
export function decodeStatus(text: string | undefined): TargetStatus | null {
  if (text === undefined || text.trim() === '') return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = wire.safeParse(json);
  if (!parsed.success) return null;
  const data = parsed.data;
  return {
    lastDecision:
      data.last === null
        ? null
        : {
            atMs: data.last.at,
            fromReplicas: data.last.from,
            toReplicas: data.last.to,
            fromParallelism: data.last.pFrom,
            toParallelism: data.last.pTo,
            reason: data.last.reason,
            outcome: data.last.outcome,
            metrics: data.last.metrics.map((m) => ({ name: m.n, value: m.v, target: m.t, type: m.type })),
          },
    lastRescaleAtMs: data.rescaledAt,
    recommendations: data.rec.map(([replicas, timestampMs]) => ({ replicas, timestampMs })),
    scaleEvents: data.ev
      .filter(([change]) => change !== 0)
      .map(([replicaChange, timestampMs]) => ({ replicaChange, timestampMs })),
  };
}

/** Union of two recommendation histories (the annotation's and one's own), newest kept, duplicates once. */
export function mergeRecommendations(
  a: readonly TimestampedRecommendation[],
  b: readonly TimestampedRecommendation[],
): TimestampedRecommendation[] {
  const seen = new Set<string>();
  const out: TimestampedRecommendation[] = [];
  for (const entry of [...a, ...b]) {
    const key = `${entry.replicas}@${entry.timestampMs}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(entry);
  }
  return newest(out);
}
