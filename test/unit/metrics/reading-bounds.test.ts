/**
 * Sane readings: a sample out of bounds never enters a window, a value the window computes out of
 * its range is never served, and a lying JobManager costs its own target its metrics, nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import fc from 'fast-check';
import '../../support/property-seed.js';
import { Registry } from 'prom-client';

import { Collector } from '../../../src/runtime/collector.js';
import type { TargetStatus } from '../../../src/runtime/collector.js';
import { MAX_LAG_SECONDS, boundJobMetrics, metricRanges } from '../../../src/metrics/metric-bounds.js';
import { MetricWindow, demandRatio } from '../../../src/metrics/metric-window.js';
import type { VertexWindowStats } from '../../../src/metrics/metric-window.js';
import type { FlinkMetricName, MetricReading } from '../../../src/domain/metrics.js';
import { FlinkHttpPool } from '../../../src/flink/rest-client.js';
import { createCollectorMetrics } from '../../../src/observability/metrics.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { FakeJobManagerServer, typicalJob } from '../../fakes/fake-jobmanager.js';
import { MAP, SINK, SOURCE, snapshotAt, T0 } from './synthetic-job.js';
import type { SyntheticVertex } from './synthetic-job.js';

/** One target's polling status, as `statuses()` reports it. */
function statusOf(collector: Collector, id: string): TargetStatus | undefined {
  return collector.statuses().find((status) => status.id === id);
}

const JOB = [SOURCE, MAP, SINK];

function reasons(metrics: Readonly<Record<string, MetricReading>>): string[] {
  return [
    ...new Set(Object.values(metrics).map((reading) => ('value' in reading ? 'value' : reading.unavailable))),
  ];
}

describe('a sample out of bounds never enters the window', () => {
  it('pendingRecords of 1e303: the sample is dropped and counted, the metrics say why', () => {
    const window = new MetricWindow({ windowSeconds: 60 });
    for (let at = T0; at <= T0 + 60_000; at += 15_000) window.add(snapshotAt(at, JOB));
    assert.deepEqual(reasons(window.readings(T0 + 60_000).metrics), ['value']);

    const lying = [{ ...SOURCE, pendingRecords: 1e303 }, MAP, SINK];
    const added = window.add(snapshotAt(T0 + 75_000, lying));
    assert.deepEqual(added.dropped, { implausible: 1 });
    assert.equal(window.size, 5, 'the sample did not enter');
    const readings = window.readings(T0 + 75_000);
    assert.deepEqual(reasons(readings.metrics), ['implausible']);
    const pending = readings.metrics.flink_source_pending_records;
    assert.ok('unavailable' in pending);
    assert.equal(
      pending.detail,
      'vertex "source" pendingRecords = 1e+303, above the ceiling of a record count of 9007199254740991',
    );

    // Good samples again: no metric until a whole window has passed since the lie.
    for (let at = T0 + 90_000; at <= T0 + 135_000; at += 15_000) window.add(snapshotAt(at, JOB));
    assert.deepEqual(reasons(window.readings(T0 + 134_999).metrics), ['implausible']);
    assert.deepEqual(reasons(window.readings(T0 + 135_000).metrics), ['value']);
  });

  it('a failure of the implausible kind takes the metrics away at once, fresh samples or not', () => {
    const window = new MetricWindow();
    for (let at = T0; at <= T0 + 60_000; at += 15_000) window.add(snapshotAt(at, JOB));
    const message =
      'implausible value from the Flink JobManager at http://jm/jobs/j: vertices[0].parallelism = 1000000000';
    window.recordFailure({ atMs: T0 + 61_000, code: 'FLINK_IMPLAUSIBLE_VALUE', message });
    const readings = window.readings(T0 + 61_000);
    assert.deepEqual(reasons(readings.metrics), ['implausible']);
    assert.deepEqual(readings.metrics.flink_busy_ratio, { unavailable: 'implausible', detail: message });
  });
});

describe('a value out of its range is never served', () => {
  it('pendingRecords swinging between 10 and 1e9 gives no demand of tens of thousands', () => {
    // The source reads 1,000 records/s: 15,000 a tick, while its backlog jumps by a billion.
    const swinging: SyntheticVertex = {
      ...SOURCE,
      pendingRecordsAt: (atMs) => (Math.round((atMs - T0) / 15_000) % 2 === 0 ? 10 : 1e9),
    };
    const window = new MetricWindow({ windowSeconds: 60 });
    for (let at = T0; at <= T0 + 75_000; at += 15_000) window.add(snapshotAt(at, [swinging, MAP, SINK]));
    const readings = window.readings(T0 + 75_000);
    // What the formula alone makes of it: a lie, not a load.
    const unbounded = demandRatio(
      readings.metrics.flink_busy_ratio,
      readings.metrics.flink_busy_ratio,
      readings.vertices.filter((vertex) => vertex.isSource),
      300,
    );
    assert.ok('value' in unbounded && unbounded.value > 30_000, JSON.stringify(unbounded));
    const demand = readings.metrics.flink_demand_ratio;
    assert.ok('unavailable' in demand, JSON.stringify(demand));
    assert.equal(demand.unavailable, 'implausible');
    assert.match(
      demand.detail ?? '',
      /^flink_demand_ratio \d+(\.\d+)? is outside 0\.\.32768 \(no parallelism up to Flink's 32768 serves more, from a vertex at 1\)$/,
    );
    assert.ok('value' in readings.metrics.flink_busy_ratio, 'the other metrics stand');
  });

  it('a lag beyond a billion seconds is not served', () => {
    const window = new MetricWindow({ windowSeconds: 60 });
    const behind = [{ ...SOURCE, pendingRecords: 2e12 }, MAP, SINK];
    for (let at = T0; at <= T0 + 60_000; at += 15_000) window.add(snapshotAt(at, behind));
    const { metrics } = window.readings(T0 + 60_000);
    assert.deepEqual(metrics.flink_source_pending_records, { value: 2e12 });
    assert.deepEqual(metrics.flink_source_lag_seconds, {
      unavailable: 'implausible',
      detail: `flink_source_lag_seconds 2000000000 is outside 0..${MAX_LAG_SECONDS} (the longest lag served)`,
    });
  });

  it('holds every metric to its range: ratios 0..1, nothing negative, nothing not finite', () => {
    const vertex = (parallelism: number, isSource: boolean): VertexWindowStats => ({
      id: `v${parallelism}`,
      name: `v${parallelism}`,
      parallelism,
      isSource,
      busyRatio: null,
      backPressureRatio: null,
      pendingRecords: null,
      recordsInPerSecond: null,
      backlogGrowthPerRecord: null,
      newestBacklogGrowthPerRecord: null,
      newestArrivalOverRead: null,
      newestBusyRatio: null,
      timeCountersReported: true,
    });
    const metrics: Record<FlinkMetricName, MetricReading> = {
      flink_busy_ratio: { value: 1.2 },
      flink_backpressure_ratio: { value: Number.NaN },
      flink_source_pending_records: { value: 5 },
      flink_source_lag_seconds: { value: -1 },
      flink_records_in_per_second: { value: 2e9 + 1 },
      flink_demand_ratio: { value: 8192 },
    };
    const bounded = boundJobMetrics(metrics, [vertex(2, true), vertex(4, false)]);
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(bounded).map(([name, reading]) => [
          name,
          'value' in reading ? reading.value : reading.unavailable,
        ]),
      ),
      {
        flink_busy_ratio: 'implausible',
        flink_backpressure_ratio: 'implausible',
        flink_source_pending_records: 5,
        flink_source_lag_seconds: 'implausible',
        // 10^9 records/s per source subtask, 2 of them.
        flink_records_in_per_second: 'implausible',
        // 32768 / 2, the smallest parallelism.
        flink_demand_ratio: 8192,
      },
    );
    assert.equal(
      (bounded.flink_records_in_per_second as { detail?: string }).detail,
      'flink_records_in_per_second 2000000001 is outside 0..2000000000 (1000000000 records/s per source subtask, 2 source subtasks)',
    );
  });
});

describe('whatever the samples say, what the window serves is within range', () => {
  it('holds for random counters, backlogs and parallelisms', () => {
    const count = fc.oneof(fc.constant(null), fc.double({ min: 0, max: 1e20, noNaN: true }));
    const sample = fc.record({
      pending: count,
      recordsIn: count,
      recordsOut: count,
      busy: count,
      idle: count,
      backPressured: count,
      parallelism: fc.integer({ min: 1, max: 40_000 }),
    });
    fc.assert(
      fc.property(fc.array(sample, { minLength: 2, maxLength: 6 }), (samples) => {
        const window = new MetricWindow({ windowSeconds: 120 });
        samples.forEach((values, index) => {
          const at = T0 + index * 15_000;
          const snapshot = snapshotAt(at, JOB);
          window.add({
            ...snapshot,
            vertices: snapshot.vertices.map((vertex) => ({
              ...vertex,
              parallelism: vertex.isSource ? values.parallelism : vertex.parallelism,
              counters: {
                ...vertex.counters,
                busyTimeMs: values.busy,
                idleTimeMs: values.idle,
                backPressuredTimeMs: values.backPressured,
              },
              source:
                vertex.source === null
                  ? null
                  : {
                      ...vertex.source,
                      pendingRecords: values.pending,
                      recordsIn: values.recordsIn,
                      recordsOut: values.recordsOut,
                    },
            })),
          });
        });
        const readings = window.readings(T0 + (samples.length - 1) * 15_000);
        const ranges = metricRanges(readings.vertices);
        for (const [name, reading] of Object.entries(readings.metrics) as [
          FlinkMetricName,
          MetricReading,
        ][]) {
          if ('value' in reading)
            assert.ok(
              Number.isFinite(reading.value) && reading.value >= 0 && reading.value <= ranges[name].max,
              `${name} = ${reading.value}`,
            );
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('Collector: a lying JobManager costs its own target its metrics, nothing else', () => {
  const clock = new FakeClock();
  let server: FakeJobManagerServer;

  before(async () => {
    server = await FakeJobManagerServer.start({ clock });
  });
  after(async () => {
    await server.close();
  });

  it('reports each lie as a failure of its target, and counts the dropped sample', async () => {
    const registry = new Registry();
    const metrics = createCollectorMetrics(registry);
    const pool = new FlinkHttpPool({ requestTimeoutMs: 2000, maxRetries: 0 }, { observer: metrics });
    const job = () => [typicalJob({ vertices: 3, sources: 1, busyRatio: 0.5, parallelism: 2 })];
    const clusters = {
      honest: server.addCluster({ name: 'honest', jobs: job() }),
      parallel: server.addCluster({ name: 'parallel', jobs: job() }),
      pending: server.addCluster({ name: 'pending', jobs: job() }),
    };
    const collector = new Collector({ clientFor: (url) => pool.clientFor(url), clock, observer: metrics });
    collector.setTargets(
      Object.entries(clusters).map(([name, cluster]) => ({ id: `ns/${name}`, jobManagerUrl: cluster.url })),
    );
    try {
      for (let tick = 0; tick < 6; tick += 1) {
        if (tick === 3) {
          clusters.parallel.claimParallelism(0, 1e9);
          clusters.pending.setSource(0, { pendingRecordsPerSubtask: 1e303 });
        }
        await collector.tick();
        clock.advance(15_000);
      }
      assert.equal(statusOf(collector, 'ns/honest')?.state, 'ok');
      assert.equal(
        typeof (collector.readings('ns/honest')?.metrics.flink_busy_ratio as { value?: number }).value,
        'number',
      );
      for (const [name, field] of [
        ['parallel', /vertices\[0\]\.parallelism = 1000000000, above Flink's maximum parallelism of 32768/],
        ['pending', /vertex "Source: Kafka 0" pendingRecords = 2e\+303, above the ceiling of a record count/],
      ] as const) {
        const status = statusOf(collector, `ns/${name}`);
        assert.equal(status?.state, 'failing', name);
        assert.equal(status.lastError?.code, 'FLINK_IMPLAUSIBLE_VALUE');
        assert.match(status.lastError.message, field);
        const readings = collector.readings(`ns/${name}`);
        assert.deepEqual(reasons(readings?.metrics ?? {}), ['implausible'], name);
      }
      const text = await registry.metrics();
      assert.match(text, /slotscaler_collector_samples_dropped_total\{reason="implausible"\} 3/);
      assert.match(text, /slotscaler_flink_requests_total\{endpoint="job_details",outcome="implausible"\} 3/);
      assert.match(text, /slotscaler_collector_targets\{state="failing"\} 2/);
    } finally {
      pool.close();
    }
  });
});
