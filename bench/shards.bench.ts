/**
 * Shards measured (figures, not a test): three `slotscaler serve --shards` processes on this
 * machine against a real kube-apiserver share N FlinkDeployment targets (fake JobManagers, mode
 * recommend, so each owner records its decision in the target's status annotation every tick).
 * Once all are owned and recorded, one replica is SIGKILLed (its Lease never released) and the bench
 * measures, for its targets:
 *
 * - taken: when a survivor logged "target taken" (its ring dropped the dead replica's Lease);
 * - collected: when a read through a survivor first shows a sample taken after the kill;
 * - written: when the target's status annotation first holds a decision made after the kill;
 * - reads: every target read through both survivors' metrics APIs, over and over, from the kill
 *   until every moved target is written again: how many were answered with a value, and their
 *   latency;
 * - writers: per target, the replicas holding it at once (from their hand-over logs: never two),
 *   and the RescaleRecommended Events of a replica that did not hold the target when it said it;
 * - the peer exchange: the size of one replica's full answer per target.
 *
 *   node --import tsx bench/shards.bench.ts [--targets 30] [--lease 15] [--tick 5]
 *
 * Writes bench-results-shards.json.
 */
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PEER_RECORDS_PATH } from '../src/runtime/peer-records.js';
import { FakeJobManagerServer } from '../test/fakes/fake-jobmanager.js';
import { addBusyFakeJobTarget, startEnvironment } from '../test/e2e/harness/environment.js';
import { expectOk, waitFor } from '../test/e2e/harness/kube.js';
import { freePorts } from '../test/e2e/harness/ports.js';
import { startReplicaProcess, writePeerCertificates } from '../test/e2e/harness/replica-process.js';
import type { ReplicaProcess } from '../test/e2e/harness/replica-process.js';
import {
  flinkDeploymentStatus,
  flinkDeploymentTargetId,
  handoverOf,
  holdingSpans,
  soleOwners,
} from '../test/e2e/harness/shard-handovers.js';
import type { Handover } from '../test/e2e/harness/shard-handovers.js';

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const TARGET_COUNT = flag('targets', 30);
const LEASE_SECONDS = flag('lease', 15);
const TICK_SECONDS = flag('tick', 5);
const NAMESPACE = 'shards-bench';
const TARGETS = Array.from({ length: TARGET_COUNT }, (_, i) => `job-${i}`);
const targetId = (name: string): string => flinkDeploymentTargetId(NAMESPACE, name);

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const seconds = (ms: number): string => (ms / 1000).toFixed(1);

/** One target's busy ratio through a replica's metrics API: the item's timestamp, or null. */
function read(
  replica: ReplicaProcess,
  name: string,
): Promise<{ ms: number; timestampMs: number | null; why?: string }> {
  const path = `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/flink_busy_ratio?labelSelector=${encodeURIComponent(`target=${name}`)}`;
  const started = performance.now();
  return new Promise((resolve) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: replica.metricsApiPort, path, rejectUnauthorized: false, timeout: 5000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const ms = performance.now() - started;
          try {
            const item = (JSON.parse(text) as { items?: { value?: string; timestamp?: string }[] })
              .items?.[0];
            const at = item?.value === undefined ? NaN : Date.parse(item.timestamp ?? '');
            const ok = res.statusCode === 200 && Number.isFinite(at);
            resolve({
              ms,
              timestampMs: ok ? at : null,
              ...(ok ? {} : { why: `${res.statusCode} ${text.slice(0, 300)}` }),
            });
          } catch {
            resolve({ ms, timestampMs: null, why: `${res.statusCode} ${text.slice(0, 300)}` });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) =>
      resolve({ ms: performance.now() - started, timestampMs: null, why: err.message }),
    );
    req.end();
  });
}

/** A replica's full answer to a peer (what every other replica fetches each time it publishes): its size. */
function peerAnswerBytes(peerDir: string, port: number): Promise<{ bytes: number; records: number }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: PEER_RECORDS_PATH,
        cert: readFileSync(join(peerDir, 'tls.crt')),
        key: readFileSync(join(peerDir, 'tls.key')),
        ca: readFileSync(join(peerDir, 'ca.crt')),
        checkServerIdentity: () => undefined,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const records = (JSON.parse(body.toString('utf8')) as { records: unknown[] }).records.length;
          resolve({ bytes: body.length, records });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const peerDir = mkdtempSync(join(tmpdir(), 'slotscaler-peers-'));
  await writePeerCertificates(peerDir);
  const [env, jobManagers] = await Promise.all([
    startEnvironment({ flink: false, namespace: NAMESPACE, log: (message) => console.log(`# ${message}`) }),
    FakeJobManagerServer.start(),
  ]);
  const replicas = new Map<string, ReplicaProcess>();
  const handovers: Handover[] = [];
  try {
    for (const name of TARGETS) {
      await addBusyFakeJobTarget(env, jobManagers, {
        name,
        vertices: 10,
        sources: 2,
        mode: 'recommend',
        metricsWindow: `${TICK_SECONDS * 3}s`,
      });
    }
    const ports = await freePorts(9);
    const names = ['replica-a', 'replica-b', 'replica-c'];
    names.forEach((name, i) => {
      const replica = startReplicaProcess({
        name,
        kubeconfigPath: env.kubeconfigPath,
        namespace: NAMESPACE,
        metricsApiPort: ports[i * 3] ?? 0,
        metricsPort: ports[i * 3 + 1] ?? 0,
        peerPort: ports[i * 3 + 2] ?? 0,
        peerDir,
        leaseSeconds: LEASE_SECONDS,
        tickInterval: `${TICK_SECONDS}s`,
        onRecord: (record) => {
          const handover = handoverOf(name, record);
          if (handover !== undefined) handovers.push(handover);
        },
      });
      replicas.set(name, replica);
    });

    const settled = (): Map<string, string> | undefined =>
      soleOwners(handovers, replicas, NAMESPACE, TARGETS);
    const statusOf = (name: string): ReturnType<typeof flinkDeploymentStatus> =>
      flinkDeploymentStatus(env.controlPlane, NAMESPACE, name);

    const owners = await waitFor('every target owned by one replica', () => Promise.resolve(settled()), {
      timeoutMs: 180_000,
    });
    await waitFor(
      'every target decided and recorded',
      async () => {
        for (const name of TARGETS) if ((await statusOf(name))?.lastDecision == null) return undefined;
        return true;
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    // Warm: every target has a value through every replica before the kill, so what the move costs is what is counted.
    await waitFor(
      'every target read with a value through every replica',
      async () => {
        for (const name of TARGETS)
          for (const replica of replicas.values())
            if ((await read(replica, name)).timestampMs === null) return undefined;
        return true;
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    const share = names.map((name) => [...owners.values()].filter((o) => o === name).length);
    console.log(`# ${TARGET_COUNT} targets owned ${share.join(' / ')} by a, b, c`);
    const peer = await peerAnswerBytes(peerDir, ports[2] ?? 0);
    console.log(`# replica-a's full answer to a peer: ${peer.bytes} bytes for its ${peer.records} targets`);

    // The kill: the replica that owns the most targets.
    const victimName = names.reduce((best, name, i) =>
      (share[i] ?? 0) > (share[names.indexOf(best)] ?? 0) ? name : best,
    );
    const victim = replicas.get(victimName);
    if (victim === undefined) throw new Error('no victim');
    const survivors = [...replicas.values()].filter((r) => r !== victim);
    const orphans = TARGETS.filter((name) => owners.get(name) === victimName);
    const killedAtMs = Date.now();
    victim.killedAtMs = killedAtMs;
    victim.child.kill('SIGKILL');
    await victim.exited;

    const collectedAtMs = new Map<string, number>();
    const writtenAtMs = new Map<string, number>();
    const latencies: number[] = [];
    let reads = 0;
    let answered = 0;
    const deadline = killedAtMs + 10 * LEASE_SECONDS * 1000;
    const unanswered: string[] = [];
    while (
      (writtenAtMs.size < orphans.length || collectedAtMs.size < orphans.length) &&
      Date.now() < deadline
    ) {
      for (const name of TARGETS) {
        for (const replica of survivors) {
          const answer = await read(replica, name);
          reads += 1;
          latencies.push(answer.ms);
          if (answer.timestampMs === null) {
            unanswered.push(
              `${seconds(Date.now() - killedAtMs)} s ${name} via ${replica.name}: ${answer.why ?? ''}`,
            );
            continue;
          }
          answered += 1;
          if (orphans.includes(name) && answer.timestampMs > killedAtMs && !collectedAtMs.has(name))
            collectedAtMs.set(name, Date.now());
        }
      }
      for (const name of orphans) {
        if (writtenAtMs.has(name)) continue;
        if (((await statusOf(name))?.lastDecision?.atMs ?? 0) > killedAtMs) writtenAtMs.set(name, Date.now());
      }
    }
    const takenMs = orphans.map(
      (name) =>
        (handovers.find((h) => h.target === targetId(name) && h.taken && h.atMs >= killedAtMs)?.atMs ?? NaN) -
        killedAtMs,
    );
    const after = (map: Map<string, number>): number[] =>
      orphans.map((name) => (map.get(name) ?? NaN) - killedAtMs);
    const range = (values: readonly number[]): string =>
      `${seconds(Math.min(...values))}-${seconds(Math.max(...values))} s`;

    // Writers: at no moment two holders of one target; Events only from a holder.
    let overlaps = 0;
    for (const name of TARGETS) {
      const spans = holdingSpans(handovers, replicas, targetId(name));
      for (let i = 1; i < spans.length; i++)
        if ((spans[i]?.from ?? 0) < (spans[i - 1]?.to ?? 0)) overlaps += 1;
    }
    const events = expectOk(
      await env.controlPlane.request('GET', `/apis/events.k8s.io/v1/namespaces/${NAMESPACE}/events`),
      'list events',
    ).body as { items: { reason?: string; reportingInstance?: string; regarding?: { name?: string } }[] };
    const recommended = events.items.filter((e) => e.reason === 'RescaleRecommended');
    const foreign = recommended.filter(
      (e) =>
        !handovers.some(
          (h) =>
            h.target === targetId(e.regarding?.name ?? '') && h.taken && h.replica === e.reportingInstance,
        ),
    ).length;
    const writersPerTarget = TARGETS.map(
      (name) =>
        new Set(recommended.filter((e) => e.regarding?.name === name).map((e) => e.reportingInstance)).size,
    );

    latencies.sort((x, y) => x - y);
    const result = {
      targets: TARGET_COUNT,
      replicas: 3,
      leaseSeconds: LEASE_SECONDS,
      tickSeconds: TICK_SECONDS,
      moved: orphans.length,
      takenSeconds: takenMs.map((ms) => ms / 1000),
      collectedSeconds: after(collectedAtMs).map((ms) => ms / 1000),
      writtenSeconds: after(writtenAtMs).map((ms) => ms / 1000),
      reads: { total: reads, answered, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) },
      overlappingHolders: overlaps,
      eventsFromNonHolders: foreign,
      replicasThatRecordedPerTarget: {
        max: Math.max(...writersPerTarget),
        min: Math.min(...writersPerTarget),
      },
      unansweredFirst: unanswered.slice(0, 10),
      peerAnswer: {
        bytes: peer.bytes,
        records: peer.records,
        bytesPerTarget: peer.bytes / Math.max(1, peer.records),
      },
    };
    console.log(
      `\nshards: ${TARGET_COUNT} targets, 3 replicas, lease ${LEASE_SECONDS} s, tick ${TICK_SECONDS} s; ${victimName} SIGKILLed with ${orphans.length} targets`,
    );
    console.log(`  taken by a survivor        ${range(takenMs)} after the kill`);
    console.log(`  collected again (read)     ${range(after(collectedAtMs))} after the kill`);
    console.log(`  written again (status)     ${range(after(writtenAtMs))} after the kill`);
    console.log(
      `  reads during the move      ${answered} of ${reads} answered with a value, p50 ${result.reads.p50Ms.toFixed(2)} ms, p99 ${result.reads.p99Ms.toFixed(2)} ms`,
    );
    for (const line of unanswered.slice(0, 5)) console.log(`    unanswered: ${line}`);
    console.log(`  two holders at once        ${overlaps} times`);
    console.log(
      `  recorded by a non-holder   ${foreign} of ${recommended.length} RescaleRecommended Events; replicas that recorded one target: ${result.replicasThatRecordedPerTarget.min}-${result.replicasThatRecordedPerTarget.max} (its owners over the run)`,
    );
    console.log(
      `  peer answer                ${(result.peerAnswer.bytesPerTarget / 1024).toFixed(2)} KB per target`,
    );
    writeFileSync('bench-results-shards.json', `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const replica of replicas.values()) {
      if (replica.child.exitCode === null && replica.child.signalCode === null) {
        replica.child.kill('SIGTERM');
        await replica.exited;
      }
    }
    await jobManagers.close();
    await env.stop();
    rmSync(peerDir, { recursive: true, force: true });
  }
}

await main();
