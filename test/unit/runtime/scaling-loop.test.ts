// The scaling loop with fakes for time, metrics (the collector's windows), the writer and Events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { WindowReadings } from '../../../src/metrics/metric-window.js';
import type { MetricReading } from '../../../src/domain/metrics.js';
import { STATUS_ANNOTATION } from '../../../src/kube/adapters/adapter.js';
import { flinkDeploymentAdapter } from '../../../src/kube/adapters/flink-deployment.js';
import type { OtherScalers } from '../../../src/kube/hpa-index.js';
import type { LeaderState } from '../../../src/kube/leader-election.js';
import type { KubeObject } from '../../../src/kube/objects.js';
import { ScalingLoop } from '../../../src/runtime/scaling-loop.js';
import type { MetricsSource, ScalingLoopOptions } from '../../../src/runtime/scaling-loop.js';
import { metricValues } from '../../../src/metrics/expression-metric.js';
import type { MetricValues } from '../../../src/metrics/expression-metric.js';
import { decodeStatus, encodeStatus } from '../../../src/kube/status-annotation.js';
import { targetId } from '../../../src/kube/target-registry.js';
import type { RegisteredTarget, TargetSource } from '../../../src/kube/target-registry.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { Logger } from '../../../src/observability/logger.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { FakeEvents } from '../../fakes/fake-events.js';
import { FakeWriter } from '../../fakes/fake-writer.js';
import { flinkDeployment, register } from '../../fakes/flink-deployment-target.js';
import { RUNNING_JOB, windowReadings } from '../../fakes/window-readings.js';

class FakeTargets implements TargetSource {
  readonly targets = new Map<string, RegisteredTarget>();
  set(object: KubeObject): RegisteredTarget {
    const target = register(object);
    this.targets.set(target.id, target);
    return target;
  }
  delete(name: string): void {
    this.targets.delete(targetId(flinkDeploymentAdapter, 'flink', name));
  }
  list(): readonly RegisteredTarget[] {
    return [...this.targets.values()];
  }
  get(id: string): RegisteredTarget | undefined {
    return this.targets.get(id);
  }
}

/** The collector's windows: per target a busy ratio (or unavailable), the job state, the window's span. */
class FakeMetrics implements MetricsSource {
  busy = new Map<string, MetricReading>();
  state = 'RUNNING';
  /** Seconds the window's samples span back from now. */
  spanSeconds = 10;
  /** The job's parallelism as the JobManager reports it (every vertex), and since when it runs. */
  parallelism = 2;
  runningSinceMs: number | null = null;
  constructor(
    private readonly clock: FakeClock,
    private readonly targets?: TargetSource,
  ) {}
  readings(targetIdValue: string, nowMs: number): WindowReadings | undefined {
    const busy = this.busy.get(targetIdValue.split('/')[2] ?? '');
    if (busy === undefined) return undefined;
    return windowReadings(busy, {
      state: this.state,
      spanSeconds: this.spanSeconds,
      lastSampleAtMs: Math.min(nowMs, this.clock.nowMs()),
      job: {
        ...RUNNING_JOB,
        state: this.state,
        runningSinceMs: this.runningSinceMs,
        seenAtMs: Math.min(nowMs, this.clock.nowMs()),
        vertices: RUNNING_JOB.vertices.map((vertex) => ({ ...vertex, parallelism: this.parallelism })),
      },
    });
  }
  /** The values as the snapshot makes them: the window's and the target's expression metrics. */
  values(id: string, nowMs: number): MetricValues | undefined {
    const readings = this.readings(id, nowMs);
    const target = this.targets?.get(id);
    if (readings === undefined) return undefined;
    return metricValues(readings.metrics, target?.parsed.ok === true ? target.parsed.expressions : []);
  }
}

function setUp(
  options: Partial<ScalingLoopOptions> = {},
  leader: LeaderState = { isLeader: () => true },
  otherScalers?: OtherScalers,
  logger: Logger = silentLogger,
) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const targets = new FakeTargets();
  const metrics = new FakeMetrics(clock, targets);
  const writer = new FakeWriter();
  const events = new FakeEvents();
  const loop = new ScalingLoop(
    {
      targets,
      metrics,
      writer,
      events,
      leader,
      clock,
      logger,
      sleep: () => Promise.resolve(),
      otherScalers,
    },
    options,
  );
  return { clock, targets, metrics, writer, events, loop };
}

/** The body of the first step of a plan. */
function bodyOf(plan: readonly { body: Record<string, unknown> }[] | undefined): {
  metadata: { resourceVersion?: string; annotations?: Record<string, string> };
  spec?: { taskManager: { replicas: number }; job: { parallelism: number } };
} {
  assert.ok(plan?.[0] !== undefined, 'a write was planned');
  return plan[0].body as ReturnType<typeof bodyOf>;
}

describe('ScalingLoop', () => {
  it('scales a FlinkDeployment with one guarded patch of replicas and parallelism, an Event and the status annotation', async () => {
    const { targets, metrics, writer, events, loop } = setUp();
    targets.set(flinkDeployment('job', { resourceVersion: '41' }));
    metrics.busy.set('job', { value: 1 });

    const result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'scaled');
    assert.equal(writer.plans.length, 1);
    assert.equal(writer.plans[0]?.length, 1, 'one request: one restart');
    const body = bodyOf(writer.plans[0]);
    assert.deepEqual(body.spec, { taskManager: { replicas: 2 }, job: { parallelism: 4 } });
    assert.equal(body.metadata.resourceVersion, '41');
    const status = decodeStatus(body.metadata.annotations?.[STATUS_ANNOTATION]);
    assert.equal(status?.lastDecision?.toReplicas, 2);
    assert.equal(status.scaleEvents.length, 1);
    assert.deepEqual(events.reasons(), ['Rescaled']);
    assert.equal(
      events.events[0]?.note,
      'TaskManagers 1 → 2, parallelism 2 → 4: flink_busy_ratio 1 (target 0.5); reason DesiredWithinRange; redeploy (not in place without a known flinkVersion (none; in place needs v1_18 or later), the adaptive scheduler (flinkConfiguration jobmanager.scheduler: adaptive): the operator redeploys)',
    );
    assert.equal(loop.recommendation('flinkdeployment/flink/job')?.replicas, 2);
  });

  it('writes nothing when nothing changes', async () => {
    const { targets, metrics, writer, events, loop } = setUp();
    targets.set(flinkDeployment('job', { replicas: 2 }));
    metrics.busy.set('job', { value: 0.5 });
    const result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'unchanged');
    assert.equal(writer.plans.length, 0);
    assert.equal(events.events.length, 0);
  });

  it('holds a scale-up after a rescale until the job runs again with fresh metrics and the cooldown has passed', async () => {
    const { clock, targets, metrics, writer, loop } = setUp();
    targets.set(flinkDeployment('job'));
    metrics.busy.set('job', { value: 1 });
    await loop.runOnce();
    assert.equal(writer.plans.length, 1);
    // The operator applied it; the job restarted; load is still high.
    targets.set(flinkDeployment('job', { replicas: 2, resourceVersion: '2' }));
    clock.advance(5_000);
    metrics.parallelism = 4;
    // The window still spans samples from before the rescale.
    metrics.spanSeconds = 10;
    let result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'held');
    // Fresh samples, but the 30 s cooldown has not passed.
    metrics.spanSeconds = 2;
    clock.advance(10_000);
    result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'held');
    assert.equal(writer.plans.length, 1);
    clock.advance(20_000);
    result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'scaled');
    assert.deepEqual(bodyOf(writer.plans[1]).spec, { taskManager: { replicas: 4 }, job: { parallelism: 8 } });
  });

  it('a held change says why in one Event, not one per tick', async () => {
    const { clock, targets, metrics, events, loop } = setUp();
    targets.set(flinkDeployment('job'));
    metrics.busy.set('job', { value: 1 });
    await loop.runOnce();
    targets.set(flinkDeployment('job', { replicas: 2, resourceVersion: '2' }));
    // The job runs again at the new parallelism a second after the write.
    metrics.parallelism = 4;
    metrics.runningSinceMs = clock.nowMs() + 1_000;
    metrics.spanSeconds = 2;
    for (let tick = 0; tick < 3; tick++) {
      clock.advance(5_000);
      assert.equal((await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'), 'held');
    }
    assert.deepEqual(events.reasons(), ['Rescaled', 'RescaleDone', 'RescaleHeld']);
    assert.match(
      events.events[1]?.note ?? '',
      /^the job runs at parallelism 4 \(redeploy\), 1 s after the write$/,
    );
    assert.match(
      events.events[2]?.note ?? '',
      /^TaskManagers 2 → 4, parallelism 4 → 8: .*: held: .*cooldown/,
    );
  });

  it('past the restart budget a change is held with a Warning that the budget was spent', async () => {
    const { targets, metrics, writer, events, loop } = setUp();
    const status = encodeStatus({
      lastDecision: null,
      lastRescaleAtMs: null,
      rescaleDoneAtMs: null,
      recommendations: [],
      scaleEvents: [],
      rescalesAtMs: [Date.UTC(2025, 11, 31, 23, 30)],
    });
    targets.set(
      flinkDeployment('job', {
        annotations: { [STATUS_ANNOTATION]: status, 'slotscaler.dev/max-rescales-per-hour': '1' },
      }),
    );
    metrics.busy.set('job', { value: 1 });
    assert.equal((await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'), 'held');
    assert.equal(writer.plans.length, 0);
    const spent = events.events.find((event) => event.reason === 'RestartBudgetSpent');
    assert.equal(spent?.type, 'Warning');
    assert.match(
      spent.note,
      /held: restart budget spent: 1 rescales in the last hour \(max-rescales-per-hour 1\)/,
    );
  });

  it('a status annotation dated in the future does not freeze the target: a Warning, then it is taken as now', async () => {
    const { clock, targets, metrics, writer, events, loop } = setUp();
    const in2036 = Date.UTC(2036, 0, 1);
    const status = encodeStatus({
      lastDecision: null,
      lastRescaleAtMs: in2036,
      rescaleDoneAtMs: null,
      recommendations: [],
      scaleEvents: [{ replicaChange: 1, timestampMs: in2036 }],
    });
    targets.set(flinkDeployment('job', { annotations: { [STATUS_ANNOTATION]: status } }));
    metrics.busy.set('job', { value: 1 });
    metrics.spanSeconds = 2;
    assert.equal((await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'), 'held');
    const warning = events.events.find((event) => event.reason === 'InvalidStatus');
    assert.equal(warning?.type, 'Warning');
    assert.match(warning.note, /rescaledAt 2036-01-01T00:00:00.000Z is 10.0 years ahead .*taken as now/);
    assert.match(warning.note, /1 scale event entries/);
    // The 30 s cooldown counts from when it was read, not from 2036.
    clock.advance(31_000);
    assert.equal((await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'), 'scaled');
    assert.equal(writer.plans.length, 1);
    assert.equal(events.reasons().filter((reason) => reason === 'InvalidStatus').length, 1);
  });

  it('an expression metric that is not finite is a Warning, once while it stays so, again after it recovers', async () => {
    const { targets, metrics, events, loop } = setUp();
    targets.set(
      flinkDeployment('job', {
        replicas: 2,
        annotations: {
          'slotscaler.dev/metric.per_idle': 'busy_ratio / (1 - busy_ratio)',
          'slotscaler.dev/mode': 'metrics-only',
        },
      }),
    );
    metrics.busy.set('job', { value: 1 });
    await loop.runOnce();
    await loop.runOnce();
    assert.deepEqual(events.reasons(), ['ExpressionNotFinite']);
    assert.equal(events.events[0]?.type, 'Warning');
    assert.match(
      events.events[0].note,
      /^slotscaler.dev\/metric.per_idle "busy_ratio \/ \(1 - busy_ratio\)" evaluated to Infinity; not served/,
    );
    metrics.busy.set('job', { value: 0.5 });
    await loop.runOnce();
    metrics.busy.set('job', { value: 1 });
    await loop.runOnce();
    assert.deepEqual(events.reasons(), ['ExpressionNotFinite', 'ExpressionNotFinite']);
  });

  it("refuses to fight the Flink operator's own autoscaler: held, a Warning saying what to change", async () => {
    const { targets, metrics, writer, events, loop } = setUp();
    targets.set(flinkDeployment('job', { flinkConfiguration: { 'job.autoscaler.enabled': 'true' } }));
    metrics.busy.set('job', { value: 1 });
    assert.equal((await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'), 'held');
    assert.equal(writer.plans.length, 0);
    assert.deepEqual(events.reasons(), ['AutoscalerConflict']);
    assert.equal(events.events[0]?.type, 'Warning');
    assert.match(
      events.events[0].note,
      /^not rescaled while the Flink operator's autoscaler is on \(flinkConfiguration job.autoscaler.enabled: "true"\): .*slotscaler.dev\/mode: metrics-only/,
    );
    assert.match(
      loop.status('flinkdeployment/flink/job')?.lastDecision?.outcome ?? '',
      /^held: the Flink operator's autoscaler/,
    );
    // Its key before operator 1.7 too.
    targets.set(
      flinkDeployment('job', {
        flinkConfiguration: { 'kubernetes.operator.job.autoscaler.enabled': 'TRUE' },
      }),
    );
    assert.equal((await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'), 'held');
    targets.set(flinkDeployment('job', { flinkConfiguration: { 'job.autoscaler.enabled': 'false' } }));
    assert.equal((await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'), 'scaled');
  });

  it('refuses to fight an HPA that scales the same object in mode scale; metrics-only and recommend are not affected', async () => {
    const scaledBy = new Map<string, string[]>([['job', ['job-hpa']]]);
    const hpas: OtherScalers = { hpasScaling: (ref) => scaledBy.get(ref.name) ?? [] };
    const { targets, metrics, writer, events, loop } = setUp({}, { isLeader: () => true }, hpas);
    targets.set(flinkDeployment('job'));
    metrics.busy.set('job', { value: 1 });
    assert.equal((await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'), 'held');
    assert.equal(writer.plans.length, 0);
    assert.match(
      events.events[0]?.note ?? '',
      /^not rescaled while the HorizontalPodAutoscaler job-hpa scales it: .*delete the HPA$/,
    );
    targets.set(flinkDeployment('job', { annotations: { 'slotscaler.dev/mode': 'metrics-only' } }));
    assert.equal((await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'), 'metrics-only');
    targets.set(flinkDeployment('job', { annotations: { 'slotscaler.dev/mode': 'recommend' } }));
    assert.equal((await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'), 'recommended');
    assert.deepEqual(events.reasons(), ['AutoscalerConflict', 'RescaleRecommended']);
    scaledBy.delete('job');
    targets.set(flinkDeployment('job'));
    assert.equal((await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'), 'scaled');
  });

  it('in mode recommend, only the replica that writes the target records the recommendation, once it may', async () => {
    let leader = false;
    const { targets, metrics, writer, events, loop } = setUp({}, { isLeader: () => leader });
    targets.set(flinkDeployment('job', { annotations: { 'slotscaler.dev/mode': 'recommend' } }));
    metrics.busy.set('job', { value: 1 });
    assert.equal((await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'), 'recommended');
    assert.equal(loop.recommendation('flinkdeployment/flink/job')?.replicas, 2, 'served all the same');
    assert.equal(writer.plans.length + events.events.length, 0);
    leader = true;
    await loop.runOnce();
    assert.deepEqual(events.reasons(), ['RescaleRecommended']);
    assert.equal(writer.plans.length, 1, 'the status annotation');
  });

  it('mode recommend decides and reports but never writes the scale', async () => {
    const { targets, metrics, writer, events, loop } = setUp();
    targets.set(flinkDeployment('job', { annotations: { 'slotscaler.dev/mode': 'recommend' } }));
    metrics.busy.set('job', { value: 1 });
    const result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'recommended');
    assert.deepEqual(events.reasons(), ['RescaleRecommended']);
    assert.equal(loop.recommendation('flinkdeployment/flink/job')?.replicas, 2);
    // Only the status annotation is recorded.
    assert.equal(writer.plans.length, 1);
    const body = bodyOf(writer.plans[0]);
    assert.equal(body.spec, undefined);
    assert.ok(body.metadata.annotations?.[STATUS_ANNOTATION]);
    await loop.runOnce();
    assert.equal(writer.plans.length, 1, 'the same recommendation is recorded once');
  });

  it('mode metrics-only makes no decision', async () => {
    const { targets, metrics, writer, events, loop } = setUp();
    targets.set(flinkDeployment('job', { annotations: { 'slotscaler.dev/mode': 'metrics-only' } }));
    metrics.busy.set('job', { value: 1 });
    const result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'metrics-only');
    assert.equal(loop.recommendation('flinkdeployment/flink/job'), undefined);
    assert.equal(writer.plans.length + events.events.length, 0);
  });

  it('dry-run decides and reports, writes nothing', async () => {
    const { targets, metrics, writer, events, loop } = setUp({ dryRun: true });
    targets.set(flinkDeployment('job'));
    metrics.busy.set('job', { value: 1 });
    await loop.runOnce();
    assert.equal(writer.plans.length, 0);
    assert.deepEqual(events.reasons(), ['RescaleRecommended']);
    assert.match(events.events[0]?.note ?? '', /dry-run/);
  });

  it('an invalid annotation skips that target only, with a Warning naming the key', async () => {
    const { targets, metrics, writer, events, loop } = setUp();
    targets.set(flinkDeployment('bad', { annotations: { 'slotscaler.dev/max-taskmanagers': 'ten' } }));
    targets.set(flinkDeployment('good'));
    metrics.busy.set('bad', { value: 1 });
    metrics.busy.set('good', { value: 1 });
    const result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/bad'), 'invalid');
    assert.equal(result.outcomes.get('flinkdeployment/flink/good'), 'scaled');
    const warning = events.events.find((event) => event.reason === 'InvalidAnnotation');
    assert.equal(warning?.target.name, 'bad');
    assert.equal(warning.type, 'Warning');
    assert.match(warning.note, /slotscaler\.dev\/max-taskmanagers/);
    assert.equal(writer.plans.length, 1);
  });

  it('holds a stateless FlinkDeployment with a Warning unless allow-stateless-rescale', async () => {
    const { targets, metrics, writer, events, loop } = setUp();
    targets.set(flinkDeployment('job', { upgradeMode: 'stateless' }));
    metrics.busy.set('job', { value: 1 });
    let result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'held');
    assert.deepEqual(events.reasons(), ['StatelessUpgradeMode']);
    assert.equal(writer.plans.length, 0);
    targets.set(
      flinkDeployment('job', {
        upgradeMode: 'stateless',
        annotations: { 'slotscaler.dev/allow-stateless-rescale': 'true' },
      }),
    );
    result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'scaled');
  });

  it('does not touch a target whose operator is busy', async () => {
    for (const busy of [
      { lifecycleState: 'UPGRADING' },
      { lifecycleState: 'ROLLING_BACK' },
      { jobState: 'RECONCILING' },
    ]) {
      const { targets, metrics, writer, events, loop } = setUp();
      targets.set(flinkDeployment('job', busy));
      metrics.busy.set('job', { value: 1 });
      const result = await loop.runOnce();
      // No ready TaskManagers while the operator works: no proposal, so no change (and no alarm).
      assert.ok(
        ['held', 'unchanged'].includes(result.outcomes.get('flinkdeployment/flink/job') ?? ''),
        JSON.stringify(busy),
      );
      assert.equal(writer.plans.length + events.events.length, 0, JSON.stringify(busy));
    }
  });

  it('logs a lasting want of metrics once, however its details change from pass to pass', async () => {
    const warnings: string[] = [];
    const logger: Logger = {
      ...silentLogger,
      warn: (_obj, msg) => warnings.push(msg),
      child: () => logger,
    };
    const { targets, metrics, loop } = setUp({}, undefined, undefined, logger);
    targets.set(flinkDeployment('job'));
    for (const pending of [100, 250, 900]) {
      metrics.busy.set('job', { unavailable: 'zero-rate', detail: `${pending} records pending, none read` });
      await loop.runOnce();
    }
    assert.deepEqual(warnings, ['no metric available; not scaling']);
    metrics.busy.set('job', { unavailable: 'stale', detail: 'last sample 5m ago' });
    await loop.runOnce();
    assert.equal(warnings.length, 2, 'a new cause is said again');
  });

  it('reports MetricsUnavailable and changes nothing when no metric can be read', async () => {
    const { targets, metrics, writer, events, loop } = setUp();
    targets.set(flinkDeployment('job', { replicas: 3 }));
    metrics.busy.set('job', { unavailable: 'stale', detail: 'connection refused' });
    const result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'no-metrics');
    assert.equal(writer.plans.length, 0);
    assert.deepEqual(events.reasons(), ['MetricsUnavailable']);
    assert.match(events.events[0]?.note ?? '', /flink_busy_ratio: stale \(connection refused\)/);
  });

  it('after a 409 decides again on the newer object from the informer', async () => {
    const { targets, metrics, writer, loop } = setUp();
    targets.set(flinkDeployment('job', { resourceVersion: '5' }));
    metrics.busy.set('job', { value: 1 });
    writer.script.push({ ok: false, kind: 'conflict', message: 'the object has been modified' });
    writer.onWrite = () => {
      // Someone else changed the object meanwhile (say, to 2 TaskManagers).
      if (writer.plans.length === 1)
        targets.set(flinkDeployment('job', { replicas: 2, resourceVersion: '6' }));
    };
    const result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'scaled');
    assert.equal(writer.plans.length, 2);
    assert.equal(bodyOf(writer.plans[0]).metadata.resourceVersion, '5');
    const second = bodyOf(writer.plans[1]);
    assert.equal(second.metadata.resourceVersion, '6');
    assert.deepEqual(second.spec, { taskManager: { replicas: 4 }, job: { parallelism: 8 } });
    assert.equal(loop.writes.length, 1, 'one decision, one write');
  });

  it('backs off after 429, honouring Retry-After', async () => {
    const { clock, targets, metrics, writer, loop } = setUp();
    targets.set(flinkDeployment('job'));
    metrics.busy.set('job', { value: 1 });
    writer.script.push({
      ok: false,
      kind: 'throttled',
      status: 429,
      retryAfterMs: 30_000,
      message: 'slow down',
    });
    let result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'write-failed');
    clock.advance(20_000);
    result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'held');
    assert.equal(writer.plans.length, 1);
    clock.advance(11_000);
    result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'scaled');
  });

  it('backs off exponentially after 5xx without Retry-After, and a refusal is a Warning', async () => {
    const { clock, targets, metrics, writer, events, loop } = setUp({ backoffInitialMs: 1_000 });
    targets.set(flinkDeployment('job'));
    metrics.busy.set('job', { value: 1 });
    writer.script.push(
      { ok: false, kind: 'throttled', status: 503, retryAfterMs: null, message: 'unavailable' },
      { ok: false, kind: 'refused', status: 422, message: 'invalid' },
    );
    await loop.runOnce();
    clock.advance(1_001);
    await loop.runOnce();
    assert.equal(writer.plans.length, 2);
    clock.advance(1_001);
    assert.equal(
      (await loop.runOnce()).outcomes.get('flinkdeployment/flink/job'),
      'held',
      'second back-off is 2 s',
    );
    assert.deepEqual(events.reasons(), ['RescaleRefused', 'RescaleHeld']);
    assert.match(events.events[1]?.note ?? '', /held: backing off after a failed write/);
  });

  it('a target deleted while its decision is in flight is dropped without an error loop', async () => {
    const { targets, metrics, writer, events, loop } = setUp();
    targets.set(flinkDeployment('job'));
    metrics.busy.set('job', { value: 1 });
    writer.script.push({ ok: false, kind: 'gone', message: 'not found' });
    writer.onWrite = () => targets.delete('job');
    const result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'gone');
    assert.equal((await loop.runOnce()).outcomes.size, 0);
    assert.equal(events.events.length, 0);
  });

  it('a replica that is not the leader decides (and serves the recommendation) but never writes', async () => {
    const { targets, metrics, writer, events, loop } = setUp({}, { isLeader: () => false });
    targets.set(flinkDeployment('job'));
    metrics.busy.set('job', { value: 1 });
    const result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'held');
    assert.equal(loop.recommendation('flinkdeployment/flink/job')?.replicas, 2);
    assert.equal(writer.plans.length + events.events.length, 0);
  });

  it('reads the histories back from the status annotation: a restart does not forget a scale-down window', async () => {
    const { clock, targets, metrics, writer, loop } = setUp();
    const now = clock.nowMs();
    const status = encodeStatus({
      lastDecision: null,
      lastRescaleAtMs: now - 120_000,
      rescaleDoneAtMs: null,
      // 4 TaskManagers were recommended 30 s ago: the 60 s scale-down window still holds them.
      recommendations: [{ replicas: 4, timestampMs: now - 30_000 }],
      scaleEvents: [{ replicaChange: 2, timestampMs: now - 120_000 }],
    });
    targets.set(flinkDeployment('job', { replicas: 4, annotations: { [STATUS_ANNOTATION]: status } }));
    metrics.busy.set('job', { value: 0.1 });
    let result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'unchanged');
    assert.equal(writer.plans.length, 0);
    assert.deepEqual(loop.status('flinkdeployment/flink/job')?.scaleEvents, [
      { replicaChange: 2, timestampMs: now - 120_000 },
    ]);
    clock.advance(31_000);
    result = await loop.runOnce();
    assert.equal(result.outcomes.get('flinkdeployment/flink/job'), 'scaled');
  });

  it('a new leader reloads the histories the previous leader left', async () => {
    let leader = false;
    const { clock, targets, metrics, loop } = setUp({}, { isLeader: () => leader });
    targets.set(flinkDeployment('job'));
    metrics.busy.set('job', { value: 0.5 });
    await loop.runOnce();
    // The other replica scaled and recorded it.
    const now = clock.nowMs();
    const status = encodeStatus({
      lastDecision: null,
      lastRescaleAtMs: now,
      rescaleDoneAtMs: null,
      recommendations: [{ replicas: 2, timestampMs: now }],
      scaleEvents: [{ replicaChange: 1, timestampMs: now }],
    });
    targets.set(
      flinkDeployment('job', {
        replicas: 2,
        resourceVersion: '2',
        annotations: { [STATUS_ANNOTATION]: status },
      }),
    );
    leader = true;
    loop.reloadHistories();
    const held = loop.status('flinkdeployment/flink/job');
    assert.equal(held?.lastRescaleAtMs, now);
    assert.deepEqual(held.scaleEvents, [{ replicaChange: 1, timestampMs: now }]);
    assert.ok(held.recommendations.some((rec) => rec.replicas === 2 && rec.timestampMs === now));
  });

  it('writes the status annotations at shutdown (leader only)', async () => {
    const { targets, metrics, writer, loop } = setUp();
    targets.set(flinkDeployment('job', { replicas: 2 }));
    metrics.busy.set('job', { value: 0.5 });
    await loop.runOnce();
    await loop.flushStatus();
    assert.equal(writer.plans.length, 1);
    const body = bodyOf(writer.plans[0]);
    assert.equal(body.spec, undefined);
    const status = decodeStatus(body.metadata.annotations?.[STATUS_ANNOTATION]);
    assert.ok(status !== null && status.recommendations.length >= 1);
  });
});
