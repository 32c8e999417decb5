/**
 * The range of each catalogue metric, checked on every value the window computes before it is
 * served or decided on: a value outside is replaced by "unavailable (implausible)" naming the value
 * and the bound, so a target has no metric rather than a wrong one. The inputs are already within
 * the ceilings of src/metrics/sample-bounds.ts; these catch what their combination can still make absurd (a
 * backlog that swings between 10 and a billion, a rate of a record a year under a large backlog).
 */
import type { FlinkMetricName, MetricReading } from '../domain/metrics.js';
import { FLINK_MAX_PARALLELISM, MAX_RECORDS, MAX_RECORDS_PER_SECOND_PER_SUBTASK } from './sample-bounds.js';
import type { VertexWindowStats } from './metric-window.js';

/**
 * Time to drain a backlog beyond which a lag is not served: about 31.7 years, longer than Flink
 * has existed. A lag past it comes from a rate of almost nothing, and says no more than "never".
 */
export const MAX_LAG_SECONDS = 1e9;

/** The inclusive range of one metric, and why its top is where it is. */
interface MetricRange {
  readonly max: number;
  readonly why: string;
}

/**
 * The range of each metric for a job of these vertices:
 * - the ratios 0..1;
 * - records pending 0..2^53 − 1 (`MAX_RECORDS`);
 * - records read per second up to `MAX_RECORDS_PER_SECOND_PER_SUBTASK` per source subtask;
 * - lag up to `MAX_LAG_SECONDS`;
 * - the demand ratio up to 32,768 / the smallest vertex parallelism: capacity grows at most with
 *   parallelism, and no vertex can run more than Flink's 32,768 subtasks, so a higher demand is
 *   load no Flink job can carry (a backlog swinging between 10 and 10^9 records while 5,000 are
 *   read shows as 200,000: a lie, not a load).
 */
export function metricRanges(vertices: readonly VertexWindowStats[]): Record<FlinkMetricName, MetricRange> {
  const sourceSubtasks = vertices
    .filter((vertex) => vertex.isSource)
    .reduce((sum, vertex) => sum + vertex.parallelism, 0);
  const smallestParallelism = vertices.reduce(
    (least, vertex) => Math.min(least, vertex.parallelism),
    FLINK_MAX_PARALLELISM,
  );
  const ratio: MetricRange = { max: 1, why: 'a ratio' };
  return {
    flink_busy_ratio: ratio,
    flink_backpressure_ratio: ratio,
    flink_source_pending_records: { max: MAX_RECORDS, why: 'the ceiling of a record count' },
    flink_records_in_per_second: {
      max: MAX_RECORDS_PER_SECOND_PER_SUBTASK * sourceSubtasks,
      why: `${MAX_RECORDS_PER_SECOND_PER_SUBTASK} records/s per source subtask, ${sourceSubtasks} source subtasks`,
    },
    flink_source_lag_seconds: { max: MAX_LAG_SECONDS, why: 'the longest lag served' },
    flink_demand_ratio: {
      max: FLINK_MAX_PARALLELISM / smallestParallelism,
      why: `no parallelism up to Flink's ${FLINK_MAX_PARALLELISM} serves more, from a vertex at ${smallestParallelism}`,
    },
  };
}

/** Each reading with a value outside its range (or not finite) becomes unavailable, `implausible`. */
export function boundJobMetrics(
  metrics: Readonly<Record<FlinkMetricName, MetricReading>>,
  vertices: readonly VertexWindowStats[],
): Record<FlinkMetricName, MetricReading> {
  const ranges = metricRanges(vertices);
  const bounded = { ...metrics };
  for (const name of Object.keys(ranges) as FlinkMetricName[]) {
    const reading = metrics[name];
    if (!('value' in reading)) continue;
    const { value } = reading;
    const range = ranges[name];
    if (Number.isFinite(value) && value >= 0 && value <= range.max) continue;
    bounded[name] = {
      unavailable: 'implausible',
      detail: `${name} ${value} is outside 0..${range.max} (${range.why})`,
    };
  }
  return bounded;
}
