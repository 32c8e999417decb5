/**
 * Port of TestNormalizeDesiredReplicasWithBehavior (k8s.io/kubernetes v1.34.4,
 * pkg/controller/podautoscaler/horizontal_test.go), which drives stabilizeRecommendationWithBehaviors.
 * Ours is `normalizeWithBehavior`: stabilization, then the rate limits. The policies here are wide
 * enough never to bind, so the result is the stabilized value, which `stabilizedReplicas` reports
 * on its own too. Upstream compares only the stored values of the history, not their timestamps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Behavior } from '../../../src/domain/decision.js';
import { normalizeWithBehavior } from '../../../src/scaler/decide.js';
import { NOW_MS, secondsAgo } from './hpa-helpers.js';

/** A recommendation as `[replicas, seconds before now]`. */
type Recommendation = readonly [replicas: number, secondsAgo: number];

interface NormalizeCase {
  readonly name: string;
  readonly recommendations: readonly Recommendation[];
  readonly currentReplicas: number;
  readonly prenormalizedDesiredReplicas: number;
  readonly expectedStabilizedReplicas: number;
  /** The stored values after the call; absent when upstream does not check them. */
  readonly expectedRecommendations?: readonly number[];
  /** Upstream leaves unset windows at 0 in this test (a pointer to the zero value). */
  readonly scaleUpStabilizationWindowSeconds?: number;
  readonly scaleDownStabilizationWindowSeconds?: number;
}

const cases: readonly NormalizeCase[] = [
  {
    name: 'empty recommendations for scaling down',
    recommendations: [],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 5,
    expectedStabilizedReplicas: 5,
    expectedRecommendations: [5],
  },
  {
    name: 'simple scale down stabilization',
    recommendations: [
      [4, 120],
      [5, 60],
    ],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 3,
    expectedStabilizedReplicas: 5,
    expectedRecommendations: [4, 5, 3],
    scaleDownStabilizationWindowSeconds: 180,
  },
  {
    name: 'simple scale up stabilization',
    recommendations: [
      [4, 120],
      [5, 60],
    ],
    currentReplicas: 1,
    prenormalizedDesiredReplicas: 7,
    expectedStabilizedReplicas: 4,
    expectedRecommendations: [4, 5, 7],
    scaleUpStabilizationWindowSeconds: 300,
  },
  {
    name: 'no scale down stabilization',
    recommendations: [
      [1, 120],
      [2, 60],
    ],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 3,
    expectedStabilizedReplicas: 3,
    expectedRecommendations: [1, 2, 3],
    scaleUpStabilizationWindowSeconds: 300,
  },
  {
    name: 'no scale up stabilization',
    recommendations: [
      [4, 120],
      [5, 60],
    ],
    currentReplicas: 1,
    prenormalizedDesiredReplicas: 3,
    expectedStabilizedReplicas: 3,
    expectedRecommendations: [4, 5, 3],
    scaleDownStabilizationWindowSeconds: 300,
  },
  {
    name: 'no scale down stabilization, reuse recommendation element',
    recommendations: [
      [10, 600],
      [9, 540],
    ],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 3,
    expectedStabilizedReplicas: 3,
    expectedRecommendations: [10, 3],
  },
  {
    name: 'no scale up stabilization, reuse recommendation element',
    recommendations: [
      [10, 600],
      [9, 540],
    ],
    currentReplicas: 1,
    prenormalizedDesiredReplicas: 100,
    expectedStabilizedReplicas: 100,
    expectedRecommendations: [10, 100],
  },
  {
    name: 'scale down stabilization, reuse one of obsolete recommendation element',
    recommendations: [
      [10, 600],
      [4, 60],
      [5, 120],
      [9, 540],
    ],
    currentReplicas: 100,
    prenormalizedDesiredReplicas: 3,
    expectedStabilizedReplicas: 5,
    expectedRecommendations: [10, 4, 5, 3],
    scaleDownStabilizationWindowSeconds: 180,
  },
  {
    // Only the first element is older than both windows (300 s up, 0 s down), so it is reused.
    name: 'scale up stabilization, reuse one of obsolete recommendation element',
    recommendations: [
      [10, 6000],
      [6, 60],
      [5, 120],
      [9, 180],
    ],
    currentReplicas: 1,
    prenormalizedDesiredReplicas: 100,
    expectedStabilizedReplicas: 5,
    expectedRecommendations: [100, 6, 5, 9],
    scaleUpStabilizationWindowSeconds: 300,
  },
  {
    name: 'scale up and down stabilization, do not scale up when prenormalized rec goes down',
    recommendations: [
      [2, 6000],
      [3, 180],
    ],
    currentReplicas: 2,
    prenormalizedDesiredReplicas: 1,
    expectedStabilizedReplicas: 2,
    scaleUpStabilizationWindowSeconds: 300,
    scaleDownStabilizationWindowSeconds: 300,
  },
  {
    name: 'scale up and down stabilization, do not scale down when prenormalized rec goes up',
    recommendations: [
      [2, 6000],
      [1, 180],
    ],
    currentReplicas: 2,
    prenormalizedDesiredReplicas: 3,
    expectedStabilizedReplicas: 2,
    scaleUpStabilizationWindowSeconds: 300,
    scaleDownStabilizationWindowSeconds: 300,
  },
];

function wideBehavior(upWindowSeconds: number, downWindowSeconds: number): Behavior {
  return {
    scaleUp: {
      stabilizationWindowSeconds: upWindowSeconds,
      selectPolicy: 'Max',
      policies: [{ type: 'Pods', value: 1_000_000, periodSeconds: 15 }],
    },
    scaleDown: {
      stabilizationWindowSeconds: downWindowSeconds,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    },
  };
}

describe('HPA conformance: stabilization (stabilizeRecommendationWithBehaviors)', () => {
  for (const tc of cases) {
    it(`TestNormalizeDesiredReplicasWithBehavior/${tc.name}`, () => {
      const result = normalizeWithBehavior({
        nowMs: NOW_MS,
        currentReplicas: tc.currentReplicas,
        desiredReplicas: tc.prenormalizedDesiredReplicas,
        minReplicas: 0,
        maxReplicas: 1_000_000,
        behavior: wideBehavior(
          tc.scaleUpStabilizationWindowSeconds ?? 0,
          tc.scaleDownStabilizationWindowSeconds ?? 0,
        ),
        recommendations: tc.recommendations.map(([replicas, ago]) => ({
          replicas,
          timestampMs: secondsAgo(ago),
        })),
        scaleEvents: [],
      });

      assert.equal(result.stabilizedReplicas, tc.expectedStabilizedReplicas);
      assert.equal(result.replicas, tc.expectedStabilizedReplicas);
      // The AbleToScale reason the controller would set for a value held back by a window.
      if (tc.expectedStabilizedReplicas !== tc.prenormalizedDesiredReplicas) {
        assert.equal(
          result.reason,
          tc.prenormalizedDesiredReplicas >= tc.currentReplicas ? 'ScaleUpStabilized' : 'ScaleDownStabilized',
        );
      }
      if (tc.expectedRecommendations !== undefined) {
        assert.deepEqual(
          result.recommendations.map((rec) => rec.replicas),
          tc.expectedRecommendations,
        );
      }
      // The raw proposal is what gets recorded, stamped now.
      assert.ok(
        result.recommendations.some(
          (rec) => rec.replicas === tc.prenormalizedDesiredReplicas && rec.timestampMs === NOW_MS,
        ),
      );
    });
  }
});
