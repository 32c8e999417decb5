// Three real `slotscaler serve` processes with --shards on the real API server, sharing twelve
// targets (fake JobManagers, mode recommend: each owner records its recommendation in the status
// annotation and says it in an Event). Two start; a third joins later and takes its share; then one
// is killed with SIGKILL (its Lease never released) and its targets move to the others with their
// histories. Ownership is read from the processes' own logs ("target taken" / "target given up"):
// at no moment do two replicas hold one target. The replicas hand each other the records of their
// targets over mutual TLS, so a metrics read of any target through any replica, directly or through
// the real aggregator, is answered, during the moves too.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { replicaLeaseName } from '../../src/kube/replica-leases.js';
import { FakeJobManagerServer } from '../fakes/fake-jobmanager.js';
import { addBusyFakeJobTarget, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { applyYaml, expectOk, externalMetricsApiServiceYaml, waitFor } from './harness/kube.js';
import { freePorts } from './harness/ports.js';
import { startReplicaProcess, writePeerCertificates } from './harness/replica-process.js';
import type { ReplicaProcess } from './harness/replica-process.js';
import {
  flinkDeploymentStatus,
  flinkDeploymentTargetId,
  handoverOf,
  holdingSpans,
  soleOwners,
} from './harness/shard-handovers.js';
import type { Handover } from './harness/shard-handovers.js';

const NAMESPACE = 'shards';
const TARGETS = Array.from({ length: 12 }, (_, i) => `job-${i}`);
/** Short, so the test is quick: renewals every 2 s, the fence at 4 s, a joiner's wait 2 s. */
const LEASE_SECONDS = 6;
const targetId = (name: string): string => flinkDeploymentTargetId(NAMESPACE, name);

/** A ring change as a replica logged it. */
interface RingChange {
  readonly replica: string;
  readonly members: readonly string[];
  readonly atMs: number;
}

type Replica = ReplicaProcess;

describe('serve with --shards: three replicas share the targets', { timeout: 600_000 }, () => {
  let env: Environment;
  let jobManagers: FakeJobManagerServer;
  const replicas = new Map<string, Replica>();
  const handovers: Handover[] = [];
  const rings: RingChange[] = [];
  /** The peer CA and certificate (`writePeerCertificates`). */
  let peerDir: string;

  function start(name: string, metricsApiPort: number, metricsPort: number, peerPort: number): Replica {
    const replica = startReplicaProcess({
      name,
      kubeconfigPath: env.kubeconfigPath,
      namespace: NAMESPACE,
      metricsApiPort,
      metricsPort,
      peerPort,
      peerDir,
      leaseSeconds: LEASE_SECONDS,
      tickInterval: '2s',
      onRecord: (record) => {
        if (record.msg === 'shard ring changed' && Array.isArray(record.members)) {
          rings.push({
            replica: name,
            members: record.members.map(String),
            atMs: Date.parse(String(record.time)),
          });
          return;
        }
        const handover = handoverOf(name, record);
        if (handover !== undefined) handovers.push(handover);
      },
    });
    replicas.set(name, replica);
    return replica;
  }

  const metricPath = (name: string): string =>
    `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/flink_busy_ratio?labelSelector=${encodeURIComponent(`target=${name}`)}`;

  /** The value of one external metrics answer, or why there is none. */
  function valueOf(status: number, body: unknown): string | { failed: string } {
    const value = (body as { items?: { value?: unknown }[] } | null)?.items?.[0]?.value;
    return status === 200 && typeof value === 'string'
      ? value
      : { failed: `${status} ${JSON.stringify(body).slice(0, 200)}` };
  }

  /** A read of one target's busy ratio on a replica's own metrics API port. */
  function readDirect(replica: Replica, name: string): Promise<string | { failed: string }> {
    return new Promise((resolve) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: replica.metricsApiPort,
          path: metricPath(name),
          rejectUnauthorized: false,
          timeout: 5000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            let body: unknown = text;
            try {
              body = JSON.parse(text);
            } catch {
              // Kept as text for the message.
            }
            resolve(valueOf(res.statusCode ?? 0, body));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => resolve({ failed: err.message }));
      req.end();
    });
  }

  /** The same read through the real kube-apiserver's aggregator (the APIService names one replica). */
  async function readThroughAggregator(name: string): Promise<string | { failed: string }> {
    const answer = await env.controlPlane.request('GET', metricPath(name));
    return valueOf(answer.statusCode, answer.body);
  }

  /** Every target's busy ratio (0.9) through each of these replicas and, when asked, the aggregator. */
  async function readEverything(
    through: readonly Replica[],
    aggregator: boolean,
  ): Promise<{ reads: number; failures: string[] }> {
    const failures: string[] = [];
    let reads = 0;
    for (const name of TARGETS) {
      const answers = await Promise.all([
        ...through.map(async (replica) => [replica.name, await readDirect(replica, name)] as const),
        ...(aggregator ? [(async () => ['aggregator', await readThroughAggregator(name)] as const)()] : []),
      ]);
      for (const [via, answer] of answers) {
        reads += 1;
        if (typeof answer !== 'string') failures.push(`${name} via ${via}: ${answer.failed}`);
        else if (answer !== '900m') failures.push(`${name} via ${via}: ${answer}, not 900m`);
      }
    }
    return { reads, failures };
  }

  /** Reads every target over and over (a round, a 250 ms pause) until `stop()`, which says how they went. */
  function readAlong(
    through: readonly Replica[],
    aggregator: boolean,
  ): { stop(): Promise<{ reads: number; failures: string[] }> } {
    const state = { done: false, reads: 0, failures: [] as string[] };
    const loop = (async () => {
      while (!state.done) {
        const round = await readEverything(through, aggregator);
        state.reads += round.reads;
        state.failures.push(...round.failures);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    return {
      async stop() {
        state.done = true;
        await loop;
        return { reads: state.reads, failures: state.failures };
      },
    };
  }

  /** Points the external metrics APIService at one replica and waits until the aggregator reaches it. */
  async function aggregateTo(replica: Replica): Promise<void> {
    await applyYaml(env.controlPlane, externalMetricsApiServiceYaml(replica.metricsApiPort));
    await waitFor(
      `the aggregator to answer through ${replica.name}`,
      async () => {
        const { failures } = await readEverything([], true);
        return failures.length === 0 ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
  }

  /** Every target held by exactly one live replica. */
  const settled = (): Map<string, string> | undefined => soleOwners(handovers, replicas, NAMESPACE, TARGETS);

  /**
   * No two replicas ever held one target at once: per target, each replica's spans (from taken to
   * given up, or to its SIGKILL) do not overlap another's.
   */
  function assertOneWriterAtATime(): void {
    for (const name of TARGETS) {
      const spans = holdingSpans(handovers, replicas, targetId(name));
      for (let i = 1; i < spans.length; i++) {
        const before = spans[i - 1];
        const span = spans[i];
        assert.ok(before !== undefined && span !== undefined);
        assert.ok(
          span.from >= before.to,
          `${name}: ${span.replica} took it at ${new Date(span.from).toISOString()} while ${before.replica} held it until ${new Date(before.to).toISOString()}`,
        );
      }
    }
  }

  const statusOf = (name: string): ReturnType<typeof flinkDeploymentStatus> =>
    flinkDeploymentStatus(env.controlPlane, NAMESPACE, name);

  /** The replicas that said RescaleRecommended on a target, by the Events' reportingInstance. */
  async function recommenders(name: string): Promise<Set<string>> {
    const answer = expectOk(
      await env.controlPlane.request(
        'GET',
        `/apis/events.k8s.io/v1/namespaces/${NAMESPACE}/events?fieldSelector=${encodeURIComponent(`regarding.name=${name}`)}`,
      ),
      'list events',
    ).body as { items: { reason?: string; reportingInstance?: string }[] };
    return new Set(
      answer.items.filter((e) => e.reason === 'RescaleRecommended').map((e) => e.reportingInstance ?? ''),
    );
  }

  before(async () => {
    peerDir = mkdtempSync(join(tmpdir(), 'slotscaler-peers-'));
    await writePeerCertificates(peerDir);
    [env, jobManagers] = await Promise.all([
      startEnvironment({ flink: false, namespace: NAMESPACE, log: (message) => console.log(`# ${message}`) }),
      FakeJobManagerServer.start(),
    ]);
    for (const name of TARGETS) {
      // Busy 0.9 against 0.6: each decision recommends 2 TaskManagers where there is 1.
      await addBusyFakeJobTarget(env, jobManagers, {
        name,
        vertices: 3,
        sources: 1,
        mode: 'recommend',
        metricsWindow: '6s',
        metricsMaxAge: '30s',
      });
    }
  });

  after(async () => {
    for (const replica of replicas.values()) {
      if (replica.child.exitCode === null && replica.child.signalCode === null) {
        replica.child.kill('SIGTERM');
        await replica.exited;
      }
    }
    if (process.env['SLOTSCALER_E2E_LOG'] === '1') {
      for (const { name, tail } of replicas.values()) {
        console.log(`# ${name}, last lines:\n${tail.map((l) => `#   ${l.slice(0, 300)}`).join('\n')}`);
      }
    }
    await jobManagers.close();
    await env.stop();
    rmSync(peerDir, { recursive: true, force: true });
  });

  it('every target has one writer; a replica started later takes its share; a SIGKILLed one’s targets move with their histories', async () => {
    const ports = await freePorts(9);
    const port = (i: number): number => ports[i] ?? 0;

    // 1. Two replicas share the twelve targets, one owner each, and each owner records its recommendation.
    const a = start('replica-a', port(0), port(1), port(6));
    const b = start('replica-b', port(2), port(3), port(7));
    const firstOwners = await waitFor('every target owned by one of two replicas', () =>
      Promise.resolve(settled()),
    );
    const count = (owners: Map<string, string>, who: string): number =>
      [...owners.values()].filter((o) => o === who).length;
    console.log(
      `# two replicas: a owns ${count(firstOwners, 'replica-a')}, b owns ${count(firstOwners, 'replica-b')}`,
    );
    assert.ok(count(firstOwners, 'replica-a') > 0 && count(firstOwners, 'replica-b') > 0);
    await waitFor(
      'each target’s recommendation recorded by its owner',
      async () => {
        for (const name of TARGETS) if ((await statusOf(name))?.lastDecision == null) return undefined;
        return true;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    // Each replica answers for every target, its own and the other's, and so does the aggregator.
    await waitFor(
      'every target read through both replicas',
      async () => ((await readEverything([a, b], false)).failures.length === 0 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    await aggregateTo(a);

    // 2. A third replica joins: it takes its share once the former owners have given it up.
    const joinedAtMs = Date.now();
    const duringJoin = readAlong([a, b], true);
    const c = start('replica-c', port(4), port(5), port(8));
    const withC = await waitFor(
      'replica-c to take its share',
      () => {
        const owners = settled();
        return Promise.resolve(owners !== undefined && count(owners, 'replica-c') > 0 ? owners : undefined);
      },
      { timeoutMs: 90_000 },
    );
    const joinReads = await duringJoin.stop();
    console.log(
      `# during the join: ${joinReads.reads - joinReads.failures.length} of ${joinReads.reads} reads answered (every target through a, b and the aggregator)`,
    );
    assert.ok(joinReads.reads > 0);
    assert.deepEqual(joinReads.failures, [], 'every read answered while replica-c took its share');
    const moved = TARGETS.filter((name) => withC.get(name) === 'replica-c');
    assert.ok(
      moved.every((name) => firstOwners.get(name) !== 'replica-c'),
      'c took only targets the others gave up',
    );
    assert.ok(
      TARGETS.every((name) => withC.get(name) === 'replica-c' || withC.get(name) === firstOwners.get(name)),
      'no target moved between the two replicas that stayed',
    );
    const cTook = handovers
      .filter((h) => h.replica === 'replica-c' && h.taken)
      .map((h) => h.atMs - joinedAtMs);
    console.log(
      `# replica-c joined: took ${moved.length} of ${TARGETS.length} targets, ${Math.min(...cTook)}-${Math.max(...cTook)} ms after its start`,
    );
    assertOneWriterAtATime();

    // 3. SIGKILL the replica that owns targets now, other than the newest: its Lease is never released.
    const victim = count(withC, 'replica-b') > 0 ? 'replica-b' : 'replica-a';
    const orphans = TARGETS.filter((name) => withC.get(name) === victim);
    const victimProcess = replicas.get(victim);
    assert.ok(victimProcess !== undefined);
    const survivors = [a, b, c].filter((replica) => replica.name !== victim);
    // The aggregator asks the replica that joined last: it owns a third of the targets.
    await aggregateTo(c);
    assert.deepEqual((await readEverything(survivors, false)).failures, [], 'every read before the kill');
    victimProcess.killedAtMs = Date.now();
    victimProcess.child.kill('SIGKILL');
    await victimProcess.exited;
    // Reads of every target through the survivors and the aggregator, all along the move.
    const duringKill = readAlong(survivors, true);
    const afterKill = await waitFor(
      `the targets of ${victim} taken by the others`,
      () => Promise.resolve(settled()),
      { timeoutMs: 60_000 },
    );
    const killedAtMs = victimProcess.killedAtMs;
    const moveMs = orphans.map((name) => {
      const taken = handovers.find((h) => h.target === targetId(name) && h.taken && h.atMs >= killedAtMs);
      assert.ok(taken !== undefined, name);
      assert.notEqual(taken.replica, victim);
      assert.equal(afterKill.get(name), taken.replica);
      return taken.atMs - killedAtMs;
    });
    // When each survivor's ring dropped the victim: its Lease seen expired (the move itself); the
    // targets are taken at the survivor's next pass after it (a tick of 2 s).
    const droppedMs = [...replicas.keys()]
      .filter((name) => name !== victim)
      .map((name) => {
        const ring = rings.find(
          (r) => r.replica === name && r.atMs >= killedAtMs && !r.members.includes(victim),
        );
        assert.ok(ring !== undefined, `${name} dropped ${victim} from its ring`);
        return ring.atMs - killedAtMs;
      });
    console.log(
      `# ${victim} killed: dropped from the survivors' rings ${droppedMs.join(' and ')} ms after the SIGKILL`,
    );
    console.log(
      `# ${victim} killed: its ${orphans.length} targets taken ${Math.min(...moveMs)}-${Math.max(...moveMs)} ms after the SIGKILL (lease duration ${LEASE_SECONDS * 1000} ms)`,
    );
    // The targets of the replicas that stayed did not move.
    for (const name of TARGETS.filter((n) => !orphans.includes(n)))
      assert.equal(afterKill.get(name), withC.get(name));
    assertOneWriterAtATime();

    // 4. Their histories moved with them: the new owner's status annotation keeps the recommendations
    // the killed replica recorded, next to its own.
    const carried = await waitFor(
      'the new owners to record their recommendations, with the histories before the kill',
      async () => {
        const out: number[] = [];
        for (const name of orphans) {
          const status = await statusOf(name);
          if (status === null || (status.lastDecision?.atMs ?? 0) < killedAtMs) return undefined;
          const before = status.recommendations.filter((r) => r.timestampMs < killedAtMs).length;
          out.push(before);
        }
        return out;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    assert.ok(
      carried.every((before) => before > 0),
      `recommendations from before the kill kept: ${carried.join(', ')}`,
    );
    const rewrittenAfterMs = Date.now() - killedAtMs;
    const duringMove = await duringKill.stop();
    console.log(
      `# during the move: ${duringMove.reads - duringMove.failures.length} of ${duringMove.reads} reads answered (every target through both survivors and the aggregator)`,
    );
    assert.ok(duringMove.reads > 0);
    assert.deepEqual(duringMove.failures, [], 'every read answered while the targets moved');
    console.log(
      `# all ${orphans.length} moved targets' status annotations rewritten within ${rewrittenAfterMs} ms of the SIGKILL`,
    );

    // 5. Each RescaleRecommended Event came from a replica that owned the target when it said it.
    for (const name of TARGETS) {
      for (const who of await recommenders(name)) {
        assert.ok(
          handovers.some((h) => h.target === targetId(name) && h.taken && h.replica === who),
          `${name}: RescaleRecommended from ${who}, which never owned it`,
        );
      }
    }

    // 6. The killed replica's Lease, never released, is deleted by the others once long expired.
    await waitFor(
      `the Lease of ${victim} deleted`,
      async () => {
        const answer = await env.controlPlane.request(
          'GET',
          `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/${replicaLeaseName('slotscaler', victim)}`,
        );
        return answer.statusCode === 404 ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    for (const [name, replica] of replicas) {
      if (name !== victim) assert.equal(replica.child.exitCode, null, `${name} still runs`);
    }
  });
});
