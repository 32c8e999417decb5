/**
 * An in-process fake Flink JobManager: a node:http server on 127.0.0.1 (port 0) answering the REST
 * endpoints Slotscaler reads with the shapes Flink 1.18 – 2.x sends (field names and types from
 * flink-runtime's `rest.messages`), for a fleet of jobs whose cumulative counters grow with the
 * clock at configurable busy / back-pressure / record rates.
 *
 * One server can host many JobManagers ("clusters"), each under its own path prefix (`/c/<name>`),
 * as JobManagers behind a path-routing proxy would be: the benchmark serves a thousand from a few
 * servers. It can be told to misbehave: HTML pages, 404s, 5xx, 429, hangs, garbled or empty bodies,
 * reset connections, NaN counters, restarts; and to lie as a hostile JobManager would: a claimed
 * parallelism, absurd `pendingRecords`, a 15 MB answer, an answer that never ends.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { JOB_STATES } from '../../src/domain/flink.js';
import type { Clock } from '../../src/domain/ports.js';

/** One source operator of a source vertex. */
export interface FakeSourceSpec {
  /** The operator's name as Flink's metric store writes it, e.g. `Source__Kafka_Source`. */
  readonly operatorName?: string;
  /** `pendingRecords` of each subtask; `null` = not registered yet (the Kafka source before its first record). */
  readonly pendingRecordsPerSubtask?: number | null;
  /** Subtasks (from 0) that have registered `pendingRecords`; default all. */
  readonly pendingRegisteredSubtasks?: number;
  /** Pending records added per second per subtask (lag that grows). */
  readonly pendingGrowthPerSecond?: number;
}

export interface FakeVertexSpec {
  readonly id?: string;
  readonly name: string;
  readonly parallelism: number;
  readonly maxParallelism?: number;
  /** Indexes of the vertices feeding this one; absent or empty = a source vertex. */
  readonly inputs?: readonly number[];
  /** Fraction of time busy, 0..1. */
  readonly busyRatio?: number;
  /** Fraction of time back-pressured, 0..1 (busy + back-pressured ≤ 1; the rest is idle). */
  readonly backPressureRatio?: number;
  /** Records per second through the vertex (read = written, except sources read 0 over the network). */
  readonly recordsPerSecond?: number;
  readonly source?: FakeSourceSpec;
}

export interface FakeJobSpec {
  readonly jid?: string;
  readonly name?: string;
  readonly state?: string;
  /** Job max parallelism; Flink sends -1 when not configured. */
  readonly maxParallelism?: number;
  readonly vertices: readonly FakeVertexSpec[];
  /** How counters are written: `number` (default), `nan-string` (`"NaN"` busy time, as Jackson writes it), `nan-bare` (bare NaN tokens), `missing` (no metrics). */
  readonly counters?: 'number' | 'nan-string' | 'nan-bare' | 'missing';
  /** How long ago (ms) the job switched to RUNNING; default 10 minutes. */
  readonly runningForMs?: number;
  /**
   * `execution.checkpointing.interval` in ms: a checkpoint completes every interval from the RUNNING
   * time. Absent: the job has no checkpoint coordinator, and `GET .../checkpoints/config` is a 404
   * as Flink answers it.
   */
  readonly checkpointIntervalMs?: number;
}

export interface FakeClusterSpec {
  readonly name?: string;
  readonly jobs?: readonly FakeJobSpec[];
  readonly taskManagers?: number;
  readonly slotsPerTaskManager?: number;
  /** Flink serves metrics from a cache refreshed every `metrics.fetcher.update-interval`; 0 = always fresh. */
  readonly metricsFetchIntervalMs?: number;
}

export type Misbehaviour =
  | 'html'
  | 'html-502'
  | 'not-found'
  | 'server-error'
  | 'too-many-requests'
  | 'hang'
  | 'garbled'
  | 'empty'
  | 'reset'
  /** A 200 of `HUGE_BODY_BYTES` of JSON, chunked (no Content-Length), as fast as the client reads. */
  | 'huge'
  /** A 200 that never ends: a chunk of 16 KiB every 100 ms, until the client goes (or 10 minutes). */
  | 'endless';

/** The size of a `huge` answer: 15 MB. */
export const HUGE_BODY_BYTES = 15 * 1024 * 1024;

interface MisbehaviourRule {
  readonly mode: Misbehaviour;
  readonly match: RegExp;
  remaining: number;
}

interface VertexRates {
  busyRatio: number;
  backPressureRatio: number;
  recordsPerSecond: number;
}

interface FakeVertex {
  readonly id: string;
  readonly name: string;
  parallelism: number;
  /** The parallelism `GET /jobs/{jid}` reports, when it lies (`claimParallelism`). */
  claimedParallelism: number | null;
  readonly maxParallelism: number;
  readonly inputs: readonly string[];
  readonly source: {
    readonly operatorName: string;
    pendingRecordsPerSubtask: number | null;
    pendingRegisteredSubtasks: number;
    pendingGrowthPerSecond: number;
  } | null;
  rates: VertexRates;
  /** Counters accumulated before `sinceMs` (rates may change over time). */
  base: { busy: number; backPressured: number; idle: number; records: number; pendingGrowth: number };
  sinceMs: number;
}

interface FakeJob {
  readonly jid: string;
  readonly name: string;
  state: string;
  readonly maxParallelism: number;
  readonly createdMs: number;
  runningSinceMs: number;
  counters: NonNullable<FakeJobSpec['counters']>;
  readonly vertices: FakeVertex[];
  readonly checkpointIntervalMs: number | null;
}

function hexId(seed: string): string {
  return createHash('md5').update(seed).digest('hex');
}

/** One fake JobManager (a cluster) on a `FakeJobManagerServer`. */
export class FakeCluster {
  readonly jobs = new Map<string, FakeJob>();
  taskManagers: number;
  slotsPerTaskManager: number;
  metricsFetchIntervalMs: number;
  private readonly rules: MisbehaviourRule[] = [];
  /** Paths (with query) asked for, in order, when `recordRequests` is on. */
  readonly requests: string[] = [];
  requestCount = 0;
  recordRequests = true;
  /** Body bytes written by `huge` and `endless` answers, and how many of those the client cut off. */
  readonly bodies = { bytesWritten: 0, cut: 0, completed: 0 };

  constructor(
    readonly name: string,
    readonly url: string,
    private readonly clock: Clock,
    spec: FakeClusterSpec,
  ) {
    this.taskManagers = spec.taskManagers ?? 2;
    this.slotsPerTaskManager = spec.slotsPerTaskManager ?? 2;
    this.metricsFetchIntervalMs = spec.metricsFetchIntervalMs ?? 0;
    for (const job of spec.jobs ?? []) this.addJob(job);
  }

  addJob(spec: FakeJobSpec): string {
    const now = this.clock.nowMs();
    const jid = spec.jid ?? hexId(`${this.name}/job/${this.jobs.size}`);
    const ids = spec.vertices.map((vertex, index) => vertex.id ?? hexId(`${jid}/vertex/${index}`));
    const runningSinceMs = now - (spec.runningForMs ?? 600_000);
    const vertices = spec.vertices.map((vertex, index): FakeVertex => {
      const inputs = (vertex.inputs ?? []).map((input) => ids[input] ?? '');
      const source = inputs.length === 0 ? (vertex.source ?? {}) : undefined;
      return {
        id: ids[index] ?? hexId(`${jid}/vertex/${index}`),
        name: vertex.name,
        parallelism: vertex.parallelism,
        claimedParallelism: null,
        maxParallelism: vertex.maxParallelism ?? 128,
        inputs,
        source:
          source === undefined
            ? null
            : {
                operatorName: source.operatorName ?? `Source__${vertex.name.replace(/[^A-Za-z0-9]+/g, '_')}`,
                pendingRecordsPerSubtask:
                  source.pendingRecordsPerSubtask === undefined ? 0 : source.pendingRecordsPerSubtask,
                pendingRegisteredSubtasks: source.pendingRegisteredSubtasks ?? vertex.parallelism,
                pendingGrowthPerSecond: source.pendingGrowthPerSecond ?? 0,
              },
        rates: {
          busyRatio: vertex.busyRatio ?? 0.5,
          backPressureRatio: vertex.backPressureRatio ?? 0,
          recordsPerSecond: vertex.recordsPerSecond ?? 1000,
        },
        base: { busy: 0, backPressured: 0, idle: 0, records: 0, pendingGrowth: 0 },
        sinceMs: runningSinceMs,
      };
    });
    this.jobs.set(jid, {
      jid,
      name: spec.name ?? `job-${this.jobs.size}`,
      state: spec.state ?? 'RUNNING',
      maxParallelism: spec.maxParallelism ?? -1,
      createdMs: runningSinceMs - 2_000,
      runningSinceMs,
      counters: spec.counters ?? 'number',
      vertices,
      checkpointIntervalMs: spec.checkpointIntervalMs ?? null,
    });
    return jid;
  }

  /** The only (or first) job's id. */
  get jobId(): string {
    const first = this.jobs.keys().next();
    if (first.done === true) throw new Error('the fake cluster has no job');
    return first.value;
  }

  job(jid: string = this.jobId): FakeJob {
    const job = this.jobs.get(jid);
    if (job === undefined) throw new Error(`no fake job ${jid}`);
    return job;
  }

  setJobState(state: string, jid?: string): void {
    this.job(jid).state = state;
  }

  setCounters(counters: NonNullable<FakeJobSpec['counters']>, jid?: string): void {
    this.job(jid).counters = counters;
  }

  /** Changes a vertex's rates from now on; counters stay continuous. */
  setVertexRates(vertexIndex: number, rates: Partial<VertexRates>, jid?: string): void {
    const job = this.job(jid);
    const vertex = job.vertices[vertexIndex];
    if (vertex === undefined) throw new Error(`no vertex ${vertexIndex}`);
    const now = this.clock.nowMs();
    vertex.base = this.countersAt(vertex, now);
    vertex.sinceMs = now;
    vertex.rates = { ...vertex.rates, ...rates };
  }

  setSource(vertexIndex: number, source: Partial<NonNullable<FakeVertex['source']>>, jid?: string): void {
    const target = this.job(jid).vertices[vertexIndex]?.source;
    if (target === undefined || target === null) throw new Error(`vertex ${vertexIndex} is not a source`);
    Object.assign(target, source);
  }

  /** The job restarts: a new RUNNING timestamp, every counter from zero, optionally a new parallelism. */
  restartJob(options: { parallelism?: number; jid?: string } = {}): void {
    const job = this.job(options.jid);
    const now = this.clock.nowMs();
    job.runningSinceMs = now;
    job.state = 'RUNNING';
    for (const vertex of job.vertices) {
      vertex.base = { busy: 0, backPressured: 0, idle: 0, records: 0, pendingGrowth: 0 };
      vertex.sinceMs = now;
      if (options.parallelism !== undefined) {
        vertex.parallelism = options.parallelism;
        if (vertex.source !== null) vertex.source.pendingRegisteredSubtasks = options.parallelism;
      }
    }
  }

  /**
   * Lies about a vertex's parallelism (and its max parallelism, when given) in `GET /jobs/{jid}`;
   * the metrics keep the real one.
   */
  claimParallelism(vertexIndex: number, parallelism: number | null, jid?: string): void {
    const vertex = this.job(jid).vertices[vertexIndex];
    if (vertex === undefined) throw new Error(`no vertex ${vertexIndex}`);
    vertex.claimedParallelism = parallelism;
  }

  /** Tasks restart (region failover) under the same RUNNING timestamp: counters from zero. */
  restartTasks(jid?: string): void {
    const now = this.clock.nowMs();
    for (const vertex of this.job(jid).vertices) {
      vertex.base = { busy: 0, backPressured: 0, idle: 0, records: 0, pendingGrowth: 0 };
      vertex.sinceMs = now;
    }
  }

  /** Misbehave on requests whose path matches, `times` times (default: until `behave()`). */
  misbehave(mode: Misbehaviour, options: { match?: RegExp; times?: number } = {}): void {
    this.rules.push({
      mode,
      match: options.match ?? /.*/,
      remaining: options.times ?? Number.POSITIVE_INFINITY,
    });
  }

  behave(): void {
    this.rules.length = 0;
  }

  /** @internal The misbehaviour for this path, if any (and uses one of its times). */
  takeMisbehaviour(path: string): Misbehaviour | null {
    for (const rule of this.rules) {
      if (rule.remaining > 0 && rule.match.test(path)) {
        rule.remaining -= 1;
        return rule.mode;
      }
    }
    return null;
  }

  /** The time the metric store last refreshed, as Flink's MetricFetcher would have it. */
  private metricsTimeMs(): number {
    const now = this.clock.nowMs();
    const interval = this.metricsFetchIntervalMs;
    return interval > 0 ? Math.floor(now / interval) * interval : now;
  }

  private countersAt(vertex: FakeVertex, atMs: number): FakeVertex['base'] {
    const elapsed = Math.max(0, atMs - vertex.sinceMs);
    const { busyRatio, backPressureRatio, recordsPerSecond } = vertex.rates;
    const taskMs = elapsed * vertex.parallelism;
    return {
      busy: vertex.base.busy + busyRatio * taskMs,
      backPressured: vertex.base.backPressured + backPressureRatio * taskMs,
      idle: vertex.base.idle + Math.max(0, 1 - busyRatio - backPressureRatio) * taskMs,
      records: vertex.base.records + Math.floor((recordsPerSecond * elapsed) / 1000),
      pendingGrowth:
        vertex.base.pendingGrowth + ((vertex.source?.pendingGrowthPerSecond ?? 0) * elapsed) / 1000,
    };
  }

  // --- answers ---------------------------------------------------------------------------------

  /** @internal */
  overview(): unknown {
    const running = [...this.jobs.values()].filter((job) => job.state === 'RUNNING').length;
    const slots = this.taskManagers * this.slotsPerTaskManager;
    const used = [...this.jobs.values()]
      .filter((job) => job.state === 'RUNNING')
      .reduce((sum, job) => sum + Math.max(...job.vertices.map((vertex) => vertex.parallelism)), 0);
    return {
      taskmanagers: this.taskManagers,
      'slots-total': slots,
      'slots-available': Math.max(0, slots - used),
      'jobs-running': running,
      'jobs-finished': 0,
      'jobs-cancelled': 0,
      'jobs-failed': 0,
      'flink-version': '1.20.1',
      'flink-commit': 'abcdef0',
    };
  }

  /** @internal */
  jobsOverview(): unknown {
    const now = this.clock.nowMs();
    return {
      jobs: [...this.jobs.values()].map((job) => ({
        jid: job.jid,
        name: job.name,
        state: job.state,
        'start-time': job.createdMs,
        'end-time': -1,
        duration: now - job.createdMs,
        'last-modification': job.runningSinceMs,
        tasks: {
          running: job.vertices.length,
          canceling: 0,
          canceled: 0,
          total: job.vertices.length,
          created: 0,
          scheduled: 0,
          deploying: 0,
          reconciling: 0,
          finished: 0,
          initializing: 0,
          failed: 0,
        },
      })),
    };
  }

  /** @internal `GET /jobs/{jid}/checkpoints/config` (`CheckpointConfigInfo`, the fields Flink 1.20 sends); null: 404. */
  checkpointConfig(jid: string): unknown {
    const job = this.jobs.get(jid);
    if (job?.checkpointIntervalMs === null || job === undefined) return null;
    return {
      mode: 'exactly_once',
      interval: job.checkpointIntervalMs,
      timeout: 600_000,
      min_pause: 0,
      max_concurrent: 1,
      externalization: { enabled: false, delete_on_cancellation: true },
      state_backend: 'HashMapStateBackend',
      checkpoint_storage: 'JobManagerCheckpointStorage',
      unaligned_checkpoints: false,
      tolerable_failed_checkpoints: 0,
      aligned_checkpoint_timeout: 0,
      checkpoints_after_tasks_finish: true,
      state_changelog_enabled: false,
      changelog_periodic_materialization_interval: 600_000,
      changelog_storage: 'memory',
    };
  }

  /**
   * @internal `GET /jobs/{jid}/checkpoints` (`CheckpointingStatistics`, abridged to what Flink
   * 1.20 sends of the latest completed one): one completed every interval since RUNNING, each
   * taking 50 ms.
   */
  checkpointStats(jid: string): unknown {
    const job = this.jobs.get(jid);
    if (job === undefined) return null;
    const interval = job.checkpointIntervalMs;
    const completed =
      interval === null ? 0 : Math.floor((this.clock.nowMs() - job.runningSinceMs) / interval);
    const latestAtMs = job.runningSinceMs + completed * (interval ?? 0);
    return {
      counts: { restored: 0, total: completed, in_progress: 0, completed, failed: 0 },
      summary: {},
      latest: {
        completed:
          completed === 0
            ? null
            : {
                className: 'completed',
                id: completed,
                status: 'COMPLETED',
                is_savepoint: false,
                trigger_timestamp: latestAtMs - 50,
                latest_ack_timestamp: latestAtMs,
                checkpointed_size: 4096,
                state_size: 4096,
                end_to_end_duration: 50,
                num_subtasks: 4,
                num_acknowledged_subtasks: 4,
                checkpoint_type: 'CHECKPOINT',
                tasks: {},
                external_path: '<checkpoint-not-externally-addressable>',
                discarded: false,
              },
        savepoint: null,
        failed: null,
        restored: null,
      },
      history: [],
    };
  }

  /** @internal Body text of `GET /jobs/{jid}` (text, for the NaN variants). */
  jobDetails(jid: string): string | null {
    const job = this.jobs.get(jid);
    if (job === undefined) return null;
    const now = this.clock.nowMs();
    const metricsAt = this.metricsTimeMs();
    const running = job.state === 'RUNNING';
    const timestamps: Record<string, number> = {};
    for (const state of JOB_STATES) {
      timestamps[state] = 0;
    }
    timestamps['INITIALIZING'] = job.createdMs;
    timestamps['CREATED'] = job.createdMs + 500;
    timestamps['RUNNING'] = job.runningSinceMs;
    if (!running) timestamps[job.state] = now;
    const NAN = '__NAN__';
    const vertices = job.vertices.map((vertex) => {
      const counters = this.countersAt(vertex, Math.max(vertex.sinceMs, metricsAt));
      const isSource = vertex.inputs.length === 0;
      const metrics = {
        'read-bytes': isSource ? 0 : counters.records * 64,
        'read-bytes-complete': true,
        'write-bytes': counters.records * 64,
        'write-bytes-complete': true,
        'read-records': isSource ? 0 : counters.records,
        'read-records-complete': true,
        'write-records': counters.records,
        'write-records-complete': true,
        'accumulated-backpressured-time': Math.round(counters.backPressured),
        'accumulated-idle-time': Math.round(counters.idle),
        'accumulated-busy-time':
          job.counters === 'number' ? counters.busy : job.counters === 'nan-string' ? 'NaN' : NAN,
      };
      return {
        id: vertex.id,
        slotSharingGroupId: hexId(`${job.jid}/ssg`),
        name: vertex.name,
        maxParallelism: vertex.maxParallelism,
        parallelism: vertex.claimedParallelism ?? vertex.parallelism,
        status: running ? 'RUNNING' : job.state === 'RESTARTING' ? 'CANCELING' : job.state,
        'start-time': vertex.sinceMs,
        'end-time': -1,
        duration: now - vertex.sinceMs,
        tasks: {
          RUNNING: running ? vertex.parallelism : 0,
          CANCELING: 0,
          CANCELED: 0,
          CREATED: 0,
          SCHEDULED: 0,
          DEPLOYING: 0,
          RECONCILING: 0,
          FINISHED: 0,
          INITIALIZING: 0,
          FAILED: 0,
        },
        ...(job.counters === 'missing' ? {} : { metrics }),
      };
    });
    const body = {
      jid: job.jid,
      name: job.name,
      isStoppable: false,
      state: job.state,
      'job-type': 'STREAMING',
      'start-time': job.createdMs,
      'end-time': -1,
      duration: now - job.createdMs,
      maxParallelism: job.maxParallelism,
      now,
      timestamps,
      vertices,
      'status-counts': { RUNNING: running ? job.vertices.length : 0 },
      plan: {
        jid: job.jid,
        name: job.name,
        type: 'STREAMING',
        nodes: job.vertices.map((vertex) => ({
          id: vertex.id,
          parallelism: vertex.claimedParallelism ?? vertex.parallelism,
          operator: '',
          operator_strategy: '',
          description: vertex.name,
          ...(vertex.inputs.length === 0
            ? {}
            : {
                inputs: vertex.inputs.map((input, num) => ({
                  num,
                  id: input,
                  ship_strategy: 'HASH',
                  exchange: 'pipelined_bounded',
                })),
              }),
          optimizer_properties: {},
        })),
      },
    };
    return JSON.stringify(body).replaceAll(`"${NAN}"`, 'NaN');
  }

  /** @internal Metric name → value of each subtask (undefined where the subtask lacks it). */
  private subtaskMetrics(job: FakeJob, vertex: FakeVertex): Map<string, (number | undefined)[]> {
    const counters = this.countersAt(vertex, Math.max(vertex.sinceMs, this.metricsTimeMs()));
    const parallelism = vertex.parallelism;
    const perSubtask = (value: number): number[] =>
      Array.from({ length: parallelism }, () => value / parallelism);
    const metrics = new Map<string, (number | undefined)[]>();
    const { busyRatio, backPressureRatio, recordsPerSecond } = vertex.rates;
    const nan = job.counters === 'nan-string' || job.counters === 'nan-bare';
    metrics.set(
      'busyTimeMsPerSecond',
      Array.from({ length: parallelism }, () => (nan ? Number.NaN : busyRatio * 1000)),
    );
    metrics.set(
      'backPressuredTimeMsPerSecond',
      Array.from({ length: parallelism }, () => backPressureRatio * 1000),
    );
    metrics.set(
      'idleTimeMsPerSecond',
      Array.from({ length: parallelism }, () => (1 - busyRatio - backPressureRatio) * 1000),
    );
    // The task's accumulated times, from the same counters as the job details'.
    metrics.set('accumulateBusyTimeMs', perSubtask(Math.round(counters.busy)));
    metrics.set('accumulateIdleTimeMs', perSubtask(Math.round(counters.idle)));
    metrics.set('accumulateBackPressuredTimeMs', perSubtask(Math.round(counters.backPressured)));
    metrics.set('numRecordsOut', perSubtask(counters.records));
    metrics.set('numRecordsOutPerSecond', perSubtask(recordsPerSecond));
    metrics.set('numRecordsIn', perSubtask(vertex.source === null ? counters.records : 0));
    if (vertex.source !== null) {
      const op = vertex.source.operatorName;
      metrics.set(`${op}.numRecordsIn`, perSubtask(counters.records));
      metrics.set(`${op}.numRecordsOut`, perSubtask(counters.records));
      metrics.set(`${op}.numRecordsInPerSecond`, perSubtask(recordsPerSecond));
      metrics.set(`${op}.currentEmitEventTimeLag`, perSubtask(100 * parallelism));
      const pending = vertex.source.pendingRecordsPerSubtask;
      if (pending !== null && vertex.source.pendingRegisteredSubtasks > 0) {
        const growth = counters.pendingGrowth / parallelism;
        metrics.set(
          `${op}.pendingRecords`,
          Array.from({ length: parallelism }, (_, subtask) =>
            subtask < (vertex.source?.pendingRegisteredSubtasks ?? 0)
              ? Math.round(pending + growth)
              : undefined,
          ),
        );
      }
    } else {
      const op = vertex.name.replace(/[^A-Za-z0-9]+/g, '_');
      metrics.set(`${op}.numRecordsIn`, perSubtask(counters.records));
      metrics.set(`${op}.numRecordsOut`, perSubtask(counters.records));
    }
    return metrics;
  }

  /** @internal `GET .../vertices/{vid}/metrics[?get=]`: per-subtask ids `<i>.<name>`. */
  vertexMetrics(jid: string, vid: string, get: readonly string[] | null): unknown {
    const job = this.jobs.get(jid);
    const vertex = job?.vertices.find((candidate) => candidate.id === vid);
    if (job === undefined || vertex === undefined) return [];
    const metrics = this.subtaskMetrics(job, vertex);
    if (get === null) {
      const ids: { id: string }[] = [];
      for (const [name, values] of metrics) {
        values.forEach((value, subtask) => {
          if (value !== undefined) ids.push({ id: `${subtask}.${name}` });
        });
      }
      return ids;
    }
    const answer: { id: string; value: string }[] = [];
    for (const id of get) {
      const dot = id.indexOf('.');
      const subtask = Number(id.slice(0, dot));
      const value = metrics.get(id.slice(dot + 1))?.[subtask];
      if (value !== undefined) answer.push({ id, value: String(value) });
    }
    return answer;
  }

  /** @internal `GET .../subtasks/metrics[?get=&agg=]`: as Flink's AbstractAggregatingMetricsHandler. */
  subtaskAggregates(
    jid: string,
    vid: string,
    get: readonly string[] | null,
    agg: readonly string[] | null,
  ): unknown {
    const job = this.jobs.get(jid);
    const vertex = job?.vertices.find((candidate) => candidate.id === vid);
    if (job === undefined || vertex === undefined) return [];
    const metrics = this.subtaskMetrics(job, vertex);
    if (get === null) return [...metrics.keys()].map((id) => ({ id }));
    const aggregations = agg === null || agg.length === 0 ? ['min', 'max', 'avg', 'sum', 'skew'] : agg;
    const answer: Record<string, number | string>[] = [];
    for (const name of get) {
      const values = (metrics.get(name) ?? []).filter((value): value is number => value !== undefined);
      // Any asked-for name that no subtask has empties the whole answer.
      if (values.length === 0) return [];
      const entry: Record<string, number | string> = { id: name };
      const sum = values.reduce((total, value) => total + value, 0);
      const jackson = (value: number): number | string => (Number.isFinite(value) ? value : 'NaN');
      for (const aggregation of aggregations) {
        if (aggregation === 'min') entry['min'] = jackson(Math.min(...values));
        if (aggregation === 'max') entry['max'] = jackson(Math.max(...values));
        if (aggregation === 'avg') entry['avg'] = jackson(sum / values.length);
        if (aggregation === 'sum') entry['sum'] = jackson(sum);
        if (aggregation === 'skew') entry['skew'] = 0;
      }
      answer.push(entry);
    }
    return answer;
  }

  /** @internal */
  backPressure(jid: string, vid: string): unknown {
    const job = this.jobs.get(jid);
    const vertex = job?.vertices.find((candidate) => candidate.id === vid);
    if (job === undefined || vertex === undefined) return { status: 'deprecated' };
    const { backPressureRatio: ratio, busyRatio } = vertex.rates;
    const level = ratio <= 0.1 ? 'ok' : ratio <= 0.5 ? 'low' : 'high';
    return {
      status: 'ok',
      backpressureLevel: level,
      'backpressure-level': level,
      'end-timestamp': this.clock.nowMs(),
      subtasks: Array.from({ length: vertex.parallelism }, (_, subtask) => ({
        subtask,
        'attempt-number': 0,
        backpressureLevel: level,
        'backpressure-level': level,
        ratio,
        idleRatio: Math.max(0, 1 - ratio - busyRatio),
        busyRatio,
      })),
    };
  }

  /** @internal */
  taskManagerList(): unknown {
    return {
      taskmanagers: Array.from({ length: this.taskManagers }, (_, index) => ({
        id: `10.0.0.${index + 1}:6122-${hexId(`${this.name}/tm/${index}`).slice(0, 6)}`,
        path: `pekko.tcp://flink@10.0.0.${index + 1}:6122/user/rpc/taskmanager_0`,
        dataPort: 6121,
        jmxPort: -1,
        timeSinceLastHeartbeat: this.clock.nowMs(),
        slotsNumber: this.slotsPerTaskManager,
        freeSlots: 0,
        totalResource: {
          cpuCores: this.slotsPerTaskManager,
          taskHeapMemory: 512,
          taskOffHeapMemory: 0,
          managedMemory: 512,
          networkMemory: 128,
          extendedResources: {},
        },
        freeResource: {
          cpuCores: 0,
          taskHeapMemory: 0,
          taskOffHeapMemory: 0,
          managedMemory: 0,
          networkMemory: 0,
          extendedResources: {},
        },
        hardware: {
          cpuCores: 2,
          physicalMemory: 8_000_000_000,
          freeMemory: 1_000_000_000,
          managedMemory: 512_000_000,
        },
        memoryConfiguration: {},
        blocked: false,
      })),
    };
  }
}

export interface FakeJobManagerServerOptions {
  readonly clock?: Clock;
}

const systemClock: Clock = { nowMs: () => Date.now() };

/** A loopback HTTP server hosting fake JobManagers. */
export class FakeJobManagerServer {
  private readonly clusters = new Map<string, FakeCluster>();
  private single: FakeCluster | null = null;

  private constructor(
    private readonly server: http.Server,
    readonly baseUrl: string,
    private readonly clock: Clock,
  ) {}

  static async start(options: FakeJobManagerServerOptions = {}): Promise<FakeJobManagerServer> {
    const server = http.createServer();
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const fake = new FakeJobManagerServer(server, `http://127.0.0.1:${port}`, options.clock ?? systemClock);
    server.on('request', (req, res) => fake.handle(req, res));
    return fake;
  }

  /** A JobManager at the server's root URL (one per server). */
  rootCluster(spec: FakeClusterSpec = {}): FakeCluster {
    if (this.single !== null) throw new Error('the root cluster exists already');
    this.single = new FakeCluster(spec.name ?? 'root', this.baseUrl, this.clock, spec);
    return this.single;
  }

  /** A JobManager under `/c/<name>`. */
  addCluster(spec: FakeClusterSpec & { readonly name: string }): FakeCluster {
    const cluster = new FakeCluster(
      spec.name,
      `${this.baseUrl}/c/${encodeURIComponent(spec.name)}`,
      this.clock,
      spec,
    );
    this.clusters.set(spec.name, cluster);
    return cluster;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    let path = url.pathname;
    let cluster = this.single;
    const prefixed = /^\/c\/([^/]+)(\/.*)?$/.exec(path);
    if (prefixed !== null) {
      cluster = this.clusters.get(decodeURIComponent(prefixed[1] ?? '')) ?? null;
      path = prefixed[2] ?? '/';
    }
    if (cluster === null) {
      sendJson(res, 404, { errors: ['Not found: /'] });
      return;
    }
    cluster.requestCount += 1;
    const pathWithQuery = `${path}${url.search}`;
    if (cluster.recordRequests) cluster.requests.push(pathWithQuery);

    const misbehaviour = cluster.takeMisbehaviour(pathWithQuery);
    if (misbehaviour !== null) {
      misbehave(misbehaviour, req, res, path, cluster);
      return;
    }

    const list = (name: string): string[] | null => {
      const value = url.searchParams.get(name);
      return value === null ? null : value.split(',').filter((part) => part !== '');
    };
    let match: RegExpExecArray | null;
    if (req.method !== 'GET') {
      sendJson(res, 405, { errors: ['Method not allowed'] });
      return;
    }
    if (path === '/overview') {
      sendJson(res, 200, cluster.overview());
      return;
    }
    if (path === '/jobs/overview') {
      sendJson(res, 200, cluster.jobsOverview());
      return;
    }
    if (path === '/taskmanagers') {
      sendJson(res, 200, cluster.taskManagerList());
      return;
    }
    if ((match = /^\/jobs\/([0-9a-f]+)$/.exec(path)) !== null) {
      const body = cluster.jobDetails(match[1] ?? '');
      if (body === null) {
        sendJson(res, 404, { errors: [`Job ${match[1]} not found`] });
        return;
      }
      sendText(res, 200, body, 'application/json; charset=UTF-8');
      return;
    }
    if ((match = /^\/jobs\/([0-9a-f]+)\/checkpoints\/config$/.exec(path)) !== null) {
      const body = cluster.checkpointConfig(match[1] ?? '');
      if (body === null) {
        sendJson(res, 404, { errors: [`Checkpointing is not enabled for this job (${match[1]}).`] });
        return;
      }
      sendJson(res, 200, body);
      return;
    }
    if ((match = /^\/jobs\/([0-9a-f]+)\/checkpoints$/.exec(path)) !== null) {
      const body = cluster.checkpointStats(match[1] ?? '');
      if (body === null) {
        sendJson(res, 404, { errors: [`Job ${match[1]} not found`] });
        return;
      }
      sendJson(res, 200, body);
      return;
    }
    if ((match = /^\/jobs\/([0-9a-f]+)\/vertices\/([0-9a-f]+)\/metrics$/.exec(path)) !== null) {
      sendJson(res, 200, cluster.vertexMetrics(match[1] ?? '', match[2] ?? '', list('get')));
      return;
    }
    if ((match = /^\/jobs\/([0-9a-f]+)\/vertices\/([0-9a-f]+)\/subtasks\/metrics$/.exec(path)) !== null) {
      sendJson(res, 200, cluster.subtaskAggregates(match[1] ?? '', match[2] ?? '', list('get'), list('agg')));
      return;
    }
    if ((match = /^\/jobs\/([0-9a-f]+)\/vertices\/([0-9a-f]+)\/backpressure$/.exec(path)) !== null) {
      sendJson(res, 200, cluster.backPressure(match[1] ?? '', match[2] ?? ''));
      return;
    }
    sendJson(res, 404, { errors: [`Not found: ${path}`] });
  }
}

function sendText(res: http.ServerResponse, status: number, body: string, contentType: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body), 'application/json; charset=UTF-8');
}

const HTML_PAGE =
  '<!DOCTYPE html><html><head><title>Login</title></head><body><h1>Please sign in</h1></body></html>';

/**
 * Writes a chunked 200 of `total` bytes (`Infinity`: endless), `chunkBytes` at a time, every
 * `everyMs` (0: as fast as the client reads), counting in `bodies` what was written and whether the
 * client cut it off. An endless body stops after 10 minutes at the latest.
 */
function streamBody(
  res: http.ServerResponse,
  bodies: FakeCluster['bodies'],
  total: number,
  chunkBytes: number,
  everyMs: number,
): void {
  res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' });
  const chunk = Buffer.from(`{"id":"x"},`.repeat(Math.ceil(chunkBytes / 11)).slice(0, chunkBytes));
  const stopAtMs = Date.now() + 600_000;
  let written = 0;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  res.on('close', () => {
    clearTimeout(timer);
    if (!done) bodies.cut += 1;
    done = true;
  });
  const next = (): void => {
    timer = undefined;
    while (!done && !res.destroyed) {
      if (written === 0) {
        res.write('[');
      }
      if (written >= total || Date.now() >= stopAtMs) {
        done = true;
        bodies.completed += 1;
        res.end('{"id":"x"}]');
        return;
      }
      const part = total - written < chunk.length ? chunk.subarray(0, total - written) : chunk;
      written += part.length;
      bodies.bytesWritten += part.length;
      const more = res.write(part);
      if (everyMs > 0) {
        timer = setTimeout(next, everyMs);
        return;
      }
      if (!more) {
        res.once('drain', next);
        return;
      }
    }
  };
  next();
}

function misbehave(
  mode: Misbehaviour,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  cluster: FakeCluster,
): void {
  switch (mode) {
    case 'html': {
      sendText(res, 200, HTML_PAGE, 'text/html; charset=utf-8');
      return;
    }
    case 'html-502': {
      sendText(res, 502, '<html><body><h1>502 Bad Gateway</h1></body></html>', 'text/html');
      return;
    }
    case 'not-found': {
      sendJson(res, 404, { errors: [`Job not found: ${path}`] });
      return;
    }
    case 'server-error': {
      sendJson(res, 500, {
        errors: ['Internal server error.', '<Exception on server side:\norg.apache.flink...>'],
      });
      return;
    }
    case 'too-many-requests':
      res.setHeader('Retry-After', '0');
      {
        sendJson(res, 429, { errors: ['Too many requests'] });
        return;
      }
    case 'hang':
      // Never answer; the client's timeout has to end it (the server closes the socket on close()).
      return;
    case 'garbled': {
      sendText(res, 200, '{"jid":"abc","state":"RUNN', 'application/json');
      return;
    }
    case 'empty': {
      sendText(res, 200, '', 'application/json');
      return;
    }
    case 'reset':
      req.socket.destroy();
      return;
    case 'huge':
      streamBody(res, cluster.bodies, HUGE_BODY_BYTES, 64 * 1024, 0);
      return;
    case 'endless':
      streamBody(res, cluster.bodies, Number.POSITIVE_INFINITY, 16 * 1024, 100);
      return;
  }
}

/** Starts a server with one JobManager at its root URL. */
export async function startFakeJobManager(
  spec: FakeClusterSpec = {},
  options: FakeJobManagerServerOptions = {},
): Promise<{ server: FakeJobManagerServer; cluster: FakeCluster; url: string }> {
  const server = await FakeJobManagerServer.start(options);
  const cluster = server.rootCluster(spec);
  return { server, cluster, url: cluster.url };
}

/** A typical job: `sources` source vertices feeding a chain of `vertices - sources` operators. */
export function typicalJob(options: {
  readonly vertices?: number;
  readonly sources?: number;
  readonly parallelism?: number;
  readonly busyRatio?: number;
  readonly backPressureRatio?: number;
  readonly pendingRecordsPerSubtask?: number | null;
  readonly name?: string;
}): FakeJobSpec {
  const vertexCount = options.vertices ?? 4;
  const sourceCount = options.sources ?? 1;
  const vertices: FakeVertexSpec[] = [];
  for (let index = 0; index < vertexCount; index += 1) {
    const isSource = index < sourceCount;
    vertices.push({
      name: isSource ? `Source: Kafka ${index}` : index === vertexCount - 1 ? 'Sink: Writer' : `Map ${index}`,
      parallelism: options.parallelism ?? 2,
      inputs: isSource
        ? []
        : index === sourceCount
          ? Array.from({ length: sourceCount }, (_, source) => source)
          : [index - 1],
      busyRatio: isSource ? 0.2 : (options.busyRatio ?? 0.5),
      backPressureRatio: isSource ? (options.backPressureRatio ?? 0) : 0,
      recordsPerSecond: 1000,
      ...(isSource
        ? {
            source: {
              pendingRecordsPerSubtask:
                options.pendingRecordsPerSubtask === undefined ? 100 : options.pendingRecordsPerSubtask,
            },
          }
        : {}),
    });
  }
  return { name: options.name ?? 'typical', vertices };
}
