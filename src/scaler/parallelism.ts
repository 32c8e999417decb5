/**
 * Flink's part of a decision: TaskManagers become parallelism through their task slots, and
 * parallelism becomes capacity through the units of work it is dealt (key groups, partitions).
 */
import type { CapacityUnits } from '../domain/decision.js';

/**
 * The most TaskManagers a job can use: with `maxParallelism` key groups and `taskSlots` slots per
 * TaskManager, `ceil(maxParallelism / taskSlots)` TaskManagers already give every key group a slot.
 */
export function usableTaskManagers(maxParallelism: number | null, taskSlots: number): number {
  return maxParallelism === null ? Number.POSITIVE_INFINITY : Math.ceil(maxParallelism / taskSlots);
}

/** `parallelism = taskManagers × taskSlots`, capped at `maxParallelism` when known. */
export function parallelismFor(
  taskManagers: number,
  taskSlots: number,
  maxParallelism: number | null,
): number {
  const parallelism = taskManagers * taskSlots;
  return maxParallelism === null ? parallelism : Math.min(parallelism, maxParallelism);
}

/**
 * The subtasks' worth of capacity `parallelism` subtasks give when `units` equal shares of work
 * (key groups, partitions) are dealt out whole: the busiest subtask holds `ceil(units / p)` of them
 * and saturates first, so the vertex carries at most `units / ceil(units / p)` subtasks' capacity.
 * With 128 key groups, 64 subtasks give 64 and 100 give 64 too (the busiest holds 2 groups).
 * Beyond `units` subtasks the extra ones idle: the value stays `units`. Flink deals key groups by
 * `KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex`, ranges of `floor` or `ceil(M / p)`.
 */
export function effectiveSubtasks(units: number, parallelism: number): number {
  return units / Math.ceil(units / parallelism);
}

/** The effective parallelism of a job: the least over its units (and never above `parallelism`). */
export function effectiveParallelism(parallelism: number, units: CapacityUnits | undefined): number {
  let effective = parallelism;
  if (units?.keyGroups != null)
    effective = Math.min(effective, effectiveSubtasks(units.keyGroups, parallelism));
  if (units?.sourcePartitions != null) {
    effective = Math.min(effective, effectiveSubtasks(units.sourcePartitions, parallelism));
  }
  return effective;
}

export interface AlignArgs {
  /** Effective subtasks needed. */
  readonly neededParallelism: number;
  readonly taskSlots: number;
  readonly minTaskManagers: number;
  /** Already capped at `usableTaskManagers`; at least `minTaskManagers`. */
  readonly maxTaskManagers: number;
  readonly maxParallelism: number | null;
  readonly units: CapacityUnits;
}

/** What `alignTaskManagers` chose, and which units bound it. */
export interface AlignedCount {
  readonly taskManagers: number;
  readonly parallelism: number;
  readonly effectiveParallelism: number;
  /** The needs were all met within the bounds. */
  readonly reached: boolean;
}

/**
 * How much of what is needed a parallelism gives, 0..1, over the least served of:
 * - the vertices without units (plain subtasks): `p / needed`;
 * - a keyed vertex: `effectiveSubtasks(keyGroups, p) / needed`;
 * - the sources: `effectiveSubtasks(partitions, p) / min(needed, partitions)`: partitions cap what a
 *   source can use, so past them only the other vertices need more subtasks.
 */
function served(parallelism: number, needed: number, units: CapacityUnits): number {
  if (needed <= 0) return 1;
  let fraction = Math.min(1, parallelism / needed);
  if (units.keyGroups !== null) {
    fraction = Math.min(fraction, effectiveSubtasks(units.keyGroups, parallelism) / needed);
  }
  if (units.sourcePartitions !== null) {
    const partitions = units.sourcePartitions;
    fraction = Math.min(fraction, effectiveSubtasks(partitions, parallelism) / Math.min(needed, partitions));
  }
  return Math.min(1, fraction);
}

/**
 * The smallest TaskManager count within the bounds whose parallelism (`parallelismFor`) gives every
 * vertex the effective subtasks needed; when the bounds allow none, the smallest count that gives
 * as much as the largest allowed one does, so no TaskManager is paid for capacity it cannot add.
 * What is served never falls as the count grows, so the first count that serves the most is it.
 */
export function alignTaskManagers(args: AlignArgs): AlignedCount {
  const { taskSlots, maxParallelism, units, neededParallelism } = args;
  const low = Math.max(args.minTaskManagers, 0);
  const high = Math.max(args.maxTaskManagers, low);
  const best = served(parallelismFor(high, taskSlots, maxParallelism), neededParallelism, units);
  // Parallelism buys nothing below the needed count of plain subtasks: start the search there.
  let taskManagers = Math.min(high, Math.max(low, Math.floor(neededParallelism / taskSlots)));
  while (
    taskManagers < high &&
    served(parallelismFor(taskManagers, taskSlots, maxParallelism), neededParallelism, units) < best
  ) {
    taskManagers += 1;
  }
  // A start above the smallest count serving as much (a low bound below the need): walk back down.
  while (
    taskManagers > low &&
    served(parallelismFor(taskManagers - 1, taskSlots, maxParallelism), neededParallelism, units) >= best
  ) {
    taskManagers -= 1;
  }
  const parallelism = parallelismFor(taskManagers, taskSlots, maxParallelism);
  return {
    taskManagers,
    parallelism,
    effectiveParallelism: effectiveParallelism(parallelism, units),
    reached: best >= 1,
  };
}
