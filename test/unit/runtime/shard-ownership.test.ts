// ShardOwnership over a membership the test sets: what a replica collects (assigned) and what it
// may write (isLeader), through joins, deaths and its own fence.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { callbackLogger } from '../../../src/observability/logger.js';
import { CLUSTER_DUTIES_KEY, ShardOwnership } from '../../../src/runtime/shard-ownership.js';
import type { Membership } from '../../../src/runtime/shard-ownership.js';
import { ShardRing } from '../../../src/scaler/shard-ring.js';
import { FakeClock } from '../../fakes/fake-clock.js';

const SETTLE_MS = 5_000;
const ids = Array.from({ length: 300 }, (_, i) => `flinkdeployment/ns-${i % 7}/job-${i}`);

class SetMembership implements Membership {
  members = new Set<string>();
  holding = true;
  constructor(private readonly me: string) {}
  live(): ReadonlySet<string> {
    return this.holding ? this.members : new Set([...this.members].filter((m) => m !== this.me));
  }
  holds(): boolean {
    return this.holding;
  }
}

function replica(identity: string, clock: FakeClock) {
  const membership = new SetMembership(identity);
  const lines: { msg: string; target: unknown }[] = [];
  const ownership = new ShardOwnership({
    membership,
    identity,
    clock,
    settleMs: SETTLE_MS,
    logger: callbackLogger(
      (_level, msg, fields) => lines.push({ msg, target: fields['target'] }),
      () => true,
    ),
  });
  const set = (...members: string[]): void => {
    membership.members = new Set(members);
    ownership.refresh();
  };
  return { ownership, membership, lines, set };
}

describe('ShardOwnership', () => {
  it('a replica that just started collects its share at once but writes only after settleMs', () => {
    const clock = new FakeClock();
    const a = replica('a', clock);
    a.set('a', 'b');
    const mine = ids.filter((id) => a.ownership.assigned(id));
    assert.ok(mine.length > 100 && mine.length < 200, `${mine.length} of ${ids.length}`);
    assert.ok(
      mine.every((id) => !a.ownership.isLeader(id)),
      'owners before it are unknown',
    );
    clock.advance(SETTLE_MS);
    assert.ok(mine.every((id) => a.ownership.isLeader(id)));
    assert.ok(ids.filter((id) => !a.ownership.assigned(id)).every((id) => !a.ownership.isLeader(id)));
  });

  it('every target has exactly one writer among replicas that agree on the ring', () => {
    const clock = new FakeClock();
    const all = ['a', 'b', 'c'].map((name) => replica(name, clock));
    for (const r of all) r.set('a', 'b', 'c');
    clock.advance(SETTLE_MS);
    for (const id of [...ids, CLUSTER_DUTIES_KEY]) {
      assert.equal(all.filter((r) => r.ownership.isLeader(id)).length, 1, id);
    }
  });

  it('a joiner waits settleMs while the former owner gives up the moved targets at once', () => {
    const clock = new FakeClock();
    const a = replica('a', clock);
    const c = replica('c', clock);
    a.set('a');
    clock.advance(SETTLE_MS);
    assert.ok(ids.every((id) => a.ownership.isLeader(id)));
    c.set('a', 'c');
    a.set('a', 'c');
    const moved = ids.filter((id) => c.ownership.assigned(id));
    assert.ok(moved.length > 0);
    assert.ok(moved.every((id) => !a.ownership.isLeader(id) && !a.ownership.assigned(id)));
    assert.ok(
      a.lines.filter((l) => l.msg === 'target given up').length >= moved.length,
      'the former owner says it gave them up',
    );
    // c started with a ring it did not know the past of: it waits too.
    assert.ok(moved.every((id) => !c.ownership.isLeader(id)));
    clock.advance(SETTLE_MS);
    assert.ok(moved.every((id) => c.ownership.isLeader(id)));
    assert.ok(ids.filter((id) => !moved.includes(id)).every((id) => a.ownership.isLeader(id)));
  });

  it('the targets of a replica that died are taken at once: it fenced itself before its Lease expired', () => {
    const clock = new FakeClock();
    const a = replica('a', clock);
    a.set('a', 'b');
    clock.advance(SETTLE_MS);
    const ofB = ids.filter((id) => new ShardRing(['a', 'b']).ownerOf(id) === 'b');
    assert.ok(ofB.every((id) => !a.ownership.isLeader(id)));
    a.set('a');
    assert.ok(ofB.every((id) => a.ownership.isLeader(id)));
    assert.deepEqual(
      a.lines.filter((l) => l.msg === 'target taken' && ofB.includes(l.target as string)).length,
      ofB.length,
    );
  });

  it('writes nothing while its own Lease is not fresh, and collects nothing once it is off the ring', () => {
    const clock = new FakeClock();
    const a = replica('a', clock);
    a.set('a', 'b');
    clock.advance(SETTLE_MS);
    const mine = ids.filter((id) => a.ownership.isLeader(id));
    assert.ok(mine.length > 0);
    a.membership.holding = false;
    assert.ok(mine.every((id) => !a.ownership.isLeader(id)));
    a.ownership.refresh();
    assert.ok(ids.every((id) => !a.ownership.assigned(id)));
    assert.deepEqual(a.ownership.members(), ['b']);
  });
});
