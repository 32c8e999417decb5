// planTarget with plain values: every outcome and every hold, in the order the scaler checks them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseTargetAnnotations } from '../../../src/config/annotations.js';
import type { TargetConfig } from '../../../src/config/schema.js';
import type { MetricReading } from '../../../src/domain/metrics.js';
import type { RescaleSupport, TargetView } from '../../../src/domain/target.js';
import type { CheckpointsAsSeen, WindowReadings } from '../../../src/metrics/metric-window.js';
import { planTarget } from '../../../src/scaler/plan-target.js';
import type { Plan, PlanHistory, PlanInput } from '../../../src/scaler/plan-target.js';
import { metricValues } from '../../../src/metrics/expression-metric.js';
import type { EvaluableMetric } from '../../../src/metrics/expression-metric.js';
import { windowReadings } from '../../fakes/window-readings.js';
import type { WindowReadingsOptions } from '../../fakes/window-readings.js';

const NOW = Date.UTC(2026, 0, 1, 12);

function config(annotations: Record<string, string> = {}): TargetConfig {
  const result = parseTargetAnnotations({
    'slotscaler.dev/metrics': 'flink_busy_ratio=0.5',
    'slotscaler.dev/cooldown-after-rescale': '30s',
    ...annotations,
  });
  assert.ok(result.ok, 'the test config parses');
  return result.config;
}

const IN_PLACE: RescaleSupport = {
  auto: 'in-place',
  autoWhy: 'native mode on the adaptive scheduler',
  inPlaceMissing: null,
  notInPlace: 'redeploy',
};

function view(overrides: Partial<TargetView> = {}): TargetView {
  return {
    jobManagerUrl: 'http://jm:8081',
    jobId: undefined,
    taskSlots: 2,
    currentReplicas: 1,
    readyReplicas: 1,
    statusReplicas: 1,
    currentParallelism: 2,
    operatorBusy: null,
    stateless: false,
    otherAutoscaler: null,
    rescale: IN_PLACE,
    ...overrides,
  };
}

function readings(busyRatio: MetricReading, overrides: WindowReadingsOptions = {}): WindowReadings {
  return windowReadings(busyRatio, { spanSeconds: 30, lastSampleAtMs: NOW, ...overrides });
}

const NO_HISTORY: PlanHistory = {
  lastDecision: null,
  lastRescaleAtMs: null,
  rescaleDoneAtMs: null,
  recommendations: null,
  scaleEvents: [],
  backoffUntilMs: 0,
  inFlight: null,
  notTaken: null,
};

type InputOverrides = Partial<Omit<PlanInput, 'values'>> & { cfg?: TargetConfig; v?: TargetView };

/** A plan's input; its values are the readings' and the target's expressions, as the snapshot makes them. */
function input(overrides: InputOverrides = {}): PlanInput {
  const { cfg, v, ...rest } = overrides;
  const base = {
    target: { state: 'ready' as const, config: cfg ?? config(), expressions: [], view: v ?? view() },
    readings: readings({ value: 1 }),
    history: NO_HISTORY,
    leader: true,
    dryRun: false,
    otherScalers: [],
    nowMs: NOW,
    ...rest,
  };
  const expressions = base.target.state === 'invalid' ? [] : base.target.expressions;
  const values = base.readings === undefined ? undefined : metricValues(base.readings.metrics, expressions);
  return { ...base, values };
}

function holdOf(plan: Plan): string {
  assert.ok(plan.outcome === 'held' || plan.outcome === 'recommended', `held, not ${plan.outcome}`);
  return plan.hold.kind;
}

describe('planTarget', () => {
  it('plans the write of a wanted change, with the histories to record when it lands', () => {
    const plan = planTarget(input());
    assert.equal(plan.outcome, 'scale');
    assert.deepEqual(plan.write, {
      replicas: 2,
      parallelism: 4,
      path: 'in-place',
      pathWhy: 'native mode on the adaptive scheduler',
      vertices: [{ id: 'b'.repeat(32), parallelism: 4 }],
      jobId: 'a'.repeat(32),
    });
    assert.equal(plan.recorded.path, 'in-place');
    assert.equal(plan.history.lastRescaleAtMs, NOW);
    assert.deepEqual(plan.history.scaleEvents, [{ replicaChange: 1, timestampMs: NOW }]);
    assert.equal(plan.recorded.outcome, 'scaled');
    assert.deepEqual(plan.recommendation, {
      replicas: 2,
      parallelism: 4,
      reason: 'DesiredWithinRange',
      atMs: NOW,
      jobId: 'a'.repeat(32),
    });
    assert.equal(
      plan.summary,
      'TaskManagers 1 → 2, parallelism 2 → 4: flink_busy_ratio 1 (target 0.5); reason DesiredWithinRange; in place (native mode on the adaptive scheduler)',
    );
  });

  it('writes the smallest count whose key groups give the capacity the readings ask for', () => {
    // 12 TaskManagers × 2 slots, busy 0.8 against 0.5: the HPA asks 20 TaskManagers, 40 subtasks;
    // with 128 key groups 40 to 42 subtasks give 128 / 4 = 32, so 22 TaskManagers (44 subtasks).
    const plan = planTarget(
      input({
        cfg: config({ 'slotscaler.dev/max-taskmanagers': '100' }),
        v: view({ currentReplicas: 12, readyReplicas: 12, statusReplicas: 12, currentParallelism: 24 }),
        readings: readings({ value: 0.8 }, { capacityUnits: { keyGroups: 128, sourcePartitions: null } }),
      }),
    );
    assert.equal(plan.outcome, 'scale');
    assert.deepEqual([plan.write.replicas, plan.write.parallelism], [22, 44]);
    assert.equal(plan.decision.reason, 'KeyGroupAlignment');
    assert.deepEqual(plan.decision.alignment, {
      hpaReplicas: 20,
      neededParallelism: 40,
      effectiveParallelism: 128 / 3,
    });
  });

  it('holds past the restart budget, but writes a scale-up the lag demands and counts it', () => {
    const cfg = config({ 'slotscaler.dev/max-rescales-per-hour': '2' });
    const history = { ...NO_HISTORY, rescalesAtMs: [NOW - 3_700_000, NOW - 1_800_000, NOW - 600_000] };
    const held = planTarget(input({ cfg, history }));
    assert.equal(holdOf(held), 'budget');
    assert.ok(
      held.outcome === 'held' && /restart budget spent: 2 rescales in the last hour/.test(held.hold.why),
    );
    const growing = readings(
      { value: 1 },
      {
        vertices: [
          {
            id: 's',
            name: 'Source',
            parallelism: 2,
            isSource: true,
            busyRatio: 1,
            backPressureRatio: 0,
            pendingRecords: 50_000,
            recordsInPerSecond: 2000,
            backlogGrowthPerRecord: 0.5,
            newestBacklogGrowthPerRecord: 0.5,
            newestArrivalOverRead: null,
            newestBusyRatio: null,
            timeCountersReported: true,
          },
        ],
      },
    );
    const plan = planTarget(input({ cfg, history, readings: growing }));
    assert.equal(plan.outcome, 'scale');
    assert.deepEqual(
      plan.history.rescalesAtMs,
      [NOW - 1_800_000, NOW - 600_000, NOW],
      'the last hour, and this one',
    );
  });

  it('is unchanged when the decision keeps the count, and records the recommendation', () => {
    const plan = planTarget(input({ readings: readings({ value: 0.5 }) }));
    assert.equal(plan.outcome, 'unchanged');
    assert.equal(plan.recommendation.replicas, 1);
    assert.ok(plan.decision.recommendations.some((r) => r.replicas === 1 && r.timestampMs === NOW));
  });

  it('says why an invalid target is skipped: its annotations, or the object', () => {
    const invalid = planTarget(input({ target: { state: 'invalid', issues: 'slotscaler.dev/x: bad' } }));
    assert.deepEqual(invalid, {
      outcome: 'invalid',
      why: 'slotscaler.dev/x: bad',
      key: null,
      notFinite: [],
      conflict: null,
    });
    const unscalable = planTarget(
      input({
        target: {
          state: 'unscalable',
          config: config(),
          expressions: [],
          problem: { key: 'spec.jobManager', problem: 'no JobManager URL' },
        },
      }),
    );
    assert.equal(unscalable.outcome, 'invalid');
    assert.equal(unscalable.key, 'spec.jobManager');
  });

  it('decides nothing in mode metrics-only, even on an object it could not scale', () => {
    const cfg = config({ 'slotscaler.dev/mode': 'metrics-only' });
    assert.equal(planTarget(input({ cfg })).outcome, 'metrics-only');
    const plan = planTarget(
      input({
        target: { state: 'unscalable', config: cfg, expressions: [], problem: { key: 'k', problem: 'p' } },
      }),
    );
    assert.equal(plan.outcome, 'metrics-only');
  });

  it('raises no alarm while metrics are only filling or the job restarts, and one when they stay away', () => {
    const filling = planTarget(input({ readings: readings({ unavailable: 'not-enough-samples' }) }));
    assert.equal(filling.outcome, 'no-metrics');
    assert.equal(filling.alarm, false);
    const stale = planTarget(input({ readings: readings({ unavailable: 'stale', detail: '5m old' }) }));
    assert.equal(stale.outcome, 'no-metrics');
    assert.equal(stale.alarm, true);
    assert.match(stale.why, /flink_busy_ratio: stale \(5m old\)/);
    const busyOperator = planTarget(
      input({ v: view({ operatorBusy: 'upgrading' }), readings: readings({ unavailable: 'stale' }) }),
    );
    assert.equal(busyOperator.outcome === 'no-metrics' && busyOperator.alarm, false);
    const none = planTarget(input({ readings: undefined }));
    assert.equal(none.outcome === 'no-metrics' && none.alarm, false);
  });

  it('waits for the task slots when neither the object nor Flink has told them', () => {
    const plan = planTarget(input({ v: view({ taskSlots: null }) }));
    assert.equal(plan.outcome, 'no-metrics');
    assert.match(plan.why, /task slots not known/);
    const fromFlink = planTarget(
      input({ v: view({ taskSlots: null }), readings: readings({ value: 1 }, { taskSlots: 4 }) }),
    );
    assert.equal(fromFlink.outcome === 'scale' && fromFlink.write.parallelism, 8);
  });

  it('holds in mode recommend and in dry-run, recording the recommendation as the outcome', () => {
    const recommend = planTarget(input({ cfg: config({ 'slotscaler.dev/mode': 'recommend' }) }));
    assert.equal(recommend.outcome, 'recommended');
    assert.equal(holdOf(recommend), 'recommend');
    assert.equal(recommend.recorded.outcome, 'mode recommend');
    const dry = planTarget(input({ dryRun: true }));
    assert.equal(dry.outcome === 'recommended' && dry.hold.why, 'dry-run');
    assert.equal(dry.conflict, null, 'a dry run fights nobody');
  });

  it('holds on a replica that does not lead', () => {
    const plan = planTarget(input({ leader: false }));
    assert.equal(holdOf(plan), 'not-leader');
    assert.equal(plan.outcome === 'held' && plan.recorded.outcome, 'held: not the leader');
  });

  it('holds while another autoscaler writes the target, and names it even when nothing changes', () => {
    const operator = planTarget(input({ v: view({ otherAutoscaler: 'job.autoscaler.enabled is "true"' }) }));
    assert.equal(holdOf(operator), 'conflict');
    assert.match(operator.conflict?.fix ?? '', /metrics-only/);
    const hpas = planTarget(
      input({ otherScalers: ['flink/a', 'flink/b'], readings: readings({ value: 0.5 }) }),
    );
    assert.equal(hpas.outcome, 'unchanged');
    assert.equal(hpas.conflict?.who, 'the HorizontalPodAutoscalers flink/a, flink/b scale it');
  });

  it('holds while the operator is busy', () => {
    const plan = planTarget(input({ v: view({ operatorBusy: 'upgrade in progress' }) }));
    assert.equal(holdOf(plan), 'operator-busy');
    assert.equal(plan.outcome === 'held' && plan.hold.why, 'the operator is busy: upgrade in progress');
  });

  it('holds after a rescale until the window is fresh, then through the cooldown for a scale-up', () => {
    const history = { ...NO_HISTORY, lastRescaleAtMs: NOW - 20_000 };
    const stale = planTarget(input({ history }));
    assert.equal(holdOf(stale), 'post-rescale');
    assert.match(stale.outcome === 'held' ? stale.hold.why : '', /not RUNNING with fresh metrics/);
    const fresh = planTarget(input({ history, readings: readings({ value: 1 }, { spanSeconds: 10 }) }));
    assert.match(fresh.outcome === 'held' ? fresh.hold.why : '', /cooldown after rescale \(30s\)/);
    const later = planTarget(
      input({
        history: { ...NO_HISTORY, lastRescaleAtMs: NOW - 40_000 },
        readings: readings({ value: 1 }, { spanSeconds: 10 }),
      }),
    );
    assert.equal(later.outcome, 'scale');
  });

  it('holds a stateless job unless told it has no state to lose', () => {
    assert.equal(holdOf(planTarget(input({ v: view({ stateless: true }) }))), 'stateless');
    const allowed = planTarget(
      input({
        v: view({ stateless: true }),
        cfg: config({ 'slotscaler.dev/allow-stateless-rescale': 'true' }),
      }),
    );
    assert.equal(allowed.outcome, 'scale');
  });

  it('times an in-place rescale right after a checkpoint: held until one completed since the previous tick', () => {
    // The latest checkpoint, 3, completed that long ago; the tick before saw 2 when it is new.
    const checkpoints = (latestAgoSeconds: number): CheckpointsAsSeen => ({
      intervalMs: 60_000,
      latestCompletedId: 3,
      latestCompletedAtMs: NOW - latestAgoSeconds * 1000,
      seenAtMs: NOW,
      previousSnapshotAtMs: NOW - 15_000,
      previousLatestCompletedId: latestAgoSeconds < 15 ? 2 : 3,
    });
    const waiting = planTarget(input({ readings: readings({ value: 1 }, { checkpoints: checkpoints(40) }) }));
    assert.equal(holdOf(waiting), 'checkpoint');
    assert.ok(waiting.outcome === 'held');
    assert.equal(waiting.recorded.outcome, `held: ${waiting.hold.why}`);
    assert.match(waiting.hold.why, /due in 20s, every 60s/);
    const after = planTarget(input({ readings: readings({ value: 1 }, { checkpoints: checkpoints(5) }) }));
    assert.equal(after.outcome, 'scale');
    // Off by annotation, or a redeploy (it stops with a savepoint): written at once.
    const off = planTarget(
      input({
        readings: readings({ value: 1 }, { checkpoints: checkpoints(40) }),
        cfg: config({ 'slotscaler.dev/rescale-after-checkpoint': 'false' }),
      }),
    );
    assert.equal(off.outcome, 'scale');
    const redeploy = planTarget(
      input({
        readings: readings({ value: 1 }, { checkpoints: checkpoints(40) }),
        cfg: config({ 'slotscaler.dev/rescale': 'redeploy' }),
      }),
    );
    assert.ok(redeploy.outcome === 'scale');
    assert.equal(redeploy.write.path, 'redeploy');
    // Any other hold comes first: the checkpoint is waited for only by a write that would go now.
    const backingOff = planTarget(
      input({
        readings: readings({ value: 1 }, { checkpoints: checkpoints(40) }),
        history: { ...NO_HISTORY, backoffUntilMs: NOW + 1 },
      }),
    );
    assert.equal(holdOf(backingOff), 'backoff');
  });

  it('holds while backing off after a failed write, and writes when the back-off ends', () => {
    const backingOff = planTarget(input({ history: { ...NO_HISTORY, backoffUntilMs: NOW + 1 } }));
    assert.equal(holdOf(backingOff), 'backoff');
    assert.equal(planTarget(input({ history: { ...NO_HISTORY, backoffUntilMs: NOW } })).outcome, 'scale');
  });

  it('checks the holds in order: recommend, leader, conflict, busy, post-rescale, stateless, back-off', () => {
    const v = view({ operatorBusy: 'upgrading', stateless: true, otherAutoscaler: 'operator' });
    const history = { ...NO_HISTORY, lastRescaleAtMs: NOW - 1000, backoffUntilMs: NOW + 1000 };
    const recommend = config({ 'slotscaler.dev/mode': 'recommend' });
    assert.equal(holdOf(planTarget(input({ v, history, leader: false, cfg: recommend }))), 'recommend');
    assert.equal(holdOf(planTarget(input({ v, history, leader: false }))), 'not-leader');
    assert.equal(holdOf(planTarget(input({ v, history }))), 'conflict');
    assert.equal(holdOf(planTarget(input({ v: { ...v, otherAutoscaler: null }, history }))), 'operator-busy');
    const idle = { ...v, otherAutoscaler: null, operatorBusy: null };
    assert.equal(holdOf(planTarget(input({ v: idle, history }))), 'post-rescale');
    const settled = { ...history, lastRescaleAtMs: null };
    assert.equal(holdOf(planTarget(input({ v: idle, history: settled }))), 'stateless');
    assert.equal(
      holdOf(planTarget(input({ v: { ...idle, stateless: false }, history: settled }))),
      'backoff',
    );
  });

  it('lists the expression metrics that are not finite, whatever the outcome', () => {
    const ratio: EvaluableMetric = {
      name: 'ratio',
      source: 'busy_ratio / 0',
      evaluate: () => ({ unavailable: 'not-finite', detail: 'is Infinity' }),
    };
    const cfg = config({ 'slotscaler.dev/mode': 'metrics-only' });
    const plan = planTarget(
      input({ target: { state: 'ready', config: cfg, expressions: [ratio], view: view() } }),
    );
    assert.deepEqual(plan.notFinite, [{ name: 'ratio', source: 'busy_ratio / 0', detail: 'is Infinity' }]);
  });

  it('reads no clock: the same input gives the same plan', () => {
    const once = input({ history: { ...NO_HISTORY, lastRescaleAtMs: NOW - 600_000 } });
    assert.deepEqual(planTarget(once), planTarget(once));
  });
});
