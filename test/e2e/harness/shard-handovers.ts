/**
 * Who holds which target among `slotscaler serve --shards` replicas, as their own logs say it
 * ("target taken" / "target given up"), and what a target's owner recorded in its status
 * annotation: what the shards e2e test asserts and the shards benchmark measures.
 */
import { STATUS_ANNOTATION } from '../../../src/kube/adapters/adapter.js';
import { decodeStatus } from '../../../src/kube/status-annotation.js';
import type { ControlPlane } from './control-plane.js';
import { expectOk } from './kube.js';
import type { ReplicaLogRecord, ReplicaProcess } from './replica-process.js';

/** One hand-over as a replica logged it. */
export interface Handover {
  readonly replica: string;
  readonly target: string;
  readonly taken: boolean;
  readonly atMs: number;
}

/** The span during which one replica held one target: from taken to given up, or to its SIGKILL. */
export interface HoldingSpan {
  readonly replica: string;
  readonly from: number;
  readonly to: number;
}

/** The target id a replica logs for a FlinkDeployment. */
export function flinkDeploymentTargetId(namespace: string, name: string): string {
  return `flinkdeployment/${namespace}/${name}`;
}

/** The hand-over of a FlinkDeployment a replica's log record says, or undefined for any other record. */
export function handoverOf(replica: string, record: ReplicaLogRecord): Handover | undefined {
  if (record.msg !== 'target taken' && record.msg !== 'target given up') return undefined;
  if (typeof record.target !== 'string' || !record.target.startsWith('flinkdeployment/')) return undefined;
  return {
    replica,
    target: record.target,
    taken: record.msg === 'target taken',
    atMs: Date.parse(String(record.time)),
  };
}

/** Per target, the replicas holding it now as their logs say (a killed replica holds nothing). */
export function holders(
  handovers: readonly Handover[],
  replicas: ReadonlyMap<string, ReplicaProcess>,
): Map<string, string[]> {
  const now = new Map<string, Set<string>>();
  for (const h of handovers) {
    const set = now.get(h.target) ?? new Set<string>();
    if (h.taken) set.add(h.replica);
    else set.delete(h.replica);
    now.set(h.target, set);
  }
  return new Map(
    [...now].map(([target, set]) => [
      target,
      [...set].filter((name) => replicas.get(name)?.killedAtMs === undefined),
    ]),
  );
}

/**
 * Each FlinkDeployment of `names` with its one live holder, or undefined while any has none or
 * more than one.
 */
export function soleOwners(
  handovers: readonly Handover[],
  replicas: ReadonlyMap<string, ReplicaProcess>,
  namespace: string,
  names: readonly string[],
): Map<string, string> | undefined {
  const now = holders(handovers, replicas);
  const owners = new Map<string, string>();
  for (const name of names) {
    const held = now.get(flinkDeploymentTargetId(namespace, name)) ?? [];
    if (held.length !== 1) return undefined;
    owners.set(name, held[0] ?? '');
  }
  return owners;
}

/**
 * Each replica's spans of holding one target, by start: a replica never given up holds it until
 * its SIGKILL, or still. One writer at a time means no span starts before the one before it ends.
 */
export function holdingSpans(
  handovers: readonly Handover[],
  replicas: ReadonlyMap<string, ReplicaProcess>,
  target: string,
): HoldingSpan[] {
  const spans: HoldingSpan[] = [];
  const open = new Map<string, number>();
  for (const h of handovers.filter((x) => x.target === target)) {
    if (h.taken) open.set(h.replica, h.atMs);
    else if (open.has(h.replica)) {
      spans.push({ replica: h.replica, from: open.get(h.replica) ?? 0, to: h.atMs });
      open.delete(h.replica);
    }
  }
  for (const [replica, from] of open) {
    spans.push({ replica, from, to: replicas.get(replica)?.killedAtMs ?? Infinity });
  }
  return spans.sort((a, b) => a.from - b.from);
}

/** The status annotation of a FlinkDeployment, decoded (null without one). */
export async function flinkDeploymentStatus(
  controlPlane: ControlPlane,
  namespace: string,
  name: string,
): Promise<ReturnType<typeof decodeStatus>> {
  const object = expectOk(
    await controlPlane.request(
      'GET',
      `/apis/flink.apache.org/v1beta1/namespaces/${namespace}/flinkdeployments/${name}`,
    ),
    `GET ${name}`,
  ).body as { metadata: { annotations?: Record<string, string> } };
  return decodeStatus(object.metadata.annotations?.[STATUS_ANNOTATION]);
}
