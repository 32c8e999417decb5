/**
 * Port of TestStoreScaleEvents (k8s.io/kubernetes v1.34.4, pkg/controller/podautoscaler/
 * horizontal_test.go): storeScaleEvent and markScaleEventsOutdated, our `recordScaleEvent`.
 *
 * Upstream runs every case twice, as scale-ups (10 → 10 + change, in scaleUpEvents) and as
 * scale-downs (10 → 10 - change, in scaleDownEvents). Our single list holds scale-ups with a
 * positive `replicaChange` and scale-downs with a negative one, so the down run uses negated
 * changes. Upstream stores an `outdated` flag; we do not, since it is a function of the timestamp:
 * an event is outdated when it is older than the direction's longest policy period, and the test
 * checks exactly that for every retained event.
 *
 * Upstream also checks getReplicasChangePerPeriod(60, events) before storing. We have no such
 * export; the same sum is read through the limits with a single Pods policy of value 0 and a 60 s
 * period, whose limit is the replica count at the start of the period: `current - added` for
 * scale-ups, `current + removed` for scale-downs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { ScalingRules, TimestampedScaleEvent } from '../../../src/domain/decision.js';
import { scaleDownLimit, scaleUpLimit } from '../../../src/scaler/rate-limits.js';
import { recordScaleEvent } from '../../../src/scaler/scale-events.js';
import type { GeneratedRules } from './hpa-helpers.js';
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, NOW_MS, resolveRules, secondsAgo } from './hpa-helpers.js';

/** A stored event as `[replicaChange, seconds before now]`, with the change as a positive count. */
type StoredEvent = readonly [change: number, secondsAgo: number];

interface StoreScaleEventsCase {
  readonly name: string;
  readonly replicaChange: number;
  readonly prevScaleEvents: readonly StoredEvent[];
  /**
   * `generateScalingRules(...)`. Absent: upstream passes a nil behavior and stores nothing. We
   * always have a behavior (unset fields resolved to the defaults), so those cases run with the
   * default rules of each direction and expect what the controller does with them; see `adapted`.
   */
  readonly scalingRules?: GeneratedRules;
  /** The list after storing: the change (positive) and whether upstream flags it outdated. */
  readonly newScaleEvents: readonly (readonly [change: number, outdated: boolean])[];
  readonly expectedReplicasChange: number;
  /** Why this case's expectation differs from upstream's, when it does. */
  readonly adapted?: string;
}

const cases: readonly StoreScaleEventsCase[] = [
  {
    name: 'empty entries with default behavior',
    replicaChange: 5,
    prevScaleEvents: [],
    newScaleEvents: [[5, false]],
    expectedReplicasChange: 0,
    adapted: 'upstream stores nothing without a behavior (newScaleEvents: []); we always have one',
  },
  {
    name: 'empty entries with two-policy-behavior',
    replicaChange: 5,
    prevScaleEvents: [],
    newScaleEvents: [[5, false]],
    scalingRules: [10, 60, 100, 60, 0],
    expectedReplicasChange: 0,
  },
  {
    name: 'one outdated entry to be kept untouched without behavior',
    replicaChange: 5,
    prevScaleEvents: [[7, 61]],
    // The default rules' longest period is 15 s, so the 61 s old event is outdated and reused.
    newScaleEvents: [[5, false]],
    expectedReplicasChange: 0,
    adapted: 'upstream keeps [7] untouched without a behavior; with the default rules it is replaced',
  },
  {
    name: 'one outdated entry to be replaced with behavior',
    replicaChange: 5,
    prevScaleEvents: [[7, 61]],
    newScaleEvents: [[5, false]],
    scalingRules: [10, 60, 100, 60, 0],
    expectedReplicasChange: 0,
  },
  {
    name: 'one actual entry to be not touched with behavior',
    replicaChange: 5,
    prevScaleEvents: [[7, 58]],
    newScaleEvents: [
      [7, false],
      [5, false],
    ],
    scalingRules: [10, 60, 100, 60, 0],
    expectedReplicasChange: 7,
  },
  {
    name: 'two entries, one of them to be replaced',
    replicaChange: 5,
    prevScaleEvents: [
      [7, 61],
      [6, 59],
    ],
    newScaleEvents: [
      [5, false],
      [6, false],
    ],
    scalingRules: [10, 60, 0, 0, 0],
    expectedReplicasChange: 6,
  },
  {
    name: 'replace one entry, use policies with different periods',
    replicaChange: 5,
    prevScaleEvents: [
      [8, 29],
      [6, 59],
      [7, 61], // outdated, kept
      [9, 61], // outdated, the last one: replaced
    ],
    newScaleEvents: [
      [8, false],
      [6, false],
      [7, true],
      [5, false],
    ],
    scalingRules: [10, 60, 100, 30, 0],
    expectedReplicasChange: 14,
  },
  {
    name: 'two entries, both actual',
    replicaChange: 5,
    prevScaleEvents: [
      [7, 58],
      [6, 59],
    ],
    newScaleEvents: [
      [7, false],
      [6, false],
      [5, false],
    ],
    scalingRules: [10, 120, 100, 30, 0],
    expectedReplicasChange: 13,
  },
];

const changeProbe = (periodSeconds: number): ScalingRules => ({
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [{ type: 'Pods', value: 0, periodSeconds }],
});

function longestPeriodSeconds(rules: ScalingRules): number {
  return Math.max(0, ...rules.policies.map((policy) => policy.periodSeconds));
}

function check(tc: StoreScaleEventsCase, direction: 'up' | 'down'): void {
  const sign = direction === 'up' ? 1 : -1;
  const previous: TimestampedScaleEvent[] = tc.prevScaleEvents.map(([change, ago]) => ({
    replicaChange: sign * change,
    timestampMs: secondsAgo(ago),
  }));
  const scaleUp = resolveRules(tc.scalingRules, DEFAULT_SCALE_UP);
  const scaleDown = resolveRules(tc.scalingRules, DEFAULT_SCALE_DOWN);

  // getReplicasChangePerPeriod(60, events)
  const probe = { nowMs: NOW_MS, currentReplicas: 10, scaleEvents: previous, rules: changeProbe(60) };
  const changeInPeriod = direction === 'up' ? 10 - scaleUpLimit(probe) : scaleDownLimit(probe) - 10;
  assert.equal(changeInPeriod, tc.expectedReplicasChange, `${direction}: replicas changed in 60 s`);

  const stored = recordScaleEvent({
    nowMs: NOW_MS,
    previousReplicas: 10,
    newReplicas: 10 + sign * tc.replicaChange,
    scaleEvents: previous,
    scaleUp,
    scaleDown,
  });
  assert.deepEqual(
    stored.map((event) => event.replicaChange),
    tc.newScaleEvents.map(([change]) => sign * change),
    `${direction}: replica changes`,
  );
  const cutoffMs = NOW_MS - longestPeriodSeconds(direction === 'up' ? scaleUp : scaleDown) * 1000;
  assert.deepEqual(
    stored.map((event) => event.timestampMs < cutoffMs),
    tc.newScaleEvents.map(([, outdated]) => outdated),
    `${direction}: outdated`,
  );
}

describe('HPA conformance: scale event history (storeScaleEvent)', () => {
  for (const tc of cases) {
    it(`TestStoreScaleEvents/${tc.name}${tc.adapted ? ' (adapted)' : ''}`, () => {
      check(tc, 'up');
      check(tc, 'down');
    });
  }
});
