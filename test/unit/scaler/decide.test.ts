/**
 * `decide` over several ticks: each call gets the histories the previous one returned, and the
 * target is assumed to have been scaled to what was decided, as the controller does between syncs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type {
  Behavior,
  Decision,
  DecisionInput,
  MetricObservation,
  TimestampedRecommendation,
  TimestampedScaleEvent,
} from '../../../src/domain/decision.js';
import { decide, MAX_HISTORY_ENTRIES } from '../../../src/scaler/decide.js';
import { DEFAULT_BEHAVIOR, NOW_MS, decisionInput, secondsAgo } from './hpa-helpers.js';

/** An AverageValue metric that proposes exactly `replicas` (usage = replicas × target). */
function proposing(replicas: number, name = 'lag'): MetricObservation {
  return { name, type: 'AverageValue', usageMilli: replicas * 1000, targetMilli: 1000 };
}

function unavailable(name: string): MetricObservation {
  return { name, type: 'AverageValue', usageMilli: null, targetMilli: 1000 };
}

interface Tick {
  /** Seconds after the first tick. */
  readonly atSeconds: number;
  readonly metrics: readonly MetricObservation[];
}

/** Runs the ticks in order, carrying replicas and histories over, and returns every decision. */
function run(
  start: Partial<DecisionInput> & { currentReplicas: number },
  ticks: readonly Tick[],
): Decision[] {
  let currentReplicas = start.currentReplicas;
  let recommendations: readonly TimestampedRecommendation[] | null = start.recommendations ?? null;
  let scaleEvents: readonly TimestampedScaleEvent[] = start.scaleEvents ?? [];
  const decisions: Decision[] = [];
  for (const tick of ticks) {
    const decision = decide(
      decisionInput({
        ...start,
        nowMs: NOW_MS + tick.atSeconds * 1000,
        currentReplicas,
        statusReplicas: currentReplicas,
        readyReplicas: currentReplicas,
        metrics: tick.metrics,
        recommendations,
        scaleEvents,
      }),
    );
    decisions.push(decision);
    currentReplicas = decision.desiredReplicas;
    recommendations = decision.recommendations;
    scaleEvents = decision.scaleEvents;
  }
  return decisions;
}

function last(decisions: readonly Decision[]): Decision {
  const decision = decisions.at(-1);
  assert.ok(decision);
  return decision;
}

const everySeconds = (fromSeconds: number, toSeconds: number, stepSeconds: number): number[] => {
  const times: number[] = [];
  for (let t = fromSeconds; t <= toSeconds; t += stepSeconds) times.push(t);
  return times;
};

const podsOnly: Behavior = {
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }],
  },
  scaleDown: DEFAULT_BEHAVIOR.scaleDown,
};

describe('decide: downscale stabilization over ticks', () => {
  it('holds a scale-down for the 300 s window, then releases it', () => {
    const times = [...everySeconds(0, 285, 15), 299, 300];
    const decisions = run(
      { currentReplicas: 10, minReplicas: 1, maxReplicas: 20 },
      times.map((atSeconds) => ({ atSeconds, metrics: [proposing(5)] })),
    );
    for (const decision of decisions.slice(0, -1)) {
      assert.equal(decision.desiredReplicas, 10);
      assert.equal(decision.proposedReplicas, 5);
      assert.equal(decision.reason, 'ScaleDownStabilized');
    }
    // At 300 s the seeded {10, 0 s} is no longer strictly inside the window.
    const released = last(decisions);
    assert.equal(released.desiredReplicas, 5);
    assert.equal(released.reason, 'DesiredWithinRange');
    assert.deepEqual(released.scaleEvents, [{ replicaChange: -5, timestampMs: NOW_MS + 300_000 }]);
  });

  it('follows the highest recommendation still inside the window', () => {
    const decisions = run({ currentReplicas: 10, minReplicas: 1, maxReplicas: 20, recommendations: [] }, [
      { atSeconds: 0, metrics: [proposing(8)] }, // no history: straight to 8
      { atSeconds: 100, metrics: [proposing(6)] }, // 8 from 0 s holds
      { atSeconds: 200, metrics: [proposing(4)] }, // 8 holds
      { atSeconds: 300, metrics: [proposing(4)] }, // 8 left the window, 6 from 100 s holds
      { atSeconds: 400, metrics: [proposing(4)] }, // 6 left: 4
    ]);
    assert.deepEqual(
      decisions.map((decision) => decision.desiredReplicas),
      [8, 8, 8, 6, 4],
    );
  });

  it('never holds a scale-up (scale-up window 0)', () => {
    const decisions = run({ currentReplicas: 4, minReplicas: 1, maxReplicas: 20 }, [
      { atSeconds: 0, metrics: [proposing(6)] },
    ]);
    assert.equal(last(decisions).desiredReplicas, 6);
  });
});

describe('decide: scale-ups limited by their own earlier events', () => {
  it('Pods 4 / 15 s: 10 → 14, no more within 15 s of that event, then 18', () => {
    const decisions = run({ currentReplicas: 10, minReplicas: 1, maxReplicas: 100, behavior: podsOnly }, [
      { atSeconds: 0, metrics: [proposing(50)] },
      { atSeconds: 5, metrics: [proposing(50)] },
      { atSeconds: 14, metrics: [proposing(50)] },
      { atSeconds: 15, metrics: [proposing(50)] },
    ]);
    assert.deepEqual(
      decisions.map((decision) => decision.desiredReplicas),
      [14, 14, 14, 18],
    );
    // Between 0 s and 15 s the period started at 10, so the limit is 10 + 4 = current: no change.
    assert.deepEqual(
      decisions.map((decision) => decision.reason),
      ['ScaleUpLimit', 'ScaleUpLimit', 'ScaleUpLimit', 'ScaleUpLimit'],
    );
    assert.deepEqual(
      last(decisions).scaleEvents.map((event) => event.replicaChange),
      [4, 4],
    );
  });

  it('default behavior: max(+4, +100 %) per 15 s: 10 → 20 → 40', () => {
    const decisions = run({ currentReplicas: 10, minReplicas: 1, maxReplicas: 100 }, [
      { atSeconds: 0, metrics: [proposing(50)] },
      { atSeconds: 5, metrics: [proposing(50)] },
      { atSeconds: 15, metrics: [proposing(50)] },
      { atSeconds: 30, metrics: [proposing(50)] },
    ]);
    assert.deepEqual(
      decisions.map((decision) => decision.desiredReplicas),
      [20, 20, 40, 50],
    );
    assert.equal(last(decisions).reason, 'DesiredWithinRange');
  });

  it('a scale-down inside the period widens the next scale-up (period start = current - up + down)', () => {
    const behavior: Behavior = {
      scaleUp: podsOnly.scaleUp,
      scaleDown: {
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [{ type: 'Pods', value: 100, periodSeconds: 15 }],
      },
    };
    const decisions = run({ currentReplicas: 10, minReplicas: 1, maxReplicas: 100, behavior }, [
      { atSeconds: 0, metrics: [proposing(6)] }, // 10 → 6, event -4
      { atSeconds: 5, metrics: [proposing(50)] }, // start = 6 + 4 = 10: limit 14
    ]);
    assert.deepEqual(
      decisions.map((decision) => decision.desiredReplicas),
      [6, 14],
    );
    assert.deepEqual(
      last(decisions).scaleEvents.map((event) => event.replicaChange),
      [8, -4],
    );
  });
});

describe('decide: short-cuts', () => {
  const withHistory = {
    recommendations: [{ replicas: 50, timestampMs: secondsAgo(10) }],
    scaleEvents: [{ replicaChange: 30, timestampMs: secondsAgo(5) }],
  };

  it('current > max: straight to max, past the downscale window and the rate limits', () => {
    const decision = decide(
      decisionInput({
        ...withHistory,
        currentReplicas: 50,
        minReplicas: 1,
        maxReplicas: 5,
        metrics: [proposing(50)],
      }),
    );
    assert.equal(decision.desiredReplicas, 5);
    assert.equal(decision.reason, 'AboveMaxReplicas');
    assert.equal(decision.proposedReplicas, null);
    assert.equal(decision.stabilizedReplicas, null);
    assert.deepEqual(decision.recommendations, withHistory.recommendations);
    assert.deepEqual(decision.scaleEvents, [
      { replicaChange: 30, timestampMs: secondsAgo(5) },
      { replicaChange: -45, timestampMs: NOW_MS },
    ]);
  });

  it('current < min: straight to min, past the scale-up policies', () => {
    const decision = decide(
      decisionInput({ currentReplicas: 1, minReplicas: 30, maxReplicas: 50, metrics: [proposing(1)] }),
    );
    assert.equal(decision.desiredReplicas, 30);
    assert.equal(decision.reason, 'BelowMinReplicas');
    assert.deepEqual(decision.scaleEvents, [{ replicaChange: 29, timestampMs: NOW_MS }]);
  });

  it('current == 0 with min != 0: scaling is disabled, whatever the metrics say', () => {
    const decision = decide(
      decisionInput({ currentReplicas: 0, minReplicas: 1, maxReplicas: 10, metrics: [proposing(8)] }),
    );
    assert.equal(decision.desiredReplicas, 0);
    assert.equal(decision.reason, 'ScalingDisabled');
    assert.equal(decision.parallelism, 0);
    assert.deepEqual(decision.scaleEvents, []);
  });

  it('current == 0 with min == 0: scales from zero by ceil(ratio) of a Value target', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 0,
        readyReplicas: 0,
        statusReplicas: 0,
        minReplicas: 0,
        maxReplicas: 10,
        metrics: [{ name: 'qps', type: 'Value', usageMilli: 2500, targetMilli: 1000 }],
      }),
    );
    assert.equal(decision.proposedReplicas, 3);
    assert.equal(decision.desiredReplicas, 3);
  });
});

describe('decide: missing metrics', () => {
  it('all metrics missing: nothing changes, and nothing is recorded but the seed', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 4,
        minReplicas: 1,
        maxReplicas: 10,
        metrics: [unavailable('a'), unavailable('b')],
      }),
    );
    assert.equal(decision.desiredReplicas, 4);
    assert.equal(decision.reason, 'AllMetricsMissing');
    assert.deepEqual(decision.recommendations, [{ replicas: 4, timestampMs: NOW_MS }]);
    assert.deepEqual(decision.scaleEvents, []);
    assert.deepEqual(
      decision.proposals.map((proposal) => proposal.replicas),
      [null, null],
    );
  });

  it('no metrics at all counts as all missing', () => {
    const decision = decide(decisionInput({ currentReplicas: 4, metrics: [] }));
    assert.equal(decision.reason, 'AllMetricsMissing');
    assert.equal(decision.desiredReplicas, 4);
  });

  it('a missing metric blocks a scale-down the others propose', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 6,
        minReplicas: 1,
        maxReplicas: 10,
        recommendations: [],
        metrics: [proposing(2, 'a'), unavailable('b')],
      }),
    );
    assert.equal(decision.desiredReplicas, 6);
    assert.equal(decision.reason, 'MissingMetricsBlockScaleDown');
  });

  it('a missing metric does not block a scale-up the others propose', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 6,
        minReplicas: 1,
        maxReplicas: 10,
        metrics: [unavailable('a'), proposing(2, 'b'), proposing(8, 'c')],
      }),
    );
    assert.equal(decision.proposedReplicas, 8);
    assert.equal(decision.desiredReplicas, 8);
    assert.equal(decision.reason, 'DesiredWithinRange');
  });

  it('a Value metric with no ready TaskManagers has no proposal, so nothing scales down', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 4,
        readyReplicas: 0,
        metrics: [{ name: 'busy', type: 'Value', usageMilli: 100, targetMilli: 700 }],
      }),
    );
    assert.deepEqual(decision.proposals, [{ name: 'busy', replicas: null, ratio: null }]);
    assert.equal(decision.desiredReplicas, 4);
    assert.equal(decision.reason, 'AllMetricsMissing');
  });

  it('a missing metric with the others at current: no change, not blocked', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 6,
        minReplicas: 1,
        maxReplicas: 10,
        metrics: [unavailable('a'), proposing(6, 'b')],
      }),
    );
    assert.equal(decision.desiredReplicas, 6);
    assert.equal(decision.reason, 'DesiredWithinRange');
  });

  it('a negative proposal (negative External value) counts as 0, as reconcileAutoscaler does', () => {
    // horizontal.go: `desiredReplicas := int32(0)`, then raised only by a larger metric proposal.
    const decision = decide(
      decisionInput({
        currentReplicas: 5,
        readyReplicas: 5,
        minReplicas: 0,
        maxReplicas: 10,
        recommendations: [],
        metrics: [{ name: 'delta', type: 'Value', usageMilli: -3000, targetMilli: 1000 }],
      }),
    );
    assert.equal(decision.proposedReplicas, -15);
    assert.equal(decision.desiredReplicas, 0);
    assert.equal(decision.reason, 'DesiredWithinRange');
    assert.deepEqual(decision.recommendations, [{ replicas: 0, timestampMs: NOW_MS }]);
  });

  it('the largest proposal wins when all are present', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 6,
        minReplicas: 1,
        maxReplicas: 10,
        recommendations: [],
        metrics: [proposing(3, 'a'), proposing(5, 'b'), proposing(4, 'c')],
      }),
    );
    assert.equal(decision.proposedReplicas, 5);
    assert.equal(decision.desiredReplicas, 5);
  });
});

describe('decide: max parallelism', () => {
  it('caps TaskManagers at ceil(maxParallelism / slots) with MaxParallelismLimit', () => {
    // 20 key groups, 4 slots: 5 TaskManagers already give every key group a slot.
    const decision = decide(
      decisionInput({
        currentReplicas: 3,
        minReplicas: 1,
        maxReplicas: 10,
        taskSlots: 4,
        maxParallelism: 20,
        metrics: [proposing(8)],
      }),
    );
    assert.equal(decision.desiredReplicas, 5);
    assert.equal(decision.reason, 'MaxParallelismLimit');
    assert.equal(decision.parallelism, 20);
  });

  it('caps parallelism at maxParallelism when the slots do not divide it', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 7,
        minReplicas: 1,
        maxReplicas: 10,
        taskSlots: 3,
        maxParallelism: 20,
        metrics: [proposing(9)],
      }),
    );
    assert.equal(decision.desiredReplicas, 7); // ceil(20 / 3)
    assert.equal(decision.reason, 'MaxParallelismLimit');
    assert.equal(decision.parallelism, 20); // not 21
  });

  it('TooManyReplicas stays TooManyReplicas when maxReplicas binds before max parallelism', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 3,
        minReplicas: 1,
        maxReplicas: 4,
        taskSlots: 2,
        maxParallelism: 128,
        metrics: [proposing(6)],
      }),
    );
    assert.equal(decision.desiredReplicas, 4);
    assert.equal(decision.reason, 'TooManyReplicas');
    assert.equal(decision.parallelism, 8);
  });

  it('brings a target above the usable count down to it at once', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 9,
        minReplicas: 1,
        maxReplicas: 10,
        taskSlots: 4,
        maxParallelism: 20,
        metrics: [proposing(9)],
      }),
    );
    assert.equal(decision.desiredReplicas, 5);
    assert.equal(decision.reason, 'AboveMaxReplicas');
    assert.equal(decision.parallelism, 20);
  });

  it('never goes below minReplicas for max parallelism', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 8,
        minReplicas: 8,
        maxReplicas: 10,
        taskSlots: 4,
        maxParallelism: 20,
        metrics: [proposing(10)],
      }),
    );
    assert.equal(decision.desiredReplicas, 8);
    assert.equal(decision.parallelism, 20);
  });

  it('parallelism is TaskManagers × slots without a max parallelism', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 3,
        minReplicas: 1,
        maxReplicas: 10,
        taskSlots: 4,
        metrics: [proposing(5)],
      }),
    );
    assert.equal(decision.desiredReplicas, 5);
    assert.equal(decision.parallelism, 20);
  });
});

describe('decide: recommendation seeding', () => {
  it('seeds {current, now} when there is no history, which holds a first scale-down', () => {
    const decision = decide(
      decisionInput({ currentReplicas: 6, minReplicas: 1, maxReplicas: 10, metrics: [proposing(2)] }),
    );
    assert.equal(decision.desiredReplicas, 6);
    assert.equal(decision.reason, 'ScaleDownStabilized');
    assert.deepEqual(decision.recommendations, [
      { replicas: 6, timestampMs: NOW_MS },
      { replicas: 2, timestampMs: NOW_MS },
    ]);
  });

  it('does not seed an empty (but present) history', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 6,
        minReplicas: 1,
        maxReplicas: 10,
        recommendations: [],
        metrics: [proposing(2)],
      }),
    );
    assert.equal(decision.desiredReplicas, 2);
    assert.deepEqual(decision.recommendations, [{ replicas: 2, timestampMs: NOW_MS }]);
  });

  it('returns the seed even when a short-cut skips stabilization', () => {
    const decision = decide(decisionInput({ currentReplicas: 12, minReplicas: 1, maxReplicas: 10 }));
    assert.deepEqual(decision.recommendations, [{ replicas: 12, timestampMs: NOW_MS }]);
  });
});

describe('decide: history bounds', () => {
  it(`keeps at most MAX_HISTORY_ENTRIES (${MAX_HISTORY_ENTRIES}) recommendations, the newest`, () => {
    const count = MAX_HISTORY_ENTRIES + 500;
    // All inside the 300 s downscale window, 100 ms apart, oldest first.
    const recommendations = Array.from({ length: count }, (_, i) => ({
      replicas: 3,
      timestampMs: NOW_MS - (count - i) * 100,
    }));
    const decision = decide(
      decisionInput({
        currentReplicas: 3,
        minReplicas: 1,
        maxReplicas: 10,
        recommendations,
        metrics: [proposing(3)],
      }),
    );
    assert.equal(decision.recommendations.length, MAX_HISTORY_ENTRIES);
    assert.ok(decision.recommendations.some((rec) => rec.timestampMs === NOW_MS));
    const oldestKeptMs = Math.min(...decision.recommendations.map((rec) => rec.timestampMs));
    assert.equal(oldestKeptMs, NOW_MS - (MAX_HISTORY_ENTRIES - 1) * 100);
  });

  it('keeps at most MAX_HISTORY_ENTRIES scale events per direction', () => {
    const count = MAX_HISTORY_ENTRIES + 200;
    const ups = Array.from({ length: count }, (_, i) => ({ replicaChange: 1, timestampMs: NOW_MS - i }));
    const downs = Array.from({ length: count }, (_, i) => ({ replicaChange: -1, timestampMs: NOW_MS - i }));
    const decision = decide(
      decisionInput({
        currentReplicas: 5,
        minReplicas: 1,
        maxReplicas: 10,
        scaleEvents: [...ups, ...downs],
        metrics: [proposing(5)],
      }),
    );
    const keptUps = decision.scaleEvents.filter((event) => event.replicaChange > 0);
    const keptDowns = decision.scaleEvents.filter((event) => event.replicaChange < 0);
    assert.equal(keptUps.length, MAX_HISTORY_ENTRIES);
    assert.equal(keptDowns.length, MAX_HISTORY_ENTRIES);
    // Ups first, then downs, as recordScaleEvent keeps them.
    assert.ok(decision.scaleEvents.slice(0, MAX_HISTORY_ENTRIES).every((event) => event.replicaChange > 0));
  });

  it('drops recommendations older than both windows, but the last of them', () => {
    const decision = decide(
      decisionInput({
        currentReplicas: 5,
        minReplicas: 1,
        maxReplicas: 10,
        recommendations: [
          { replicas: 9, timestampMs: secondsAgo(1000) },
          { replicas: 8, timestampMs: secondsAgo(900) },
          { replicas: 7, timestampMs: secondsAgo(800) },
          { replicas: 5, timestampMs: secondsAgo(10) },
        ],
        metrics: [proposing(5)],
      }),
    );
    // The raw proposal took the place of the last stale entry (800 s); of the others only the
    // last stale one (900 s) stays, to be overwritten next.
    assert.deepEqual(decision.recommendations, [
      { replicas: 8, timestampMs: secondsAgo(900) },
      { replicas: 5, timestampMs: NOW_MS },
      { replicas: 5, timestampMs: secondsAgo(10) },
    ]);
  });

  it('drops scale events older than the longest policy period, but the last of them', () => {
    const scaleEvents = [
      { replicaChange: 1, timestampMs: secondsAgo(100) },
      { replicaChange: 2, timestampMs: secondsAgo(90) },
      { replicaChange: 3, timestampMs: secondsAgo(5) },
      { replicaChange: -4, timestampMs: secondsAgo(100) },
      { replicaChange: -5, timestampMs: secondsAgo(90) },
    ];
    // No scale: only pruning (the default policies' longest period is 15 s).
    const steady = decide(
      decisionInput({
        currentReplicas: 5,
        minReplicas: 1,
        maxReplicas: 10,
        scaleEvents,
        metrics: [proposing(5)],
      }),
    );
    assert.deepEqual(steady.scaleEvents, [
      { replicaChange: 2, timestampMs: secondsAgo(90) },
      { replicaChange: 3, timestampMs: secondsAgo(5) },
      { replicaChange: -5, timestampMs: secondsAgo(90) },
    ]);

    // A scale-up: the new event takes the place of the last outdated one (90 s).
    const scaled = decide(
      decisionInput({
        currentReplicas: 5,
        minReplicas: 1,
        maxReplicas: 10,
        scaleEvents,
        metrics: [proposing(6)],
      }),
    );
    assert.equal(scaled.desiredReplicas, 6);
    assert.deepEqual(scaled.scaleEvents, [
      { replicaChange: 1, timestampMs: secondsAgo(100) },
      { replicaChange: 1, timestampMs: NOW_MS },
      { replicaChange: 3, timestampMs: secondsAgo(5) },
      { replicaChange: -5, timestampMs: secondsAgo(90) },
    ]);
  });
});
