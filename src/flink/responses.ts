/**
 * Decoding and validation of the JobManager's answers. Nothing from the wire is used before it went
 * through here: JSON is decoded tolerantly (Jackson may write bare `NaN`), every shape is checked with
 * zod, and every number that is not finite becomes `null`. Anything else is a `FlinkBadResponseError`;
 * a number beyond the bounds of src/flink/bounds.ts is a `FlinkImplausibleResponseError`.
 *
 * Shapes follow flink-runtime's `org.apache.flink.runtime.rest.messages` (Flink 1.18 – 2.x):
 * `JobsOverview`/`JobDetails`, `JobDetailsInfo` (with `IOMetricsInfo` and `JobPlanInfo.Plan`),
 * `MetricCollectionResponseBody`, `AggregatedMetricsResponseBody`, `TaskManagersInfo`,
 * `CheckpointConfigInfo` and `CheckpointingStatistics`.
 */
import { z } from 'zod';

import type {
  AggregatedMetric,
  CheckpointConfig,
  CheckpointStats,
  JobDetails,
  JobOverview,
  JobPlanNode,
  JobVertexDetails,
  MetricValue,
  ResourceRequirements,
  TaskManagerSummary,
  TaskManagerVertexTimes,
  VertexCounters,
} from '../domain/flink.js';
import { FlinkBadResponseError, FlinkResponseTooLargeError } from '../errors.js';
import { FLINK_MAX_PARALLELISM } from '../metrics/sample-bounds.js';
import { checkAtMost, checkCheckpointStats, checkJobDetails, checkTimestamp } from './bounds.js';

/** A finite number, from a JSON number or a numeric string (metric values are strings); else `null`. */
export function toFiniteNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return null;
    const parsed = Number(text);
    return Number.isFinite(parsed) ? parsed : null;
  }
  return null;
}

/** A finite number ≥ 0, else `null`: counters and `pendingRecords` are never negative. */
export function toNonNegativeNumber(value: unknown): number | null {
  const parsed = toFiniteNumber(value);
  return parsed !== null && parsed >= 0 ? parsed : null;
}

// `.optional()` first: zod 4 treats a key as required when its schema's output cannot be undefined.
const finite = z.unknown().optional().transform(toFiniteNumber);
const nonNegative = z.unknown().optional().transform(toNonNegativeNumber);
const positiveOrNull = z
  .unknown()
  .optional()
  .transform((value) => {
    const parsed = toFiniteNumber(value);
    return parsed !== null && parsed > 0 ? parsed : null;
  });
const text = z
  .unknown()
  .optional()
  .transform((value) => (typeof value === 'string' ? value : ''));

// Strings or the JSON tokens NaN / Infinity / -Infinity, which Jackson may write and JSON.parse refuses.
const NON_FINITE_TOKEN = /"(?:[^"\\]|\\.)*"|-?\b(?:NaN|Infinity)\b/g;

/**
 * JSON objects and arrays one answer may hold, at most. The largest real answers (`GET /jobs/{jid}`
 * of a job at the vertex ceiling, a session cluster's job list) hold a few tens of thousands; parsing
 * costs time per container (a 4 MB body of empty objects takes over a second to parse, blocking the
 * event loop), so the count is checked before parsing.
 */
export const MAX_JSON_CONTAINERS = 100_000;

/** Occurrences of `{` and `[` (inside strings too: an upper bound), counting no further than past `limit`. */
function containersAtLeast(body: string, limit: number): number {
  let count = 0;
  for (const open of ['{', '[']) {
    for (let at = body.indexOf(open); at !== -1 && count <= limit; at = body.indexOf(open, at + 1))
      count += 1;
  }
  return count;
}

/**
 * Decodes a JSON body. A body with bare `NaN`/`Infinity` tokens is decoded with them as `null`. HTML,
 * garbage and truncated JSON throw `FlinkBadResponseError`; more than `MAX_JSON_CONTAINERS` objects
 * and arrays, `FlinkResponseTooLargeError`.
 */
export function decodeJsonBody(body: string, url: string): unknown {
  const trimmed = body.trimStart();
  if (trimmed.startsWith('<')) throw new FlinkBadResponseError(url, 'an HTML page, not JSON');
  if (trimmed === '') throw new FlinkBadResponseError(url, 'an empty body');
  if (containersAtLeast(body, MAX_JSON_CONTAINERS) > MAX_JSON_CONTAINERS) {
    throw new FlinkResponseTooLargeError(
      url,
      `more than ${MAX_JSON_CONTAINERS} JSON objects and arrays, more than any JobManager answer holds`,
    );
  }
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    const repaired = body.replace(NON_FINITE_TOKEN, (token) => (token.startsWith('"') ? token : 'null'));
    if (repaired !== body) {
      try {
        return JSON.parse(repaired) as unknown;
      } catch {
        // fall through to the original error
      }
    }
    throw new FlinkBadResponseError(url, `not JSON (${firstLine(err)}): ${preview(body)}`, { cause: err });
  }
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n', 1)[0] ?? message;
}

function preview(body: string): string {
  const compact = body.replace(/\s+/g, ' ').trim();
  return JSON.stringify(compact.length > 80 ? `${compact.slice(0, 80)}…` : compact);
}

function validate<S extends z.ZodType>(schema: S, body: unknown, url: string): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
  throw new FlinkBadResponseError(url, `wrong shape: ${issues}`, { cause: result.error });
}

// --- GET /jobs/overview ----------------------------------------------------------------------

const JobsOverviewSchema = z.object({
  jobs: z.array(
    z.object({
      jid: z.string().min(1),
      name: text,
      state: z.string().min(1),
      'start-time': positiveOrNull,
    }),
  ),
});

export function parseJobsOverview(body: unknown, url: string): readonly JobOverview[] {
  return validate(JobsOverviewSchema, body, url).jobs.map((job, index) => {
    checkTimestamp(url, `jobs[${index}].start-time`, job['start-time']);
    return { jobId: job.jid, name: job.name, state: job.state, startTimeMs: job['start-time'] };
  });
}

// --- GET /jobs/{jid} -------------------------------------------------------------------------

/*
 * The answer read every tick for every target is walked by hand rather than through zod: a schema
 * walk allocated a parsed copy of every vertex and plan node and cost as much CPU as decoding the
 * JSON itself. The rules are the ones a schema would state, written once here: only the fields
 * Slotscaler uses are read, a required field of the wrong form fails the answer with its path, an
 * optional one of the wrong form reads as unknown.
 */

/** Collects where an answer departs from its shape, like zod's issues: path, then what was expected. */
class ShapeIssues {
  private readonly shown: string[] = [];
  private count = 0;
  add(path: string, expected: string, value: unknown): void {
    this.count += 1;
    // The first three say enough; a hostile answer may have millions.
    if (this.shown.length < 3) this.shown.push(`${path}: expected ${expected}, got ${describeValue(value)}`);
  }
  throwIfAny(url: string): void {
    if (this.count === 0) return;
    const more = this.count > this.shown.length ? ` and ${this.count - this.shown.length} more` : '';
    throw new FlinkBadResponseError(url, `wrong shape: ${this.shown.join('; ')}${more}`);
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** A plain JSON object (not an array, not null). */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveNumberOrNull(value: unknown): number | null {
  const parsed = toFiniteNumber(value);
  return parsed !== null && parsed > 0 ? parsed : null;
}

function textOrEmpty(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function requiredText(value: unknown, path: string, issues: ShapeIssues): string {
  if (typeof value === 'string' && value.length > 0) return value;
  issues.add(path, 'a non-empty string', value);
  return '';
}

const MISSING_COUNTERS: VertexCounters = Object.freeze({
  busyTimeMs: null,
  backPressuredTimeMs: null,
  idleTimeMs: null,
  recordsRead: null,
  recordsReadComplete: false,
  recordsWritten: null,
  recordsWrittenComplete: false,
});

/** `IOMetricsInfo`; a vertex without (or with unreadable) metrics still counts, its counters unknown. */
function readCounters(metrics: unknown): VertexCounters {
  if (!isRecord(metrics)) return MISSING_COUNTERS;
  return {
    busyTimeMs: toNonNegativeNumber(metrics['accumulated-busy-time']),
    backPressuredTimeMs: toNonNegativeNumber(metrics['accumulated-backpressured-time']),
    idleTimeMs: toNonNegativeNumber(metrics['accumulated-idle-time']),
    recordsRead: toNonNegativeNumber(metrics['read-records']),
    recordsReadComplete: metrics['read-records-complete'] === true,
    recordsWritten: toNonNegativeNumber(metrics['write-records']),
    recordsWrittenComplete: metrics['write-records-complete'] === true,
  };
}

function readVertex(value: unknown, path: string, issues: ShapeIssues): JobVertexDetails | null {
  if (!isRecord(value)) {
    issues.add(path, 'an object', value);
    return null;
  }
  const id = requiredText(value['id'], `${path}.id`, issues);
  const parallelism = value['parallelism'];
  if (typeof parallelism !== 'number' || !Number.isSafeInteger(parallelism) || parallelism <= 0) {
    issues.add(`${path}.parallelism`, 'a whole number above 0', parallelism);
    return null;
  }
  const status = value['status'];
  return {
    id,
    name: textOrEmpty(value['name']),
    parallelism,
    maxParallelism: positiveNumberOrNull(value['maxParallelism']),
    status: typeof status === 'string' ? status : 'UNKNOWN',
    counters: readCounters(value['metrics']),
  };
}

/** Longest `ship_strategy` kept; a longer one is not a strategy Flink names. */
const MAX_SHIP_STRATEGY_LENGTH = 64;

/**
 * `plan` is an object in Flink ≥ 1.14 and was a raw JSON string before: take either. A plan that is
 * not a list of nodes with ids reads as no plan; a node's inputs that are not a list of ids, as none.
 */
function readPlan(value: unknown): JobPlanNode[] | null {
  let plan = value;
  if (typeof plan === 'string') {
    try {
      plan = JSON.parse(plan) as unknown;
    } catch {
      return null;
    }
  }
  if (!isRecord(plan) || !Array.isArray(plan['nodes'])) return null;
  const nodes: JobPlanNode[] = [];
  for (const node of plan['nodes'] as unknown[]) {
    if (!isRecord(node) || typeof node['id'] !== 'string' || node['id'] === '') return null;
    const inputIds: string[] = [];
    const inputShipStrategies: string[] = [];
    const inputs = node['inputs'];
    if (Array.isArray(inputs) && inputs.every((input) => isRecord(input) && isNonEmptyString(input['id']))) {
      for (const input of inputs as Record<string, unknown>[]) {
        const strategy = input['ship_strategy'];
        inputIds.push(input['id'] as string);
        inputShipStrategies.push(
          typeof strategy === 'string' && strategy.length <= MAX_SHIP_STRATEGY_LENGTH
            ? strategy.toUpperCase()
            : '',
        );
      }
    }
    nodes.push({ id: node['id'], inputIds, inputShipStrategies });
  }
  return nodes;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

export function parseJobDetails(body: unknown, url: string): JobDetails {
  const issues = new ShapeIssues();
  if (!isRecord(body)) {
    issues.add('(root)', 'an object', body);
    issues.throwIfAny(url);
  }
  const data = body as Record<string, unknown>;
  const jobId = requiredText(data['jid'], 'jid', issues);
  const state = requiredText(data['state'], 'state', issues);
  const nowMs = positiveNumberOrNull(data['now']);
  if (nowMs === null) issues.add('now', 'a number above 0', data['now']);
  const vertices: JobVertexDetails[] = [];
  const rawVertices = data['vertices'];
  if (Array.isArray(rawVertices)) {
    for (let index = 0; index < rawVertices.length; index += 1) {
      const vertex = readVertex(rawVertices[index], `vertices.${index}`, issues);
      if (vertex !== null) vertices.push(vertex);
    }
  } else {
    issues.add('vertices', 'an array', rawVertices);
  }
  issues.throwIfAny(url);
  // Flink lists every JobStatus in `timestamps`, with 0 for states the job never reached.
  const timestamps = data['timestamps'];
  const details: JobDetails = {
    jobId,
    name: textOrEmpty(data['name']),
    state,
    startTimeMs: positiveNumberOrNull(data['start-time']),
    nowMs: nowMs ?? 0,
    runningSinceMs: isRecord(timestamps) ? positiveNumberOrNull(timestamps['RUNNING']) : null,
    maxParallelism: positiveNumberOrNull(data['maxParallelism']),
    vertices,
    plan: readPlan(data['plan']),
  };
  checkJobDetails(details, url);
  return details;
}

// --- GET .../metrics?get=... and .../subtasks/metrics ------------------------------------------

/** Read every tick for every source: walked by hand, like the job details. */
export function parseMetricValues(body: unknown, url: string): readonly MetricValue[] {
  const issues = new ShapeIssues();
  if (!Array.isArray(body)) {
    issues.add('(root)', 'an array', body);
    issues.throwIfAny(url);
  }
  const entries = body as unknown[];
  const values: MetricValue[] = [];
  for (let index = 0; index < entries.length; index += 1) {
    const entry = entries[index];
    if (!isRecord(entry)) {
      issues.add(String(index), 'an object', entry);
      continue;
    }
    const id = requiredText(entry['id'], `${index}.id`, issues);
    values.push({ id, value: toFiniteNumber(entry['value']) });
  }
  issues.throwIfAny(url);
  return values;
}

const MetricNamesSchema = z.array(z.object({ id: z.string().min(1) }));

export function parseMetricNames(body: unknown, url: string): readonly string[] {
  return validate(MetricNamesSchema, body, url).map((entry) => entry.id);
}

const AggregatedMetricsSchema = z.array(
  z.object({ id: z.string().min(1), min: finite, max: finite, avg: finite, sum: finite }),
);

export function parseAggregatedMetrics(body: unknown, url: string): readonly AggregatedMetric[] {
  return validate(AggregatedMetricsSchema, body, url);
}

// --- GET /jobs/{jid}/vertices/{vid}/taskmanagers ---------------------------------------------

const VertexTaskManagersSchema = z.object({
  taskmanagers: z.array(
    z.object({
      'taskmanager-id': z.string().min(1),
      host: text,
      // Without (or with unreadable) metrics the TaskManager is still listed; its times are unknown.
      metrics: z
        .object({
          'accumulated-busy-time': nonNegative,
          'accumulated-backpressured-time': nonNegative,
          'accumulated-idle-time': nonNegative,
        })
        .optional()
        .catch(undefined),
    }),
  ),
});

/** `JobVertexTaskManagersInfo`: per TaskManager, the summed time counters of the vertex's subtasks it runs. */
export function parseVertexTaskManagers(body: unknown, url: string): readonly TaskManagerVertexTimes[] {
  const data = validate(VertexTaskManagersSchema, body, url);
  checkAtMost(
    url,
    'taskmanagers',
    data.taskmanagers.length,
    FLINK_MAX_PARALLELISM,
    'the subtasks of a vertex',
  );
  return data.taskmanagers.map((tm) => ({
    taskManagerId: tm['taskmanager-id'],
    host: tm.host,
    busyTimeMs: tm.metrics?.['accumulated-busy-time'] ?? null,
    backPressuredTimeMs: tm.metrics?.['accumulated-backpressured-time'] ?? null,
    idleTimeMs: tm.metrics?.['accumulated-idle-time'] ?? null,
  }));
}

// --- GET /taskmanagers -----------------------------------------------------------------------

const TaskManagersSchema = z.object({
  taskmanagers: z.array(
    z.object({
      id: z.string().min(1),
      slotsNumber: z.number().int().nonnegative(),
      freeSlots: nonNegative,
    }),
  ),
});

export function parseTaskManagers(body: unknown, url: string): readonly TaskManagerSummary[] {
  return validate(TaskManagersSchema, body, url).taskmanagers.map((tm, index) => {
    const at = `taskmanagers[${index}]`;
    checkAtMost(
      url,
      `${at}.slotsNumber`,
      tm.slotsNumber,
      FLINK_MAX_PARALLELISM,
      'the task slots any job can use',
    );
    if (tm.freeSlots !== null)
      checkAtMost(url, `${at}.freeSlots`, tm.freeSlots, tm.slotsNumber, "the TaskManager's slots");
    return { id: tm.id, slots: tm.slotsNumber, freeSlots: tm.freeSlots };
  });
}

/**
 * `GET /jobs/{jid}/resource-requirements`: `{"<vertexId>": {"parallelism": {"lowerBound": 1,
 * "upperBound": 4}}}`. Bounds are whole numbers within the parallelism bounds.
 */
export function parseResourceRequirements(body: unknown, url: string): ResourceRequirements {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new FlinkBadResponseError(url, 'resource requirements are not an object');
  }
  const out: Record<string, { parallelism: { lowerBound: number; upperBound: number } }> = {};
  for (const [vertexId, value] of Object.entries(body)) {
    const parallelism = (value as { parallelism?: { lowerBound?: unknown; upperBound?: unknown } } | null)
      ?.parallelism;
    const lower = parallelism?.lowerBound;
    const upper = parallelism?.upperBound;
    const valid = (n: unknown): n is number =>
      typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= FLINK_MAX_PARALLELISM;
    if (!valid(lower) || !valid(upper) || lower > upper) {
      throw new FlinkBadResponseError(
        url,
        `vertex ${vertexId}: parallelism bounds are not 1 ≤ lower ≤ upper`,
      );
    }
    out[vertexId] = { parallelism: { lowerBound: lower, upperBound: upper } };
  }
  return out;
}

// --- GET /jobs/{jid}/checkpoints/config and /jobs/{jid}/checkpoints ----------------------------

/**
 * Intervals at or above this mean "no periodic checkpoints": Flink stores a disabled interval as
 * `Long.MAX_VALUE` (`CheckpointCoordinatorConfiguration`), which JSON.parse rounds to 2^63; no
 * integer that large is exact in a double, so any unsafe integer is read as that.
 */
const DISABLED_INTERVAL_MS = Number.MAX_SAFE_INTEGER;

const CheckpointConfigSchema = z.object({
  interval: z.unknown().transform(toFiniteNumber).pipe(z.number().positive()),
});

/** `CheckpointConfigInfo`: only `interval` is read; a `Long.MAX_VALUE` interval is checkpoints off. */
export function parseCheckpointConfig(body: unknown, url: string): CheckpointConfig {
  const { interval } = validate(CheckpointConfigSchema, body, url);
  return { intervalMs: interval >= DISABLED_INTERVAL_MS ? null : interval };
}

const count = z.number().int().nonnegative();

const CheckpointStatsSchema = z.object({
  counts: z.object({ completed: count, in_progress: count, failed: count }),
  latest: z
    .object({
      completed: z
        .object({
          id: count,
          trigger_timestamp: z.number().int().positive(),
          latest_ack_timestamp: z.number().int().positive(),
        })
        .nullish(),
    })
    .nullish(),
});

/**
 * `CheckpointingStatistics`: the counts and the latest completed checkpoint. The history, the
 * summary and the per-task details are not read (zod drops them unparsed beyond their JSON decoding).
 */
export function parseCheckpointStats(body: unknown, url: string): CheckpointStats {
  const data = validate(CheckpointStatsSchema, body, url);
  const latest = data.latest?.completed ?? null;
  const stats: CheckpointStats = {
    completed: data.counts.completed,
    inProgress: data.counts.in_progress,
    failed: data.counts.failed,
    latestCompleted:
      latest === null
        ? null
        : {
            id: latest.id,
            triggeredAtMs: latest.trigger_timestamp,
            completedAtMs: latest.latest_ack_timestamp,
          },
  };
  checkCheckpointStats(stats, url);
  return stats;
}
