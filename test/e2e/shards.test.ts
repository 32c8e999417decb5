// Three real `slotscaler serve` processes with --shards on the real API server, sharing twelve
// targets (fake JobManagers, mode recommend: each owner records its recommendation in the status
// annotation and says it in an Event). Two start; a third joins later and takes its share; then one
// is killed with SIGKILL (its Lease never released) and its targets move to the others with their
// histories. Ownership is read from the processes' own logs ("target taken" / "target given up"):
// at no moment do two replicas hold one target.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';

import { STATUS_ANNOTATION } from '../../src/kube/adapters/adapter.js';
import { replicaLeaseName } from '../../src/kube/replica-leases.js';
import { decodeStatus } from '../../src/kube/status-annotation.js';
import { FakeJobManagerServer, typicalJob } from '../fakes/fake-jobmanager.js';
import { flinkDeploymentYaml, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { expectOk, waitFor } from './harness/kube.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NAMESPACE = 'shards';
const TARGETS = Array.from({ length: 12 }, (_, i) => `job-${i}`);
/** Short, so the test is quick: renewals every 2 s, the fence at 4 s, a joiner's wait 2 s. */
const LEASE_SECONDS = 6;
const targetId = (name: string): string => `flinkdeployment/${NAMESPACE}/${name}`;

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const server = createServer();
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** One hand-over as a replica logged it. */
interface Handover {
  readonly replica: string;
  readonly target: string;
  readonly taken: boolean;
  readonly atMs: number;
}

/** A ring change as a replica logged it. */
interface RingChange {
  readonly replica: string;
  readonly members: readonly string[];
  readonly atMs: number;
}

interface Replica {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  killedAtMs: number | undefined;
}

describe('serve with --shards: three replicas share the targets', { timeout: 600_000 }, () => {
  let env: Environment;
  let jobManagers: FakeJobManagerServer;
  const replicas = new Map<string, Replica>();
  const handovers: Handover[] = [];
  const rings: RingChange[] = [];
  const tails = new Map<string, string[]>();

  function start(name: string, metricsApiPort: number, metricsPort: number): Replica {
    const entry = `const { main } = await import(${JSON.stringify(join(ROOT, 'src/main.ts'))}); process.exitCode = await main(process.argv.slice(1));`;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        entry,
        'serve',
        '--kubeconfig',
        env.kubeconfigPath,
        '--namespaces',
        NAMESPACE,
        '--tick-interval',
        '2s',
        '--shards',
        'true',
        '--lease-duration',
        `${LEASE_SECONDS}s`,
        '--lease-namespace',
        NAMESPACE,
        '--warning-event-interval',
        '30s',
        '--metrics-api-port',
        String(metricsApiPort),
        '--metrics-port',
        String(metricsPort),
        '--authentication-disabled',
        '--tls-self-signed-hosts',
        'localhost,127.0.0.1',
        '--log-level',
        'info',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, POD_NAME: name } },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const tail: string[] = [];
    tails.set(name, tail);
    const keep = (line: string): void => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
    };
    createInterface({ input: child.stderr }).on('line', keep);
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line);
      let record: { msg?: unknown; target?: unknown; time?: unknown; members?: unknown };
      try {
        record = JSON.parse(line) as typeof record;
      } catch {
        return;
      }
      if (record.msg === 'shard ring changed' && Array.isArray(record.members)) {
        rings.push({
          replica: name,
          members: record.members.map(String),
          atMs: Date.parse(String(record.time)),
        });
        return;
      }
      if (record.msg !== 'target taken' && record.msg !== 'target given up') return;
      if (typeof record.target !== 'string' || !record.target.startsWith('flinkdeployment/')) return;
      handovers.push({
        replica: name,
        target: record.target,
        taken: record.msg === 'target taken',
        atMs: Date.parse(String(record.time)),
      });
    });
    const replica: Replica = { name, child, exited, killedAtMs: undefined };
    replicas.set(name, replica);
    return replica;
  }

  /** Per target, the replicas holding it now as their logs say (a killed replica holds nothing). */
  function holders(): Map<string, string[]> {
    const now = new Map<string, Set<string>>();
    for (const h of handovers) {
      const set = now.get(h.target) ?? new Set<string>();
      if (h.taken) set.add(h.replica);
      else set.delete(h.replica);
      now.set(h.target, set);
    }
    const out = new Map<string, string[]>();
    for (const [target, set] of now) {
      out.set(
        target,
        [...set].filter((name) => replicas.get(name)?.killedAtMs === undefined),
      );
    }
    return out;
  }

  /** Every target held by exactly one live replica. */
  function settled(): Map<string, string> | undefined {
    const now = holders();
    const owners = new Map<string, string>();
    for (const name of TARGETS) {
      const held = now.get(targetId(name)) ?? [];
      if (held.length !== 1) return undefined;
      owners.set(name, held[0] ?? '');
    }
    return owners;
  }

  /**
   * No two replicas ever held one target at once: per target, each replica's spans (from taken to
   * given up, or to its SIGKILL) do not overlap another's.
   */
  function assertOneWriterAtATime(): void {
    for (const name of TARGETS) {
      const spans: { replica: string; from: number; to: number }[] = [];
      const open = new Map<string, number>();
      for (const h of handovers.filter((x) => x.target === targetId(name))) {
        if (h.taken) open.set(h.replica, h.atMs);
        else if (open.has(h.replica)) {
          spans.push({ replica: h.replica, from: open.get(h.replica) ?? 0, to: h.atMs });
          open.delete(h.replica);
        }
      }
      for (const [replica, from] of open) {
        spans.push({ replica, from, to: replicas.get(replica)?.killedAtMs ?? Infinity });
      }
      spans.sort((a, b) => a.from - b.from);
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

  async function statusOf(name: string): Promise<ReturnType<typeof decodeStatus>> {
    const object = expectOk(
      await env.controlPlane.request(
        'GET',
        `/apis/flink.apache.org/v1beta1/namespaces/${NAMESPACE}/flinkdeployments/${name}`,
      ),
      `GET ${name}`,
    ).body as { metadata: { annotations?: Record<string, string> } };
    return decodeStatus(object.metadata.annotations?.[STATUS_ANNOTATION]);
  }

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
    [env, jobManagers] = await Promise.all([
      startEnvironment({ flink: false, namespace: NAMESPACE, log: (message) => console.log(`# ${message}`) }),
      FakeJobManagerServer.start(),
    ]);
    for (const name of TARGETS) {
      // Busy 0.9 against 0.6: each decision recommends 2 TaskManagers where there is 1.
      const cluster = jobManagers.addCluster({
        name,
        taskManagers: 1,
        slotsPerTaskManager: 2,
        jobs: [typicalJob({ name, busyRatio: 0.9, parallelism: 2, vertices: 3, sources: 1 })],
      });
      await env.applyYaml(
        flinkDeploymentYaml({
          name,
          taskManagers: 1,
          slotsPerTaskManager: 2,
          annotations: {
            'slotscaler.dev/enabled': 'true',
            'slotscaler.dev/mode': 'recommend',
            'slotscaler.dev/jobmanager-url': cluster.url,
            'slotscaler.dev/metrics': 'flink_busy_ratio=0.6',
            'slotscaler.dev/metrics-window': '6s',
            'slotscaler.dev/metrics-hold-after-restart': '0s',
            'slotscaler.dev/metrics-max-age': '30s',
          },
        }),
      );
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
      for (const [name, tail] of tails) {
        console.log(`# ${name}, last lines:\n${tail.map((l) => `#   ${l.slice(0, 300)}`).join('\n')}`);
      }
    }
    await jobManagers.close();
    await env.stop();
  });

  it('every target has one writer; a replica started later takes its share; a SIGKILLed one’s targets move with their histories', async () => {
    const ports = await freePorts(6);
    const port = (i: number): number => ports[i] ?? 0;

    // 1. Two replicas share the twelve targets, one owner each, and each owner records its recommendation.
    start('replica-a', port(0), port(1));
    start('replica-b', port(2), port(3));
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

    // 2. A third replica joins: it takes its share once the former owners have given it up.
    const joinedAtMs = Date.now();
    start('replica-c', port(4), port(5));
    const withC = await waitFor(
      'replica-c to take its share',
      () => {
        const owners = settled();
        return Promise.resolve(owners !== undefined && count(owners, 'replica-c') > 0 ? owners : undefined);
      },
      { timeoutMs: 90_000 },
    );
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
    victimProcess.killedAtMs = Date.now();
    victimProcess.child.kill('SIGKILL');
    await victimProcess.exited;
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
