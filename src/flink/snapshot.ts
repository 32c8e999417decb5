/**
 * One snapshot of one job per tick, within a REST budget of `1 + number of source vertices` calls in
 * steady state (one more when the checkpoints are asked for):
 *
 * - `GET /jobs/{jid}` (one call): state, RUNNING timestamp, plan, and the cumulative busy,
 *   back-pressured and idle times and record counts of every vertex (`IOMetricsInfo`).
 * - per source vertex (one call each): either the values of its source metrics (`pendingRecords`,
 *   the source operator's `numRecordsIn` and `numRecordsOut`, and the task's accumulated busy, idle
 *   and back-pressured times as their clock) or, when their names are not known yet, the listing of its
 *   metric names. Names are cached per vertex until the job restarts.
 * - when asked for (`wantCheckpoints`: a target that times its rescales on checkpoints) and the
 *   job checkpoints: its latest completed checkpoint (`GET /jobs/{jid}/checkpoints`, one call).
 *
 * Outside steady state: job discovery (`GET /jobs/overview`, until a job id is known), the
 * checkpoint interval (`GET /jobs/{jid}/checkpoints/config`, once per job id, when asked), slots per
 * TaskManager (`GET /taskmanagers`, once, when asked for), and the subtask time gauges for vertices
 * whose counters are missing (`busyTimeMsPerSecond`... with `agg=avg`; asked once more after each
 * restart, not again when Flink has none either).
 *
 * The work of one snapshot is bounded by the ceilings of src/flink/bounds.ts (vertices, source
 * operators, parallelism), never by what a JobManager claims: no list is built per subtask unless
 * the query it makes fits `maxMetricQueryLength`.
 */
import type {
  CheckpointingSeen,
  FlinkEndpoint,
  JobDetails,
  JobSnapshot,
  JobVertexDetails,
  SourceReadings,
  VertexSnapshot,
  VertexTimeGauges,
} from '../domain/flink.js';
import { TERMINAL_JOB_STATES } from '../domain/flink.js';
import type { Clock, FlinkClient } from '../domain/ports.js';
import {
  FlinkImplausibleResponseError,
  FlinkJobNotFoundError,
  FlinkResponseTooLargeError,
  SlotscalerError,
} from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { MAX_JOB_VERTICES, MAX_SOURCE_OPERATORS, checkAtMost } from './bounds.js';

/** One job as named in a discovery error. */
export interface JobSummary {
  readonly jobId: string;
  readonly name: string;
  readonly state: string;
}

function describeJobs(jobs: readonly JobSummary[]): string {
  if (jobs.length === 0) return 'no jobs';
  const shown = jobs.slice(0, 10).map((job) => `${job.jobId} "${job.name}" ${job.state}`);
  return jobs.length > 10 ? `${shown.join(', ')} and ${jobs.length - 10} more` : shown.join(', ');
}

/** Job discovery found no RUNNING job. `jobs` are the ones found, with their states. */
export class NoRunningJobError extends SlotscalerError {
  readonly code: ErrorCode = 'FLINK_NO_RUNNING_JOB';
  constructor(
    readonly jobManagerUrl: string,
    readonly jobs: readonly JobSummary[],
  ) {
    super(`no RUNNING job on the Flink JobManager at ${jobManagerUrl}; found ${describeJobs(jobs)}`);
  }
}

/** Job discovery found more than one RUNNING job: the target must name its job. */
export class MultipleRunningJobsError extends SlotscalerError {
  readonly code: ErrorCode = 'FLINK_MULTIPLE_RUNNING_JOBS';
  constructor(
    readonly jobManagerUrl: string,
    readonly jobs: readonly JobSummary[],
  ) {
    super(
      `${jobs.length} RUNNING jobs on the Flink JobManager at ${jobManagerUrl}, name one with a job id: ${describeJobs(jobs)}`,
    );
  }
}

/** Tuning of the snapshot; the defaults suit every Flink version we know. */
export interface SnapshotOptions {
  /**
   * Longest `get=` list (characters) for the per-subtask source metric query. Flink's REST server
   * refuses request lines over 4096 bytes, so beyond this the aggregated endpoint is used instead.
   */
  readonly maxMetricQueryLength: number;
  /**
   * While a source shows no `pendingRecords` (its reader registers the gauge when it starts, and the
   * JobManager's metric cache shows it up to `metrics.fetcher.update-interval` later), its metric names
   * are listed again after 1, 2, 4, ... ticks, at most this many apart.
   */
  readonly metricNamesRefreshTicks: number;
}

export const DEFAULT_SNAPSHOT_OPTIONS: SnapshotOptions = Object.freeze({
  maxMetricQueryLength: 3000,
  metricNamesRefreshTicks: 10,
});

/** How a source vertex's metrics are read, learnt from the listing of its metric names. */
interface SourceMetricPlan {
  readonly parallelism: number;
  readonly listedAtTick: number;
  /** Names (without subtask index) ending in `.pendingRecords`. */
  readonly pendingNames: readonly string[];
  /** The source operator's `numRecordsIn` name, if listed. */
  readonly recordsInName: string | null;
  /** The source operator's `numRecordsOut` name, if listed. */
  readonly recordsOutName: string | null;
  /** The task's accumulated time metrics, read with the others as their clock; empty when not all are listed. */
  readonly taskTimeNames: readonly string[];
  /** `per-subtask`: exact, through the vertex metrics endpoint; `aggregated`: sums, when the query would be too long. */
  readonly mode: 'per-subtask' | 'aggregated' | 'none';
  /** Partitions named by per-partition metrics (`countPartitions`); null when none are listed. */
  readonly partitions: number | null;
}

/**
 * Per-partition metric names of the Kafka and Pulsar sources, as the Apache Flink autoscaler reads
 * them (`ScalingMetricCollector`): a topic and a partition number each.
 */
const PARTITION_METRIC =
  /(?:\.kafkaCluster\.(.+?))?\.KafkaSourceReader\.topic\.(.+)\.partition\.(\d+)\.currentOffset$|\.PulsarConsumer\.(.+)-partition-(\d+)\..*\.numMsgsReceived$/;

/** Distinct partitions named in a source's metric names; null when none is. */
export function countPartitions(names: readonly string[]): number | null {
  const partitions = new Set<string>();
  for (const name of names) {
    const match = PARTITION_METRIC.exec(name);
    if (match === null) continue;
    const [, cluster, kafkaTopic, kafkaPartition, pulsarTopic, pulsarPartition] = match;
    partitions.add(
      kafkaTopic === undefined
        ? `pulsar/${pulsarTopic ?? ''}/${pulsarPartition ?? ''}`
        : `kafka/${cluster ?? ''}/${kafkaTopic}/${kafkaPartition ?? ''}`,
    );
  }
  return partitions.size === 0 ? null : partitions.size;
}

/** A job's id, name and state, and each vertex's id, name and status. */
const MAX_KEPT_STRINGS = 3 + 3 * MAX_JOB_VERTICES;

/**
 * What a target remembers between snapshots: the discovered job id, the source metric names, the
 * vertices whose gauges Flink does not have, the task slots (all forgotten on a restart), and the
 * checkpoint interval of the job id it was read for (a job's checkpoint config is fixed when it is
 * submitted, so a restart under the same id keeps it).
 */
export class SnapshotState {
  /** @internal */ tick = 0;
  /** @internal */ discoveredJobId: string | null = null;
  /** @internal */ runningSinceMs: number | null = null;
  /** @internal */ taskSlots: number | null = null;
  /** @internal */ readonly sourcePlans = new Map<string, SourceMetricPlan>();
  /** @internal Listings in a row (per source vertex) that showed no `pendingRecords`. */
  readonly listingsWithoutPending = new Map<string, number>();
  /** @internal */ readonly noGauges = new Set<string>();
  /** @internal */ checkpointConfig: { readonly jobId: string; readonly intervalMs: number | null } | null =
    null;
  /**
   * @internal The strings of the last snapshot (job id, name and state; each vertex's id, name and
   * status), reused while the answer repeats them: a metric window holds a minute of snapshots of
   * each target, and every decoded answer brings new copies of the same ids and names.
   */
  readonly strings = new Map<string, string>();

  /**
   * @internal The copy of `text` kept from earlier snapshots, or `text` itself, kept from now on.
   * Forgotten on a restart, and all at once past the strings of one job at the vertex ceiling (a
   * JobManager that renames its vertices every tick must not grow it).
   */
  keep(text: string): string {
    const kept = this.strings.get(text);
    if (kept !== undefined) return kept;
    if (this.strings.size >= MAX_KEPT_STRINGS) this.strings.clear();
    this.strings.set(text, text);
    return text;
  }

  /** @internal */
  forgetRun(): void {
    this.taskSlots = null;
    this.sourcePlans.clear();
    this.listingsWithoutPending.clear();
    this.noGauges.clear();
    this.strings.clear();
  }
}

export interface TakeSnapshotRequest {
  /** The job to read; when absent, the one RUNNING job (remembered in `state`). */
  readonly jobId?: string | undefined;
  /** Read slots per TaskManager (`GET /taskmanagers`, cached until a restart). */
  readonly wantTaskSlots?: boolean;
  /**
   * Read the job's checkpointing: its interval once per job id (`GET .../checkpoints/config`), and,
   * when checkpoints are on, the latest completed one every tick (`GET .../checkpoints`).
   */
  readonly wantCheckpoints?: boolean;
  readonly state: SnapshotState;
  readonly clock: Clock;
  readonly options?: Partial<SnapshotOptions>;
}

const GAUGE_NAMES = ['busyTimeMsPerSecond', 'backPressuredTimeMsPerSecond', 'idleTimeMsPerSecond'] as const;

/**
 * Takes one snapshot of the target's job. Throws the client's typed errors, plus `NoRunningJobError`
 * or `MultipleRunningJobsError` from discovery. A failing source metric call does not fail the
 * snapshot: that source's readings are unknown for this tick.
 */
export async function takeSnapshot(client: FlinkClient, request: TakeSnapshotRequest): Promise<JobSnapshot> {
  const { state, clock } = request;
  const options = { ...DEFAULT_SNAPSHOT_OPTIONS, ...request.options };
  state.tick += 1;
  const restCalls: Partial<Record<FlinkEndpoint, number>> = {};
  const count = (endpoint: FlinkEndpoint): void => {
    restCalls[endpoint] = (restCalls[endpoint] ?? 0) + 1;
  };

  const configuredJobId = request.jobId !== undefined && request.jobId !== '' ? request.jobId : null;
  const jobId = configuredJobId ?? state.discoveredJobId ?? (await discoverJob(client, state, count));

  let details: JobDetails;
  try {
    count('job_details');
    details = await client.getJobDetails(jobId);
  } catch (err) {
    if (err instanceof FlinkJobNotFoundError && configuredJobId === null) state.discoveredJobId = null;
    throw err;
  }
  if (configuredJobId === null && TERMINAL_JOB_STATES.includes(details.state)) {
    // A finished job never comes back: look for a new one next tick.
    state.discoveredJobId = null;
  }
  if (details.runningSinceMs !== state.runningSinceMs) {
    state.forgetRun();
    state.runningSinceMs = details.runningSinceMs;
  }

  const sourceIds = sourceVertexIds(details);
  const running = details.state === 'RUNNING';
  // Most vertices need no call: their snapshot is made at once; the others when their calls return.
  const vertices: VertexSnapshot[] = [];
  const calls: Promise<void>[] = [];
  details.vertices.forEach((vertex, index) => {
    const isSource = sourceIds.has(vertex.id);
    const readsSource = isSource && running;
    const readsGauges = running && gaugesWanted(vertex, state);
    if (!readsSource && !readsGauges) {
      vertices[index] = vertexSnapshot(vertex, isSource, null, null, state);
      return;
    }
    calls.push(
      Promise.all([
        readsSource ? readSource(client, details.jobId, vertex, state, options, count) : null,
        readsGauges ? readGauges(client, details.jobId, vertex, state, count) : null,
      ]).then(([source, gauges]) => {
        vertices[index] = vertexSnapshot(vertex, isSource, source, gauges, state);
      }),
    );
  });
  const [checkpointing] = await Promise.all([
    request.wantCheckpoints === true && running
      ? readCheckpointing(client, details.jobId, state, count)
      : null,
    ...calls,
  ]);

  let taskSlots = state.taskSlots;
  if (request.wantTaskSlots === true && taskSlots === null) {
    count('taskmanagers');
    taskSlots = slotsPerTaskManager((await client.listTaskManagers()).map((tm) => tm.slots));
    state.taskSlots = taskSlots;
  }

  return {
    jobId: state.keep(details.jobId),
    jobName: state.keep(details.name),
    state: state.keep(details.state),
    runningSinceMs: details.runningSinceMs,
    jobManagerNowMs: details.nowMs,
    takenAtMs: clock.nowMs(),
    maxParallelism: details.maxParallelism,
    keyed:
      details.plan === null ? null : details.plan.some((node) => node.inputShipStrategies?.includes('HASH')),
    taskSlots,
    checkpointing,
    vertices,
    restCalls,
  };
}

function vertexSnapshot(
  vertex: JobVertexDetails,
  isSource: boolean,
  source: SourceReadings | null,
  gauges: VertexTimeGauges | null,
  state: SnapshotState,
): VertexSnapshot {
  return {
    id: state.keep(vertex.id),
    name: state.keep(vertex.name),
    parallelism: vertex.parallelism,
    maxParallelism: vertex.maxParallelism,
    status: state.keep(vertex.status),
    isSource,
    counters: vertex.counters,
    gauges,
    source: isSource ? (source ?? UNKNOWN_SOURCE) : null,
  };
}

/**
 * The job's checkpoint interval (read once per job id) and, when it checkpoints, its latest
 * completed checkpoint. A failing call leaves the checkpointing unknown for this tick, unless the
 * error fails the target.
 */
async function readCheckpointing(
  client: FlinkClient,
  jobId: string,
  state: SnapshotState,
  count: (endpoint: FlinkEndpoint) => void,
): Promise<CheckpointingSeen | null> {
  try {
    let config = state.checkpointConfig;
    if (config?.jobId !== jobId) {
      count('checkpoint_config');
      config = { jobId, intervalMs: (await client.getCheckpointConfig(jobId)).intervalMs };
      state.checkpointConfig = config;
    }
    if (config.intervalMs === null) return { intervalMs: null, stats: null };
    count('checkpoints');
    return { intervalMs: config.intervalMs, stats: await client.getCheckpointStats(jobId) };
  } catch (err) {
    if (failsTheTarget(err)) throw err;
    return null;
  }
}

const UNKNOWN_SOURCE: SourceReadings = Object.freeze({
  pendingRecords: null,
  recordsIn: null,
  recordsOut: null,
  taskTimeMs: null,
});

async function discoverJob(
  client: FlinkClient,
  state: SnapshotState,
  count: (endpoint: FlinkEndpoint) => void,
): Promise<string> {
  count('jobs_overview');
  const jobs = await client.listJobs();
  const running = jobs.filter((job) => job.state === 'RUNNING');
  const summaries = jobs.map((job) => ({ jobId: job.jobId, name: job.name, state: job.state }));
  const [only, ...others] = running;
  if (only === undefined) throw new NoRunningJobError(client.baseUrl, summaries);
  if (others.length > 0) {
    throw new MultipleRunningJobsError(
      client.baseUrl,
      running.map((job) => ({ jobId: job.jobId, name: job.name, state: job.state })),
    );
  }
  state.discoveredJobId = only.jobId;
  return only.jobId;
}

/**
 * Source vertices: nodes of the plan without inputs. Without a plan (never seen from Flink ≥ 1.4, but
 * cheap to handle), vertices whose name starts with "Source".
 */
export function sourceVertexIds(details: JobDetails): ReadonlySet<string> {
  if (details.plan !== null) {
    return new Set(details.plan.filter((node) => node.inputIds.length === 0).map((node) => node.id));
  }
  return new Set(
    details.vertices.filter((vertex) => /^Source\b/.test(vertex.name)).map((vertex) => vertex.id),
  );
}

/** The slot count most TaskManagers have (they normally all agree); `null` with no TaskManager. */
export function slotsPerTaskManager(slots: readonly number[]): number | null {
  const tally = new Map<number, number>();
  for (const value of slots) if (value > 0) tally.set(value, (tally.get(value) ?? 0) + 1);
  let best: number | null = null;
  let bestCount = 0;
  for (const [value, seen] of tally) {
    if (seen > bestCount || (seen === bestCount && best !== null && value < best)) {
      best = value;
      bestCount = seen;
    }
  }
  return best;
}

/**
 * The task-level accumulated times, read only where the subtasks list all three (older Flink versions
 * do not have them); their sum over subtasks is the subtasks' clock.
 */
const TASK_TIME_NAMES: readonly string[] = [
  'accumulateBusyTimeMs',
  'accumulateIdleTimeMs',
  'accumulateBackPressuredTimeMs',
];

/** Splits `Source__Kafka.pendingRecords` into its operator and metric; `null` for task-level names. */
function operatorOf(name: string, metric: string): string | null {
  return name.endsWith(`.${metric}`) ? name.slice(0, -(metric.length + 1)) : null;
}

/**
 * Plans the source metric reads from the listing of the vertex's subtask metric names: linear in the
 * names listed, whatever the parallelism.
 */
export function planSourceMetrics(
  names: readonly string[],
  parallelism: number,
  tick: number,
  maxQueryLength: number,
): SourceMetricPlan {
  const listed = new Set(names);
  const pendingNames = names.filter((name) => operatorOf(name, 'pendingRecords') !== null).sort();
  const pendingOperators = new Set(pendingNames.map((name) => operatorOf(name, 'pendingRecords')));
  const operatorsWithRecordsIn = names
    .map((name) => operatorOf(name, 'numRecordsIn'))
    .filter((operator): operator is string => operator !== null);
  // The source operator: the one with pendingRecords, else one whose name says it is a source.
  const sourceOperator =
    operatorsWithRecordsIn.find((operator) => pendingOperators.has(operator)) ??
    operatorsWithRecordsIn.find((operator) => /^Source/.test(operator)) ??
    null;
  const recordsInName = sourceOperator === null ? null : `${sourceOperator}.numRecordsIn`;
  const recordsOutName =
    sourceOperator !== null && listed.has(`${sourceOperator}.numRecordsOut`)
      ? `${sourceOperator}.numRecordsOut`
      : null;
  const taskTimeNames =
    pendingNames.length > 0 && TASK_TIME_NAMES.every((name) => listed.has(name)) ? TASK_TIME_NAMES : [];
  const perSubtaskNames = [
    ...pendingNames,
    ...counterNames({ recordsInName, recordsOutName }),
    ...taskTimeNames,
  ];
  let mode: SourceMetricPlan['mode'] = 'none';
  if (perSubtaskNames.length > 0) {
    mode =
      perSubtaskQueryLength(perSubtaskNames, parallelism) <= maxQueryLength ? 'per-subtask' : 'aggregated';
  }
  return {
    parallelism,
    listedAtTick: tick,
    pendingNames,
    recordsInName,
    recordsOutName,
    taskTimeNames,
    mode,
    partitions: countPartitions(names),
  };
}

/**
 * Ticks between listings of a source's metric names while they show no `pendingRecords`: 1, 2, 4, ...
 * after the first, second, third empty listing, never more than `cap`. A job's first minute finds a
 * lazily registered gauge within a tick or two of the JobManager showing it; a source that has none
 * costs one listing every `cap` ticks.
 */
function relistAfterTicks(listingsWithoutPending: number, cap: number): number {
  return Math.max(1, Math.min(cap, 2 ** Math.max(0, listingsWithoutPending - 1)));
}

/** The source operator's record counters the plan reads. */
function counterNames(plan: Pick<SourceMetricPlan, 'recordsInName' | 'recordsOutName'>): string[] {
  return [plan.recordsInName, plan.recordsOutName].filter((name): name is string => name !== null);
}

/** Σ of the decimal digits of 0, 1, ..., count − 1. */
function digitsBelow(count: number): number {
  let total = 0;
  for (let digits = 1, low = 0, high = 10; low < count; digits += 1, low = high, high *= 10) {
    total += (Math.min(count, high) - low) * digits;
  }
  return total;
}

/**
 * The length of the `get=` list `perSubtaskIds(names, parallelism)` would make, each id with its
 * comma: Σ over subtasks s and names n of (digits(s) + 1 + n.length + 1), computed without the list,
 * so a claimed parallelism costs nothing.
 */
export function perSubtaskQueryLength(names: readonly string[], parallelism: number): number {
  const namesLength = names.reduce((sum, name) => sum + name.length + 2, 0);
  return parallelism * namesLength + names.length * digitsBelow(parallelism);
}

/** `<subtask>.<name>` for every subtask and name: only for a plan in `per-subtask` mode (a short query). */
function perSubtaskIds(names: readonly string[], parallelism: number): string[] {
  const ids: string[] = [];
  for (let subtask = 0; subtask < parallelism; subtask += 1) {
    for (const name of names) ids.push(`${subtask}.${name}`);
  }
  return ids;
}

async function readSource(
  client: FlinkClient,
  jobId: string,
  vertex: JobVertexDetails,
  state: SnapshotState,
  options: SnapshotOptions,
  count: (endpoint: FlinkEndpoint) => void,
): Promise<SourceReadings> {
  const plan = state.sourcePlans.get(vertex.id);
  const relist =
    plan === undefined ||
    plan.parallelism !== vertex.parallelism ||
    (plan.pendingNames.length === 0 &&
      state.tick - plan.listedAtTick >=
        relistAfterTicks(state.listingsWithoutPending.get(vertex.id) ?? 0, options.metricNamesRefreshTicks));
  try {
    if (relist) {
      // This tick's call for this source goes to the listing; values come from the next tick on.
      count('subtask_metrics');
      const names = await client.listSubtaskMetricNames(jobId, vertex.id);
      const listed = planSourceMetrics(names, vertex.parallelism, state.tick, options.maxMetricQueryLength);
      checkAtMost(
        `${client.baseUrl}/jobs/${jobId}/vertices/${vertex.id}/subtasks/metrics`,
        'pendingRecords metrics',
        listed.pendingNames.length,
        MAX_SOURCE_OPERATORS,
        'the source operators Slotscaler reads in one vertex',
      );
      state.sourcePlans.set(vertex.id, listed);
      state.listingsWithoutPending.set(
        vertex.id,
        listed.pendingNames.length > 0 ? 0 : (state.listingsWithoutPending.get(vertex.id) ?? 0) + 1,
      );
      return UNKNOWN_SOURCE;
    }
    switch (plan.mode) {
      case 'none':
        return UNKNOWN_SOURCE;
      case 'per-subtask':
        count('vertex_metrics');
        return { ...(await readSourcePerSubtask(client, jobId, plan)), partitions: plan.partitions };
      case 'aggregated':
        count('subtask_metrics');
        return {
          ...(await readSourceAggregated(client, jobId, vertex.id, plan)),
          partitions: plan.partitions,
        };
    }
  } catch (err) {
    if (failsTheTarget(err)) throw err;
    // One source's metrics failing leaves them unknown for this tick; the rest of the snapshot stands.
    return UNKNOWN_SOURCE;
  }

  async function readSourcePerSubtask(
    flink: FlinkClient,
    job: string,
    metricPlan: SourceMetricPlan,
  ): Promise<SourceReadings> {
    const ids = subtaskIdsOf(metricPlan);
    // Flink leaves out ids it does not have (`AbstractMetricsHandler.getRequestedMetrics`).
    const values = new Map<string, number | null>();
    for (const metric of await flink.getVertexMetrics(job, vertex.id, ids.all)) {
      values.set(metric.id, metric.value);
    }
    const sumOver = (group: readonly string[]): number | null => {
      if (group.length === 0) return null;
      let sum = 0;
      for (const id of group) {
        const value = values.get(id);
        // A subtask without the metric (not registered yet) makes the sum unknown, not smaller.
        if (value === undefined || value === null || value < 0) return null;
        sum += value;
      }
      return sum;
    };
    return {
      pendingRecords: sumOver(ids.pending),
      recordsIn: sumOver(ids.recordsIn),
      recordsOut: sumOver(ids.recordsOut),
      taskTimeMs: sumOver(ids.taskTime),
    };
  }
}

/** The `<subtask>.<name>` ids a `per-subtask` plan asks for, all of them and by what they sum to. */
interface SubtaskIds {
  readonly all: readonly string[];
  readonly pending: readonly string[];
  readonly recordsIn: readonly string[];
  readonly recordsOut: readonly string[];
  readonly taskTime: readonly string[];
}

/**
 * Made once per plan (a plan lasts until the source's names are listed again), not per tick: the
 * same arrays every tick also let the client reuse the query it encoded from them.
 */
const SUBTASK_IDS = new WeakMap<SourceMetricPlan, SubtaskIds>();

function subtaskIdsOf(plan: SourceMetricPlan): SubtaskIds {
  let ids = SUBTASK_IDS.get(plan);
  if (ids === undefined) {
    const names = [...plan.pendingNames, ...counterNames(plan), ...plan.taskTimeNames];
    ids = {
      all: perSubtaskIds(names, plan.parallelism),
      pending: perSubtaskIds(plan.pendingNames, plan.parallelism),
      recordsIn: plan.recordsInName === null ? [] : perSubtaskIds([plan.recordsInName], plan.parallelism),
      recordsOut: plan.recordsOutName === null ? [] : perSubtaskIds([plan.recordsOutName], plan.parallelism),
      taskTime: perSubtaskIds(plan.taskTimeNames, plan.parallelism),
    };
    SUBTASK_IDS.set(plan, ids);
  }
  return ids;
}

/**
 * The aggregated endpoint answers nothing when one asked-for name exists on no subtask, and sums over
 * the subtasks that have it (flink-runtime `AbstractAggregatingMetricsHandler.getAggregatedMetricValues`);
 * `sum / avg` tells how many did, so a partial sum is reported as unknown.
 */
async function readSourceAggregated(
  client: FlinkClient,
  jobId: string,
  vertexId: string,
  plan: SourceMetricPlan,
): Promise<SourceReadings> {
  const names = [...plan.pendingNames, ...counterNames(plan), ...plan.taskTimeNames];
  const byName = new Map(
    (await client.getAggregatedSubtaskMetrics(jobId, vertexId, names, ['sum', 'avg'])).map((metric) => [
      metric.id,
      metric,
    ]),
  );
  const total = (metricNames: readonly string[]): number | null => {
    if (metricNames.length === 0) return null;
    let sum = 0;
    for (const name of metricNames) {
      const metric = byName.get(name);
      if (metric === undefined || metric.sum === null || metric.avg === null || metric.sum < 0) return null;
      if (metric.avg > 0 && Math.round(metric.sum / metric.avg) < plan.parallelism) return null;
      sum += metric.sum;
    }
    return sum;
  };
  return {
    pendingRecords: total(plan.pendingNames),
    recordsIn: total(plan.recordsInName === null ? [] : [plan.recordsInName]),
    recordsOut: total(plan.recordsOutName === null ? [] : [plan.recordsOutName]),
    taskTimeMs: total(plan.taskTimeNames),
  };
}

/** Whether the vertex's time gauges are to be read: its counters are missing, and Flink may have them. */
function gaugesWanted(vertex: JobVertexDetails, state: SnapshotState): boolean {
  const { counters } = vertex;
  return (
    (counters.busyTimeMs === null || counters.backPressuredTimeMs === null) && !state.noGauges.has(vertex.id)
  );
}

/** The subtask time gauges, only for a vertex whose counters are missing, and only while Flink has them. */
async function readGauges(
  client: FlinkClient,
  jobId: string,
  vertex: JobVertexDetails,
  state: SnapshotState,
  count: (endpoint: FlinkEndpoint) => void,
): Promise<VertexTimeGauges | null> {
  if (!gaugesWanted(vertex, state)) return null;
  const needBusy = vertex.counters.busyTimeMs === null;
  const needBackPressure = vertex.counters.backPressuredTimeMs === null;
  try {
    count('subtask_metrics');
    const metrics = await client.getAggregatedSubtaskMetrics(jobId, vertex.id, GAUGE_NAMES, ['avg']);
    // Out-of-range values are kept: the window's validation drops the sample and says why.
    const avg = (name: string): number | null => {
      const value = metrics.find((metric) => metric.id === name)?.avg ?? null;
      return value !== null && value >= 0 ? value : null;
    };
    const gauges: VertexTimeGauges = {
      busyTimeMsPerSecond: avg('busyTimeMsPerSecond'),
      backPressuredTimeMsPerSecond: avg('backPressuredTimeMsPerSecond'),
      idleTimeMsPerSecond: avg('idleTimeMsPerSecond'),
    };
    const helps =
      (needBusy && gauges.busyTimeMsPerSecond !== null) ||
      (needBackPressure && gauges.backPressuredTimeMsPerSecond !== null);
    if (!helps) {
      // Flink has no more than the counters told: do not ask again until the job restarts.
      state.noGauges.add(vertex.id);
      return null;
    }
    return gauges;
  } catch (err) {
    if (failsTheTarget(err)) throw err;
    return null;
  }
}

/**
 * Errors of a side call that fail the whole snapshot rather than leave a reading unknown: the job
 * is gone, or the JobManager answered beyond the bounds (it is not to be trusted with the rest).
 */
function failsTheTarget(err: unknown): boolean {
  return (
    err instanceof FlinkJobNotFoundError ||
    err instanceof FlinkImplausibleResponseError ||
    err instanceof FlinkResponseTooLargeError
  );
}
