/**
 * The consistent-hash ring that shares targets among replicas, and the hand-over rule between
 * replicas whose views of the ring differ.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';
import '../../support/property-seed.js';

import { hashKey, mayClaim, recentEpochs, ShardRing } from '../../../src/scaler/shard-ring.js';
import type { RingEpoch } from '../../../src/scaler/shard-ring.js';

/** Target ids as the registry makes them: kind, namespace, name. */
const keys = Array.from({ length: 10_000 }, (_, i) => `flinkdeployment/team-${i % 37}/job-${i}`);

function shares(ring: ShardRing): Map<string, number> {
  const counts = new Map<string, number>(ring.members.map((m) => [m, 0]));
  for (const key of keys) {
    const owner = ring.ownerOf(key) ?? '';
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return counts;
}

const memberArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
const membersArb = fc.uniqueArray(memberArb, { minLength: 1, maxLength: 8 });

describe('hashKey', () => {
  it('is a 32-bit unsigned integer, the same for the same text', () => {
    const h = hashKey('flink/flinkdeployment/orders');
    assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32);
    assert.equal(hashKey('flink/flinkdeployment/orders'), h);
    assert.notEqual(hashKey('flink/flinkdeployment/orders2'), h);
  });
});

describe('ShardRing', () => {
  it('has no owner when empty, and one replica owns everything alone', () => {
    assert.equal(new ShardRing([]).ownerOf('a/b/c'), undefined);
    const alone = new ShardRing(['only']);
    assert.ok(keys.every((key) => alone.ownerOf(key) === 'only'));
  });

  it('does not depend on the order the members are given in', () => {
    const a = new ShardRing(['r1', 'r2', 'r3']);
    const b = new ShardRing(['r3', 'r1', 'r2', 'r1']);
    assert.ok(a.sameAs(b));
    assert.ok(keys.every((key) => a.ownerOf(key) === b.ownerOf(key)));
  });

  it('shares 10,000 targets among 3 replicas within 12 % of even, and among 10 within 15 %', () => {
    for (const [n, slack] of [
      [3, 0.12],
      [10, 0.15],
    ] as const) {
      const ring = new ShardRing(Array.from({ length: n }, (_, i) => `slotscaler-7d9f8c6b5-${i}x`));
      const even = keys.length / n;
      for (const [member, count] of shares(ring)) {
        assert.ok(
          Math.abs(count - even) <= even * slack,
          `${member} has ${count} of ${keys.length} (even: ${even.toFixed(0)}, ${n} replicas)`,
        );
      }
    }
  });

  it('a replica joining takes keys only for itself: no key moves between replicas that stay', () => {
    fc.assert(
      fc.property(membersArb, memberArb, (members, joiner) => {
        fc.pre(!members.includes(joiner));
        const before = new ShardRing(members, 16);
        const after = new ShardRing([...members, joiner], 16);
        for (const key of keys.slice(0, 500)) {
          const was = before.ownerOf(key);
          const is = after.ownerOf(key);
          assert.ok(is === was || is === joiner, `${key}: ${was} -> ${is}`);
        }
      }),
    );
  });

  it('a replica leaving gives away only its own keys', () => {
    fc.assert(
      fc.property(membersArb, fc.nat(), (members, pick) => {
        fc.pre(members.length >= 2);
        const leaver = members[pick % members.length] ?? '';
        const before = new ShardRing(members, 16);
        const after = new ShardRing(
          members.filter((m) => m !== leaver),
          16,
        );
        for (const key of keys.slice(0, 500)) {
          const was = before.ownerOf(key);
          if (was !== leaver) assert.equal(after.ownerOf(key), was, key);
          else assert.notEqual(after.ownerOf(key), leaver);
        }
      }),
    );
  });

  it('a fourth replica joining three moves about a quarter of the keys', () => {
    const three = new ShardRing(['a-0', 'a-1', 'a-2']);
    const four = new ShardRing(['a-0', 'a-1', 'a-2', 'a-3']);
    const moved = keys.filter((key) => three.ownerOf(key) !== four.ownerOf(key)).length;
    assert.ok(moved > keys.length * 0.18 && moved < keys.length * 0.32, `moved ${moved}`);
  });
});

describe('mayClaim', () => {
  const settleMs = 5_000;
  const ab = new ShardRing(['a', 'b']);
  const abc = new ShardRing(['a', 'b', 'c']);
  /** A key that c takes from a when c joins. */
  const fromA = keys.find((key) => ab.ownerOf(key) === 'a' && abc.ownerOf(key) === 'c') ?? '';
  /** A key that b keeps when c joins. */
  const keptByB = keys.find((key) => ab.ownerOf(key) === 'b' && abc.ownerOf(key) === 'b') ?? '';

  it('never lets a replica claim a key it does not own on the current ring', () => {
    const epochs: RingEpoch[] = [{ ring: abc, sinceMs: 0 }];
    assert.equal(mayClaim(fromA, 'a', epochs, new Set(['a', 'b', 'c']), 100_000, settleMs), false);
    assert.equal(mayClaim(fromA, 'c', epochs, new Set(['a', 'b', 'c']), 100_000, settleMs), true);
  });

  it('a joiner waits settleMs before taking a key from a replica still live', () => {
    const epochs: RingEpoch[] = [
      { ring: ab, sinceMs: 0 },
      { ring: abc, sinceMs: 10_000 },
    ];
    const live = new Set(['a', 'b', 'c']);
    assert.equal(mayClaim(fromA, 'c', epochs, live, 10_000, settleMs), false);
    assert.equal(mayClaim(fromA, 'c', epochs, live, 14_999, settleMs), false);
    assert.equal(mayClaim(fromA, 'c', epochs, live, 15_000, settleMs), true);
  });

  it('a key keeps its owner through a change that does not move it', () => {
    const epochs: RingEpoch[] = [
      { ring: ab, sinceMs: 0 },
      { ring: abc, sinceMs: 10_000 },
    ];
    assert.equal(mayClaim(keptByB, 'b', epochs, new Set(['a', 'b', 'c']), 10_001, settleMs), true);
  });

  it('a key whose former owner is gone is taken at once', () => {
    const a = new ShardRing(['a']);
    const epochs: RingEpoch[] = [
      { ring: ab, sinceMs: 0 },
      { ring: a, sinceMs: 10_000 },
    ];
    const fromB = keys.find((key) => ab.ownerOf(key) === 'b') ?? '';
    assert.equal(mayClaim(fromB, 'a', epochs, new Set(['a']), 10_000, settleMs), true);
  });

  it('changes in quick succession: the wait runs from the oldest ring within settleMs that gave the key to a live other', () => {
    const abcd = new ShardRing(['a', 'b', 'c', 'd']);
    const key = keys.find((k) => ab.ownerOf(k) === 'a' && abc.ownerOf(k) === 'c' && abcd.ownerOf(k) === 'c');
    assert.ok(key !== undefined);
    const epochs: RingEpoch[] = [
      { ring: ab, sinceMs: 0 },
      { ring: abc, sinceMs: 10_000 },
      { ring: abcd, sinceMs: 11_000 },
    ];
    const live = new Set(['a', 'b', 'c', 'd']);
    assert.equal(mayClaim(key, 'c', epochs, live, 12_000, settleMs), false, 'a owned it until 11 s');
    assert.equal(mayClaim(key, 'c', epochs, live, 16_000, settleMs), true);
  });

  it('a replica that just started waits settleMs: it does not know who owned what before', () => {
    const epochs: RingEpoch[] = [
      { ring: null, sinceMs: 0 },
      { ring: abc, sinceMs: 1_000 },
    ];
    const live = new Set(['a', 'b', 'c']);
    assert.equal(mayClaim(fromA, 'c', epochs, live, 1_000, settleMs), false);
    assert.equal(mayClaim(fromA, 'c', epochs, live, 6_000, settleMs), true);
  });

  it('recentEpochs keeps the current epoch and those that ended within settleMs', () => {
    const epochs: RingEpoch[] = [
      { ring: null, sinceMs: 0 },
      { ring: ab, sinceMs: 1_000 },
      { ring: abc, sinceMs: 10_000 },
    ];
    assert.deepEqual(recentEpochs(epochs, 12_000, settleMs), epochs.slice(1));
    assert.deepEqual(recentEpochs(epochs, 15_000, settleMs), epochs.slice(2));
    assert.deepEqual(recentEpochs(epochs, 3_000, settleMs), epochs);
    assert.deepEqual(recentEpochs([], 3_000, settleMs), []);
  });
});
