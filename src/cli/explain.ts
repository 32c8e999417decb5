/**
 * `slotscaler explain NS/NAME`: why a target is scaled as it is, from what the cluster holds: its
 * `slotscaler.dev/status` annotation (the last decision and the histories) and the Events Slotscaler
 * recorded on it, as a table.
 */
import { BUILT_IN_ADAPTERS } from '../kube/adapters/index.js';
import { STATUS_ANNOTATION } from '../kube/adapters/adapter.js';
import type { KubeClient } from '../kube/kube-client.js';
import { statusMessage } from '../kube/kube-client.js';
import { describeDecision } from '../kube/scaling-loop.js';
import { decodeStatus } from '../kube/status-annotation.js';
import { isKubeObject, objectPath } from '../kube/objects.js';
import type { KubeObject } from '../kube/objects.js';

export interface ExplainOptions {
  /** Lower-case kind to look for (`flinkdeployment`, `flinkapplication`, `deployment`); default: each in turn. */
  readonly kind?: string;
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

function time(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Columns padded to their widest cell. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
  );
}

/**
 * Prints the explanation of `reference` (`namespace/name`) with `write`; resolves to the exit code
 * (0, 1 when the target is not found, 2 for a bad reference).
 */
export async function explainTarget(
  client: KubeClient,
  reference: string,
  write: (line: string) => void,
  options: ExplainOptions = {},
): Promise<number> {
  const match = /^([a-z0-9][-a-z0-9]*)\/([a-z0-9][-a-z0-9.]*)$/.exec(reference.trim());
  if (match === null) {
    write(`expected NAMESPACE/NAME, got "${reference}"`);
    return 2;
  }
  const [, namespace = '', name = ''] = match;
  let object: KubeObject | undefined;
  let kind = '';
  for (const adapter of BUILT_IN_ADAPTERS) {
    if (options.kind !== undefined && adapter.resource.kind.toLowerCase() !== options.kind.toLowerCase())
      continue;
    const answer = await client.request({
      method: 'GET',
      path: objectPath(adapter.resource, namespace, name),
    });
    if (answer.status === 200 && isKubeObject(answer.body)) {
      object = answer.body;
      kind = adapter.resource.kind;
      break;
    }
    if (answer.status !== 404) {
      write(
        `cannot read ${adapter.resource.kind} ${namespace}/${name}: HTTP ${answer.status} ${statusMessage(answer.body)}`,
      );
      return 1;
    }
  }
  if (object === undefined) {
    write(`no FlinkDeployment, FlinkApplication or Deployment ${namespace}/${name}`);
    return 1;
  }

  write(`${kind} ${namespace}/${name}`);
  const annotations = object.metadata.annotations ?? {};
  write(`  enabled: ${annotations['slotscaler.dev/enabled'] ?? 'false'}`);
  const status = decodeStatus(annotations[STATUS_ANNOTATION]);
  if (status === null) {
    write('  no status recorded yet (slotscaler.dev/status)');
  } else {
    const last = status.lastDecision;
    if (last !== null)
      write(`  last decision ${time(last.atMs)} (${last.outcome}): ${describeDecision(last)}`);
    if (status.lastRescaleAtMs !== null) write(`  last rescale: ${time(status.lastRescaleAtMs)}`);
    write('');
    write('Stabilization history (raw recommendations):');
    const recs = status.recommendations.map((rec) => [time(rec.timestampMs), String(rec.replicas)]);
    for (const line of formatTable([['TIME', 'TASKMANAGERS'], ...recs])) write(`  ${line}`);
    write('');
    write('Scale events:');
    const events = status.scaleEvents
      .slice()
      .sort((a, b) => a.timestampMs - b.timestampMs)
      .map((event) => [
        time(event.timestampMs),
        event.replicaChange > 0 ? `+${event.replicaChange}` : String(event.replicaChange),
      ]);
    for (const line of formatTable([['TIME', 'CHANGE'], ...events])) write(`  ${line}`);
  }

  const selector = encodeURIComponent(`involvedObject.name=${name},involvedObject.kind=${kind}`);
  const answer = await client.request({
    method: 'GET',
    path: `/api/v1/namespaces/${namespace}/events?fieldSelector=${selector}`,
  });
  write('');
  write('Events:');
  if (answer.status !== 200) {
    write(`  cannot list Events: HTTP ${answer.status} ${statusMessage(answer.body)}`);
    return 0;
  }
  const items = ((answer.body as { items?: CoreEvent[] }).items ?? [])
    .filter(
      (event) =>
        event.reportingComponent === undefined ||
        event.reportingComponent === '' ||
        event.reportingComponent === REPORTER,
    )
    .map((event) => ({
      at: event.eventTime ?? event.lastTimestamp ?? event.firstTimestamp ?? '',
      type: event.type ?? '',
      reason: event.reason ?? '',
      message: (event.message ?? event.note ?? '').replace(/\s+/g, ' '),
    }))
    .sort((a, b) => a.at.localeCompare(b.at));
  const rows = items.map((event) => [
    event.at.replace(/\.\d+Z$/, 'Z'),
    event.type,
    event.reason,
    event.message,
  ]);
  for (const line of formatTable([['TIME', 'TYPE', 'REASON', 'MESSAGE'], ...rows])) write(`  ${line}`);
  return 0;
}
