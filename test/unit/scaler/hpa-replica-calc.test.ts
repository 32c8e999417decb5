/**
 * Port of the External-metric cases of replica_calculator_test.go (k8s.io/kubernetes v1.34.4,
 * pkg/controller/podautoscaler): GetExternalMetricReplicas (target type Value, our
 * `proposeForValue`) and GetExternalPerPodMetricReplicas (AverageValue, `proposeForAverageValue`).
 *
 * Units: the test's fake external metrics client returns every level as
 * `resource.NewMilliQuantity(level)` and the metrics client reads it back with `MilliValue()`;
 * targets are passed as milli-values too. So `levels` and the targets are milli-units already,
 * exactly what our `usageMilli` / `targetMilli` are; usage is the sum of the levels.
 *
 * Replica counts: upstream passes `tc.currentReplicas` as the spec replicas for Value targets and
 * as the status replicas for AverageValue targets. Its fake pod lister lists `currentReplicas`
 * Running pods, Ready unless `podReadiness` says otherwise; only Running and Ready pods count for a
 * Value target, so `readyReplicas` is that count.
 *
 * Upstream also checks the usage it reports in the HPA status (`expectedUsage`); that value is not
 * part of the decision and we do not compute it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { MetricTargetType, Tolerance } from '../../../src/domain/decision.js';
import { decide } from '../../../src/scaler/decide.js';
import { proposeForAverageValue, proposeForValue } from '../../../src/scaler/proposal.js';
import { DEFAULT_TOLERANCE, decisionInput } from './hpa-helpers.js';

interface ReplicaCalcCase {
  readonly test: string;
  readonly targetType: MetricTargetType;
  readonly currentReplicas: number;
  /** Pod i is Ready unless `podReadiness[i] === false`. */
  readonly podReadiness?: readonly boolean[];
  readonly levels: readonly number[];
  /** `targetUsage` (Value) or `perPodTargetUsage` (AverageValue), milli-units. */
  readonly targetMilli: number;
  /** `tolerances`; upstream's Tolerances literal is `{scaleDown, scaleUp}`. */
  readonly tolerance?: Tolerance;
  readonly expectedReplicas: number;
}

const cases: readonly ReplicaCalcCase[] = [
  {
    // Upstream declares this one (and ...NoLabels) with metricType podMetric, so it really runs
    // GetMetricReplicas on one pod; as an External Value target the numbers give the same answer:
    // ceil(8600 / 4400 × 1 ready pod) = 2.
    test: 'TestReplicaCalcScaleUpCMExternal',
    targetType: 'Value',
    currentReplicas: 1,
    levels: [8600],
    targetMilli: 4400,
    expectedReplicas: 2,
  },
  {
    // Would be 6 if unready pods counted: ceil(1.95 × 1 ready pod) = 2.
    test: 'TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods',
    targetType: 'Value',
    currentReplicas: 3,
    podReadiness: [false, true, false],
    levels: [8600],
    targetMilli: 4400,
    expectedReplicas: 2,
  },
  {
    test: 'TestReplicaCalcScaleUpCMExternalNoLabels',
    targetType: 'Value',
    currentReplicas: 1,
    levels: [8600],
    targetMilli: 4400,
    expectedReplicas: 2,
  },
  {
    test: 'TestReplicaCalcScaleUpPerPodCMExternal',
    targetType: 'AverageValue',
    currentReplicas: 3,
    levels: [8600],
    targetMilli: 2150,
    expectedReplicas: 4,
  },
  {
    test: 'TestReplicaCalcScaleDownCMExternal',
    targetType: 'Value',
    currentReplicas: 5,
    levels: [8600],
    targetMilli: 14334,
    expectedReplicas: 3,
  },
  {
    test: 'TestReplicaCalcScaleDownPerPodCMExternal',
    targetType: 'AverageValue',
    currentReplicas: 5,
    levels: [8600],
    targetMilli: 2867,
    expectedReplicas: 3,
  },
  {
    test: 'TestReplicaCalcToleranceCMExternal',
    targetType: 'Value',
    currentReplicas: 3,
    levels: [8600],
    targetMilli: 8888,
    expectedReplicas: 3,
  },
  {
    test: 'TestReplicaCalcTolerancePerPodCMExternal',
    targetType: 'AverageValue',
    currentReplicas: 3,
    levels: [8600],
    targetMilli: 2900,
    expectedReplicas: 3,
  },
  {
    // ratio 8900 / 8800 = 1.0114 is past a 1 % scale-up tolerance.
    test: 'TestReplicaCalcConfigurableToleranceCMExternal',
    targetType: 'Value',
    currentReplicas: 3,
    levels: [8900],
    targetMilli: 8800,
    tolerance: { scaleDown: 0.1, scaleUp: 0.01 },
    expectedReplicas: 4,
  },
  {
    test: 'TestReplicaCalcConfigurableTolerancePerPodCMExternal',
    targetType: 'AverageValue',
    currentReplicas: 3,
    levels: [8600],
    targetMilli: 2800,
    tolerance: { scaleDown: 0.1, scaleUp: 0.01 },
    expectedReplicas: 4,
  },
  {
    // Upstream: targetUsage = perPodTargetUsage = MaxInt64, one level of MaxInt64: ratio 1.
    // As JS numbers both are 2^63, and the ratio is still exactly 1.
    test: 'TestExternalPerPodMetricUsageOverflow',
    targetType: 'AverageValue',
    currentReplicas: 1,
    levels: [Number(2n ** 63n - 1n)],
    targetMilli: Number(2n ** 63n - 1n),
    expectedReplicas: 1,
  },
];

function propose(tc: ReplicaCalcCase): number {
  const usageMilli = tc.levels.reduce((sum, level) => sum + level, 0);
  const tolerance = tc.tolerance ?? DEFAULT_TOLERANCE;
  if (tc.targetType === 'Value') {
    const unready = (tc.podReadiness ?? []).filter((ready) => !ready).length;
    return proposeForValue({
      usageMilli,
      targetMilli: tc.targetMilli,
      currentReplicas: tc.currentReplicas,
      readyReplicas: tc.currentReplicas - unready,
      tolerance,
    }).replicas;
  }
  return proposeForAverageValue({
    usageMilli,
    targetMilli: tc.targetMilli,
    statusReplicas: tc.currentReplicas,
    tolerance,
  }).replicas;
}

describe('HPA conformance: External metric proposals (replica calculator)', () => {
  for (const tc of cases) {
    it(`${tc.test}/${tc.targetType}`, () => {
      assert.equal(propose(tc), tc.expectedReplicas);
    });
  }

  it('TestExternalPerPodMetricReplicaOverflow/AverageValue', () => {
    // Upstream: one level of MaxInt64 milli-units, 1 milli per pod, 1 replica: ceil(usage / target)
    // does not fit an int32, so the calculator clamps it to MaxInt32. We compute in JS numbers:
    // the proposal is the plain (finite) quotient, at least MaxInt32, and `decide` bounds it by the
    // scale-up policies and maxReplicas like any other large proposal.
    const usageMilli = Number(2n ** 63n - 1n);
    const proposal = proposeForAverageValue({
      usageMilli,
      targetMilli: 1,
      statusReplicas: 1,
      tolerance: DEFAULT_TOLERANCE,
    });
    assert.ok(Number.isFinite(proposal.replicas));
    assert.ok(proposal.replicas >= 2 ** 31 - 1);
    assert.equal(proposal.replicas, usageMilli);

    const decision = decide(
      decisionInput({
        currentReplicas: 1,
        statusReplicas: 1,
        readyReplicas: 1,
        minReplicas: 1,
        maxReplicas: 50,
        recommendations: [],
        metrics: [{ name: 'qps', type: 'AverageValue', usageMilli, targetMilli: 1 }],
      }),
    );
    assert.equal(decision.proposedReplicas, usageMilli);
    // The default scale-up policies (max(+4, +100 %) per 15 s) bind before maxReplicas.
    assert.equal(decision.desiredReplicas, 5);
    assert.equal(decision.reason, 'ScaleUpLimit');
  });
});
