/**
 * The `slotscaler.dev/status` annotation: the last decision and the histories the decision core
 * needs (stabilization recommendations and scale events), so a restarted or new leader does not
 * forget a scale-down window. Compact JSON, bounded: histories keep their newest entries only.
 */
import { z } from 'zod';

import type { TargetHistory, TimestampedRecommendation } from '../domain/decision.js';
import type { HistoryStore } from '../domain/ports.js';
import { InMemoryHistoryStore } from '../scaler/history-store.js';

/** The most entries of each history kept in the annotation. */
export const MAX_STATUS_ENTRIES = 100;

/**
 * How far ahead of this replica's clock a timestamp of the annotation may be before it is taken as
 * now: room for the clocks of two replicas (or of a replica and the one before it) to disagree a
 * little. Beyond it a timestamp is a hand edit or a broken clock, and trusting it would hold the
 * target (post-rescale hold, stabilization) until that moment comes.
 */
export const STATUS_CLOCK_SKEW_ALLOWANCE_MS = 60_000;

/** The largest TaskManager count a history entry may name (the bound of max-taskmanagers). */
const MAX_RECORDED_REPLICAS = 10_000;

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
      path: z.enum(['in-place', 'redeploy', 'scale']).optional(),
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
  /** When the job ran at the new parallelism after that rescale (absent: not seen). */
  doneAt: z.number().nullable().optional(),
  /** [replicas, epoch ms] */
  rec: z.array(z.tuple([z.number().int().min(0).max(MAX_RECORDED_REPLICAS), z.number()])),
  /** [replica change, epoch ms] */
  ev: z.array(z.tuple([z.number().int().min(-MAX_RECORDED_REPLICAS).max(MAX_RECORDED_REPLICAS), z.number()])),
  /** Rescales of the last hour, epoch ms (the restart budget); absent in statuses written before it. */
  rs: z.array(z.number()).max(MAX_STATUS_ENTRIES).optional(),
});

function newest<T extends { readonly timestampMs: number }>(entries: readonly T[]): T[] {
  return [...entries].sort((a, b) => a.timestampMs - b.timestampMs).slice(-MAX_STATUS_ENTRIES);
}

export function encodeStatus(status: TargetHistory): string {
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
            ...(last.path === undefined ? {} : { path: last.path }),
            metrics: last.metrics.map((m) => ({ n: m.name, v: m.value, t: m.target, type: m.type })),
          },
    rescaledAt: status.lastRescaleAtMs,
    ...(status.rescaleDoneAtMs === null ? {} : { doneAt: status.rescaleDoneAtMs }),
    rec: newest(status.recommendations).map((r) => [r.replicas, r.timestampMs]),
    ev: newest(status.scaleEvents).map((e) => [e.replicaChange, e.timestampMs]),
    ...(status.rescalesAtMs === undefined
      ? {}
      : { rs: [...status.rescalesAtMs].sort((a, b) => a - b).slice(-MAX_STATUS_ENTRIES) }),
  } satisfies z.input<typeof wire>);
}

/** The status from an annotation value; null when absent or not ours (a hand-edited value is ignored, not fatal). */
export function decodeStatus(text: string | undefined): TargetHistory | null {
  return readStatus(text).status;
}

/** An annotation read for use: its status (null when absent or unreadable) and what was wrong with it. */
export interface StatusReading {
  readonly status: TargetHistory | null;
  /** Why the value was ignored or changed; empty when it was taken as it is. */
  readonly problems: readonly string[];
}

/**
 * Reads the annotation. With `nowMs`, timestamps more than `STATUS_CLOCK_SKEW_ALLOWANCE_MS` ahead of
 * it are taken as `nowMs` (and said in `problems`): a rescale "in 2036" then holds the target for
 * one cooldown from now, not for ten years, and its stabilization entries stay in their windows.
 */
export function readStatus(text: string | undefined, nowMs?: number): StatusReading {
  if (text === undefined || text.trim() === '') return { status: null, problems: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { status: null, problems: ['not JSON; its histories are ignored'] };
  }
  const parsed = wire.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.');
    return {
      status: null,
      problems: [
        `not a status this version writes (${where}: ${issue?.message ?? 'wrong shape'}); its histories are ignored`,
      ],
    };
  }
  const status = statusOf(parsed.data);
  return nowMs === undefined ? { status, problems: [] } : clampFuture(status, nowMs);
}

function clampFuture(status: TargetHistory, nowMs: number): StatusReading {
  const limitMs = nowMs + STATUS_CLOCK_SKEW_ALLOWANCE_MS;
  const problems: string[] = [];
  const ahead = (what: string, atMs: number): void => {
    problems.push(
      `${what} ${formatTime(atMs)} is ${formatAhead(atMs - nowMs)} ahead of this replica's clock (${formatTime(nowMs)}); taken as now`,
    );
  };
  const clamp = (field: string, atMs: number): number => {
    if (atMs <= limitMs) return atMs;
    ahead(field, atMs);
    return nowMs;
  };
  const clampAll = <T extends { readonly timestampMs: number }>(
    field: string,
    entries: readonly T[],
  ): T[] => {
    const future = entries.filter((entry) => entry.timestampMs > limitMs);
    if (future.length > 0) {
      const latest = Math.max(...future.map((entry) => entry.timestampMs));
      ahead(`${future.length} ${field} entries, the latest at`, latest);
    }
    return entries.map((entry) => (entry.timestampMs > limitMs ? { ...entry, timestampMs: nowMs } : entry));
  };
  const last = status.lastDecision;
  const clamped: TargetHistory = {
    lastDecision: last === null ? null : { ...last, atMs: clamp('the last decision', last.atMs) },
    lastRescaleAtMs: status.lastRescaleAtMs === null ? null : clamp('rescaledAt', status.lastRescaleAtMs),
    rescaleDoneAtMs: status.rescaleDoneAtMs === null ? null : clamp('doneAt', status.rescaleDoneAtMs),
    recommendations: clampAll('recommendation', status.recommendations),
    scaleEvents: clampAll('scale event', status.scaleEvents),
    ...(status.rescalesAtMs === undefined
      ? {}
      : {
          rescalesAtMs: clampAll(
            'rescale',
            status.rescalesAtMs.map((timestampMs) => ({ timestampMs })),
          ).map((entry) => entry.timestampMs),
        }),
  };
  return { status: clamped, problems };
}

function formatTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

function formatAhead(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 3600) return `${Math.round(seconds)} s`;
  if (seconds < 86_400 * 2) return `${(seconds / 3600).toFixed(1)} h`;
  if (seconds < 86_400 * 730) return `${Math.round(seconds / 86_400)} days`;
  return `${(seconds / (86_400 * 365.25)).toFixed(1)} years`;
}

function statusOf(data: z.output<typeof wire>): TargetHistory {
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
            ...(data.last.path === undefined ? {} : { path: data.last.path }),
            metrics: data.last.metrics.map((m) => ({ name: m.n, value: m.v, target: m.t, type: m.type })),
          },
    lastRescaleAtMs: data.rescaledAt,
    rescaleDoneAtMs: data.doneAt ?? null,
    recommendations: data.rec.map(([replicas, timestampMs]) => ({ replicas, timestampMs })),
    scaleEvents: data.ev
      .filter(([change]) => change !== 0)
      .map(([replicaChange, timestampMs]) => ({ replicaChange, timestampMs })),
    ...(data.rs === undefined ? {} : { rescalesAtMs: data.rs }),
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

/**
 * The histories of the cluster's targets: kept in memory, taken from each target's status
 * annotation when the target is first seen, when this replica becomes leader, and (while it does
 * not lead) whenever the leader has written a newer one; the executor encodes them into the
 * annotation with each write (`encodeStatus`).
 */
export class AnnotationHistoryStore implements HistoryStore {
  private readonly memory = new InMemoryHistoryStore();
  /** Per target, the annotation text last taken or written by this replica. */
  private readonly seen = new Map<string, string | undefined>();

  get(targetId: string): TargetHistory | undefined {
    return this.memory.get(targetId);
  }

  set(targetId: string, history: TargetHistory): void {
    this.memory.set(targetId, history);
  }

  delete(targetId: string): void {
    this.memory.delete(targetId);
    this.seen.delete(targetId);
  }

  /**
   * Takes the histories of `text`, the target's annotation now, unless it is the text last seen
   * and `force` is not set: scale events and the last rescale from it, the last decision when it
   * has one, recommendations merged with this replica's own. Returns the problems found in it (for
   * a Warning); empty when there are none or it was not read.
   */
  take(targetId: string, text: string | undefined, nowMs: number, force: boolean): readonly string[] {
    if (!force && this.seen.has(targetId) && this.seen.get(targetId) === text) return [];
    this.seen.set(targetId, text);
    const { status, problems } = readStatus(text, nowMs);
    if (status !== null) {
      const own = this.memory.get(targetId);
      this.memory.set(targetId, {
        scaleEvents: status.scaleEvents,
        lastRescaleAtMs: status.lastRescaleAtMs,
        rescaleDoneAtMs: status.rescaleDoneAtMs,
        ...(status.rescalesAtMs === undefined ? {} : { rescalesAtMs: status.rescalesAtMs }),
        lastDecision: status.lastDecision ?? own?.lastDecision ?? null,
        recommendations: mergeRecommendations(status.recommendations, own?.recommendations ?? []),
      });
    }
    return problems;
  }

  /** This replica wrote `text` into the target's annotation: not news to take back. */
  wrote(targetId: string, text: string): void {
    this.seen.set(targetId, text);
  }
}
