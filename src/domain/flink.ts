/**
 * Plain types of what Slotscaler reads from a Flink JobManager, after validation. Every number here
 * is finite: a value Flink did not report (missing, `"NaN"`, a bare `NaN`) is `null`, never a number.
 * Parallelism, vertex counts and timestamps are within the bounds of src/flink/bounds.ts (checked
 * when the answer is parsed); counters and gauges are checked against theirs before a snapshot
 * enters a metric window. Times are epoch milliseconds of the JobManager's clock, counters are
 * cumulative since the task started.
 */

/** Job states as Flink names them (`org.apache.flink.api.common.JobStatus`); unknown ones are kept as given. */
export const JOB_STATES = [
  'INITIALIZING',
  'CREATED',
  'RUNNING',
  'FAILING',
  'FAILED',
  'CANCELLING',
  'CANCELED',
  'FINISHED',
  'RESTARTING',
  'SUSPENDED',
  'RECONCILING',
] as const;

/** States after which the job never runs again under the same id. */
export const TERMINAL_JOB_STATES: readonly string[] = ['FAILED', 'CANCELED', 'FINISHED', 'SUSPENDED'];

/** One entry of `GET /jobs/overview`. */
export interface JobOverview {
  readonly jobId: string;
  readonly name: string;
  readonly state: string;
  readonly startTimeMs: number | null;
}

/**
 * Cumulative IO counters of one job vertex from `GET /jobs/{jid}` (`IOMetricsInfo`), summed by the
 * JobManager over the vertex's subtasks. `null` when not reported.
 */
export interface VertexCounters {
  /** `accumulated-busy-time`: ms the subtasks were busy (a double; NaN when busy time is not measured). */
  readonly busyTimeMs: number | null;
  /** `accumulated-backpressured-time`: ms the subtasks were back-pressured. */
  readonly backPressuredTimeMs: number | null;
  /** `accumulated-idle-time`: ms the subtasks were idle. */
  readonly idleTimeMs: number | null;
  /** `read-records`: records received over the network (0 for sources). */
  readonly recordsRead: number | null;
  /** `read-records-complete`: false when some subtask did not report its count. */
  readonly recordsReadComplete: boolean;
  /** `write-records`: records emitted by the vertex's last operator. */
  readonly recordsWritten: number | null;
  readonly recordsWrittenComplete: boolean;
}

/** One vertex of `GET /jobs/{jid}` (`JobDetailsInfo.JobVertexDetailsInfo`). */
export interface JobVertexDetails {
  readonly id: string;
  readonly name: string;
  readonly parallelism: number;
  /** `null` when Flink reports none (older versions) or a non-positive value. */
  readonly maxParallelism: number | null;
  /** Execution state of the vertex: RUNNING, DEPLOYING, ... */
  readonly status: string;
  readonly counters: VertexCounters;
}

/** One node of the job's plan (`JobPlanInfo.Plan`): `inputs` empty means the node is a source. */
export interface JobPlanNode {
  readonly id: string;
  readonly inputIds: readonly string[];
  /**
   * `ship_strategy` of each input, upper case as Flink writes it (`HASH`, `REBALANCE`, `FORWARD`...);
   * `HASH` is a keyed exchange. Absent where the plan did not say.
   */
  readonly inputShipStrategies?: readonly string[];
}

/** `GET /jobs/{jid}` (`JobDetailsInfo`). */
export interface JobDetails {
  readonly jobId: string;
  readonly name: string;
  readonly state: string;
  readonly startTimeMs: number | null;
  /** `now`: the JobManager's clock when it answered. */
  readonly nowMs: number;
  /** `timestamps.RUNNING`: when the job last switched to RUNNING; changes on every restart. */
  readonly runningSinceMs: number | null;
  readonly maxParallelism: number | null;
  readonly vertices: readonly JobVertexDetails[];
  /** `null` when the answer carried no plan. */
  readonly plan: readonly JobPlanNode[] | null;
}

/** One entry of `GET .../subtasks/metrics?get=...&agg=...` (`AggregatedMetric`). */
export interface AggregatedMetric {
  readonly id: string;
  readonly min: number | null;
  readonly max: number | null;
  readonly avg: number | null;
  readonly sum: number | null;
}

/** One entry of `GET /jobs/{jid}/vertices/{vid}/metrics?get=...`: ids are `<subtask>.<metric>` or `<subtask>.<operator>.<metric>`. */
export interface MetricValue {
  readonly id: string;
  /** The value as a number; `null` when it is not a finite number. */
  readonly value: number | null;
}

/**
 * One TaskManager's part of one vertex: `GET /jobs/{jid}/vertices/{vid}/taskmanagers` sums the
 * time counters of the vertex's subtasks it runs (flink-runtime `JobVertexTaskManagersHandler`,
 * `IOMetricsInfo`). Counters are cumulative milliseconds, `null` when not reported.
 */
export interface TaskManagerVertexTimes {
  /** `taskmanager-id`: the TaskManager's resource id (the pod name under native Kubernetes). */
  readonly taskManagerId: string;
  /** `host`: `<hostname>:<data port>` of the TaskManager. */
  readonly host: string;
  readonly busyTimeMs: number | null;
  readonly backPressuredTimeMs: number | null;
  readonly idleTimeMs: number | null;
}

/**
 * `GET /jobs/{jid}/checkpoints/config` (`CheckpointConfigInfo`): how often the job checkpoints.
 * Set when the job is submitted, so the collector reads it once per job id.
 */
export interface CheckpointConfig {
  /**
   * `interval` in ms; null when periodic checkpoints are off (Flink answers 404 for a job without a
   * checkpoint coordinator, and an interval of `Long.MAX_VALUE` for a streaming job without one set).
   */
  readonly intervalMs: number | null;
}

/** The latest completed checkpoint of `GET /jobs/{jid}/checkpoints` (`latest.completed`). */
export interface CompletedCheckpoint {
  readonly id: number;
  /** `trigger_timestamp`: when the JobManager triggered it (its clock, epoch ms). */
  readonly triggeredAtMs: number;
  /** `latest_ack_timestamp`: when the last task acknowledged it, i.e. when it completed. */
  readonly completedAtMs: number;
}

/** `GET /jobs/{jid}/checkpoints` (`CheckpointingStatistics`): its counts and latest completed checkpoint. */
export interface CheckpointStats {
  /** `counts.completed`: checkpoints completed since the job was submitted. */
  readonly completed: number;
  /** `counts.in_progress`. */
  readonly inProgress: number;
  /** `counts.failed`. */
  readonly failed: number;
  /** `latest.completed`; null before the first one (savepoints are listed apart, under `latest.savepoint`). */
  readonly latestCompleted: CompletedCheckpoint | null;
}

/** What a snapshot says of the job's checkpointing. */
export interface CheckpointingSeen {
  /** null: periodic checkpoints are off. */
  readonly intervalMs: number | null;
  /** null when not read this tick (the config says checkpoints are off, or the call failed). */
  readonly stats: CheckpointStats | null;
}

/** One entry of `GET /taskmanagers`. */
export interface TaskManagerSummary {
  readonly id: string;
  readonly slots: number;
  readonly freeSlots: number | null;
}

// ---------------------------------------------------------------------------------------------
// The snapshot: what one tick learns about one job
// ---------------------------------------------------------------------------------------------

/** The time gauges (ms per second, averaged over subtasks), read only where counters are missing. */
export interface VertexTimeGauges {
  readonly busyTimeMsPerSecond: number | null;
  readonly backPressuredTimeMsPerSecond: number | null;
  readonly idleTimeMsPerSecond: number | null;
}

/** Source-specific readings of a source vertex. */
export interface SourceReadings {
  /**
   * Sum of `pendingRecords` over all subtasks (FLIP-33). `null` = unknown: the metric is not (yet)
   * registered on every subtask (the Kafka source registers it at the first record), or it was not
   * asked for in this tick. Never 0 for "unknown".
   */
  readonly pendingRecords: number | null;
  /** Sum over subtasks of the source operator's cumulative `numRecordsIn` (records read); `null` when not reported by every subtask. */
  readonly recordsIn: number | null;
  /**
   * Sum over subtasks of the source operator's cumulative `numRecordsOut`: for a source, the records
   * it read and passed on. Some readers never count `numRecordsIn` (it stays 0), so this is the
   * other witness of consumption; `null` when not reported by every subtask.
   */
  readonly recordsOut: number | null;
  /**
   * Sum over subtasks of `accumulateBusyTimeMs + accumulateIdleTimeMs + accumulateBackPressuredTimeMs`
   * read in the same call: the subtasks' own clock for the readings above (the job details' time
   * counters may come from another refresh of the JobManager's metric cache). `null` when not read.
   */
  readonly taskTimeMs: number | null;
  /**
   * Partitions the source reads, counted from its per-partition metric names when it registers them
   * (the Kafka reader's `KafkaSourceReader.topic.<t>.partition.<n>.currentOffset`, Pulsar's
   * `PulsarConsumer.<t>-partition-<n>...`); absent or null when it does not.
   */
  readonly partitions?: number | null;
}

/** One vertex in a snapshot. */
export interface VertexSnapshot {
  readonly id: string;
  readonly name: string;
  readonly parallelism: number;
  readonly maxParallelism: number | null;
  readonly status: string;
  /** No inputs in the job plan. */
  readonly isSource: boolean;
  readonly counters: VertexCounters;
  /** Present only when counters were missing and the gauges were asked for. */
  readonly gauges: VertexTimeGauges | null;
  /** Present only for sources. */
  readonly source: SourceReadings | null;
}

/** What one tick learned about one job: one per target per tick. */
export interface JobSnapshot {
  readonly jobId: string;
  readonly jobName: string;
  readonly state: string;
  /** `timestamps.RUNNING` of the JobManager: a change means the job restarted. */
  readonly runningSinceMs: number | null;
  /** The JobManager's clock (`now` of `GET /jobs/{jid}`). */
  readonly jobManagerNowMs: number;
  /** Our clock when the snapshot was complete. */
  readonly takenAtMs: number;
  readonly maxParallelism: number | null;
  /**
   * The plan has a keyed (`HASH`) exchange, so a keyed vertex deals `maxParallelism` key groups over
   * its subtasks; null (or absent) when the answer carried no plan.
   */
  readonly keyed?: boolean | null;
  /** Task slots per TaskManager, from `GET /taskmanagers` when asked for (cached); `null` otherwise. */
  readonly taskSlots: number | null;
  /** The job's checkpointing when asked for; absent or null when not read. Times are the JobManager's clock. */
  readonly checkpointing?: CheckpointingSeen | null;
  readonly vertices: readonly VertexSnapshot[];
  /** REST calls this snapshot made, by endpoint. */
  readonly restCalls: Readonly<Partial<Record<FlinkEndpoint, number>>>;
}

/** The JobManager endpoints Slotscaler calls; also the `endpoint` label of `slotscaler_flink_requests_total`. */
export type FlinkEndpoint =
  | 'jobs_overview'
  | 'job_details'
  | 'vertex_metrics'
  | 'subtask_metrics'
  | 'taskmanagers'
  | 'resource_requirements'
  | 'vertex_taskmanagers'
  | 'checkpoint_config'
  | 'checkpoints';

export const FLINK_ENDPOINTS: readonly FlinkEndpoint[] = [
  'jobs_overview',
  'job_details',
  'vertex_metrics',
  'subtask_metrics',
  'taskmanagers',
  'resource_requirements',
  'vertex_taskmanagers',
  'checkpoint_config',
  'checkpoints',
];

/**
 * `GET|PUT /jobs/{jid}/resource-requirements` (adaptive scheduler, Flink 1.18 or later): each
 * vertex's parallelism bounds, by vertex id. The scheduler runs a vertex at the upper bound when the
 * slots are there, and at no less than the lower bound.
 */
export type ResourceRequirements = Readonly<
  Record<string, { readonly parallelism: { readonly lowerBound: number; readonly upperBound: number } }>
>;
