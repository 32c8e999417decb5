/**
 * Port of the HPA controller's rate-limit tests (k8s.io/kubernetes v1.34.4,
 * pkg/controller/podautoscaler/horizontal_test.go): TestScalingWithRules (which calls
 * convertDesiredReplicasWithBehaviorRate, our `limitByRate`), TestCalculateScaleUpLimitWithScalingRules
 * and TestCalculateScaleDownLimitWithBehaviors (our `scaleUpLimit` / `scaleDownLimit`).
 * The numbers are upstream's; the tables are ours.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { RateReason } from '../../../src/scaler/rate-limits.js';
import { limitByRate, scaleDownLimit, scaleUpLimit } from '../../../src/scaler/rate-limits.js';
import type { GeneratedRules } from './hpa-helpers.js';
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, NOW_MS, resolveRules, spreadEvents } from './hpa-helpers.js';

/** `generateEventsUniformDistribution(changes, periodSeconds)`. */
interface SpreadEvents {
  readonly changes: readonly number[];
  readonly periodSeconds: number;
}

interface ScalingWithRulesCase {
  readonly name: string;
  readonly currentReplicas: number;
  readonly prenormalizedDesiredReplicas: number;
  readonly specMinReplicas: number;
  readonly specMaxReplicas: number;
  /** Absent: upstream passes nil, and GenerateHPAScaleUpRules(nil) gives the defaults. */
  readonly scaleUpRules?: GeneratedRules;
  /** Absent: GenerateHPAScaleDownRules(nil) gives the defaults. */
  readonly scaleDownRules?: GeneratedRules;
  readonly scaleUpEvents?: SpreadEvents;
  readonly scaleDownEvents?: SpreadEvents;
  readonly expectedReplicas: number;
  readonly expectedCondition: RateReason;
}

const scalingWithRulesCases: readonly ScalingWithRulesCase[] = [
  {
    name: 'prenormalized desired replicas within range',
    currentReplicas: 5,
    prenormalizedDesiredReplicas: 7,
    specMinReplicas: 3,
    specMaxReplicas: 8,
    expectedReplicas: 7,
    expectedCondition: 'DesiredWithinRange',
  },
  {
    name: 'prenormalized desired replicas < minReplicas',
    currentReplicas: 3,
    prenormalizedDesiredReplicas: 1,
    specMinReplicas: 2,
    specMaxReplicas: 8,
    expectedReplicas: 2,
    expectedCondition: 'TooFewReplicas',
  },
  {
    name: 'prenormalized desired replicas within range when minReplicas is 0',
    currentReplicas: 1,
    prenormalizedDesiredReplicas: 0,
    specMinReplicas: 0,
    specMaxReplicas: 10,
    expectedReplicas: 0,
    expectedCondition: 'DesiredWithinRange',
  },
  {
    name: 'maxReplicas is the limit because maxReplicas < scaleUpLimit',
    currentReplicas: 20,
    prenormalizedDesiredReplicas: 1000,
    specMinReplicas: 1,
    specMaxReplicas: 10,
    expectedReplicas: 10,
    expectedCondition: 'TooManyReplicas',
  },
  {
    name: 'desired replica count is more than the maximum replica count',
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 1000,
    specMinReplicas: 100,
    specMaxReplicas: 150,
    expectedReplicas: 150,
    expectedCondition: 'TooManyReplicas',
  },
  {
    name: 'scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies',
    currentReplicas: 3,
    prenormalizedDesiredReplicas: 1000,
    specMinReplicas: 1,
    specMaxReplicas: 2000,
    scaleUpRules: [0, 0, 1, 60, 0],
    expectedReplicas: 4,
    expectedCondition: 'ScaleUpLimit',
  },
  {
    // Upstream marks this case `testThis: true`, which makes its loop skip it; it holds all the same.
    name: 'scaleDownLimit is the limit because scaleDownLimit > minReplicas with user defined policies',
    currentReplicas: 1000,
    prenormalizedDesiredReplicas: 3,
    specMinReplicas: 3,
    specMaxReplicas: 2000,
    scaleDownRules: [20, 60, 0, 0, 0],
    expectedReplicas: 980,
    expectedCondition: 'ScaleDownLimit',
  },
  {
    name: 'scaleUp with default behavior',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 50,
    expectedReplicas: 20,
    expectedCondition: 'ScaleUpLimit',
  },
  {
    name: 'scaleUp with pods policy larger than percent policy',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [100, 60, 100, 60, 0],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 500,
    expectedReplicas: 110,
    expectedCondition: 'ScaleUpLimit',
  },
  {
    name: 'scaleUp with percent policy larger than pods policy',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [2, 60, 100, 60, 0],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 500,
    expectedReplicas: 20,
    expectedCondition: 'ScaleUpLimit',
  },
  {
    name: 'scaleUp with spec MaxReplicas limitation with large pod policy',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [100, 60, 0, 0, 0],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 50,
    expectedReplicas: 50,
    expectedCondition: 'DesiredWithinRange',
  },
  {
    name: 'scaleUp with spec MaxReplicas limitation with large percent policy',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [10000, 60, 0, 0, 0],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 50,
    expectedReplicas: 50,
    expectedCondition: 'DesiredWithinRange',
  },
  {
    name: 'scaleUp with pod policy limitation',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [30, 60, 0, 0, 0],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 50,
    expectedReplicas: 40,
    expectedCondition: 'ScaleUpLimit',
  },
  {
    name: 'scaleUp with percent policy limitation',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [0, 0, 200, 60, 0],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 50,
    expectedReplicas: 30,
    expectedCondition: 'ScaleUpLimit',
  },
  {
    name: 'scaleDown with percent policy larger than pod policy',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [20, 60, 1, 60, 300],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 2,
    expectedReplicas: 80,
    expectedCondition: 'ScaleDownLimit',
  },
  {
    name: 'scaleDown with pod policy larger than percent policy',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [2, 60, 1, 60, 300],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 2,
    expectedReplicas: 98,
    expectedCondition: 'ScaleDownLimit',
  },
  {
    name: 'scaleDown with spec MinReplicas=nil limitation with large pod policy',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [100, 60, 0, 0, 300],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 0,
    expectedReplicas: 1,
    expectedCondition: 'TooFewReplicas',
  },
  {
    name: 'scaleDown with spec MinReplicas limitation with large pod policy',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [100, 60, 0, 0, 300],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 0,
    expectedReplicas: 1,
    expectedCondition: 'TooFewReplicas',
  },
  {
    name: 'scaleDown with spec MinReplicas limitation with large percent policy',
    specMinReplicas: 5,
    specMaxReplicas: 1000,
    scaleDownRules: [0, 0, 100, 60, 300],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 2,
    expectedReplicas: 5,
    expectedCondition: 'TooFewReplicas',
  },
  {
    name: 'scaleDown with pod policy limitation',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [5, 60, 0, 0, 300],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 2,
    expectedReplicas: 5,
    expectedCondition: 'ScaleDownLimit',
  },
  {
    name: 'scaleDown with percent policy limitation',
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [0, 0, 50, 60, 300],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 5,
    expectedReplicas: 5,
    expectedCondition: 'DesiredWithinRange',
  },
  {
    // Events at -100 s, -60 s, -20 s: only the +9 is strictly inside the 60 s period.
    name: 'scaleUp with spec MaxReplicas limitation with large pod policy and events',
    scaleUpEvents: { changes: [1, 5, 9], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 200,
    scaleUpRules: [300, 60, 0, 0, 0],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 500,
    expectedReplicas: 200,
    expectedCondition: 'TooManyReplicas',
  },
  {
    name: 'scaleUp with spec MaxReplicas limitation with large percent policy and events',
    scaleUpEvents: { changes: [1, 5, 9], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 200,
    scaleUpRules: [0, 0, 10000, 60, 0],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 500,
    expectedReplicas: 200,
    expectedCondition: 'TooManyReplicas',
  },
  {
    // 120 s ago there were 100 - 15 = 85; Pods 5 allows 90 < current, so the limit is current.
    name: 'scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events',
    scaleUpEvents: { changes: [1, 5, 9], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [5, 120, 0, 0, 0],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 500,
    expectedReplicas: 100,
    expectedCondition: 'ScaleUpLimit',
  },
  {
    name: 'scaleUp with pod policy and previous scale up events',
    scaleUpEvents: { changes: [1, 5, 9], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [150, 120, 0, 0, 0],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 500,
    expectedReplicas: 235, // 100 - 15 + 150
    expectedCondition: 'ScaleUpLimit',
  },
  {
    name: 'scaleUp with percent policy and previous scale up events',
    scaleUpEvents: { changes: [1, 5, 9], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [0, 0, 200, 120, 0],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 500,
    expectedReplicas: 255, // (100 - 15) × 3
    expectedCondition: 'ScaleUpLimit',
  },
  {
    name: 'scaleUp with percent policy and previous scale up and down events',
    scaleUpEvents: { changes: [4], periodSeconds: 120 },
    scaleDownEvents: { changes: [2], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [0, 0, 300, 300, 0],
    currentReplicas: 6,
    prenormalizedDesiredReplicas: 24,
    expectedReplicas: 16, // (6 - 4 + 2) × 4
    expectedCondition: 'ScaleUpLimit',
  },
  {
    name: 'scaleDown with default policy and previous events',
    scaleDownEvents: { changes: [1, 5, 9], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 5,
    expectedReplicas: 5,
    expectedCondition: 'DesiredWithinRange',
  },
  {
    name: 'scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events',
    scaleDownEvents: { changes: [1, 5, 9], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [115, 120, 0, 0, 300],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 0,
    expectedReplicas: 1,
    expectedCondition: 'TooFewReplicas',
  },
  {
    name: 'scaleDown with spec MinReplicas limitation with large pod policy and previous events',
    scaleDownEvents: { changes: [1, 5, 9], periodSeconds: 120 },
    specMinReplicas: 5,
    specMaxReplicas: 1000,
    scaleDownRules: [130, 120, 0, 0, 300],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 0,
    expectedReplicas: 5,
    expectedCondition: 'TooFewReplicas',
  },
  {
    name: 'scaleDown with spec MinReplicas limitation with large percent policy and previous events',
    scaleDownEvents: { changes: [1, 5, 9], periodSeconds: 120 },
    specMinReplicas: 5,
    specMaxReplicas: 1000,
    scaleDownRules: [0, 0, 100, 120, 300],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 2,
    expectedReplicas: 5,
    expectedCondition: 'TooFewReplicas',
  },
  {
    name: 'scaleDown with pod policy limitation and previous events',
    scaleDownEvents: { changes: [1, 5, 9], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [5, 120, 0, 0, 300],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 2,
    expectedReplicas: 100, // 100 + 15 - 5 = 110 > current: keep current
    expectedCondition: 'ScaleDownLimit',
  },
  {
    name: 'scaleDown with percent policy limitation and previous events',
    scaleDownEvents: { changes: [2, 4, 6], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [0, 0, 50, 120, 300],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 0,
    expectedReplicas: 56, // (100 + 12) × 50%
    expectedCondition: 'ScaleDownLimit',
  },
  {
    name: 'scaleDown with percent policy and previous scale up and down events',
    scaleUpEvents: { changes: [2], periodSeconds: 120 },
    scaleDownEvents: { changes: [4], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [0, 0, 50, 180, 0],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 1,
    expectedReplicas: 6, // (10 - 2 + 4) × 50%
    expectedCondition: 'ScaleDownLimit',
  },
  {
    name: 'scaleDown with previous events preventing further scale down',
    scaleDownEvents: { changes: [10, 10, 10], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [0, 0, 10, 120, 300],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 0,
    expectedReplicas: 100, // (100 + 30) × 90% = 117 > current: keep current
    expectedCondition: 'ScaleDownLimit',
  },
  {
    name: 'scaleDown with with previous events still allowing more scale down',
    scaleDownEvents: { changes: [10, 10, 10], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [0, 0, 1000, 120, 300],
    currentReplicas: 10,
    prenormalizedDesiredReplicas: 5,
    expectedReplicas: 5, // (10 + 30) × (1 - 1000%) = -360 < 5
    expectedCondition: 'DesiredWithinRange',
  },
  {
    name: "check 'outdated' flag for events for one behavior for up",
    scaleUpEvents: { changes: [8, 12, 9, 11], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [1000, 60, 0, 0, 0],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 200,
    expectedReplicas: 200,
    expectedCondition: 'DesiredWithinRange',
  },
  {
    name: "check that events were not marked 'outdated' for two different policies in the behavior for up",
    scaleUpEvents: { changes: [8, 12, 9, 11], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [1000, 120, 100, 60, 0],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 200,
    expectedReplicas: 200,
    expectedCondition: 'DesiredWithinRange',
  },
  {
    name: "check that events were marked 'outdated' for two different policies in the behavior for up",
    scaleUpEvents: { changes: [8, 12, 9, 11], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleUpRules: [1000, 30, 100, 60, 0],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 200,
    expectedReplicas: 200,
    expectedCondition: 'DesiredWithinRange',
  },
  {
    name: "check 'outdated' flag for events for one behavior for down",
    scaleDownEvents: { changes: [8, 12, 9, 11], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [1000, 60, 0, 0, 300],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 5,
    expectedReplicas: 5,
    expectedCondition: 'DesiredWithinRange',
  },
  {
    name: "check that events were not marked 'outdated' for two different policies in the behavior for down",
    scaleDownEvents: { changes: [8, 12, 9, 11], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [1000, 120, 100, 60, 300],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 5,
    expectedReplicas: 5,
    expectedCondition: 'DesiredWithinRange',
  },
  {
    name: "check that events were marked 'outdated' for two different policies in the behavior for down",
    scaleDownEvents: { changes: [8, 12, 9, 11], periodSeconds: 120 },
    specMinReplicas: 1,
    specMaxReplicas: 1000,
    scaleDownRules: [1000, 30, 100, 60, 300],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 5,
    expectedReplicas: 5,
    expectedCondition: 'DesiredWithinRange',
  },
];

describe('HPA conformance: rate limits (convertDesiredReplicasWithBehaviorRate)', () => {
  for (const tc of scalingWithRulesCases) {
    it(`TestScalingWithRules/${tc.name}`, () => {
      const scaleEvents = [
        ...(tc.scaleUpEvents
          ? spreadEvents(tc.scaleUpEvents.changes, tc.scaleUpEvents.periodSeconds, 1)
          : []),
        ...(tc.scaleDownEvents
          ? spreadEvents(tc.scaleDownEvents.changes, tc.scaleDownEvents.periodSeconds, -1)
          : []),
      ];
      const result = limitByRate({
        nowMs: NOW_MS,
        currentReplicas: tc.currentReplicas,
        desiredReplicas: tc.prenormalizedDesiredReplicas,
        minReplicas: tc.specMinReplicas,
        maxReplicas: tc.specMaxReplicas,
        scaleEvents,
        behavior: {
          scaleUp: resolveRules(tc.scaleUpRules, DEFAULT_SCALE_UP),
          scaleDown: resolveRules(tc.scaleDownRules, DEFAULT_SCALE_DOWN),
        },
      });
      assert.deepEqual(result, { replicas: tc.expectedReplicas, reason: tc.expectedCondition });
    });
  }
});

/** Both upstream tests use the same rules: selectPolicy Min, Pods 2 / 60 s and Percent 50 / 60 s. */
const minChangeRules = {
  stabilizationWindowSeconds: 300,
  selectPolicy: 'Min',
  policies: [
    { type: 'Pods', value: 2, periodSeconds: 60 },
    { type: 'Percent', value: 50, periodSeconds: 60 },
  ],
} as const;

describe('HPA conformance: policy limits', () => {
  it('TestCalculateScaleUpLimitWithScalingRules/min change policy', () => {
    // min(1 + 2, ceil(1 × 1.5)) = 2
    assert.equal(
      scaleUpLimit({ nowMs: NOW_MS, currentReplicas: 1, scaleEvents: [], rules: minChangeRules }),
      2,
    );
  });
  it('TestCalculateScaleDownLimitWithBehaviors/min change policy', () => {
    // max(5 - 2, trunc(5 × 0.5)) = 3
    assert.equal(
      scaleDownLimit({ nowMs: NOW_MS, currentReplicas: 5, scaleEvents: [], rules: minChangeRules }),
      3,
    );
  });
});
