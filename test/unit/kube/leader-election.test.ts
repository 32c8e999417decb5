// LeaseElector on the in-memory Kubernetes (resourceVersion-guarded writes, a watch) with a fake clock.
// Rounds are driven by mocking only setInterval: a round is "move the fake clock, fire the elector's
// check interval once, let its promises settle". Nothing is timed; the only real waits are stop()'s
// 20 ms polls while a check is still in flight.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';

import { microTime } from '../../../src/kube/events.js';
import { LeaseElector } from '../../../src/kube/leader-election.js';
import type { LeaseSpec } from '../../../src/kube/lease.js';
import { callbackLogger } from '../../../src/observability/logger.js';
import type { Logger } from '../../../src/observability/logger.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { InMemoryKube } from '../../fakes/kube/in-memory-kube.js';
import type { Fault, FaultHook, InjectedFault } from '../../fakes/kube/in-memory-kube.js';

const NAMESPACE = 'ns';
const NAME = 'slotscaler';
const COLLECTION = `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases`;
/** 15 s: the renew interval is then 5 s and the renew deadline 10 s. */
const LEASE_MS = 15_000;
const CHECK_MS = 1_000;

/** One write the server received: what the elector asked for, before the server answered. */
interface Write {
  readonly method: string;
  readonly path: string;
  readonly resourceVersion: string | undefined;
  readonly spec: LeaseSpec;
}

const LEASE = `${COLLECTION}/${NAME}`;

const refusal = (status: number, message: string): Fault => ({ status, message });

/**
 * The Lease as the tests see it, on the in-memory Kubernetes: the writes the electors sent, the
 * Lease as stored, another process's writes, and failures of the next writes.
 */
class LeaseServer {
  readonly kube = new InMemoryKube();
  private outageFault: InjectedFault | undefined;

  /** Hooks run before the next writes, first used first (see `InMemoryKube.inject`). */
  readonly script = {
    push: (hook: FaultHook): void => {
      this.kube.inject({ verb: ['create', 'update'], resource: 'leases' }, hook);
    },
  };

  /** While set, every write is answered with it (an API server outage). */
  set outage(fault: Fault | undefined) {
    this.outageFault?.remove();
    this.outageFault =
      fault === undefined
        ? undefined
        : this.kube.inject({ verb: ['create', 'update'], resource: 'leases', times: Infinity }, fault);
  }

  get writes(): Write[] {
    return this.kube.requests
      .filter((r) => r.resource === 'leases' && (r.verb === 'create' || r.verb === 'update'))
      .map((r) => {
        const body = r.body as { metadata?: { resourceVersion?: string }; spec: LeaseSpec };
        return {
          method: r.method,
          path: r.path,
          resourceVersion: body.metadata?.resourceVersion,
          spec: body.spec,
        };
      });
  }

  /** Puts a Lease in place as some other process wrote it; watchers see it. */
  writeAsOther(spec: LeaseSpec): void {
    this.kube.apply({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: NAME, namespace: NAMESPACE },
      spec,
    });
  }

  /** Deletes the Lease as some other process (an administrator) would; watchers see it. */
  deleteAsOther(): void {
    this.kube.deleteObject(LEASE);
  }

  /** The spec as stored now. */
  spec(): LeaseSpec | undefined {
    return this.kube.read(LEASE)?.spec as LeaseSpec | undefined;
  }

  /** The resourceVersion of the Lease as stored now. */
  version(): string | undefined {
    return this.kube.read(LEASE)?.metadata.resourceVersion;
  }

  /** The electors read only their Lease (by field selector) and write it where it lives. */
  checkRequests(): void {
    for (const request of this.kube.requests) {
      assert.equal(request.resource, 'leases', request.path);
      if (request.verb === 'list' || request.verb === 'watch') {
        assert.ok(request.path.startsWith(`${COLLECTION}?`), request.path);
        assert.equal(request.query['fieldSelector'], `metadata.name=${NAME}`);
      } else if (request.verb === 'create') {
        assert.equal(request.path, COLLECTION);
      } else {
        assert.equal(request.verb, 'update');
        assert.equal(request.path, LEASE);
      }
    }
  }
}

/** A logger that keeps the warnings: a 409 is expected and silent, a 500 is worth a warning. */
function recordingLogger(warnings: string[]): Logger {
  return callbackLogger(
    (_level, msg) => warnings.push(msg),
    (level) => level === 'warn' || level === 'error',
  );
}

/** Lets every promise chain that waits on no timer run to its end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface Candidate {
  readonly elector: LeaseElector;
  readonly started: () => number;
  readonly stopped: () => number;
}

/** A server, a clock shared by the candidates, and `round` to move them all on. */
function harness(t: TestContext) {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const server = new LeaseServer();
  const clock = new FakeClock();
  const warnings: string[] = [];
  const candidates: LeaseElector[] = [];
  const candidate = (identity: string, onStartedLeading?: (elector: LeaseElector) => void): Candidate => {
    let started = 0;
    let stopped = 0;
    const elector: LeaseElector = new LeaseElector({
      client: server.kube,
      namespace: NAMESPACE,
      name: NAME,
      identity,
      leaseDurationMs: LEASE_MS,
      checkIntervalMs: CHECK_MS,
      clock,
      logger: recordingLogger(warnings),
      onStartedLeading: () => {
        started += 1;
        onStartedLeading?.(elector);
      },
      onStoppedLeading: () => {
        stopped += 1;
      },
    });
    candidates.push(elector);
    return { elector, started: () => started, stopped: () => stopped };
  };
  /** Moves the clock by `ms` and lets every candidate check once. */
  const round = async (ms: number): Promise<void> => {
    clock.advance(ms);
    t.mock.timers.tick(CHECK_MS);
    await settle();
  };
  /** Stops every candidate (closing the watches); idempotent. */
  const stopAll = async (): Promise<void> => {
    for (const elector of candidates) await elector.stop();
    server.checkRequests();
    assert.equal(server.kube.openWatches, 0, 'every watch ended');
  };
  return { server, clock, warnings, candidate, round, stopAll };
}

describe('LeaseElector', () => {
  it('creates a missing Lease naming itself, and leads only after onStartedLeading has run', async (t) => {
    const { server, clock, warnings, candidate, stopAll } = harness(t);
    const leaderDuringCallback: boolean[] = [];
    const me = candidate('me', (elector) => leaderDuringCallback.push(elector.isLeader()));
    await me.elector.start();

    assert.deepEqual(
      server.writes.map((w) => w.method),
      ['POST'],
    );
    const now = microTime(clock.nowMs());
    assert.deepEqual(server.spec(), {
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    });
    assert.equal(me.elector.isLeader(), true);
    assert.equal(me.elector.holder(), 'me', 'the answer of its own write is its view of the Lease');
    assert.deepEqual(leaderDuringCallback, [false], 'isLeader() is false until the callback is done');
    assert.equal(me.started(), 1);
    assert.equal(me.elector.wins, 1);
    assert.deepEqual(warnings, []);
    await stopAll();
  });

  it('renews every renew interval, not at every check, keeping acquireTime and leaseTransitions', async (t) => {
    const { server, clock, candidate, round, stopAll } = harness(t);
    const me = candidate('me');
    await me.elector.start();
    const acquired = server.spec()?.acquireTime;
    const created = server.version();
    assert.ok(created !== undefined);

    await round(4_999);
    assert.equal(server.writes.length, 1, 'no renewal before 5 s');
    await round(1);
    assert.equal(server.writes.length, 2);
    assert.equal(server.writes[1]?.method, 'PUT');
    assert.equal(server.writes[1].resourceVersion, created, 'guarded by the version of the Lease it created');
    assert.deepEqual(server.spec(), {
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      acquireTime: acquired,
      renewTime: microTime(clock.nowMs()),
      leaseTransitions: 0,
    });
    // Twelve more seconds, past the renew deadline: each renewal kept the leadership.
    for (let i = 0; i < 12; i++) await round(1_000);
    assert.equal(server.writes.length, 4, 'renewed at 10 s and 15 s');
    assert.equal(me.elector.isLeader(), true);
    assert.equal(me.started(), 1, 'a renewal is not a new term');
    assert.equal(me.stopped(), 0);
    await stopAll();
  });

  it('waits for a Lease held by another to go unchanged for its leaseDurationSeconds by its own clock, then takes it', async (t) => {
    const { server, clock, candidate, round, stopAll } = harness(t);
    // The holder's timestamps are from long ago: a candidate that trusted them would take over at once.
    const old = '2000-01-01T00:00:00.000000Z';
    server.writeAsOther({
      holderIdentity: 'other',
      leaseDurationSeconds: 10,
      acquireTime: old,
      renewTime: old,
      leaseTransitions: 4,
    });
    const me = candidate('me');
    await me.elector.start();
    assert.equal(me.elector.holder(), 'other');

    await round(9_000);
    assert.equal(server.writes.length, 0, 'seen unchanged for 9 s of the Lease’s 10 s');
    // The holder renews: the 10 s start again from when this candidate saw the change.
    server.writeAsOther({ ...server.spec(), renewTime: '2000-01-01T00:00:09.000000Z' });
    await round(9_000);
    await round(999);
    assert.equal(server.writes.length, 0, '18.999 s after start, but 9.999 s after the renewal');
    assert.equal(me.elector.isLeader(), false);

    await round(1);
    assert.equal(server.writes.length, 1);
    const now = microTime(clock.nowMs());
    assert.deepEqual(server.spec(), {
      holderIdentity: 'me',
      leaseDurationSeconds: 15, // its own duration from now on, not the old holder's
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 5,
    });
    assert.equal(me.elector.isLeader(), true);
    assert.equal(me.started(), 1);
    await stopAll();
  });

  it('takes a released Lease (empty holder) at once, counting the transition', async (t) => {
    const { server, candidate, stopAll } = harness(t);
    server.writeAsOther({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      renewTime: microTime(0),
      leaseTransitions: 2,
    });
    const me = candidate('me');
    await me.elector.start();
    assert.equal(server.spec()?.holderIdentity, 'me');
    assert.equal(server.spec()?.leaseTransitions, 3);
    assert.equal(me.elector.isLeader(), true);
    await stopAll();
  });

  it('carries on with a Lease that already names it (a restart) only after a renewal succeeds', async (t) => {
    const { server, clock, warnings, candidate, round, stopAll } = harness(t);
    const before = microTime(clock.nowMs() - 3_000);
    server.writeAsOther({
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      acquireTime: before,
      renewTime: before,
      leaseTransitions: 2,
    });
    server.outage = refusal(503, 'etcd is down');
    const me = candidate('me');
    await me.elector.start();
    assert.equal(server.writes.length, 1);
    assert.equal(me.elector.isLeader(), false, 'the renewal failed: not leading on an old record');
    assert.equal(me.started(), 0);
    assert.deepEqual(warnings, ['cannot update the Lease']);

    server.outage = undefined;
    await round(1_000);
    assert.equal(me.elector.isLeader(), true);
    assert.equal(me.started(), 1);
    assert.deepEqual(server.spec(), {
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      acquireTime: before,
      renewTime: microTime(clock.nowMs()),
      leaseTransitions: 2,
    });
    await stopAll();
  });

  it('stops leading once renewals have failed for the renew deadline, calling onStoppedLeading once', async (t) => {
    const { server, clock, warnings, candidate, round, stopAll } = harness(t);
    const me = candidate('me');
    await me.elector.start();
    server.outage = refusal(500, 'internal error');

    await round(5_000);
    assert.equal(server.writes.length, 2, 'a renewal was tried');
    assert.equal(me.elector.isLeader(), true, '5 s since the last renewal: within the 10 s deadline');
    await round(4_999);
    assert.equal(server.writes.length, 3, 'a failed renewal is tried again at the next check');
    assert.equal(me.elector.isLeader(), true);
    assert.equal(me.stopped(), 0);

    clock.advance(1);
    assert.equal(me.elector.isLeader(), false, 'the deadline holds between checks too');
    await round(0);
    assert.equal(me.stopped(), 1);
    for (let i = 0; i < 5; i++) await round(1_000);
    assert.equal(me.stopped(), 1, 'onStoppedLeading once, however many renewals fail after');
    assert.equal(me.elector.isLeader(), false);
    // Each failed renewal is worth a warning; none of them made a check fail ('leader election step failed').
    assert.deepEqual(new Set(warnings), new Set(['cannot update the Lease']));

    // The Lease still names it (nobody took it over): once a renewal succeeds, a new term begins.
    server.outage = undefined;
    await round(1_000);
    assert.equal(me.elector.isLeader(), true);
    assert.equal(me.started(), 2);
    assert.equal(me.stopped(), 1);
    await stopAll();
  });

  it('an outage is logged once per cause per minute, not at every check', async (t) => {
    const { server, warnings, candidate, round, stopAll } = harness(t);
    const me = candidate('me');
    await me.elector.start();
    server.outage = refusal(503, 'the server is currently unable to handle the request');
    // Two minutes of failed renewals, a check every CHECK_MS.
    for (let elapsed = 0; elapsed < 120_000; elapsed += CHECK_MS) await round(CHECK_MS);
    const failed = server.writes.filter((write) => write.method === 'PUT').length;
    assert.ok(failed > 20, `renewals were tried at every check (${failed})`);
    // The first renewal is due 5 s in: said then, and once more a minute later.
    assert.deepEqual(warnings, ['cannot update the Lease', 'cannot update the Lease']);
    server.outage = undefined;
    await round(CHECK_MS);
    assert.equal(me.elector.isLeader(), true);
    server.outage = refusal(503, 'again');
    await round(LEASE_MS);
    assert.equal(warnings.length, 3, 'after a recovery, a new outage is said at once');
    await stopAll();
  });

  it('a 409 on a renewal is no failure: leadership holds and the next check renews', async (t) => {
    const { server, clock, warnings, candidate, round, stopAll } = harness(t);
    const me = candidate('me');
    await me.elector.start();
    server.script.push(() => refusal(409, 'the object has been modified'));

    await round(5_000);
    assert.equal(server.writes.length, 2);
    assert.equal(server.spec()?.renewTime, microTime(clock.nowMs() - 5_000), 'not renewed');
    assert.equal(me.elector.isLeader(), true);
    await round(1_000);
    assert.equal(server.writes.length, 3, 'retried at the next check');
    assert.equal(server.spec()?.renewTime, microTime(clock.nowMs()));
    assert.equal(me.elector.isLeader(), true);
    assert.deepEqual(warnings, [], 'a conflict is expected, neither a warning nor a failed step');
    assert.equal(me.started(), 1);
    assert.equal(me.stopped(), 0);
    await stopAll();
  });

  it('loses a takeover race with a 409, then waits a full lease duration from the winner’s write', async (t) => {
    const { server, warnings, candidate, round, stopAll } = harness(t);
    server.writeAsOther({ holderIdentity: 'other', leaseDurationSeconds: 10, leaseTransitions: 1 });
    const me = candidate('me');
    await me.elector.start();
    // Just before this candidate's takeover reaches the server, a third one takes the Lease.
    server.script.push(() => {
      server.writeAsOther({ holderIdentity: 'third', leaseDurationSeconds: 10, leaseTransitions: 2 });
      return undefined;
    });

    await round(10_000);
    assert.equal(server.writes.length, 1);
    assert.equal(server.writes[0]?.spec.holderIdentity, 'me');
    assert.equal(server.spec()?.holderIdentity, 'third', 'the stale write was refused');
    assert.equal(me.elector.isLeader(), false);
    assert.equal(me.elector.holder(), 'third');
    assert.equal(me.started(), 0);
    assert.deepEqual(warnings, []);

    await round(9_999);
    assert.equal(server.writes.length, 1, 'the winner’s Lease is fresh');
    await round(1);
    assert.equal(server.writes.length, 2);
    assert.equal(server.spec()?.holderIdentity, 'me');
    assert.equal(server.spec()?.leaseTransitions, 3);
    assert.equal(me.started(), 1);
    await stopAll();
  });

  it('a 409 on create (another candidate created the Lease first) leaves it a follower', async (t) => {
    const { server, warnings, candidate, round, stopAll } = harness(t);
    server.script.push(() => {
      server.writeAsOther({ holderIdentity: 'other', leaseDurationSeconds: 15, leaseTransitions: 0 });
      return undefined;
    });
    const me = candidate('me');
    await me.elector.start();
    assert.deepEqual(
      server.writes.map((w) => w.method),
      ['POST'],
    );
    assert.equal(me.elector.isLeader(), false);
    assert.equal(me.elector.holder(), 'other');
    await round(14_000);
    assert.equal(server.writes.length, 1, 'the new Lease is not expired');
    assert.equal(me.started(), 0);
    assert.deepEqual(warnings, []);
    await stopAll();
  });

  it('stops leading as soon as the watch shows another holder, without fighting for the Lease', async (t) => {
    const { server, candidate, round, stopAll } = harness(t);
    const me = candidate('me');
    await me.elector.start();
    server.writeAsOther({ holderIdentity: 'intruder', leaseDurationSeconds: 15, leaseTransitions: 1 });

    await round(1_000);
    assert.equal(me.elector.isLeader(), false);
    assert.equal(me.stopped(), 1);
    assert.equal(server.writes.length, 1, 'no write: the intruder’s Lease is fresh');
    await me.elector.stop();
    assert.equal(server.writes.length, 1, 'a follower’s stop does not touch the Lease');
    assert.equal(me.stopped(), 1, 'stop does not call onStoppedLeading again');
    await stopAll();
  });

  it('re-creates a Lease deleted under it at the next check, leading on without a break', async (t) => {
    const { server, candidate, round, stopAll } = harness(t);
    const me = candidate('me');
    await me.elector.start();
    server.deleteAsOther();
    assert.equal(me.elector.holder(), undefined);

    await round(1_000);
    assert.deepEqual(
      server.writes.map((w) => w.method),
      ['POST', 'POST'],
    );
    assert.equal(server.spec()?.holderIdentity, 'me');
    assert.equal(me.elector.isLeader(), true);
    assert.equal(me.stopped(), 0, 'never stopped leading');
    assert.equal(me.elector.wins, 1, 'still the first term');
    await stopAll();
  });

  it('a leader’s stop releases the Lease (empty holder, 1 s, transitions kept) and calls onStoppedLeading once', async (t) => {
    const { server, clock, candidate, round, stopAll } = harness(t);
    server.writeAsOther({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 6 });
    const me = candidate('me');
    await me.elector.start();
    assert.equal(server.spec()?.leaseTransitions, 7);
    await round(1_000);
    const taken = server.version();
    assert.ok(taken !== undefined);

    await me.elector.stop();
    assert.equal(server.writes.length, 2);
    assert.equal(server.writes[1]?.resourceVersion, taken, 'guarded like every other write');
    assert.deepEqual(server.spec(), {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      renewTime: microTime(clock.nowMs()),
      // client-go's release keeps LeaderTransitions: the count of holders must survive a rolling restart.
      leaseTransitions: 7,
    });
    assert.equal(me.elector.isLeader(), false);
    assert.equal(me.started(), 1);
    assert.equal(me.stopped(), 1);

    await round(60_000);
    assert.equal(server.writes.length, 2, 'no check runs after stop');
    await stopAll();
    assert.equal(me.stopped(), 1);
  });

  it('a stop that comes while a take-over is being won still releases the Lease', async (t) => {
    const { server, candidate, stopAll } = harness(t);
    server.writeAsOther({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 2 });
    let stopping: Promise<void> | undefined;
    // The stop arrives while onStartedLeading runs: the elector never leads, but the Lease names it.
    const me = candidate('me', (elector) => {
      stopping = elector.stop();
    });
    await me.elector.start();
    await stopping;
    assert.equal(me.elector.isLeader(), false);
    assert.equal(server.spec()?.holderIdentity, '', 'released, so another candidate takes it at once');
    assert.equal(server.spec()?.leaseTransitions, 3);
    await stopAll();
  });

  it('hands over on a graceful stop: the follower takes the released Lease at its next check', async (t) => {
    const { server, candidate, round, stopAll } = harness(t);
    server.writeAsOther({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 2 });
    const a = candidate('a');
    const b = candidate('b');
    await a.elector.start();
    await b.elector.start();
    assert.equal(server.spec()?.holderIdentity, 'a');

    for (let i = 0; i < 20; i++) await round(1_000);
    assert.equal(b.elector.isLeader(), false, 'b never takes a renewed Lease');
    assert.equal(b.started(), 0);
    assert.equal(a.elector.isLeader(), true);

    await a.elector.stop();
    await round(1_000);
    assert.equal(b.elector.isLeader(), true);
    assert.equal(server.spec()?.holderIdentity, 'b');
    assert.equal(server.spec()?.leaseTransitions, 4, 'a’s take and b’s take, counted across the release');
    assert.deepEqual([a.started(), a.stopped(), b.started(), b.stopped()], [1, 1, 1, 0]);
    await stopAll();
  });
});
