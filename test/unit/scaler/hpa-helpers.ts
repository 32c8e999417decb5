/**
 * Shared data builders for the ports of the HPA controller's unit tests
 * (k8s.io/kubernetes v1.34.4, pkg/controller/podautoscaler/horizontal_test.go and
 * replica_calculator_test.go). Upstream builds events relative to `time.Now()`; here time is a
 * fixed `NOW_MS`, which makes the cut-offs exact instead of racing the wall clock.
 */
import type {
  Behavior,
  DecisionInput,
  ScalingPolicy,
  ScalingRules,
  TimestampedScaleEvent,
} from '../../../src/domain/decision.js';

/** The "now" of every ported case. */
export const NOW_MS = Date.UTC(2026, 0, 1);

/** The epoch-ms timestamp `seconds` before `NOW_MS`. */
export function secondsAgo(seconds: number): number {
  return NOW_MS - seconds * 1000;
}

/** autoscaling/v2 defaults (pkg/apis/autoscaling/v2/defaults.go, defaultHPAScaleUpRules). */
export const DEFAULT_SCALE_UP: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
};

/**
 * autoscaling/v2 defaults (defaultHPAScaleDownRules). Upstream leaves the window nil there and
 * the controller fills in `--horizontal-pod-autoscaler-downscale-stabilization` (5 min).
 */
export const DEFAULT_SCALE_DOWN: ScalingRules = {
  stabilizationWindowSeconds: 300,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
};

export const DEFAULT_BEHAVIOR: Behavior = { scaleUp: DEFAULT_SCALE_UP, scaleDown: DEFAULT_SCALE_DOWN };

/** The default `--horizontal-pod-autoscaler-tolerance` (and the tests' defaultTestingTolerance). */
export const DEFAULT_TOLERANCE = { scaleUp: 0.1, scaleDown: 0.1 } as const;

/**
 * The arguments of upstream's test helper `generateScalingRules(pods, podsPeriod, percent,
 * percentPeriod, stabilizationWindow)`: selectPolicy Max, a Pods policy when `pods != 0`, a
 * Percent policy when `percent != 0`.
 */
export type GeneratedRules = readonly [
  pods: number,
  podsPeriodSeconds: number,
  percent: number,
  percentPeriodSeconds: number,
  stabilizationWindowSeconds: number,
];

/**
 * The rules the controller ends up with for `generateScalingRules(...)`, or for no rules at all:
 * GenerateHPAScaleUpRules / GenerateHPAScaleDownRules keep every field that is set and take the
 * default for the rest (a nil policy list included).
 */
export function resolveRules(generated: GeneratedRules | undefined, defaults: ScalingRules): ScalingRules {
  if (generated === undefined) return defaults;
  const [pods, podsPeriodSeconds, percent, percentPeriodSeconds, stabilizationWindowSeconds] = generated;
  const policies: ScalingPolicy[] = [];
  if (pods !== 0) policies.push({ type: 'Pods', value: pods, periodSeconds: podsPeriodSeconds });
  if (percent !== 0) policies.push({ type: 'Percent', value: percent, periodSeconds: percentPeriodSeconds });
  return {
    stabilizationWindowSeconds,
    selectPolicy: 'Max',
    policies: policies.length > 0 ? policies : defaults.policies,
  };
}

/**
 * Upstream's `generateEventsUniformDistribution(rawEvents, periodSeconds)`: the period before now
 * is cut into equal segments and event i sits in the middle of segment i (the oldest first).
 * Upstream converts the offset with `time.Duration(float)` before multiplying by a second, which
 * truncates it to whole seconds; so does this. `sign` is +1 for scale-ups, -1 for scale-downs (our
 * single list tells them apart by the sign of `replicaChange`).
 */
export function spreadEvents(
  changes: readonly number[],
  periodSeconds: number,
  sign: 1 | -1,
): TimestampedScaleEvent[] {
  const segmentSeconds = periodSeconds / changes.length;
  return changes.map((change, i) => ({
    replicaChange: sign * change,
    timestampMs: secondsAgo(Math.trunc(periodSeconds - segmentSeconds * (i + 1) + segmentSeconds / 2)),
  }));
}

/** A decision input with neutral values, for tests to override. */
export function decisionInput(overrides: Partial<DecisionInput>): DecisionInput {
  return {
    nowMs: NOW_MS,
    currentReplicas: 1,
    readyReplicas: 1,
    statusReplicas: 1,
    minReplicas: 1,
    maxReplicas: 10,
    metrics: [],
    tolerance: DEFAULT_TOLERANCE,
    behavior: DEFAULT_BEHAVIOR,
    recommendations: null,
    scaleEvents: [],
    taskSlots: 1,
    maxParallelism: null,
    ...overrides,
  };
}
