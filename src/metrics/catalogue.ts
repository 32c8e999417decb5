/**
 * The metric catalogue: every metric Slotscaler computes from Flink, declared once with its unit and
 * meaning (the README's "Metrics" reference is generated from it). Expression metrics (`slotscaler.dev/metric.<name>`)
 * refer to these by their `variable` name: the metric name without the `flink_` prefix; they are
 * compiled by `compileExpressionMetric` in ./expression-metric.ts.
 */
import type { FlinkMetricName } from '../domain/metrics.js';

export interface CatalogueEntry {
  readonly name: FlinkMetricName;
  /** The name an expression metric uses for it. */
  readonly variable: string;
  readonly unit: string;
  readonly meaning: string;
}

export const METRIC_CATALOGUE = [
  {
    name: 'flink_busy_ratio',
    variable: 'busy_ratio',
    unit: 'ratio 0..1',
    meaning: 'max over job vertices of the mean busy fraction of their subtasks',
  },
  {
    name: 'flink_backpressure_ratio',
    variable: 'backpressure_ratio',
    unit: 'ratio 0..1',
    meaning: 'max over job vertices of the mean back-pressured fraction of their subtasks',
  },
  {
    name: 'flink_source_pending_records',
    variable: 'source_pending_records',
    unit: 'records',
    meaning: 'sum of pendingRecords over all source subtasks (lag in records)',
  },
  {
    name: 'flink_source_lag_seconds',
    variable: 'source_lag_seconds',
    unit: 'seconds',
    meaning: 'pending records / current source consumption rate: time to drain the lag',
  },
  {
    name: 'flink_records_in_per_second',
    variable: 'records_in_per_second',
    unit: 'records/s',
    meaning: 'records per second read by the sources',
  },
  {
    name: 'flink_demand_ratio',
    variable: 'demand_ratio',
    unit: 'ratio ≥ 0 (may exceed 1)',
    meaning:
      'load offered to the job over its capacity (records read / busy ratio): the busy ratio while the job keeps up; past 1 when a backlog grows (arrival = records read + backlog growth); while one drains, what the input needs plus draining it within catch-up-duration, at most the busy ratio; the busy ratio where pendingRecords is unknown',
  },
] as const satisfies readonly CatalogueEntry[];

/**
 * The metric the scaler adds to the catalogue's: its own stabilized recommendation for a target,
 * in TaskManagers (served also in modes recommend and metrics-only).
 */
export const RECOMMENDED_TASKMANAGERS = 'flink_recommended_taskmanagers';

/** The catalogue's metric names, in catalogue order. */
export const FLINK_METRIC_NAMES: readonly FlinkMetricName[] = METRIC_CATALOGUE.map((entry) => entry.name);

/**
 * The Pods metrics of the custom metrics API: per TaskManager pod, the job-level ratio restricted
 * to the subtasks that TaskManager runs (src/flink/taskmanager-load.ts).
 */
export const POD_METRICS = [
  {
    name: 'flink_taskmanager_busy_ratio',
    unit: 'ratio 0..1',
    meaning: 'max over job vertices of the mean busy fraction of their subtasks on this TaskManager',
  },
  {
    name: 'flink_taskmanager_backpressure_ratio',
    unit: 'ratio 0..1',
    meaning:
      'max over job vertices of the mean back-pressured fraction of their subtasks on this TaskManager',
  },
] as const;

export type PodMetricName = (typeof POD_METRICS)[number]['name'];

export const POD_METRIC_NAMES: readonly PodMetricName[] = POD_METRICS.map((entry) => entry.name);

/** The catalogue entry of a name, if it is one. */
export function catalogueEntry(name: string): CatalogueEntry | undefined {
  return METRIC_CATALOGUE.find((entry) => entry.name === name);
}
