/**
 * Flink's part of a decision: TaskManagers become parallelism through their task slots.
 */

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
