// The per-target metrics as the scaler wires them: the real scaling loop and collector report into
// them (with fakes for time, the writer, Events and the JobManager), and `scalerMetricsSource` maps
// the scaler's targets onto the gauges.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Registry } from 'prom-client';

import { Collector } from '../../../src/runtime/collector.js';
import type { WindowReadings } from '../../../src/metrics/metric-window.js';
import type { ServedTarget } from '../../../src/domain/metrics.js';
import { FlinkHttpPool } from '../../../src/flink/rest-client.js';
import type { KubeObject } from '../../../src/kube/objects.js';
import { ScalingLoop } from '../../../src/runtime/scaling-loop.js';
import type { MetricsSource } from '../../../src/runtime/scaling-loop.js';
import type { MetricValues } from '../../../src/metrics/expression-metric.js';
import type { RegisteredTarget, TargetSource } from '../../../src/kube/target-registry.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createScalerMetrics, scalerMetricsSource } from '../../../src/runtime/scaler-metrics.js';
import type { ScalerMetrics } from '../../../src/runtime/scaler-metrics.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { FakeEvents } from '../../fakes/fake-events.js';
import { FakeJobManagerServer, typicalJob } from '../../fakes/fake-jobmanager.js';
import { FakeWriter } from '../../fakes/fake-writer.js';
import { flinkDeployment, register } from '../../fakes/flink-deployment-target.js';
import { windowReadings } from '../../fakes/window-readings.js';

class Targets implements TargetSource {
  readonly targets = new Map<string, RegisteredTarget>();
  set(object: KubeObject): void {
    const target = register(object);
    this.targets.set(target.id, target);
  }
  list(): readonly RegisteredTarget[] {
    return [...this.targets.values()];
  }
  get(id: string): RegisteredTarget | undefined {
    return this.targets.get(id);
  }
}

/** The collector's windows: a busy ratio per target name. */
class Busy implements MetricsSource {
  readonly busy = new Map<string, number>();
  readings(id: string, nowMs: number): WindowReadings | undefined {
    const value = this.busy.get(id.split('/')[2] ?? '');
    if (value === undefined) return undefined;
    return windowReadings({ value }, { lastSampleAtMs: nowMs - 2_000 });
  }
  values(id: string, nowMs: number): MetricValues | undefined {
    return this.readings(id, nowMs)?.metrics;
  }
}

async function samples(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

function has(lines: readonly string[], expected: string): void {
  assert.ok(
    lines.includes(expected),
    `${expected} in\n${lines.filter((l) => l.startsWith('slotscaler_t')).join('\n')}`,
  );
}

const LABELS = (name: string): string => `namespace="flink",name="${name}",kind="flinkdeployment"`;

describe('per-target metrics from the scaling loop', () => {
  function setUp(): {
    registry: Registry;
    clock: FakeClock;
    targets: Targets;
    busy: Busy;
    writer: FakeWriter;
    loop: ScalingLoop;
    metrics: ScalerMetrics;
  } {
    const registry = new Registry();
    const clock = new FakeClock();
    const metrics = createScalerMetrics(registry, clock);
    const targets = new Targets();
    const busy = new Busy();
    const writer = new FakeWriter();
    const loop = new ScalingLoop({
      targets,
      metrics: busy,
      writer,
      events: new FakeEvents(),
      leader: { isLeader: () => true },
      clock,
      logger: silentLogger,
      sleep: () => Promise.resolve(),
      observer: metrics.targets,
    });
    metrics.targets.bind(
      scalerMetricsSource({
        registry: targets,
        recommendations: loop,
        leader: { isLeader: () => true },
        collector: { readiness: () => ({ ready: true }) },
        servedTargets: () => [],
      }),
    );
    return { registry, clock, targets, busy, writer, loop, metrics };
  }

  it('counts a scale-up as a decision and a rescale, then the hold while it is in flight; a refused write as a failure', async () => {
    const { registry, clock, targets, busy, writer, loop } = setUp();
    targets.set(flinkDeployment('job'));
    targets.set(flinkDeployment('refused'));
    busy.busy.set('job', 1);
    busy.busy.set('refused', 1);
    writer.onWrite = (steps) => {
      if (steps[0]?.path.endsWith('/refused') === true)
        writer.script.push({ ok: false, kind: 'refused', status: 422, message: 'denied' });
    };
    await loop.runOnce();
    clock.advance(5_000);
    // The write applied: the object asks for 2 TaskManagers; until the job shows the new
    // parallelism, the next change is held.
    targets.set(flinkDeployment('job', { replicas: 2 }));
    busy.busy.set('job', 1);
    await loop.runOnce();
    clock.advance(1_000);

    const lines = await samples(registry);
    has(
      lines,
      `slotscaler_target_decisions_total{${LABELS('job')},outcome="scaled",reason="DesiredWithinRange"} 1`,
    );
    has(lines, `slotscaler_target_rescales_total{${LABELS('job')},direction="up",path="redeploy"} 1`);
    has(lines, `slotscaler_target_holds_total{${LABELS('job')},reason="in-flight"} 1`);
    has(
      lines,
      `slotscaler_target_decisions_total{${LABELS('job')},outcome="held",reason="DesiredWithinRange"} 1`,
    );
    has(lines, `slotscaler_target_held_seconds{${LABELS('job')},reason="in-flight"} 1`);
    has(lines, `slotscaler_target_rescale_pending_seconds{${LABELS('job')}} 6`);
    has(lines, `slotscaler_target_current_taskmanagers{${LABELS('job')}} 2`);
    has(lines, `slotscaler_target_desired_taskmanagers{${LABELS('job')}} 4`);
    has(lines, `slotscaler_target_desired_parallelism{${LABELS('job')}} 8`);
    has(lines, `slotscaler_target_write_failures_total{${LABELS('refused')},reason="refused"} 2`);
    has(
      lines,
      `slotscaler_target_decisions_total{${LABELS('refused')},outcome="write-failed",reason="DesiredWithinRange"} 2`,
    );
  });

  it('counts a busy operator as a hold with its reason', async () => {
    const { registry, targets, busy, loop } = setUp();
    // An AverageValue metric: a busy operator reports no ready TaskManagers, which a Value one needs.
    targets.set(
      flinkDeployment('upgrading', {
        lifecycleState: 'UPGRADING',
        annotations: { 'slotscaler.dev/metrics': 'flink_busy_ratio=0.5:AverageValue' },
      }),
    );
    busy.busy.set('upgrading', 1);
    await loop.runOnce();
    has(
      await samples(registry),
      `slotscaler_target_holds_total{${LABELS('upgrading')},reason="operator-busy"} 1`,
    );
  });
});

describe('per-target metrics from the collector', () => {
  let server: FakeJobManagerServer;
  before(async () => {
    server = await FakeJobManagerServer.start();
  });
  after(async () => {
    await server.close();
  });

  it('counts a failing target by error code and shows the parallelism a running job runs at', async () => {
    const registry = new Registry();
    const clock = new FakeClock(Date.now());
    const metrics = createScalerMetrics(registry, clock);
    const running = server.addCluster({ name: 'running', jobs: [typicalJob({ parallelism: 3 })] });
    const broken = server.addCluster({ name: 'broken', jobs: [typicalJob({})] });
    broken.misbehave('server-error');
    const pool = new FlinkHttpPool(
      { requestTimeoutMs: 1000, maxRetries: 0 },
      { observer: metrics.collector },
    );
    try {
      const collector = new Collector({
        clientFor: (url) => pool.clientFor(url),
        clock,
        observer: metrics.collector,
      });
      const bindings = (name: string) => ({ namespace: 'flink', name, kind: 'FlinkDeployment' });
      collector.setTargets([
        { id: 'flinkdeployment/flink/running', jobManagerUrl: running.url, logBindings: bindings('running') },
        { id: 'flinkdeployment/flink/broken', jobManagerUrl: broken.url, logBindings: bindings('broken') },
      ]);
      const targets = new Targets();
      targets.set(flinkDeployment('running'));
      targets.set(flinkDeployment('broken'));
      metrics.targets.bind(
        scalerMetricsSource({
          registry: targets,
          recommendations: { recommendation: () => undefined },
          leader: { isLeader: () => false },
          collector,
          servedTargets: () => [],
        }),
      );
      await collector.tick();
      const lines = await samples(registry);
      has(
        lines,
        `slotscaler_target_collection_errors_total{${LABELS('broken')},reason="FLINK_HTTP_ERROR"} 1`,
      );
      has(lines, `slotscaler_target_running_parallelism{${LABELS('running')}} 3`);
      assert.ok(
        lines.some((line) =>
          /^slotscaler_flink_request_duration_seconds_count\{endpoint="jobs_overview",code="500"\} 1$/.test(
            line,
          ),
        ),
        'JobManager requests by endpoint and status code',
      );
      has(lines, 'slotscaler_leader_status 0');
      has(lines, 'slotscaler_ready 1');
    } finally {
      pool.close();
    }
  });
});

describe('scalerMetricsSource', () => {
  it('maps every registered target: served metrics with their age, TaskManagers, parallelism, mode', () => {
    const targets = new Targets();
    targets.set(flinkDeployment('job', { replicas: 2 }));
    targets.set(flinkDeployment('bad', { annotations: { 'slotscaler.dev/max-taskmanagers': 'lots' } }));
    const nowMs = Date.UTC(2026, 0, 1, 0, 0, 30);
    const served: ServedTarget = {
      id: 'flinkdeployment/flink/job',
      kind: 'flinkdeployment',
      namespace: 'flink',
      name: 'job',
      jobId: null,
      windowSeconds: 60,
      timestampMs: nowMs - 3_000,
      freshUntilMs: null,
      metrics: {
        flink_busy_ratio: { value: 0.8 },
        flink_source_lag_seconds: { unavailable: 'no-source' },
        flink_recommended_taskmanagers: { value: 3 },
      },
      object: {
        apiVersion: 'flink.apache.org/v1beta1',
        kind: 'FlinkDeployment',
        resource: 'flinkdeployments.flink.apache.org',
      },
      labels: {},
    };
    const source = scalerMetricsSource({
      registry: targets,
      recommendations: {
        recommendation: (id) =>
          id === served.id
            ? { replicas: 3, parallelism: 6, reason: 'DesiredWithinRange', atMs: nowMs - 10_000, jobId: null }
            : undefined,
      },
      leader: { isLeader: () => true },
      collector: { readiness: () => ({ ready: false, reason: 'no collection has completed yet' }) },
      servedTargets: () => [served],
    });
    assert.deepEqual(source.targets(nowMs), [
      {
        labels: { namespace: 'flink', name: 'job', kind: 'flinkdeployment' },
        mode: 'scale',
        metrics: [
          { name: 'flink_busy_ratio', value: 0.8, ageSeconds: 3 },
          { name: 'flink_source_lag_seconds', value: null, ageSeconds: 3 },
          { name: 'flink_recommended_taskmanagers', value: 3, ageSeconds: 10 },
        ],
        currentTaskManagers: 2,
        readyTaskManagers: 2,
        desiredTaskManagers: 3,
        currentParallelism: 4,
        desiredParallelism: 6,
      },
      {
        labels: { namespace: 'flink', name: 'bad', kind: 'flinkdeployment' },
        mode: 'invalid',
        metrics: [],
        currentTaskManagers: null,
        readyTaskManagers: null,
        desiredTaskManagers: null,
        currentParallelism: null,
        desiredParallelism: null,
      },
    ]);
    assert.equal(source.isLeader(), true);
    assert.equal(source.isReady(nowMs), false);
  });
});
