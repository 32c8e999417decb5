/**
 * The JSON contract of `slotscaler decide` (README "Ask it what it would do"): parsing an input document into a
 * DecisionInput, and a Decision into an output document. Times are RFC 3339 strings or epoch
 * milliseconds; metric values are JSON numbers or Kubernetes quantity strings.
 */
import { z } from 'zod';

import { HPA_DEFAULT_BEHAVIOR } from '../config/schema.js';
import { ValueError, parseQuantity, toMilli } from '../config/values.js';
import type { Decision, DecisionInput, ScalingRules } from '../domain/decision.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const timestamp = z.union([z.number(), z.string()]).transform((value, ctx): number => {
  const ms = typeof value === 'number' ? value : RFC3339.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'expected an RFC 3339 time or epoch milliseconds' });
    return z.NEVER;
  }
  return ms;
});

const quantity = z.union([z.number(), z.string()]).transform((value, ctx): number => {
  try {
    return toMilli(value);
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      message: err instanceof Error ? err.message : 'expected a number or quantity',
    });
    return z.NEVER;
  }
});

const replicas = z.number().int('expected a whole number').min(0, 'expected a replica count of 0 or more');

const policy = z.strictObject({
  type: z.enum(['Pods', 'Percent'], { error: 'expected "Pods" or "Percent"' }),
  value: z.number().int('expected a whole number').min(1, 'expected a value of at least 1'),
  periodSeconds: z.number().int('expected whole seconds').min(1).max(1800),
});

const rules = z.strictObject({
  stabilizationWindowSeconds: z.number().int('expected whole seconds').min(0).max(3600).optional(),
  selectPolicy: z
    .enum(['Max', 'Min', 'Disabled'], { error: 'expected "Max", "Min" or "Disabled"' })
    .optional(),
  policies: z.array(policy).min(1, 'expected at least one policy').optional(),
});

function resolveRules(given: z.output<typeof rules> | undefined, defaults: ScalingRules): ScalingRules {
  return {
    stabilizationWindowSeconds: given?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
    selectPolicy: given?.selectPolicy ?? defaults.selectPolicy,
    policies: given?.policies ?? defaults.policies,
  };
}

/**
 * A tolerance as the HPA's `behavior.*.tolerance`: a number or quantity string of 0 or more, with no
 * upper bound (the API server checks only that it is not negative).
 */
const toleranceValue = z.union([z.number(), z.string()]).transform((value, ctx): number => {
  let tolerance: number;
  try {
    tolerance = typeof value === 'number' ? value : parseQuantity(value);
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    tolerance = Number.NaN;
  }
  if (!(tolerance >= 0)) {
    ctx.addIssue({ code: 'custom', message: 'expected a number or quantity of 0 or more' });
    return z.NEVER;
  }
  return tolerance + 0; // -0 is 0
});

const inputSchema = z
  .strictObject({
    now: timestamp,
    currentReplicas: replicas,
    readyReplicas: replicas.optional(),
    statusReplicas: replicas.optional(),
    minReplicas: replicas.optional(),
    maxReplicas: replicas.min(1, 'expected at least 1'),
    metrics: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          type: z
            .enum(['Value', 'AverageValue'], { error: 'expected "Value" or "AverageValue"' })
            .default('Value'),
          value: quantity.nullable(),
          target: quantity.refine((milli) => milli > 0, 'expected a target greater than 0'),
        }),
      )
      .min(1, 'expected at least one metric'),
    tolerance: z
      .union([toleranceValue, z.strictObject({ scaleUp: toleranceValue, scaleDown: toleranceValue })], {
        error: 'expected a number or quantity of 0 or more, or {"scaleUp": x, "scaleDown": y}',
      })
      .optional(),
    behavior: z.strictObject({ scaleUp: rules.optional(), scaleDown: rules.optional() }).optional(),
    recommendations: z.array(z.strictObject({ replicas, timestamp })).optional(),
    scaleEvents: z
      .array(
        z.strictObject({
          replicaChange: z
            .number()
            .int()
            .refine((change) => change !== 0, 'expected a non-zero change'),
          timestamp,
        }),
      )
      .optional(),
    taskSlots: z.number().int().min(1).optional(),
    maxParallelism: z.number().int().min(1).optional(),
    /** The job's plan has a keyed (HASH) exchange: its maxParallelism key groups bound each subtask's share. */
    keyed: z.boolean().optional(),
    /** Partitions of the job's sources: more source subtasks than partitions idle. */
    sourcePartitions: z.number().int().min(1).optional(),
  })
  .refine((input) => (input.minReplicas ?? 1) <= input.maxReplicas, {
    path: ['minReplicas'],
    message: 'must not be more than maxReplicas',
  })
  .refine((input) => input.keyed !== true || input.maxParallelism !== undefined, {
    path: ['maxParallelism'],
    message: 'is required with "keyed": true (the key groups are the max parallelism)',
  });

/** `metrics[1].type` from a zod path. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, part) =>
      typeof part === 'number' ? `${out}[${part}]` : out === '' ? String(part) : `${out}.${String(part)}`,
    '',
  );
}

/** The value at a path of a parsed JSON document, or undefined when there is none. */
function valueAt(document: unknown, path: readonly PropertyKey[]): unknown {
  let value = document;
  for (const part of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

export type ParsedDecisionInput = { ok: true; input: DecisionInput } | { ok: false; error: string };

/** Parses one input document; the error names the first field that is wrong and why. */
export function parseDecisionInput(document: unknown): ParsedDecisionInput {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    return { ok: false, error: 'expected a JSON object' };
  }
  const result = inputSchema.safeParse(document);
  if (!result.success) {
    const issue = result.error.issues[0];
    if (issue === undefined) return { ok: false, error: 'invalid input' };
    let message = issue.message;
    if (issue.path.length > 0 && valueAt(document, issue.path) === undefined) message = 'is required';
    else if (issue.code === 'unrecognized_keys')
      message = `unknown field ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`;
    const path = fieldPath(issue.path);
    return { ok: false, error: path === '' ? message : `${path}: ${message}` };
  }
  const data = result.data;
  const tolerance =
    data.tolerance === undefined
      ? { scaleUp: 0.1, scaleDown: 0.1 }
      : typeof data.tolerance === 'number'
        ? { scaleUp: data.tolerance, scaleDown: data.tolerance }
        : data.tolerance;
  return {
    ok: true,
    input: {
      nowMs: data.now,
      currentReplicas: data.currentReplicas,
      readyReplicas: data.readyReplicas ?? data.currentReplicas,
      statusReplicas: data.statusReplicas ?? data.currentReplicas,
      minReplicas: data.minReplicas ?? 1,
      maxReplicas: data.maxReplicas,
      metrics: data.metrics.map((metric) => ({
        name: metric.name,
        type: metric.type,
        usageMilli: metric.value,
        targetMilli: metric.target,
      })),
      tolerance,
      behavior: {
        scaleUp: resolveRules(data.behavior?.scaleUp, HPA_DEFAULT_BEHAVIOR.scaleUp),
        scaleDown: resolveRules(data.behavior?.scaleDown, HPA_DEFAULT_BEHAVIOR.scaleDown),
      },
      recommendations:
        data.recommendations?.map((rec) => ({ replicas: rec.replicas, timestampMs: rec.timestamp })) ?? null,
      scaleEvents: (data.scaleEvents ?? []).map((event) => ({
        replicaChange: event.replicaChange,
        timestampMs: event.timestamp,
      })),
      taskSlots: data.taskSlots ?? 1,
      maxParallelism: data.maxParallelism ?? null,
      ...(data.keyed === true || data.sourcePartitions !== undefined
        ? {
            capacityUnits: {
              keyGroups: data.keyed === true ? (data.maxParallelism ?? null) : null,
              sourcePartitions: data.sourcePartitions ?? null,
            },
          }
        : {}),
    },
  };
}

/** A ratio as the output shows it: 4 decimals are plenty to read, and stable across platforms. */
function roundRatio(ratio: number | null): number | null {
  return ratio === null || !Number.isFinite(ratio) ? null : Math.round(ratio * 10_000) / 10_000;
}

/** Why alignment changed the HPA's count, for people; null when it did not. */
export function alignmentText(decision: Decision): string | null {
  const { alignment } = decision;
  if (alignment === null || alignment.hpaReplicas === decision.desiredReplicas) return null;
  const from = `${alignment.hpaReplicas} TaskManagers (${formatSubtasks(alignment.neededParallelism)} subtasks needed)`;
  const effective = formatSubtasks(alignment.effectiveParallelism);
  const bound = `${from} → ${decision.desiredReplicas}: parallelism ${decision.parallelism} is the smallest whose`;
  if (decision.reason === 'KeyGroupAlignment') {
    return `${bound} key groups per subtask give ${effective} effective subtasks`;
  }
  if (decision.reason === 'SourcePartitionAlignment') {
    return `${bound} partitions per source subtask give ${effective} effective subtasks`;
  }
  return `${from} → ${decision.desiredReplicas}: no count within the bounds adds capacity over parallelism ${decision.parallelism} (${effective} effective subtasks)`;
}

function formatSubtasks(subtasks: number): string {
  return String(Math.round(subtasks * 100) / 100);
}

/** The output document of one decision. */
export function decisionToJson(decision: Decision): Record<string, unknown> {
  const alignment = decision.alignment;
  return {
    desiredReplicas: decision.desiredReplicas,
    parallelism: decision.parallelism,
    // Only for inputs with capacity units: the others' output is the HPA's, field for field.
    ...(alignment === null
      ? {}
      : {
          effectiveParallelism: Math.round(alignment.effectiveParallelism * 100) / 100,
          ...(alignmentText(decision) === null ? {} : { alignment: alignmentText(decision) }),
        }),
    reason: decision.reason,
    proposedReplicas: decision.proposedReplicas,
    stabilizedReplicas: decision.stabilizedReplicas,
    proposals: decision.proposals.map((proposal) => ({
      name: proposal.name,
      replicas: proposal.replicas,
      ratio: roundRatio(proposal.ratio),
    })),
    recommendations: decision.recommendations.map((rec) => ({
      replicas: rec.replicas,
      timestamp: new Date(rec.timestampMs).toISOString(),
    })),
    scaleEvents: decision.scaleEvents.map((event) => ({
      replicaChange: event.replicaChange,
      timestamp: new Date(event.timestampMs).toISOString(),
    })),
  };
}
