// The scaling loop and `slotscaler simulate` reach the same plan from the same inputs: a target's
// config, its TaskManagers and slots, the tick's readings and its histories (the loop reads them
// from the status annotation, the simulator holds them in memory).
import { PARALLELISM_OVERRIDES, formatOverrides } from '../../../src/kube/adapters/flink-deployment.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import '../../support/property-seed.js';
import type { MetricReading } from '../../../src/domain/metrics.js';
import { STATUS_ANNOTATION } from '../../../src/kube/adapters/adapter.js';
import { decodeStatus, encodeStatus } from '../../../src/kube/status-annotation.js';
import type { RegisteredTarget } from '../../../src/kube/target-registry.js';
import type { WindowReadings } from '../../../src/metrics/metric-window.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ScalingLoop } from '../../../src/runtime/scaling-loop.js';
import { planTarget } from '../../../src/scaler/plan-target.js';
import type { PlanHistory } from '../../../src/scaler/plan-target.js';
import { simulatedPlanInput, slotscalerPolicy } from '../../../src/simulate/run.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { FakeEvents } from '../../fakes/fake-events.js';
import { FakeWriter } from '../../fakes/fake-writer.js';
import { flinkDeployment, register } from '../../fakes/flink-deployment-target.js';
import { windowReadings } from '../../fakes/window-readings.js';

const NOW = Date.UTC(2026, 5, 1);

const worlds = fc.record({
  target: fc.integer({ min: 2, max: 9 }).map((tenths) => tenths / 10),
  maxTaskmanagers: fc.integer({ min: 1, max: 12 }),
  mode: fc.constantFrom('scale', 'recommend'),
  cooldownSeconds: fc.integer({ min: 0, max: 300 }),
  scaleDownSeconds: fc.integer({ min: 0, max: 600 }),
  replicas: fc.integer({ min: 1, max: 12 }),
  slots: fc.integer({ min: 1, max: 4 }),
  busy: fc.oneof(
    fc.integer({ min: 0, max: 2000 }).map((milli): MetricReading => ({ value: milli / 1000 })),
    fc.constantFrom<MetricReading>({ unavailable: 'stale' }, { unavailable: 'not-enough-samples' }),
  ),
  state: fc.constantFrom('RUNNING', 'RESTARTING'),
  spanSeconds: fc.integer({ min: 0, max: 300 }),
  rescaledSecondsAgo: fc.option(fc.integer({ min: 0, max: 900 })),
  recommendations: fc.option(
    fc.array(
      fc.record({ replicas: fc.integer({ min: 0, max: 12 }), secondsAgo: fc.integer({ min: 0, max: 900 }) }),
      {
        maxLength: 6,
      },
    ),
  ),
});

type World = typeof worlds extends fc.Arbitrary<infer T> ? T : never;

function annotationsOf(world: World): Record<string, string> {
  return {
    'slotscaler.dev/metrics': `flink_busy_ratio=${world.target}`,
    'slotscaler.dev/max-taskmanagers': String(Math.max(world.maxTaskmanagers, 1)),
    'slotscaler.dev/mode': world.mode,
    'slotscaler.dev/cooldown-after-rescale': `${world.cooldownSeconds}s`,
    'slotscaler.dev/scale-down-stabilization': `${world.scaleDownSeconds}s`,
  };
}

function readingsOf(world: World): WindowReadings {
  return windowReadings(world.busy, {
    state: world.state,
    taskSlots: world.slots,
    spanSeconds: world.spanSeconds,
    lastSampleAtMs: NOW,
    metrics: { flink_demand_ratio: { unavailable: 'no-source' } },
  });
}

/** The status annotation the loop finds on the object, if any. */
function statusOf(world: World): string | undefined {
  if (world.rescaledSecondsAgo === null && world.recommendations === null) return undefined;
  return encodeStatus({
    lastDecision: null,
    lastRescaleAtMs: world.rescaledSecondsAgo === null ? null : NOW - world.rescaledSecondsAgo * 1000,
    rescaleDoneAtMs: null,
    recommendations: (world.recommendations ?? []).map(({ replicas, secondsAgo }) => ({
      replicas,
      timestampMs: NOW - secondsAgo * 1000,
    })),
    scaleEvents: [],
  });
}

async function loopPlan(world: World, target: RegisteredTarget) {
  const clock = new FakeClock(NOW);
  const writer = new FakeWriter();
  const loop = new ScalingLoop({
    targets: { list: () => [target], get: (id) => (id === target.id ? target : undefined) },
    metrics: { readings: () => readingsOf(world), values: () => readingsOf(world).metrics },
    writer,
    events: new FakeEvents(),
    leader: { isLeader: () => true },
    clock,
    logger: silentLogger,
    sleep: () => Promise.resolve(),
  });
  const result = await loop.runOnce();
  const spec = (writer.plans[0]?.[0]?.body as { spec?: unknown } | undefined)?.spec;
  return {
    outcome: result.outcomes.get(target.id),
    recommendation: loop.recommendation(target.id),
    lastDecision: loop.status(target.id)?.lastDecision ?? null,
    written: spec ?? null,
  };
}

describe('one plan, two worlds', () => {
  it('the scaling loop and simulate reach the same plan from the same inputs', async () => {
    await fc.assert(
      fc.asyncProperty(worlds, async (world) => {
        const status = statusOf(world);
        const object = flinkDeployment('job', {
          replicas: world.replicas,
          slots: world.slots,
          // A spec that rescales in place, as the simulated job does.
          flinkVersion: 'v1_20',
          flinkConfiguration: { 'jobmanager.scheduler': 'adaptive' },
          annotations: {
            ...annotationsOf(world),
            ...(status === undefined ? {} : { [STATUS_ANNOTATION]: status }),
          },
        });
        const inCluster = await loopPlan(world, register(object));

        const stored = decodeStatus(status);
        const history: PlanHistory = {
          lastDecision: null,
          lastRescaleAtMs: stored?.lastRescaleAtMs ?? null,
          rescaleDoneAtMs: null,
          recommendations: stored?.recommendations ?? null,
          scaleEvents: stored?.scaleEvents ?? [],
          backoffUntilMs: 0,
          inFlight: null,
          notTaken: null,
        };
        const plan = planTarget(
          simulatedPlanInput(
            slotscalerPolicy(annotationsOf(world)),
            { taskManagers: world.replicas, parallelism: world.replicas * world.slots },
            readingsOf(world),
            history,
            world.slots,
            NOW,
          ),
        );

        assert.equal(inCluster.outcome, plan.outcome === 'scale' ? 'scaled' : plan.outcome);
        assert.deepEqual(
          inCluster.recommendation,
          'recommendation' in plan ? plan.recommendation : undefined,
        );
        if (plan.outcome === 'scale') {
          assert.equal(plan.write.path, 'in-place');
          assert.deepEqual(inCluster.written, {
            flinkConfiguration: { [PARALLELISM_OVERRIDES]: formatOverrides(plan.write.vertices ?? []) },
          });
        } else {
          assert.equal(inCluster.written, null);
        }
        if (plan.outcome === 'scale' || plan.outcome === 'held' || plan.outcome === 'recommended') {
          assert.deepEqual(inCluster.lastDecision, plan.recorded);
        }
      }),
      { numRuns: 300 },
    );
  });
});
