import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import { pino } from 'pino';
import { Registry } from 'prom-client';

import { Collector, collectionReadiness, collectorTargetOf } from '../../../src/runtime/collector.js';
import type { CollectorTarget, TargetStatus } from '../../../src/runtime/collector.js';
import { FlinkHttpPool } from '../../../src/flink/rest-client.js';
import type { Logger } from '../../../src/observability/logger.js';
import { createCollectorMetrics } from '../../../src/observability/metrics.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { FakeJobManagerServer, typicalJob } from '../../fakes/fake-jobmanager.js';
import type { FakeCluster } from '../../fakes/fake-jobmanager.js';
import { flinkDeployment, register } from '../../fakes/flink-deployment-target.js';

interface LogLine {
  readonly level: string;
  readonly bindings: Record<string, unknown>;
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** One target's polling status, as `statuses()` reports it. */
function statusOf(collector: Collector, id: string): TargetStatus | undefined {
  return collector.statuses().find((status) => status.id === id);
}

function recordingLogger(lines: LogLine[], bindings: Record<string, unknown> = {}): Logger {
  const log =
    (level: string) =>
    (obj: Record<string, unknown>, msg: string): void => {
      lines.push({ level, bindings, obj, msg });
    };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (more) => recordingLogger(lines, { ...bindings, ...more }),
  };
}

describe('Collector', () => {
  const clock = new FakeClock();
  let server: FakeJobManagerServer;
  let healthy: FakeCluster[];
  let broken: FakeCluster;
  let pool: FlinkHttpPool;
  let registry: Registry;
  let lines: LogLine[];

  before(async () => {
    server = await FakeJobManagerServer.start({ clock });
    healthy = [0, 1].map((index) =>
      server.addCluster({
        name: `ok-${index}`,
        jobs: [typicalJob({ vertices: 4, sources: 1, busyRatio: 0.8 })],
      }),
    );
    broken = server.addCluster({ name: 'broken', jobs: [typicalJob({})] });
  });
  after(async () => {
    await server.close();
  });
  afterEach(() => {
    pool.close();
    broken.behave();
    for (const cluster of healthy) cluster.behave();
  });

  function collector(
    options: { requestTimeoutMs?: number; targetDeadlineMs?: number; intervalMs?: number } = {},
  ): Collector {
    registry = new Registry();
    lines = [];
    const metrics = createCollectorMetrics(registry);
    pool = new FlinkHttpPool(
      { requestTimeoutMs: options.requestTimeoutMs ?? 1000, maxRetries: 0 },
      { observer: metrics },
    );
    return new Collector(
      { clientFor: (url) => pool.clientFor(url), clock, observer: metrics, logger: recordingLogger(lines) },
      { targetDeadlineMs: options.targetDeadlineMs ?? 5000, intervalMs: options.intervalMs ?? 15_000 },
    );
  }

  function targets(): CollectorTarget[] {
    return [
      ...healthy.map((cluster, index) => ({
        id: `ns/ok-${index}`,
        jobManagerUrl: cluster.url,
        logBindings: { namespace: 'ns', name: `ok-${index}` },
      })),
      { id: 'ns/broken', jobManagerUrl: broken.url, logBindings: { namespace: 'ns', name: 'broken' } },
    ];
  }

  it('polls every target, records the failing one and carries on with the others', async () => {
    const subject = collector();
    subject.setTargets(targets());
    broken.misbehave('html');
    const first = await subject.tick();
    assert.deepEqual([first.skipped, first.targets, first.succeeded, first.failed], [false, 3, 2, 1]);
    clock.advance(15_000);
    const second = await subject.tick();
    assert.equal(second.restCalls, 2 * (1 + 1), 'steady state: 1 + sources per target');

    const readings = subject.readings('ns/ok-0');
    assert.ok(readings !== undefined);
    assert.ok(
      'value' in readings.metrics.flink_busy_ratio &&
        Math.abs(readings.metrics.flink_busy_ratio.value - 0.8) < 1e-9,
    );
    assert.deepEqual(readings.metrics.flink_source_pending_records, { value: 200 });

    const status = statusOf(subject, 'ns/broken');
    assert.equal(status?.state, 'failing');
    assert.equal(status.lastError?.code, 'FLINK_BAD_RESPONSE');
    assert.equal(status.consecutiveFailures, 2);
    const brokenReadings = subject.readings('ns/broken');
    assert.ok(brokenReadings !== undefined && 'unavailable' in brokenReadings.metrics.flink_busy_ratio);
    assert.equal(statusOf(subject, 'ns/ok-1')?.state, 'ok');
    assert.equal(statusOf(subject, 'ns/ok-1')?.lastRestCalls, 2);

    const warnings = lines.filter((line) => line.level === 'warn');
    assert.equal(warnings.length, 1, 'warned once, not on every tick');
    assert.deepEqual(warnings[0]?.bindings, { target: 'ns/broken', namespace: 'ns', name: 'broken' });
    assert.equal(warnings[0].obj['code'], 'FLINK_BAD_RESPONSE');
    assert.ok(warnings[0].obj['err'] instanceof Error);

    const text = await registry.metrics();
    assert.match(text, /slotscaler_flink_requests_total\{endpoint="job_details",outcome="ok"\} 4/);
    assert.match(
      text,
      /slotscaler_flink_requests_total\{endpoint="jobs_overview",outcome="bad_response"\} 2/,
    );
    assert.match(text, /slotscaler_collector_targets\{state="ok"\} 2/);
    assert.match(text, /slotscaler_collector_targets\{state="failing"\} 1/);
    assert.match(text, /slotscaler_collector_tick_duration_seconds_count 2/);
  });

  it('detects a restart, drops the window and counts the dropped samples', async () => {
    const subject = collector();
    subject.setTargets(targets().slice(0, 1));
    for (let tick = 0; tick < 3; tick += 1) {
      await subject.tick();
      clock.advance(15_000);
    }
    healthy[0]?.restartJob();
    clock.advance(1000);
    await subject.tick();
    const readings = subject.readings('ns/ok-0');
    assert.deepEqual(readings?.metrics.flink_busy_ratio, { unavailable: 'restarting' });
    assert.match(
      await registry.metrics(),
      /slotscaler_collector_samples_dropped_total\{reason="restart"\} 3/,
    );
    assert.ok(lines.some((line) => line.level === 'info' && /restart detected/.test(line.msg)));
  });

  it('logs a failure that lasts once per cause per 5 minutes, however two causes alternate', async () => {
    const subject = collector();
    subject.setTargets(targets());
    const warnings = (): string[] =>
      lines
        .filter((line) => line.level === 'warn' && line.bindings['name'] === 'broken')
        .map((line) => String(line.obj['code']));
    // Ten minutes of ticks, the JobManager answering 500 and garbage in turn.
    for (let tick = 0; tick < 40; tick++) {
      broken.behave();
      broken.misbehave(tick % 2 === 0 ? 'server-error' : 'garbled');
      await subject.tick();
      clock.advance(15_000);
    }
    assert.deepEqual(warnings(), [
      'FLINK_HTTP_ERROR',
      'FLINK_BAD_RESPONSE',
      'FLINK_HTTP_ERROR',
      'FLINK_BAD_RESPONSE',
    ]);
    const again = lines.filter((line) => line.level === 'warn' && line.bindings['name'] === 'broken')[2];
    assert.equal(again?.obj['heldBack'], 9, 'the lines held back are counted');
    broken.behave();
    await subject.tick();
    assert.ok(lines.some((line) => line.level === 'info' && /readable again/.test(line.msg)));
    broken.misbehave('server-error');
    clock.advance(15_000);
    await subject.tick();
    assert.equal(warnings().length, 5, 'after a recovery, a new failure is said at once');
  });

  it('never overlaps ticks: a tick due while one runs is skipped and counted', async () => {
    const subject = collector({ requestTimeoutMs: 300 });
    subject.setTargets(targets());
    broken.misbehave('hang');
    const running = subject.tick();
    const skipped = await subject.tick();
    assert.equal(skipped.skipped, true);
    const done = await running;
    assert.equal(done.skipped, false);
    assert.equal(done.failed, 1);
    assert.equal(statusOf(subject, 'ns/broken')?.lastError?.code, 'FLINK_TIMEOUT');
    assert.deepEqual(
      { ticks: subject.stats().ticks, skipped: subject.stats().skippedTicks },
      { ticks: 1, skipped: 1 },
    );
    assert.match(await registry.metrics(), /slotscaler_collector_ticks_skipped_total 1/);
  });

  it('gives up on a target past the deadline, and skips it while its snapshot is in flight', async () => {
    const subject = collector({ requestTimeoutMs: 1500, targetDeadlineMs: 200 });
    subject.setTargets(targets());
    broken.misbehave('hang');
    const started = Date.now();
    const first = await subject.tick();
    assert.ok(Date.now() - started < 1000, 'the tick ends at the deadline');
    assert.deepEqual([first.succeeded, first.failed], [2, 1]);
    // Not "unreachable": the JobManager may be answering, slowly or with retries.
    assert.equal(statusOf(subject, 'ns/broken')?.lastError?.code, 'FLINK_SNAPSHOT_DEADLINE');
    assert.match(
      statusOf(subject, 'ns/broken')?.lastError?.message ?? '',
      /no complete snapshot within the 200 ms deadline/,
    );
    const second = await subject.tick();
    assert.equal(second.inFlight, 1);
    await subject.stop();
  });

  it('forgets removed targets and starts over when a target changes', async () => {
    const subject = collector();
    subject.setTargets(targets());
    await subject.tick();
    subject.setTargets(targets().slice(0, 1));
    assert.equal(subject.readings('ns/ok-1'), undefined);
    assert.equal(subject.statuses().length, 1);
    const before = statusOf(subject, 'ns/ok-0');
    subject.setTargets(targets().slice(0, 1));
    assert.equal(statusOf(subject, 'ns/ok-0'), before, 'unchanged target kept');
    subject.setTargets([{ id: 'ns/ok-0', jobManagerUrl: healthy[1]?.url ?? '' }]);
    assert.equal(statusOf(subject, 'ns/ok-0')?.state, 'pending');
  });

  it('is ready once a tick completes (failing targets included) and stops being ready when ticks stop', async () => {
    const subject = collector({ intervalMs: 15_000, targetDeadlineMs: 12_000, requestTimeoutMs: 300 });
    subject.setTargets(targets());
    assert.deepEqual(subject.readiness(), { ready: false, reason: 'no collection has completed yet' });
    broken.misbehave('hang');
    const tick = await subject.tick();
    assert.equal(tick.failed, 1);
    assert.deepEqual(subject.readiness(), { ready: true }, 'one failing target is its own report');
    clock.advance(3 * 15_000 + 12_000);
    assert.deepEqual(subject.readiness(), { ready: true });
    clock.advance(1000);
    assert.deepEqual(subject.readiness(), {
      ready: false,
      reason: 'no collection has completed for 58 s (one every 15 s expected)',
    });
    await subject.tick();
    assert.deepEqual(subject.readiness(), { ready: true }, 'ready again with the next tick');
  });

  it('logs through pino: JSON, a child per target, the error under err', async () => {
    const output: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => output.push(line) });
    pool = new FlinkHttpPool({ maxRetries: 0 });
    const subject = new Collector({ clientFor: (url) => pool.clientFor(url), clock, logger });
    subject.setTargets([
      { id: 'ns/bad', jobManagerUrl: 'jobmanager:8081', logBindings: { namespace: 'ns' } },
    ]);
    await subject.tick();
    const warn = output
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line['level'] === 40);
    assert.equal(warn?.['target'], 'ns/bad');
    assert.equal(warn['namespace'], 'ns');
    assert.equal(warn['code'], 'FLINK_UNREACHABLE');
    assert.equal((warn['err'] as { type?: string } | undefined)?.type, 'FlinkUnreachableError');
    assert.equal(warn['msg'], 'target skipped: cannot read its Flink job');
  });

  it('records a bad URL as a failing target', async () => {
    const subject = collector();
    subject.setTargets([{ id: 'ns/bad', jobManagerUrl: 'jobmanager:8081' }]);
    const result = await subject.tick();
    assert.equal(result.failed, 1);
    assert.equal(statusOf(subject, 'ns/bad')?.lastError?.code, 'FLINK_UNREACHABLE');
  });
});

describe('collectionReadiness', () => {
  const options = { intervalMs: 15_000, targetDeadlineMs: 12_000 };
  const stats = (lastTickEndedAtMs: number | null, lastTickDurationMs: number | null = 100) => ({
    ticks: lastTickEndedAtMs === null ? 0 : 1,
    skippedTicks: 0,
    lastTickDurationMs,
    lastTickEndedAtMs,
  });
  it('allows 3 periods plus one deadline between completed ticks', () => {
    assert.equal(collectionReadiness(stats(0), options, 57_000).ready, true);
    assert.equal(collectionReadiness(stats(0), options, 57_001).ready, false);
  });
  it('takes the tick’s own duration as its period when ticks run longer than the interval', () => {
    // 2,000 targets at 64 at a time, say: a tick of 90 s, and ticks due meanwhile skipped.
    assert.equal(collectionReadiness(stats(0, 90_000), options, 3 * 90_000 + 12_000).ready, true);
    assert.equal(collectionReadiness(stats(0, 90_000), options, 3 * 90_000 + 12_001).ready, false);
  });
});

describe('collectorTargetOf', () => {
  it('reads what the collector needs of a ready target, and nothing of an invalid one', () => {
    const ready = register(
      flinkDeployment('job', { annotations: { 'slotscaler.dev/metrics-window': '2m' } }),
    );
    assert.deepEqual(collectorTargetOf(ready), {
      id: 'flinkdeployment/flink/job',
      jobManagerUrl: 'http://job-rest.flink:8081',
      jobId: 'a'.repeat(32),
      window: {
        windowSeconds: 120,
        restartHoldoffSeconds: 300,
        maxSampleAgeSeconds: 60,
        catchUpSeconds: 300,
      },
      wantTaskSlots: false,
      wantCheckpoints: true,
      logBindings: { namespace: 'flink', name: 'job', kind: 'FlinkDeployment' },
    });
    const invalid = register(
      flinkDeployment('job', { annotations: { 'slotscaler.dev/max-taskmanagers': 'x' } }),
    );
    assert.equal(collectorTargetOf(invalid), null);
  });

  it('reads checkpoints only for a target that writes and times its rescales on them', () => {
    const wants = (annotations: Record<string, string>): boolean | undefined =>
      collectorTargetOf(register(flinkDeployment('job', { annotations })))?.wantCheckpoints;
    assert.equal(wants({}), true);
    assert.equal(wants({ 'slotscaler.dev/rescale-after-checkpoint': 'false' }), false);
    assert.equal(wants({ 'slotscaler.dev/mode': 'recommend' }), false);
    assert.equal(wants({ 'slotscaler.dev/mode': 'metrics-only' }), false);
  });
});
