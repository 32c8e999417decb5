/**
 * Effective parallelism and the alignment of a count to key groups and source partitions: tables
 * worked by hand, then properties checked against a brute force written with integers only.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';
import '../../support/property-seed.js';

import type { CapacityUnits } from '../../../src/domain/decision.js';
import {
  alignTaskManagers,
  effectiveParallelism,
  effectiveSubtasks,
  parallelismFor,
} from '../../../src/scaler/parallelism.js';

const KEYED_128: CapacityUnits = { keyGroups: 128, sourcePartitions: null };
const KEYED_32768: CapacityUnits = { keyGroups: 32_768, sourcePartitions: null };

describe('effective subtasks', () => {
  const cases: readonly [units: number, parallelism: number, effective: number][] = [
    [128, 64, 64],
    [128, 65, 64], // the busiest of 65 subtasks holds 2 of 128 key groups, as with 64
    [128, 100, 64],
    [128, 127, 64],
    [128, 128, 128],
    [128, 43, 128 / 3],
    [128, 1, 1],
    [32_768, 100, 32_768 / 328],
    [32_768, 101, 32_768 / 325],
    [32_768, 1024, 1024],
    [12, 5, 4], // 12 partitions over 5 subtasks: the busiest reads 3
    [12, 6, 6],
    [12, 20, 12], // 8 subtasks idle
    [7, 4, 3.5],
    [7, 7, 7],
  ];
  for (const [units, parallelism, effective] of cases) {
    it(`${units} units over ${parallelism} subtasks give ${effective.toFixed(2)}`, () => {
      assert.equal(effectiveSubtasks(units, parallelism), effective);
    });
  }
  it('of a job is the least over its units, never above the parallelism', () => {
    assert.equal(effectiveParallelism(20, { keyGroups: 128, sourcePartitions: 12 }), 12);
    assert.equal(effectiveParallelism(20, { keyGroups: 128, sourcePartitions: null }), 128 / 7);
    assert.equal(effectiveParallelism(20, undefined), 20);
  });
});

describe('alignTaskManagers', () => {
  const cases: readonly {
    readonly name: string;
    readonly units: CapacityUnits;
    readonly needed: number;
    readonly slots: number;
    readonly min?: number;
    readonly max?: number;
    readonly maxParallelism?: number;
    readonly taskManagers: number;
    readonly parallelism: number;
    readonly reached: boolean;
  }[] = [
    {
      name: 'M 128, 1 slot, 100 needed: all 128',
      units: KEYED_128,
      needed: 100,
      slots: 1,
      taskManagers: 128,
      parallelism: 128,
      reached: true,
    },
    {
      name: 'M 128, 1 slot, 64 needed: 64 already aligned',
      units: KEYED_128,
      needed: 64,
      slots: 1,
      taskManagers: 64,
      parallelism: 64,
      reached: true,
    },
    {
      name: 'M 128, 1 slot, 33 needed: 43 (3 key groups each)',
      units: KEYED_128,
      needed: 33,
      slots: 1,
      taskManagers: 43,
      parallelism: 43,
      reached: true,
    },
    {
      name: 'M 128, 2 slots, 34 needed: 22 × 2 = 44',
      units: KEYED_128,
      needed: 34,
      slots: 2,
      taskManagers: 22,
      parallelism: 44,
      reached: true,
    },
    {
      name: 'M 128, 4 slots, 36 needed: 11 × 4 = 44',
      units: KEYED_128,
      needed: 36,
      slots: 4,
      taskManagers: 11,
      parallelism: 44,
      reached: true,
    },
    {
      name: 'M 128, 4 slots, 128 needed: 32 × 4',
      units: KEYED_128,
      needed: 128,
      slots: 4,
      taskManagers: 32,
      parallelism: 128,
      reached: true,
    },
    {
      name: 'M 128, 1 slot, 100 needed, max 100: stays at 64, the rest buys nothing',
      units: KEYED_128,
      needed: 100,
      slots: 1,
      max: 100,
      taskManagers: 64,
      parallelism: 64,
      reached: false,
    },
    {
      name: 'M 128, 2 slots, 100 needed, max 60: 32 × 2 = 64',
      units: KEYED_128,
      needed: 100,
      slots: 2,
      max: 60,
      taskManagers: 32,
      parallelism: 64,
      reached: false,
    },
    {
      name: 'M 32768, 1 slot, 100 needed: 101',
      units: KEYED_32768,
      needed: 100,
      slots: 1,
      taskManagers: 101,
      parallelism: 101,
      reached: true,
    },
    {
      name: 'M 32768, 4 slots, 100 needed: 26 × 4 = 104',
      units: KEYED_32768,
      needed: 100,
      slots: 4,
      taskManagers: 26,
      parallelism: 104,
      reached: true,
    },
    {
      name: 'M 32768, 2 slots, 1000 needed: 512 × 2 = 1024',
      units: KEYED_32768,
      needed: 1000,
      slots: 2,
      taskManagers: 512,
      parallelism: 1024,
      reached: true,
    },
    {
      name: '12 partitions, 1 slot, 5 needed: 6',
      units: { keyGroups: null, sourcePartitions: 12 },
      needed: 5,
      slots: 1,
      taskManagers: 6,
      parallelism: 6,
      reached: true,
    },
    {
      name: '12 partitions, 1 slot, 7 needed: 12',
      units: { keyGroups: null, sourcePartitions: 12 },
      needed: 7,
      slots: 1,
      taskManagers: 12,
      parallelism: 12,
      reached: true,
    },
    {
      name: '12 partitions, 1 slot, 20 needed: 20 for the other vertices',
      units: { keyGroups: null, sourcePartitions: 12 },
      needed: 20,
      slots: 1,
      taskManagers: 20,
      parallelism: 20,
      reached: true,
    },
    {
      name: '7 partitions, 2 slots, 4 needed: 4 × 2 = 8',
      units: { keyGroups: null, sourcePartitions: 7 },
      needed: 4,
      slots: 2,
      taskManagers: 4,
      parallelism: 8,
      reached: true,
    },
    {
      name: '7 partitions, 1 slot, 5 needed, max 6: 4 read as much as 6',
      units: { keyGroups: null, sourcePartitions: 7 },
      needed: 5,
      slots: 1,
      max: 6,
      taskManagers: 4,
      parallelism: 4,
      reached: false,
    },
    {
      name: 'M 128 and 12 partitions, 1 slot, 20 needed: 22',
      units: { keyGroups: 128, sourcePartitions: 12 },
      needed: 20,
      slots: 1,
      taskManagers: 22,
      parallelism: 22,
      reached: true,
    },
    {
      name: 'M 128 and 7 partitions, 4 slots, 8 needed: 2 × 4 = 8',
      units: { keyGroups: 128, sourcePartitions: 7 },
      needed: 8,
      slots: 4,
      taskManagers: 2,
      parallelism: 8,
      reached: true,
    },
    {
      name: 'a min above the need: the min',
      units: { keyGroups: null, sourcePartitions: 12 },
      needed: 4,
      slots: 1,
      min: 10,
      taskManagers: 10,
      parallelism: 10,
      reached: true,
    },
    {
      name: 'max parallelism below the slots: capped',
      units: { keyGroups: 10, sourcePartitions: null },
      needed: 9,
      slots: 4,
      maxParallelism: 10,
      taskManagers: 3,
      parallelism: 10,
      reached: true,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const maxParallelism = c.maxParallelism ?? c.units.keyGroups;
      const aligned = alignTaskManagers({
        neededParallelism: c.needed,
        taskSlots: c.slots,
        minTaskManagers: c.min ?? 1,
        maxTaskManagers: Math.min(
          c.max ?? 10_000,
          maxParallelism === null ? 10_000 : Math.ceil(maxParallelism / c.slots),
        ),
        maxParallelism,
        units: c.units,
      });
      assert.deepEqual(
        { taskManagers: aligned.taskManagers, parallelism: aligned.parallelism, reached: aligned.reached },
        { taskManagers: c.taskManagers, parallelism: c.parallelism, reached: c.reached },
      );
    });
  }
});

/** `units / ceil(units / p) ≥ needed`, in integers. */
function gives(units: number, parallelism: number, needed: number): boolean {
  // Nothing needed is given by any parallelism, none included (`0 × ceil(units / 0)` is NaN).
  return needed === 0 || units >= needed * Math.ceil(units / parallelism);
}

/** What every vertex needs at parallelism p, in integers (the brute force's own reading of the rule). */
function meets(units: CapacityUnits, parallelism: number, needed: number): boolean {
  if (parallelism < needed) return false;
  if (units.keyGroups !== null && !gives(units.keyGroups, parallelism, needed)) return false;
  if (units.sourcePartitions !== null) {
    return gives(units.sourcePartitions, parallelism, Math.min(needed, units.sourcePartitions));
  }
  return true;
}

const alignArb = fc
  .record({
    keyGroups: fc.option(fc.oneof(fc.constantFrom(128, 32_768), fc.integer({ min: 1, max: 4096 })), {
      nil: null,
    }),
    sourcePartitions: fc.option(fc.integer({ min: 1, max: 200 }), { nil: null }),
    slots: fc.constantFrom(1, 2, 3, 4, 8),
    neededTaskManagers: fc.integer({ min: 0, max: 600 }),
    min: fc.integer({ min: 0, max: 50 }),
    max: fc.integer({ min: 1, max: 2000 }),
  })
  .map((args) => {
    const maxParallelism = args.keyGroups;
    const usable =
      maxParallelism === null ? Number.POSITIVE_INFINITY : Math.ceil(maxParallelism / args.slots);
    const max = Math.max(Math.min(args.max, usable), args.min);
    const neededParallelism = parallelismFor(
      Math.min(Math.max(args.neededTaskManagers, args.min), max),
      args.slots,
      maxParallelism,
    );
    return {
      neededParallelism,
      taskSlots: args.slots,
      minTaskManagers: args.min,
      maxTaskManagers: max,
      maxParallelism,
      units: { keyGroups: args.keyGroups, sourcePartitions: args.sourcePartitions },
    };
  });

describe('alignTaskManagers, for any job', () => {
  it('stays within the bounds', () => {
    fc.assert(
      fc.property(alignArb, (args) => {
        const aligned = alignTaskManagers(args);
        assert.ok(
          aligned.taskManagers >= args.minTaskManagers && aligned.taskManagers <= args.maxTaskManagers,
        );
        assert.equal(
          aligned.parallelism,
          parallelismFor(aligned.taskManagers, args.taskSlots, args.maxParallelism),
        );
      }),
    );
  });
  it('never gives fewer effective subtasks than needed when some count within the bounds gives them', () => {
    fc.assert(
      fc.property(alignArb, (args) => {
        const aligned = alignTaskManagers(args);
        const reachable = meets(
          args.units,
          parallelismFor(args.maxTaskManagers, args.taskSlots, args.maxParallelism),
          args.neededParallelism,
        );
        assert.equal(aligned.reached, reachable);
        if (reachable) assert.ok(meets(args.units, aligned.parallelism, args.neededParallelism));
      }),
    );
  });
  it('never leaves a smaller count that gives as much', () => {
    fc.assert(
      fc.property(alignArb, (args) => {
        const aligned = alignTaskManagers(args);
        const p = (taskManagers: number) => parallelismFor(taskManagers, args.taskSlots, args.maxParallelism);
        for (let smaller = args.minTaskManagers; smaller < aligned.taskManagers; smaller += 1) {
          if (aligned.reached) {
            assert.ok(
              !meets(args.units, p(smaller), args.neededParallelism),
              `${smaller} TaskManagers meet the need too`,
            );
          } else {
            // Short of the need: a smaller count gives less somewhere (plain subtasks or effective ones).
            const less =
              p(smaller) < aligned.parallelism && p(smaller) < args.neededParallelism
                ? true
                : effectiveParallelism(p(smaller), args.units) < aligned.effectiveParallelism;
            assert.ok(less, `${smaller} TaskManagers give as much as ${aligned.taskManagers}`);
          }
        }
      }),
    );
  });
});
