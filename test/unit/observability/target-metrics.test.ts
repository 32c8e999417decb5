// Per-target Prometheus metrics: what each target's series say, and that they go when the target goes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Registry } from 'prom-client';

import { TargetMetrics } from '../../../src/observability/target-metrics.js';
import type { TargetMetricsSource, TargetSample } from '../../../src/observability/target-metrics.js';
import { FakeClock } from '../../fakes/fake-clock.js';

const JOB = { namespace: 'flink', name: 'job', kind: 'FlinkDeployment' };
const OTHER = { namespace: 'flink', name: 'other', kind: 'FlinkDeployment' };
/** The collector's view of JOB: its id and the labels bound to its logger. */
const COLLECTED_JOB = { id: 'flinkdeployment/flink/job', logBindings: JOB };

function sample(name: string, more: Partial<TargetSample> = {}): TargetSample {
  return {
    labels: { namespace: 'flink', name, kind: 'flinkdeployment' },
    mode: 'scale',
    metrics: [
      { name: 'flink_busy_ratio', value: 0.93, ageSeconds: 4 },
      { name: 'flink_source_lag_seconds', value: null, ageSeconds: 4 },
    ],
    currentTaskManagers: 2,
    readyTaskManagers: 2,
    desiredTaskManagers: 3,
    currentParallelism: 4,
    desiredParallelism: 6,
    ...more,
  };
}

/** A source whose target list the test changes. */
class ListSource implements TargetMetricsSource {
  list: TargetSample[] = [];
  leader = true;
  ready = true;
  targets(): readonly TargetSample[] {
    return this.list;
  }
  isLeader(): boolean {
    return this.leader;
  }
  isReady(): boolean {
    return this.ready;
  }
}

function setUp(): { registry: Registry; clock: FakeClock; source: ListSource; metrics: TargetMetrics } {
  const registry = new Registry();
  const clock = new FakeClock();
  const source = new ListSource();
  const metrics = new TargetMetrics(registry, clock);
  metrics.bind(source);
  return { registry, clock, source, metrics };
}

/** The sample lines of the exposition, without comments. */
async function samples(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

const JOB_LABELS = 'namespace="flink",name="job",kind="flinkdeployment"';

describe('TargetMetrics', () => {
  it('shows each opted-in target: info, served metric values, availability and age, TaskManagers and parallelism', async () => {
    const { registry, source } = setUp();
    source.list = [sample('job')];
    const lines = await samples(registry);
    for (const expected of [
      `slotscaler_target_info{${JOB_LABELS},mode="scale"} 1`,
      `slotscaler_target_metric_value{${JOB_LABELS},metric="flink_busy_ratio"} 0.93`,
      `slotscaler_target_metric_available{${JOB_LABELS},metric="flink_busy_ratio"} 1`,
      `slotscaler_target_metric_available{${JOB_LABELS},metric="flink_source_lag_seconds"} 0`,
      `slotscaler_target_metric_age_seconds{${JOB_LABELS},metric="flink_source_lag_seconds"} 4`,
      `slotscaler_target_current_taskmanagers{${JOB_LABELS}} 2`,
      `slotscaler_target_ready_taskmanagers{${JOB_LABELS}} 2`,
      `slotscaler_target_desired_taskmanagers{${JOB_LABELS}} 3`,
      `slotscaler_target_current_parallelism{${JOB_LABELS}} 4`,
      `slotscaler_target_desired_parallelism{${JOB_LABELS}} 6`,
      'slotscaler_leader_status 1',
      'slotscaler_ready 1',
    ])
      assert.ok(lines.includes(expected), `${expected} in\n${lines.join('\n')}`);
    assert.ok(
      !lines.some((line) =>
        line.startsWith(`slotscaler_target_metric_value{${JOB_LABELS},metric="flink_source_lag`),
      ),
      'an unavailable metric has no value',
    );
    source.leader = false;
    source.ready = false;
    const later = await samples(registry);
    assert.ok(later.includes('slotscaler_leader_status 0'));
    assert.ok(later.includes('slotscaler_ready 0'));
  });

  it('counts decisions by outcome and reason, holds by reason, rescales by direction and path, failed writes', async () => {
    const { registry, source, metrics } = setUp();
    source.list = [sample('job')];
    metrics.observeOutcome({ ref: JOB }, 'unchanged', 'DesiredWithinRange');
    metrics.observeOutcome({ ref: JOB }, 'unchanged', 'DesiredWithinRange');
    metrics.observeOutcome({ ref: JOB }, 'no-metrics', 'DesiredWithinRange');
    metrics.observeHold({ ref: JOB }, 'operator-busy');
    metrics.observeOutcome({ ref: JOB }, 'held', 'ScaleUpLimit');
    const steps = [
      { path: '/apis/flink.apache.org/v1beta1/namespaces/flink/flinkdeployments/job', what: 'x' },
    ];
    metrics.observeWrite(
      { ref: JOB },
      {
        atMs: 0,
        fromReplicas: 2,
        toReplicas: 3,
        parallelism: 6,
        path: 'in-place',
        steps,
        outcome: { ok: false, kind: 'refused' },
      },
    );
    metrics.observeWrite(
      { ref: JOB },
      {
        atMs: 0,
        fromReplicas: 2,
        toReplicas: 3,
        parallelism: 6,
        path: 'in-place',
        steps,
        outcome: { ok: true },
      },
    );
    metrics.observeWrite(
      { ref: JOB },
      {
        atMs: 0,
        fromReplicas: 3,
        toReplicas: 1,
        parallelism: 2,
        path: 'scale',
        steps: [
          { path: `${steps[0]?.path ?? ''}/scale`, what: 'scale' },
          { path: steps[0]?.path ?? '', what: 'slotscaler.dev/status' },
        ],
        outcome: { ok: true },
      },
    );
    const lines = await samples(registry);
    for (const expected of [
      `slotscaler_target_decisions_total{${JOB_LABELS},outcome="unchanged",reason="DesiredWithinRange"} 2`,
      `slotscaler_target_decisions_total{${JOB_LABELS},outcome="no-metrics",reason="none"} 1`,
      `slotscaler_target_decisions_total{${JOB_LABELS},outcome="held",reason="ScaleUpLimit"} 1`,
      `slotscaler_target_holds_total{${JOB_LABELS},reason="operator-busy"} 1`,
      `slotscaler_target_write_failures_total{${JOB_LABELS},reason="refused"} 1`,
      `slotscaler_target_rescales_total{${JOB_LABELS},direction="up",path="in-place"} 1`,
      `slotscaler_target_rescales_total{${JOB_LABELS},direction="down",path="scale"} 1`,
    ])
      assert.ok(lines.includes(expected), `${expected} in\n${lines.join('\n')}`);
  });

  it('says how long a change has been held, and forgets the hold once the target is not held', async () => {
    const { registry, clock, source, metrics } = setUp();
    source.list = [sample('job')];
    metrics.observeHold({ ref: JOB }, 'operator-busy');
    metrics.observeOutcome({ ref: JOB }, 'held', 'DesiredWithinRange');
    clock.advance(90_000);
    metrics.observeHold({ ref: JOB }, 'operator-busy');
    metrics.observeOutcome({ ref: JOB }, 'held', 'DesiredWithinRange');
    assert.ok(
      (await samples(registry)).includes(
        `slotscaler_target_held_seconds{${JOB_LABELS},reason="operator-busy"} 90`,
      ),
    );
    // Another reason starts the clock again.
    metrics.observeHold({ ref: JOB }, 'backoff');
    clock.advance(5_000);
    assert.ok(
      (await samples(registry)).includes(`slotscaler_target_held_seconds{${JOB_LABELS},reason="backoff"} 5`),
    );
    metrics.observeOutcome({ ref: JOB }, 'unchanged', 'DesiredWithinRange');
    clock.advance(5_000);
    assert.ok(!(await samples(registry)).some((line) => line.startsWith('slotscaler_target_held_seconds')));
  });

  it('times a rescale from its write until the job runs at the new parallelism; pending until then', async () => {
    const { registry, clock, source, metrics } = setUp();
    source.list = [sample('job')];
    const writtenAtMs = clock.nowMs();
    metrics.observeTargetSnapshot(COLLECTED_JOB, {
      state: 'RUNNING',
      takenAtMs: writtenAtMs - 1,
      vertices: [{ parallelism: 4 }],
    });
    metrics.observeWrite(
      { ref: JOB },
      {
        atMs: writtenAtMs,
        fromReplicas: 2,
        toReplicas: 3,
        parallelism: 6,
        path: 'redeploy',
        steps: [{ path: '/x', what: 'spec' }],
        outcome: { ok: true },
      },
    );
    clock.advance(20_000);
    // Restarting, then running at the old parallelism: not yet.
    metrics.observeTargetSnapshot(COLLECTED_JOB, {
      state: 'RESTARTING',
      takenAtMs: clock.nowMs(),
      vertices: [{ parallelism: 4 }],
    });
    let lines = await samples(registry);
    assert.ok(
      lines.includes(`slotscaler_target_rescale_pending_seconds{${JOB_LABELS}} 20`),
      lines.join('\n'),
    );
    assert.ok(!lines.some((line) => line.startsWith('slotscaler_target_running_parallelism')), 'not RUNNING');
    metrics.observeTargetSnapshot(COLLECTED_JOB, {
      state: 'RUNNING',
      takenAtMs: clock.nowMs(),
      vertices: [{ parallelism: 4 }],
    });
    assert.ok(
      (await samples(registry)).some((line) => line.startsWith('slotscaler_target_rescale_pending_seconds')),
    );

    clock.advance(12_000);
    metrics.observeTargetSnapshot(COLLECTED_JOB, {
      state: 'RUNNING',
      takenAtMs: clock.nowMs(),
      vertices: [{ parallelism: 2 }, { parallelism: 6 }],
    });
    clock.advance(1_000);
    lines = await samples(registry);
    assert.ok(
      lines.includes(`slotscaler_target_rescale_duration_seconds_count{${JOB_LABELS}} 1`),
      lines.join('\n'),
    );
    assert.ok(lines.includes(`slotscaler_target_rescale_duration_seconds_sum{${JOB_LABELS}} 32`));
    assert.ok(lines.includes(`slotscaler_target_rescale_duration_seconds_bucket{le="60",${JOB_LABELS}} 1`));
    assert.ok(lines.includes(`slotscaler_target_rescale_duration_seconds_bucket{le="30",${JOB_LABELS}} 0`));
    assert.ok(lines.includes(`slotscaler_target_running_parallelism{${JOB_LABELS}} 6`));
    assert.ok(!lines.some((line) => line.startsWith('slotscaler_target_rescale_pending_seconds')));
  });

  it('counts collection errors per target, by error code; labels from the collector target or its id', async () => {
    const { registry, source, metrics } = setUp();
    source.list = [sample('job'), sample('other')];
    metrics.observeTargetFailure(COLLECTED_JOB, 'FLINK_UNREACHABLE');
    metrics.observeTargetFailure(COLLECTED_JOB, 'FLINK_UNREACHABLE');
    metrics.observeTargetFailure({ id: 'flinkdeployment/flink/other' }, 'FLINK_TIMEOUT');
    const lines = await samples(registry);
    assert.ok(
      lines.includes(`slotscaler_target_collection_errors_total{${JOB_LABELS},reason="FLINK_UNREACHABLE"} 2`),
    );
    assert.ok(
      lines.includes(
        'slotscaler_target_collection_errors_total{namespace="flink",name="other",kind="flinkdeployment",reason="FLINK_TIMEOUT"} 1',
      ),
    );
  });

  it('removes every series of a target when it goes, and keeps the others', async () => {
    const { registry, clock, source, metrics } = setUp();
    source.list = [sample('job'), sample('other')];
    for (const ref of [JOB, OTHER]) {
      metrics.observeOutcome({ ref }, 'scaled', 'DesiredWithinRange');
      metrics.observeHold({ ref }, 'post-rescale');
      metrics.observeWrite(
        { ref },
        {
          atMs: 0,
          fromReplicas: 1,
          toReplicas: 2,
          parallelism: 4,
          path: 'in-place',
          steps: [],
          outcome: { ok: true },
        },
      );
      metrics.observeWrite(
        { ref },
        {
          atMs: 0,
          fromReplicas: 1,
          toReplicas: 2,
          parallelism: 4,
          path: 'in-place',
          steps: [],
          outcome: { ok: false, kind: 'throttled' },
        },
      );
    }
    metrics.observeTargetSnapshot(COLLECTED_JOB, {
      state: 'RUNNING',
      takenAtMs: 1,
      vertices: [{ parallelism: 4 }],
    });
    metrics.observeTargetFailure(COLLECTED_JOB, 'FLINK_UNREACHABLE');
    const before = await samples(registry);
    const ofJob = (lines: string[]): string[] => lines.filter((line) => line.includes('name="job"'));
    // (but for the pending rescale's age, which grows with the clock)
    const ofOther = (lines: string[]): string[] =>
      lines.filter((line) => line.includes('name="other"') && !line.includes('_pending_seconds'));
    const names = (lines: string[]): Set<string> => new Set(lines.map((line) => line.replace(/[{ ].*/, '')));
    assert.deepEqual([...names(ofJob(before))].sort(), [
      'slotscaler_target_collection_errors_total',
      'slotscaler_target_current_parallelism',
      'slotscaler_target_current_taskmanagers',
      'slotscaler_target_decisions_total',
      'slotscaler_target_desired_parallelism',
      'slotscaler_target_desired_taskmanagers',
      'slotscaler_target_holds_total',
      'slotscaler_target_info',
      'slotscaler_target_metric_age_seconds',
      'slotscaler_target_metric_available',
      'slotscaler_target_metric_value',
      'slotscaler_target_ready_taskmanagers',
      'slotscaler_target_rescale_duration_seconds_bucket',
      'slotscaler_target_rescale_duration_seconds_count',
      'slotscaler_target_rescale_duration_seconds_sum',
      'slotscaler_target_rescales_total',
      'slotscaler_target_running_parallelism',
      'slotscaler_target_write_failures_total',
    ]);
    const otherBefore = ofOther(before);

    source.list = [sample('other')];
    clock.advance(1_000);
    const after = await samples(registry);
    assert.deepEqual(ofJob(after), [], 'no series of the target that went');
    assert.deepEqual(ofOther(after), otherBefore, 'the other target keeps its series');

    // It comes back: counted from zero again.
    source.list = [sample('other'), sample('job')];
    clock.advance(1_000);
    metrics.observeOutcome({ ref: JOB }, 'unchanged', 'DesiredWithinRange');
    assert.ok(
      (await samples(registry)).includes(
        `slotscaler_target_decisions_total{${JOB_LABELS},outcome="unchanged",reason="DesiredWithinRange"} 1`,
      ),
    );
  });

  it('forgets gone targets from the scaling loop reports as well, without a scrape', async () => {
    const { registry, clock, source, metrics } = setUp();
    source.list = [sample('job'), sample('other')];
    metrics.observeOutcome({ ref: JOB }, 'unchanged', 'DesiredWithinRange');
    metrics.observeOutcome({ ref: OTHER }, 'unchanged', 'DesiredWithinRange');
    source.list = [sample('other')];
    clock.advance(15_000);
    metrics.observeOutcome({ ref: OTHER }, 'unchanged', 'DesiredWithinRange');
    // Read the counter alone: the gauges' scrape-time pruning does not run.
    const counter = await registry.getSingleMetric('slotscaler_target_decisions_total')?.get();
    assert.deepEqual(
      counter?.values.map((value) => value.labels['name']),
      ['other'],
    );
  });

  it('has no per-target gauges before a source is bound, and says neither leader nor ready', async () => {
    const registry = new Registry();
    const metrics = new TargetMetrics(registry, new FakeClock());
    metrics.observeOutcome({ ref: JOB }, 'unchanged', 'DesiredWithinRange');
    const lines = await samples(registry);
    assert.deepEqual(
      lines.filter((line) => !line.startsWith('slotscaler_target_decisions_total')),
      ['slotscaler_leader_status 0', 'slotscaler_ready 0'],
    );
  });
});
