/**
 * Properties of `decide` that must hold for any input, checked with fast-check.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';
import '../../support/property-seed.js';

import type {
  Behavior,
  DecisionInput,
  MetricObservation,
  ScalingRules,
  TimestampedRecommendation,
  TimestampedScaleEvent,
} from '../../../src/domain/decision.js';
import { decide, MAX_HISTORY_ENTRIES } from '../../../src/scaler/decide.js';
import { effectiveParallelism } from '../../../src/scaler/parallelism.js';
import { isWithinTolerance } from '../../../src/scaler/proposal.js';
import { NOW_MS } from './hpa-helpers.js';

const timestampArb = fc.integer({ min: 0, max: 2000 }).map((secondsAgo) => NOW_MS - secondsAgo * 1000);

const rulesArb: fc.Arbitrary<ScalingRules> = fc.record({
  stabilizationWindowSeconds: fc.integer({ min: 0, max: 3600 }),
  selectPolicy: fc.constantFrom('Max', 'Min', 'Disabled'),
  policies: fc.array(
    fc.record({
      type: fc.constantFrom('Pods', 'Percent'),
      value: fc.integer({ min: 1, max: 1000 }),
      periodSeconds: fc.integer({ min: 1, max: 1800 }),
    }),
    { maxLength: 3 },
  ),
});

const behaviorArb: fc.Arbitrary<Behavior> = fc.record({ scaleUp: rulesArb, scaleDown: rulesArb });

/** External metrics can be negative, so usage can be too. */
const metricArb = (present: fc.Arbitrary<boolean>): fc.Arbitrary<MetricObservation> =>
  fc.record({
    name: fc.constantFrom('a', 'b', 'c'),
    type: fc.constantFrom('Value', 'AverageValue'),
    usageMilli: fc
      .tuple(present, fc.integer({ min: -1_000_000, max: 100_000_000 }))
      .map(([isPresent, usage]) => (isPresent ? usage : null)),
    targetMilli: fc.integer({ min: 1, max: 1_000_000 }),
  });

const recommendationArb: fc.Arbitrary<TimestampedRecommendation> = fc.record({
  replicas: fc.integer({ min: 0, max: 400 }),
  timestampMs: timestampArb,
});

const scaleEventArb: fc.Arbitrary<TimestampedScaleEvent> = fc.record({
  replicaChange: fc.integer({ min: -100, max: 100 }).filter((change) => change !== 0),
  timestampMs: timestampArb,
});

interface InputOptions {
  readonly metrics?: fc.Arbitrary<readonly MetricObservation[]>;
  readonly behavior?: fc.Arbitrary<Behavior>;
  readonly maxParallelism?: fc.Arbitrary<number | null>;
  readonly recommendations?: fc.Arbitrary<readonly TimestampedRecommendation[] | null>;
  readonly scaleEvents?: fc.Arbitrary<readonly TimestampedScaleEvent[]>;
}

/** Any input: current may be outside [min, max]; min <= max. */
function inputArb(options: InputOptions = {}): fc.Arbitrary<DecisionInput> {
  return fc
    .record({
      bounds: fc
        .tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 200 }))
        .map(([minReplicas, extra]) => ({ minReplicas, maxReplicas: Math.max(1, minReplicas + extra) })),
      currentReplicas: fc.integer({ min: 0, max: 400 }),
      readyShare: fc.double({ min: 0, max: 1, noNaN: true }),
      statusReplicas: fc.integer({ min: 0, max: 400 }),
      metrics: options.metrics ?? fc.array(metricArb(fc.boolean()), { maxLength: 4 }),
      tolerance: fc.record({
        scaleUp: fc.double({ min: 0, max: 0.5, noNaN: true }),
        scaleDown: fc.double({ min: 0, max: 0.5, noNaN: true }),
      }),
      behavior: options.behavior ?? behaviorArb,
      recommendations:
        options.recommendations ?? fc.option(fc.array(recommendationArb, { maxLength: 20 }), { nil: null }),
      scaleEvents: options.scaleEvents ?? fc.array(scaleEventArb, { maxLength: 20 }),
      taskSlots: fc.integer({ min: 1, max: 8 }),
      maxParallelism: options.maxParallelism ?? fc.option(fc.integer({ min: 1, max: 2000 }), { nil: null }),
    })
    .map(({ bounds, readyShare, ...rest }) => ({
      ...rest,
      ...bounds,
      nowMs: NOW_MS,
      readyReplicas: Math.floor(rest.currentReplicas * readyShare),
    }));
}

/** The max TaskManagers `decide` may ask for: maxReplicas, capped by max parallelism, not below min. */
function effectiveMax(input: DecisionInput): number {
  const usable =
    input.maxParallelism === null
      ? Number.POSITIVE_INFINITY
      : Math.ceil(input.maxParallelism / input.taskSlots);
  return Math.max(Math.min(input.maxReplicas, usable), input.minReplicas);
}

/** One metric's proposal, written out from the HPA's replica calculator. */
function expectedProposal(metric: MetricObservation & { usageMilli: number }, input: DecisionInput): number {
  if (metric.type === 'Value') {
    const ratio = metric.usageMilli / metric.targetMilli;
    if (input.currentReplicas === 0) return Math.ceil(ratio);
    if (isWithinTolerance(ratio, input.tolerance)) return input.currentReplicas;
    return Math.ceil(ratio * input.readyReplicas);
  }
  const ratio = metric.usageMilli / (metric.targetMilli * input.statusReplicas);
  if (isWithinTolerance(ratio, input.tolerance)) return input.statusReplicas;
  return Math.ceil(metric.usageMilli / metric.targetMilli);
}

const clamp = (value: number, low: number, high: number): number => Math.min(Math.max(value, low), high);

describe('decide: properties', () => {
  it('stays within [min, max] when current is within', () => {
    fc.assert(
      fc.property(inputArb(), (generated) => {
        const input = {
          ...generated,
          currentReplicas: clamp(generated.currentReplicas, generated.minReplicas, generated.maxReplicas),
        };
        const { desiredReplicas } = decide(input);
        assert.ok(desiredReplicas >= input.minReplicas && desiredReplicas <= input.maxReplicas);
      }),
      { numRuns: 500 },
    );
  });

  it('stays within [min, max] from any current, except when scaling is disabled (current 0, min > 0)', () => {
    fc.assert(
      fc.property(inputArb(), (input) => {
        const decision = decide(input);
        if (input.currentReplicas === 0 && input.minReplicas !== 0) {
          assert.equal(decision.reason, 'ScalingDisabled');
          assert.equal(decision.desiredReplicas, 0);
          return;
        }
        assert.ok(decision.desiredReplicas >= input.minReplicas, 'below min');
        assert.ok(decision.desiredReplicas <= effectiveMax(input), 'above max');
      }),
      { numRuns: 500 },
    );
  });

  it('without history, windows or binding policies, is the largest proposal clamped to [min, max]', () => {
    const open: Behavior = {
      scaleUp: {
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [{ type: 'Pods', value: 1_000_000_000, periodSeconds: 15 }],
      },
      scaleDown: {
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
      },
    };
    fc.assert(
      fc.property(
        inputArb({
          metrics: fc.array(metricArb(fc.constant(true)), { minLength: 1, maxLength: 4 }),
          behavior: fc.constant(open),
          maxParallelism: fc.constant(null),
          recommendations: fc.constant(null),
          scaleEvents: fc.constant([]),
        }),
        (generated) => {
          const currentReplicas = clamp(
            generated.currentReplicas,
            generated.minReplicas,
            generated.maxReplicas,
          );
          // Every metric proposes: a Value target needs a ready TaskManager to scale from.
          const readyReplicas =
            currentReplicas > 0 ? Math.max(1, generated.readyReplicas) : generated.readyReplicas;
          const input = { ...generated, currentReplicas, readyReplicas };
          const proposals = input.metrics.map((metric) => {
            assert.ok(metric.usageMilli !== null);
            return expectedProposal({ ...metric, usageMilli: metric.usageMilli }, input);
          });
          const expected = clamp(Math.max(...proposals), input.minReplicas, input.maxReplicas);
          const { desiredReplicas } = decide(input);
          assert.ok(desiredReplicas === expected, `got ${desiredReplicas}, expected ${expected}`);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never scales down while a metric is missing (current within [min, max])', () => {
    const withAMissingMetric = fc
      .tuple(fc.array(metricArb(fc.boolean()), { maxLength: 3 }), metricArb(fc.constant(false)))
      .chain(([others, absent]) =>
        fc.shuffledSubarray([...others, absent], { minLength: others.length + 1 }),
      );
    fc.assert(
      fc.property(inputArb({ metrics: withAMissingMetric }), (generated) => {
        const input = {
          ...generated,
          currentReplicas: clamp(generated.currentReplicas, generated.minReplicas, effectiveMax(generated)),
        };
        assert.ok(input.metrics.some((metric) => metric.usageMilli === null));
        const { desiredReplicas } = decide(input);
        assert.ok(desiredReplicas >= input.currentReplicas, `${input.currentReplicas} → ${desiredReplicas}`);
      }),
      { numRuns: 500 },
    );
  });

  it('never exceeds max parallelism, and parallelism is TaskManagers × slots otherwise', () => {
    fc.assert(
      fc.property(inputArb(), (input) => {
        const { desiredReplicas, parallelism } = decide(input);
        const uncapped = desiredReplicas * input.taskSlots;
        if (input.maxParallelism === null) {
          assert.equal(parallelism, uncapped);
        } else {
          assert.ok(parallelism <= input.maxParallelism);
          assert.equal(parallelism, Math.min(uncapped, input.maxParallelism));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('returns at most MAX_HISTORY_ENTRIES recommendations and scale events per direction', () => {
    const big = { minLength: 0, maxLength: MAX_HISTORY_ENTRIES + 300, size: 'max' } as const;
    fc.assert(
      fc.property(
        inputArb({
          recommendations: fc.option(fc.array(recommendationArb, big), { nil: null }),
          scaleEvents: fc.array(scaleEventArb, big),
        }),
        (input) => {
          const decision = decide(input);
          assert.ok(decision.recommendations.length <= MAX_HISTORY_ENTRIES);
          const ups = decision.scaleEvents.filter((event) => event.replicaChange > 0).length;
          const downs = decision.scaleEvents.filter((event) => event.replicaChange < 0).length;
          assert.ok(ups <= MAX_HISTORY_ENTRIES && downs <= MAX_HISTORY_ENTRIES);
          assert.equal(ups + downs, decision.scaleEvents.length);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('decide with capacity units: properties', () => {
  const unitsArb = fc.record({
    keyed: fc.boolean(),
    sourcePartitions: fc.option(fc.constantFrom(12, 7, 1, 64), { nil: null }),
  });

  it('without units, or with none known, the decision is the HPA’s, field for field', () => {
    fc.assert(
      fc.property(inputArb(), (input) => {
        const plain = decide(input);
        assert.equal(plain.alignment, null);
        assert.deepEqual(
          decide({ ...input, capacityUnits: { keyGroups: null, sourcePartitions: null } }),
          plain,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('moves the way the HPA does or not at all, within the bounds, never to less capacity than the HPA’s count', () => {
    fc.assert(
      fc.property(inputArb(), unitsArb, (generated, { keyed, sourcePartitions }) => {
        const input = {
          ...generated,
          currentReplicas: clamp(generated.currentReplicas, generated.minReplicas, effectiveMax(generated)),
        };
        // The key groups are the job's max parallelism.
        const units = { keyGroups: keyed ? input.maxParallelism : null, sourcePartitions };
        const hpa = decide(input);
        const aligned = decide({ ...input, capacityUnits: units });
        const current = input.currentReplicas;
        const direction = (replicas: number) => Math.sign(replicas - current);
        if (aligned.desiredReplicas !== current) {
          assert.equal(direction(aligned.desiredReplicas), direction(hpa.desiredReplicas));
        }
        if (hpa.desiredReplicas > current && aligned.desiredReplicas > current) {
          assert.ok(
            effectiveParallelism(aligned.parallelism, units) >= effectiveParallelism(hpa.parallelism, units),
          );
        }
        assert.ok(aligned.desiredReplicas <= Math.max(effectiveMax(input), current));
        // The HPA's histories are kept: alignment changes the count written, not what the HPA remembers.
        assert.deepEqual(aligned.recommendations, hpa.recommendations);
      }),
      { numRuns: 300 },
    );
  });
});
