/**
 * Controller-level cases of horizontal_test.go (k8s.io/kubernetes v1.34.4,
 * pkg/controller/podautoscaler) run through `decide`: the External-metric ones as they are, and a
 * few CPU ones whose point is the decision flow (missing metrics, seeding, stabilization,
 * configurable tolerance), with the CPU metric replaced by an External Value metric of the same
 * usage ratio and ready pods; those are marked "(adapted)".
 *
 * Setting: upstream's fake scale has `spec.replicas = specReplicas`, `status.replicas =
 * statusReplicas`, and lists `statusReplicas` pods, all Running and Ready. Levels are milli-units
 * (`NewMilliQuantity(level)`). Most of these cases run without a behavior upstream, i.e. on the
 * legacy path (5 min downscale window, scale-up factor 8 set by the test's init()); we always
 * have a behavior, so they run with the default one, and none of the expected values comes near a
 * rate limit on either path. A case that sets no `recommendations` starts with none upstream and is
 * seeded with {current, now}: `null` here; `recommendations: []timestampedRecommendation{}` is `[]`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { DecisionReason, MetricObservation, Tolerance } from '../../../src/domain/decision.js';
import { decide } from '../../../src/scaler/decide.js';
import { DEFAULT_TOLERANCE, decisionInput, secondsAgo } from './hpa-helpers.js';

interface HorizontalCase {
  readonly name: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly specReplicas: number;
  readonly statusReplicas: number;
  /** Defaults to `statusReplicas` (all listed pods Ready). */
  readonly readyReplicas?: number;
  readonly metrics: readonly MetricObservation[];
  readonly tolerance?: Tolerance;
  /** `[replicas, seconds before now]`; null: no history, seeded with {current, now}. */
  readonly recommendations: readonly (readonly [number, number])[] | null;
  readonly expectedDesiredReplicas: number;
  readonly expectedReason: DecisionReason;
}

const qpsValue = (usageMilli: number | null, targetMilli: number): MetricObservation => ({
  name: 'qps',
  type: 'Value',
  usageMilli,
  targetMilli,
});
const qpsAverage = (usageMilli: number | null, targetMilli: number): MetricObservation => ({
  name: 'qps',
  type: 'AverageValue',
  usageMilli,
  targetMilli,
});
/** The CPU metric of an adapted case: usage / target is the utilization ratio upstream computes. */
const cpuAsValue = (usageMilli: number, targetMilli: number): MetricObservation => ({
  name: 'cpu',
  type: 'Value',
  usageMilli,
  targetMilli,
});
/** A metric that could not be computed: a failing external metrics API or an invalid source type. */
const missing = (name: string): MetricObservation => ({
  name,
  type: 'Value',
  usageMilli: null,
  targetMilli: 1,
});

const cases: readonly HorizontalCase[] = [
  {
    name: 'TestScaleUpCMExternal',
    minReplicas: 2,
    maxReplicas: 6,
    specReplicas: 3,
    statusReplicas: 3,
    metrics: [qpsValue(8600, 6666)],
    recommendations: null,
    expectedDesiredReplicas: 4,
    expectedReason: 'DesiredWithinRange',
  },
  {
    name: 'TestScaleUpPerPodCMExternal',
    minReplicas: 2,
    maxReplicas: 6,
    specReplicas: 3,
    statusReplicas: 3,
    metrics: [qpsAverage(8600, 2222)],
    recommendations: null,
    expectedDesiredReplicas: 4,
    expectedReason: 'DesiredWithinRange',
  },
  {
    name: 'TestScaleDownCMExternal',
    minReplicas: 2,
    maxReplicas: 6,
    specReplicas: 5,
    statusReplicas: 5,
    metrics: [qpsValue(8600, 14400)],
    recommendations: [],
    expectedDesiredReplicas: 3,
    expectedReason: 'DesiredWithinRange',
  },
  {
    name: 'TestScaleDownToZeroCMExternal',
    minReplicas: 0,
    maxReplicas: 6,
    specReplicas: 5,
    statusReplicas: 5,
    metrics: [qpsValue(0, 14400)],
    recommendations: [],
    expectedDesiredReplicas: 0,
    expectedReason: 'DesiredWithinRange',
  },
  {
    name: 'TestScaleDownPerPodCMExternal',
    minReplicas: 2,
    maxReplicas: 6,
    specReplicas: 5,
    statusReplicas: 5,
    metrics: [qpsAverage(8600, 3000)],
    recommendations: [],
    expectedDesiredReplicas: 3,
    expectedReason: 'DesiredWithinRange',
  },
  {
    name: 'TestToleranceCMExternal',
    minReplicas: 2,
    maxReplicas: 6,
    specReplicas: 4,
    statusReplicas: 4,
    metrics: [qpsValue(8600, 8666)],
    recommendations: null,
    expectedDesiredReplicas: 4,
    expectedReason: 'DesiredWithinRange',
  },
  {
    name: 'TestTolerancePerPodCMExternal',
    minReplicas: 2,
    maxReplicas: 6,
    specReplicas: 4,
    statusReplicas: 4,
    metrics: [qpsAverage(8600, 2200)],
    recommendations: null,
    expectedDesiredReplicas: 4,
    expectedReason: 'DesiredWithinRange',
  },
  // TestConfigurableTolerance: CPU 1010 + 1030 + 1020 m used of 3000 m requested (102 %, target
  // 100 %), or 900 m of 3000 m (30 %). The case "...ignored as the feature gate is disabled" has no
  // counterpart: we have no feature gate, the tolerance is what the config says.
  {
    name: 'TestConfigurableTolerance/Scaling up because of a 1% configurable tolerance (adapted)',
    minReplicas: 1,
    maxReplicas: 5,
    specReplicas: 3,
    statusReplicas: 3,
    metrics: [cpuAsValue(3060, 3000)],
    tolerance: { scaleUp: 0.01, scaleDown: 0.1 },
    recommendations: null,
    expectedDesiredReplicas: 4,
    expectedReason: 'DesiredWithinRange',
  },
  {
    name: 'TestConfigurableTolerance/No scale-down because of a 90% configurable tolerance (adapted)',
    minReplicas: 1,
    maxReplicas: 5,
    specReplicas: 3,
    statusReplicas: 3,
    metrics: [cpuAsValue(900, 3000)],
    tolerance: { scaleUp: 0.1, scaleDown: 0.9 },
    recommendations: null,
    expectedDesiredReplicas: 3,
    expectedReason: 'DesiredWithinRange',
  },
  {
    name: 'TestConfigurableTolerance/No scaling because of the large default tolerance (adapted)',
    minReplicas: 1,
    maxReplicas: 5,
    specReplicas: 3,
    statusReplicas: 3,
    metrics: [cpuAsValue(3060, 3000)],
    recommendations: null,
    expectedDesiredReplicas: 3,
    expectedReason: 'DesiredWithinRange',
  },
  // CPU 300 + 400 + 500 m of 3000 m (40 %, target 30 %): ceil(4/3 × 3) = 4; the other metric fails.
  {
    name: 'TestScaleUpOneMetricEmpty (adapted)',
    minReplicas: 2,
    maxReplicas: 6,
    specReplicas: 3,
    statusReplicas: 3,
    metrics: [cpuAsValue(1200, 900), missing('qps')],
    recommendations: null,
    expectedDesiredReplicas: 4,
    expectedReason: 'DesiredWithinRange',
  },
  {
    name: 'TestScaleUpOneMetricInvalid (adapted)',
    minReplicas: 2,
    maxReplicas: 6,
    specReplicas: 3,
    statusReplicas: 3,
    metrics: [cpuAsValue(1200, 900), missing('CheddarCheese')],
    recommendations: null,
    expectedDesiredReplicas: 4,
    expectedReason: 'DesiredWithinRange',
  },
  {
    name: 'TestScaleUpBothMetricsEmpty',
    minReplicas: 2,
    maxReplicas: 6,
    specReplicas: 3,
    statusReplicas: 3,
    metrics: [missing('CheddarCheese')],
    recommendations: null,
    expectedDesiredReplicas: 3,
    expectedReason: 'AllMetricsMissing',
  },
  // CPU 100 + 300 + 500 + 250 + 250 m of 5000 m (28 %, target 50 %): ceil(0.56 × 5) = 3.
  {
    name: 'TestNoScaleDownOneMetricInvalid (adapted)',
    minReplicas: 2,
    maxReplicas: 6,
    specReplicas: 5,
    statusReplicas: 5,
    metrics: [cpuAsValue(1400, 2500), missing('CheddarCheese')],
    recommendations: [],
    expectedDesiredReplicas: 5,
    expectedReason: 'MissingMetricsBlockScaleDown',
  },
  {
    name: 'TestNoScaleDownOneMetricEmpty (adapted)',
    minReplicas: 2,
    maxReplicas: 6,
    specReplicas: 5,
    statusReplicas: 5,
    metrics: [cpuAsValue(1400, 2500), missing('qps')],
    recommendations: [],
    expectedDesiredReplicas: 5,
    expectedReason: 'MissingMetricsBlockScaleDown',
  },
  {
    // No history: the seeded {5, now} holds the scale-down to 3 for the downscale window.
    name: 'TestScaleDownStabilizeInitialSize (adapted)',
    minReplicas: 2,
    maxReplicas: 6,
    specReplicas: 5,
    statusReplicas: 5,
    metrics: [cpuAsValue(1400, 2500)],
    recommendations: null,
    expectedDesiredReplicas: 5,
    expectedReason: 'ScaleDownStabilized',
  },
  {
    // CPU 50 % of the target on 3 pods: ceil(0.5 × 3) = 2, held at 4 by the recommendation 1 min ago.
    name: 'TestStabilizeDownscale (adapted)',
    minReplicas: 1,
    maxReplicas: 5,
    specReplicas: 4,
    statusReplicas: 4,
    readyReplicas: 3,
    metrics: [cpuAsValue(1500, 3000)],
    recommendations: [
      [10, 600],
      [4, 60],
    ],
    expectedDesiredReplicas: 4,
    expectedReason: 'ScaleDownStabilized',
  },
  {
    name: 'TestZeroReplicas',
    minReplicas: 3,
    maxReplicas: 5,
    specReplicas: 0,
    statusReplicas: 0,
    metrics: [missing('cpu')],
    recommendations: null,
    expectedDesiredReplicas: 0,
    expectedReason: 'ScalingDisabled',
  },
  {
    name: 'TestTooFewReplicas',
    minReplicas: 3,
    maxReplicas: 5,
    specReplicas: 2,
    statusReplicas: 2,
    metrics: [missing('cpu')],
    recommendations: null,
    expectedDesiredReplicas: 3,
    expectedReason: 'BelowMinReplicas',
  },
  {
    name: 'TestTooManyReplicas',
    minReplicas: 3,
    maxReplicas: 5,
    specReplicas: 10,
    statusReplicas: 10,
    metrics: [missing('cpu')],
    recommendations: null,
    expectedDesiredReplicas: 5,
    expectedReason: 'AboveMaxReplicas',
  },
];

describe('HPA conformance: controller cases (reconcileAutoscaler)', () => {
  for (const tc of cases) {
    it(tc.name, () => {
      const decision = decide(
        decisionInput({
          currentReplicas: tc.specReplicas,
          statusReplicas: tc.statusReplicas,
          readyReplicas: tc.readyReplicas ?? tc.statusReplicas,
          minReplicas: tc.minReplicas,
          maxReplicas: tc.maxReplicas,
          metrics: tc.metrics,
          tolerance: tc.tolerance ?? DEFAULT_TOLERANCE,
          recommendations:
            tc.recommendations === null
              ? null
              : tc.recommendations.map(([replicas, ago]) => ({ replicas, timestampMs: secondsAgo(ago) })),
        }),
      );
      assert.equal(decision.desiredReplicas, tc.expectedDesiredReplicas);
      assert.equal(decision.reason, tc.expectedReason);
      // The controller records a scale event exactly when it rescales.
      assert.equal(decision.scaleEvents.length, tc.expectedDesiredReplicas === tc.specReplicas ? 0 : 1);
    });
  }
});
