// Leader election (src/kube/leader-election.ts) on the real kube-apiserver: a leader that CRASHES
// (SIGKILL, so it never releases its Lease) is replaced only once its Lease has expired, i.e. no
// sooner than a full lease duration after its last renewal; and two candidates started together
// never both lead. The graceful hand-over (stop() releases the Lease) is in scaler-faults.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { KubeConfig } from '@kubernetes/client-node';

import { systemClock } from '../../src/runtime/clock.js';
import { HttpKubeClient } from '../../src/kube/kube-client.js';
import { LeaseElector } from '../../src/kube/leader-election.js';
import type { LeaseSpec } from '../../src/kube/lease.js';
import { startControlPlane } from './harness/control-plane.js';
import type { ControlPlane } from './harness/control-plane.js';
import { expectOk, waitFor, watch } from './harness/kube.js';
import type { Watch } from './harness/kube.js';
import { testLogger } from './scaler-helpers.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const holderScript = join(repoRoot, 'test/e2e/harness/lease-holder.ts');

const namespace = 'default';
/** Short, so the test is quick; the same for every candidate. Renewals every 2 s (duration / 3). */
const leaseDurationMs = 6_000;
const renewIntervalMs = leaseDurationMs / 3;

/** One version of the Lease as the test's own watch saw it, and when (test clock). */
interface Seen {
  readonly atMs: number;
  readonly resourceVersion: string;
  readonly spec: LeaseSpec;
}

function leasePath(name: string): string {
  return `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`;
}

function ms(time: string | undefined, what: string): number {
  assert.ok(time !== undefined, `${what} is set`);
  const value = Date.parse(time);
  assert.ok(Number.isFinite(value), `${what} parses: ${time}`);
  return value;
}

let cp: ControlPlane;
const cleanups: (() => Promise<void> | void)[] = [];

before(async () => {
  cp = await startControlPlane({ onProgress: (message) => console.log(`# ${message}`) });
  // The first cleanup registered, so the last to run.
  cleanups.push(() => cp.stop());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (err) {
      console.log(`# cleanup failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
});

async function getLease(name: string): Promise<LeaseSpec> {
  const answer = expectOk(await cp.request('GET', leasePath(name)), `GET Lease ${name}`);
  return (answer.body as { spec?: LeaseSpec }).spec ?? {};
}

/**
 * Every version of the Lease, from a watch started before anyone writes it. It starts from a LIST's
 * resourceVersion: this API server answers a watch without one (and with bookmarks) with an ERROR
 * (the RequestWatchProgress storage feature is disabled).
 */
async function recordLease(name: string): Promise<{ readonly history: Seen[]; readonly watch: Watch }> {
  const history: Seen[] = [];
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`;
  const list = expectOk(await cp.request('GET', collection), 'LIST Leases');
  const listed = list.body as { metadata?: { resourceVersion?: string }; items?: unknown[] };
  assert.equal(listed.items?.length ?? 0, 0, `the Lease ${name} does not exist yet`);
  const resourceVersion = listed.metadata?.resourceVersion;
  assert.ok(resourceVersion !== undefined && resourceVersion !== '', 'the LIST has a resourceVersion');
  const w = watch(cp, collection, resourceVersion, (event) => {
    if (event.type === 'ERROR') console.log(`# Lease watch error: ${JSON.stringify(event.object)}`);
    if (event.type !== 'ADDED' && event.type !== 'MODIFIED') return;
    const object = event.object as { metadata?: { resourceVersion?: string }; spec?: LeaseSpec };
    history.push({
      atMs: Date.now(),
      resourceVersion: object.metadata?.resourceVersion ?? '',
      spec: object.spec ?? {},
    });
  });
  cleanups.push(() => {
    w.stop();
  });
  return { history, watch: w };
}

function newClient(): HttpKubeClient {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cp.kubeconfigPath);
  const client = new HttpKubeClient(kubeConfig);
  cleanups.push(() => {
    client.close();
  });
  return client;
}

/** A candidate in this process; `wonAtMs` is when it won (wall clock), from onStartedLeading. */
function candidate(
  leaseName: string,
  identity: string,
): { elector: LeaseElector; wonAtMs: () => number | undefined } {
  let wonAtMs: number | undefined;
  const elector = new LeaseElector({
    client: newClient(),
    namespace,
    name: leaseName,
    identity,
    leaseDurationMs,
    clock: systemClock,
    logger: testLogger(`${identity} `),
    onStartedLeading: () => {
      wonAtMs ??= Date.now();
    },
  });
  cleanups.push(() => elector.stop());
  return { elector, wonAtMs: () => wonAtMs };
}

/** Candidate A in a child process; resolves `leading` with the time it printed once it leads. */
function spawnHolder(
  leaseName: string,
  identity: string,
): { child: ChildProcess; leading: Promise<number>; exited: Promise<NodeJS.Signals | number | null> } {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      holderScript,
      cp.kubeconfigPath,
      namespace,
      leaseName,
      identity,
      String(leaseDurationMs),
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<NodeJS.Signals | number | null>((resolveExit) => {
    child.once('exit', (code, signal) => {
      resolveExit(signal ?? code);
    });
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    console.log(`# [${identity} stderr] ${line}`);
  });
  const leading = new Promise<number>((resolveLeading, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      console.log(`# [${identity}] ${line}`);
      const match = /^leading (\S+)$/.exec(line);
      if (match?.[1] !== undefined) resolveLeading(Date.parse(match[1]));
    });
    void exited.then((how) => {
      reject(new Error(`${identity} exited (${String(how)}) before it led`));
    });
  });
  // A rejection after the test stopped waiting (the child killed later) is not an error.
  leading.catch(() => undefined);
  return { child, leading, exited };
}

describe('leader election on the real API server', () => {
  it('a crashed leader (SIGKILL, Lease not released) is replaced only after its Lease expires', async () => {
    const leaseName = 'crash-handover';
    const { history } = await recordLease(leaseName);

    // 1. Candidate A, in its own process, wins the (new) Lease.
    const a = spawnHolder(leaseName, 'candidate-a');
    await Promise.race([
      a.leading,
      sleep(60_000).then(() => {
        throw new Error('candidate-a did not lead within 60 s');
      }),
    ]);
    const held = await waitFor(
      'the Lease to name candidate-a',
      async () => {
        const spec = await getLease(leaseName);
        return spec.holderIdentity === 'candidate-a' ? spec : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    const transitionsBefore = held.leaseTransitions ?? 0;

    // 2. Candidate B, in this process, must not lead while A keeps renewing: two lease durations and more.
    const b = candidate(leaseName, 'candidate-b');
    await b.elector.start();
    const observeMs = 2 * leaseDurationMs + 1_000;
    const observeFrom = Date.now();
    while (Date.now() - observeFrom < observeMs) {
      assert.equal(
        b.elector.isLeader(),
        false,
        `candidate-b leads while candidate-a renews (${Date.now() - observeFrom} ms in)`,
      );
      assert.equal(b.elector.wins, 0);
      await sleep(100);
    }
    const renewalsWhileObserving = new Set(
      history
        .filter((seen) => seen.atMs >= observeFrom && seen.spec.holderIdentity === 'candidate-a')
        .map((seen) => seen.spec.renewTime),
    ).size;
    assert.ok(
      renewalsWhileObserving >= Math.floor(observeMs / renewIntervalMs) - 1,
      `candidate-a renewed the Lease only ${renewalsWhileObserving} times in ${observeMs} ms: B was not tested against a live leader`,
    );
    assert.equal((await getLease(leaseName)).holderIdentity, 'candidate-a');
    assert.equal(b.elector.holder(), 'candidate-a', 'candidate-b sees candidate-a as the holder');

    // 3. A crashes: no release. Whatever the API server holds now is A's last renewal.
    const killedAtMs = Date.now();
    a.child.kill('SIGKILL');
    assert.equal(await a.exited, 'SIGKILL');
    const lastHeld = await getLease(leaseName);
    assert.equal(lastHeld.holderIdentity, 'candidate-a', 'the crashed leader still holds the Lease');
    const lastRenewMs = ms(lastHeld.renewTime, 'the last renewTime');

    // 4. B takes over, but not before the Lease has expired.
    await waitFor('candidate-b to lead', () => Promise.resolve(b.elector.isLeader() || undefined), {
      timeoutMs: 4 * leaseDurationMs + 10_000,
      intervalMs: 50,
    });
    const wonAtMs = b.wonAtMs();
    assert.ok(wonAtMs !== undefined, 'onStartedLeading ran for candidate-b');
    assert.equal(b.elector.wins, 1);

    const now = await getLease(leaseName);
    assert.equal(now.holderIdentity, 'candidate-b', 'the API server’s Lease names candidate-b');
    assert.equal(now.leaseTransitions, transitionsBefore + 1, 'leaseTransitions increased by one');
    const acquiredMs = ms(now.acquireTime, 'candidate-b’s acquireTime');

    // The Lease's own history: A's last version is the one read after the kill; B's first comes next.
    const lastOfA = history.filter((seen) => seen.spec.holderIdentity === 'candidate-a').at(-1);
    const firstOfB = history.find((seen) => seen.spec.holderIdentity === 'candidate-b');
    assert.ok(lastOfA !== undefined && firstOfB !== undefined, 'the watch saw both holders');
    assert.equal(lastOfA.spec.renewTime, lastHeld.renewTime, 'no renewal of candidate-a after the kill');
    assert.equal(history.indexOf(firstOfB), history.indexOf(lastOfA) + 1, 'B’s takeover is the next write');

    // Safety: both processes stamp times with this host's clock, and B may take over only after it
    // has seen the Lease unchanged for a full lease duration, which started no earlier than A's
    // last renewTime (A stamps it before its write). No margin is needed, and none is allowed.
    assert.ok(
      acquiredMs - lastRenewMs >= leaseDurationMs,
      `candidate-b acquired the Lease ${acquiredMs - lastRenewMs} ms after candidate-a's last renewal (< ${leaseDurationMs} ms)`,
    );
    assert.ok(
      wonAtMs - lastRenewMs >= leaseDurationMs,
      `candidate-b led ${wonAtMs - lastRenewMs} ms after candidate-a's last renewal (< ${leaseDurationMs} ms)`,
    );
    assert.ok(wonAtMs > killedAtMs);
    console.log(
      `# takeover: candidate-b led ${wonAtMs - killedAtMs} ms after the SIGKILL, ` +
        `${wonAtMs - lastRenewMs} ms after candidate-a's last renewal (lease duration ${leaseDurationMs} ms, ` +
        `acquireTime − last renewTime = ${acquiredMs - lastRenewMs} ms)`,
    );

    await b.elector.stop();
    const released = await getLease(leaseName);
    assert.equal(released.holderIdentity, '', 'a graceful stop releases the Lease');
  });

  it('two candidates started together: never both leaders at once, and exactly one holds the Lease', async () => {
    const leaseName = 'race';
    const { history } = await recordLease(leaseName);
    const one = candidate(leaseName, 'racer-1');
    const two = candidate(leaseName, 'racer-2');
    await Promise.all([one.elector.start(), two.elector.start()]);

    const sampleMs = 3 * leaseDurationMs;
    const from = Date.now();
    let samples = 0;
    let both = 0;
    let none = 0;
    while (Date.now() - from < sampleMs) {
      const first = one.elector.isLeader();
      const second = two.elector.isLeader();
      samples += 1;
      if (first && second) both += 1;
      if (!first && !second) none += 1;
      await sleep(100);
    }
    console.log(`# ${samples} samples over ${sampleMs} ms: ${both} with two leaders, ${none} with none`);
    assert.equal(both, 0, 'both candidates reported isLeader() at the same instant');
    // start() resolves after the first check, so one of them leads from the first sample on, and its
    // renewals (every leaseDuration / 3) never let leadership lapse.
    assert.equal(none, 0, 'a sample with no leader');

    const spec = await getLease(leaseName);
    const winner = [one, two].find((c) => c.elector.identity === spec.holderIdentity);
    const loser = [one, two].find((c) => c.elector.identity !== spec.holderIdentity);
    assert.ok(
      winner !== undefined && loser !== undefined,
      `the Lease names one of them: ${spec.holderIdentity}`,
    );
    assert.equal(winner.elector.isLeader(), true, `${winner.elector.identity} holds the Lease and leads`);
    assert.equal(loser.elector.isLeader(), false);
    assert.equal(winner.elector.wins, 1, 'the winner won once');
    assert.equal(loser.elector.wins, 0, 'the loser never won');
    assert.equal(spec.leaseTransitions, 0, 'no transition: the first holder kept it');
    const holders = new Set(history.map((seen) => seen.spec.holderIdentity));
    assert.deepEqual([...holders], [winner.elector.identity], 'only the winner ever held the Lease');
  });
});
