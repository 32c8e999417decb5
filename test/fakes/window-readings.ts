// A metric window's readings as the scaler's unit tests need them: a busy ratio (the demand ratio
// the same unless told), every other metric unavailable, a RUNNING job.
import type { FlinkMetricName, MetricReading } from '../../src/domain/metrics.js';
import type { JobAsSeen, WindowReadings } from '../../src/metrics/metric-window.js';

export interface WindowReadingsOptions extends Partial<Omit<WindowReadings, 'metrics'>> {
  /** Metrics other than the busy ratio, or a demand ratio of its own. */
  readonly metrics?: Partial<Record<FlinkMetricName, MetricReading>>;
}

/** The job the readings saw: one vertex, RUNNING (an in-place rescale writes its vertices). */
export const RUNNING_JOB: JobAsSeen = {
  jobId: 'a'.repeat(32),
  state: 'RUNNING',
  runningSinceMs: 0,
  seenAtMs: 0,
  vertices: [{ id: 'b'.repeat(32), name: 'source', parallelism: 2, maxParallelism: 128, status: 'RUNNING' }],
};

export function windowReadings(busy: MetricReading, options: WindowReadingsOptions = {}): WindowReadings {
  const unavailable: MetricReading = { unavailable: 'no-source' };
  const { metrics, ...rest } = options;
  return {
    jobId: 'a'.repeat(32),
    jobName: 'job',
    state: 'RUNNING',
    maxParallelism: 128,
    taskSlots: null,
    sampleCount: 5,
    spanSeconds: 10,
    lastSampleAtMs: null,
    vertices: [],
    job: RUNNING_JOB,
    ...rest,
    metrics: {
      flink_busy_ratio: busy,
      flink_backpressure_ratio: unavailable,
      flink_source_pending_records: unavailable,
      flink_source_lag_seconds: unavailable,
      flink_records_in_per_second: unavailable,
      flink_demand_ratio: busy,
      ...metrics,
    },
  };
}
