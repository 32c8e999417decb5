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
const flag = z
  .unknown()
  .optional()
  .transform((value) => value === true);
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

const IoMetricsSchema = z.object({
  'accumulated-busy-time': nonNegative,
  'accumulated-backpressured-time': nonNegative,
  'accumulated-idle-time': nonNegative,
  'read-records': nonNegative,
  'read-records-complete': flag,
  'write-records': nonNegative,
  'write-records-complete': flag,
});

const MISSING_COUNTERS: VertexCounters = {
  busyTimeMs: null,
  backPressuredTimeMs: null,
  idleTimeMs: null,
  recordsRead: null,
  recordsReadComplete: false,
  recordsWritten: null,
  recordsWrittenComplete: false,
};

const JobVertexSchema = z.object({
  id: z.string().min(1),
  name: text,
  parallelism: z.number().int().positive(),
  maxParallelism: positiveOrNull,
  status: z
    .unknown()
    .optional()
    .transform((value) => (typeof value === 'string' ? value : 'UNKNOWN')),
  // A vertex without (or with unreadable) metrics still counts; its counters are unknown.
  metrics: IoMetricsSchema.optional().catch(undefined),
});

const PlanSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.string().min(1),
      inputs: z
        .array(
          z.object({
            id: z.string().min(1),
            ship_strategy: z.string().max(64).optional().catch(undefined),
          }),
        )
        .nullish()
        .catch(undefined),
    }),
  ),
});

/** `plan` is an object in Flink ≥ 1.14 and was a raw JSON string before: take either. */
const PlanFieldSchema = z
  .unknown()
  .optional()
  .transform((value): unknown => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return undefined;
    }
  })
  .pipe(PlanSchema.optional().catch(undefined));

const JobDetailsSchema = z.object({
  jid: z.string().min(1),
  name: text,
  state: z.string().min(1),
  'start-time': positiveOrNull,
  now: z.unknown().transform(toFiniteNumber).pipe(z.number().positive()),
  maxParallelism: positiveOrNull,
  timestamps: z.record(z.string(), z.unknown()).optional().catch(undefined),
  vertices: z.array(JobVertexSchema),
  plan: PlanFieldSchema,
});

export function parseJobDetails(body: unknown, url: string): JobDetails {
  const data = validate(JobDetailsSchema, body, url);
  const plan: JobPlanNode[] | null =
    data.plan === undefined
      ? null
      : data.plan.nodes.map((node) => ({
          id: node.id,
          inputIds: (node.inputs ?? []).map((input) => input.id),
          inputShipStrategies: (node.inputs ?? []).map((input) => (input.ship_strategy ?? '').toUpperCase()),
        }));
  const details: JobDetails = {
    jobId: data.jid,
    name: data.name,
    state: data.state,
    startTimeMs: data['start-time'],
    nowMs: data.now,
    // Flink lists every JobStatus in `timestamps`, with 0 for states the job never reached.
    runningSinceMs: positiveOrNull.parse(data.timestamps?.['RUNNING']),
    maxParallelism: data.maxParallelism,
    vertices: data.vertices.map((vertex) => ({
      id: vertex.id,
      name: vertex.name,
      parallelism: vertex.parallelism,
      maxParallelism: vertex.maxParallelism,
      status: vertex.status,
      counters:
        vertex.metrics === undefined
          ? MISSING_COUNTERS
          : {
              busyTimeMs: vertex.metrics['accumulated-busy-time'],
              backPressuredTimeMs: vertex.metrics['accumulated-backpressured-time'],
              idleTimeMs: vertex.metrics['accumulated-idle-time'],
              recordsRead: vertex.metrics['read-records'],
              recordsReadComplete: vertex.metrics['read-records-complete'],
              recordsWritten: vertex.metrics['write-records'],
              recordsWrittenComplete: vertex.metrics['write-records-complete'],
            },
    })),
    plan,
  };
  checkJobDetails(details, url);
  return details;
}

// --- GET .../metrics?get=... and .../subtasks/metrics ------------------------------------------

const MetricValuesSchema = z.array(z.object({ id: z.string().min(1), value: finite }));

export function parseMetricValues(body: unknown, url: string): readonly MetricValue[] {
  return validate(MetricValuesSchema, body, url);
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
