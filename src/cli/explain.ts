/**
 * `slotscaler explain NS/NAME`: why a target is scaled as it is, from what the cluster holds: its
 * `slotscaler.dev/status` annotation (the last decision and the histories) and the Events Slotscaler
 * recorded on it. Read once into an `Explanation`, then printed as a table (for people) or as JSON
 * or YAML (for scripts: `-o json`), like kubectl's `-o`.
 */
import { stringify as toYaml } from 'yaml';

import { parseBoolean } from '../config/values.js';
import { BUILT_IN_ADAPTERS } from '../kube/adapters/index.js';
import { STATUS_ANNOTATION } from '../kube/adapters/adapter.js';
import type { KubeClient } from '../kube/kube-client.js';
import { statusMessage } from '../kube/kube-client.js';
import { describeDecision } from '../scaler/plan-target.js';
import { decodeStatus } from '../kube/status-annotation.js';
import type { RecordedMetric } from '../domain/decision.js';
import type { RescalePath } from '../domain/target.js';
import { isKubeObject, objectPath } from '../kube/objects.js';
import type { KubeObject } from '../kube/objects.js';

export type ExplainOutput = 'table' | 'json' | 'yaml';
export const EXPLAIN_OUTPUTS: readonly ExplainOutput[] = ['table', 'json', 'yaml'];

export interface ExplainOptions {
  /** Lower-case kind to look for (`flinkdeployment`, `flinkapplication`, `deployment`); default: each in turn. */
  readonly kind?: string;
  /** Default `table`. */
  readonly output?: ExplainOutput;
}

export interface ExplainIo {
  /** The explanation, one line at a time. */
  write(line: string): void;
  /** Why there is none (one line). */
  writeError(line: string): void;
}

/** What `explain` knows about a target; times are ISO 8601 (UTC). This is the `-o json|yaml` shape. */
export interface Explanation {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** The `slotscaler.dev/enabled` annotation is `true`. */
  readonly enabled: boolean;
  /** From `slotscaler.dev/status`; null before the first decision (or when it is unreadable). */
  readonly status: {
    readonly lastDecision: {
      readonly time: string;
      /** scaled, recommended, held (why)... */
      readonly outcome: string;
      readonly reason: string;
      readonly taskManagers: { readonly from: number; readonly to: number };
      readonly parallelism: { readonly from: number | null; readonly to: number };
      readonly metrics: readonly RecordedMetric[];
      /** The decision in one sentence, as the table prints it. */
      readonly summary: string;
      /** How a written decision reached the job; null when not written, or recorded without it. */
      readonly path: RescalePath | null;
    } | null;
    readonly lastRescaleTime: string | null;
    /** When the job ran at the new parallelism after that rescale (null: not seen, or in flight). */
    readonly rescaleDoneTime: string | null;
    /** The stabilization history: raw recommendations, oldest first. */
    readonly recommendations: readonly { readonly time: string; readonly taskManagers: number }[];
    /** The scale events the rate-limit policies count, oldest first. */
    readonly scaleEvents: readonly { readonly time: string; readonly change: number }[];
  } | null;
  /** Slotscaler's Events on the target, oldest first; null when they could not be listed. */
  readonly events:
    | readonly {
        readonly time: string;
        readonly type: string;
        readonly reason: string;
        readonly message: string;
      }[]
    | null;
  /** Why the Events could not be listed. */
  readonly eventsError?: string;
}

interface CoreEvent {
  readonly type?: string;
  readonly reason?: string;
  readonly message?: string;
  readonly note?: string;
  readonly count?: number;
  readonly eventTime?: string | null;
  readonly lastTimestamp?: string | null;
  readonly firstTimestamp?: string | null;
  readonly reportingComponent?: string;
  readonly involvedObject?: { readonly kind?: string };
}

const REPORTER = 'slotscaler.dev/slotscaler';

const isoTime = (ms: number): string => new Date(ms).toISOString();
/** A time for the table: to the second. */
const shortTime = (iso: string): string => iso.replace(/\.\d+Z$/, 'Z');

/** Columns padded to their widest cell. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
  );
}

/** `namespace/name`, or undefined when `reference` is not one. */
export function parseReference(reference: string): { namespace: string; name: string } | undefined {
  const match = /^([a-z0-9][-a-z0-9]*)\/([a-z0-9][-a-z0-9.]*)$/.exec(reference.trim());
  if (match === null) return undefined;
  return { namespace: match[1] ?? '', name: match[2] ?? '' };
}

function enabledOf(object: KubeObject): boolean {
  try {
    return parseBoolean(object.metadata.annotations?.['slotscaler.dev/enabled'] ?? 'false');
  } catch {
    return false;
  }
}

function statusOf(object: KubeObject): Explanation['status'] {
  const status = decodeStatus(object.metadata.annotations?.[STATUS_ANNOTATION]);
  if (status === null) return null;
  const last = status.lastDecision;
  return {
    lastDecision:
      last === null
        ? null
        : {
            time: isoTime(last.atMs),
            outcome: last.outcome,
            reason: last.reason,
            taskManagers: { from: last.fromReplicas, to: last.toReplicas },
            parallelism: { from: last.fromParallelism, to: last.toParallelism },
            metrics: last.metrics,
            summary: describeDecision(last),
            path: last.path ?? null,
          },
    lastRescaleTime: status.lastRescaleAtMs === null ? null : isoTime(status.lastRescaleAtMs),
    rescaleDoneTime: status.rescaleDoneAtMs === null ? null : isoTime(status.rescaleDoneAtMs),
    recommendations: [...status.recommendations]
      .sort((a, b) => a.timestampMs - b.timestampMs)
      .map((rec) => ({ time: isoTime(rec.timestampMs), taskManagers: rec.replicas })),
    scaleEvents: [...status.scaleEvents]
      .sort((a, b) => a.timestampMs - b.timestampMs)
      .map((event) => ({ time: isoTime(event.timestampMs), change: event.replicaChange })),
  };
}

/**
 * Reads the target (each built-in kind in turn, or `kind`) and its Events. Resolves to the
 * explanation, or to the one line that says why there is none.
 */
export async function readExplanation(
  client: KubeClient,
  namespace: string,
  name: string,
  kind?: string,
): Promise<Explanation | { readonly error: string }> {
  let object: KubeObject | undefined;
  let found = '';
  for (const adapter of BUILT_IN_ADAPTERS) {
    if (kind !== undefined && adapter.resource.kind.toLowerCase() !== kind.toLowerCase()) continue;
    const answer = await client.request({
      method: 'GET',
      path: objectPath(adapter.resource, namespace, name),
    });
    if (answer.status === 200 && isKubeObject(answer.body)) {
      object = answer.body;
      found = adapter.resource.kind;
      break;
    }
    if (answer.status !== 404) {
      return {
        error: `cannot read ${adapter.resource.kind} ${namespace}/${name}: HTTP ${answer.status} ${statusMessage(answer.body)}`,
      };
    }
  }
  if (object === undefined)
    return { error: `no FlinkDeployment, FlinkApplication or Deployment ${namespace}/${name}` };

  const selector = encodeURIComponent(`involvedObject.name=${name},involvedObject.kind=${found}`);
  const answer = await client.request({
    method: 'GET',
    path: `/api/v1/namespaces/${namespace}/events?fieldSelector=${selector}`,
  });
  const base = { kind: found, namespace, name, enabled: enabledOf(object), status: statusOf(object) };
  if (answer.status !== 200) {
    return { ...base, events: null, eventsError: `HTTP ${answer.status} ${statusMessage(answer.body)}` };
  }
  const events = ((answer.body as { items?: CoreEvent[] }).items ?? [])
    .filter(
      (event) =>
        event.reportingComponent === undefined ||
        event.reportingComponent === '' ||
        event.reportingComponent === REPORTER,
    )
    .map((event) => ({
      time: event.eventTime ?? event.lastTimestamp ?? event.firstTimestamp ?? '',
      type: event.type ?? '',
      reason: event.reason ?? '',
      message: (event.message ?? event.note ?? '').replace(/\s+/g, ' '),
    }))
    .sort((a, b) => a.time.localeCompare(b.time));
  return { ...base, events };
}

/** The explanation as the table people read. */
/** A rescale path as the Events say it. */
const PATH_WORDS: Readonly<Record<RescalePath, string>> = {
  'in-place': 'in place',
  redeploy: 'redeploy',
  scale: 'scale fields',
};

export function explanationTable(explanation: Explanation): string[] {
  const lines = [`${explanation.kind} ${explanation.namespace}/${explanation.name}`];
  lines.push(`  enabled: ${String(explanation.enabled)}`);
  const status = explanation.status;
  if (status === null) {
    lines.push('  no status recorded yet (slotscaler.dev/status)');
  } else {
    const last = status.lastDecision;
    if (last !== null)
      lines.push(
        `  last decision ${shortTime(last.time)} (${last.outcome}): ${last.summary}${last.path === null ? '' : `; ${PATH_WORDS[last.path]}`}`,
      );
    if (status.lastRescaleTime !== null) {
      const done =
        status.rescaleDoneTime === null
          ? ''
          : `; the job ran at it from ${shortTime(status.rescaleDoneTime)}`;
      lines.push(`  last rescale: ${shortTime(status.lastRescaleTime)}${done}`);
    }
    lines.push('', 'Stabilization history (raw recommendations):');
    const recs = status.recommendations.map((rec) => [shortTime(rec.time), String(rec.taskManagers)]);
    for (const line of formatTable([['TIME', 'TASKMANAGERS'], ...recs])) lines.push(`  ${line}`);
    lines.push('', 'Scale events:');
    const events = status.scaleEvents.map((event) => [
      shortTime(event.time),
      event.change > 0 ? `+${event.change}` : String(event.change),
    ]);
    for (const line of formatTable([['TIME', 'CHANGE'], ...events])) lines.push(`  ${line}`);
  }
  lines.push('', 'Events:');
  if (explanation.events === null) {
    lines.push(`  cannot list Events: ${explanation.eventsError ?? ''}`);
    return lines;
  }
  const rows = explanation.events.map((event) => [
    shortTime(event.time),
    event.type,
    event.reason,
    event.message,
  ]);
  for (const line of formatTable([['TIME', 'TYPE', 'REASON', 'MESSAGE'], ...rows])) lines.push(`  ${line}`);
  return lines;
}

/** The explanation in the chosen output format, as lines. */
export function formatExplanation(explanation: Explanation, output: ExplainOutput): string[] {
  switch (output) {
    case 'table':
      return explanationTable(explanation);
    case 'json':
      return JSON.stringify(explanation, null, 2).split('\n');
    case 'yaml':
      return toYaml(explanation).trimEnd().split('\n');
  }
}

/**
 * Prints the explanation of `reference` (`namespace/name`); resolves to the exit code (0, 1 when the
 * target is not found or cannot be read, 2 for a bad reference). Errors go to `writeError`.
 */
export async function explainTarget(
  client: KubeClient,
  reference: string,
  io: ExplainIo,
  options: ExplainOptions = {},
): Promise<number> {
  const target = parseReference(reference);
  if (target === undefined) {
    io.writeError(`expected NAMESPACE/NAME, got "${reference}"`);
    return 2;
  }
  const explanation = await readExplanation(client, target.namespace, target.name, options.kind);
  if ('error' in explanation) {
    io.writeError(explanation.error);
    return 1;
  }
  for (const line of formatExplanation(explanation, options.output ?? 'table')) io.write(line);
  return 0;
}
