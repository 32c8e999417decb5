import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  capacityUnitsOf,
  countersWentBack,
  demandRatio,
  jobMetrics,
  MetricWindow,
} from '../../../src/metrics/metric-window.js';
import type { MetricWindowOptions, VertexWindowStats } from '../../../src/metrics/metric-window.js';
import type { WindowReadings } from '../../../src/metrics/metric-window.js';
import type { JobSnapshot, VertexSnapshot } from '../../../src/domain/flink.js';
import type { MetricReading } from '../../../src/domain/metrics.js';
import { MAP, SINK, SOURCE, snapshotAt, T0 } from './synthetic-job.js';
import type { SyntheticVertex } from './synthetic-job.js';

const JOB = [SOURCE, MAP, SINK];

function value(reading: MetricReading | undefined): number {
  assert.ok(reading !== undefined && 'value' in reading, `expected a value, got ${JSON.stringify(reading)}`);
  return reading.value;
}

function reason(reading: MetricReading | undefined): string {
  assert.ok(
    reading !== undefined && 'unavailable' in reading,
    `expected unavailable, got ${JSON.stringify(reading)}`,
  );
  return reading.unavailable;
}

function allReasons(readings: WindowReadings): string[] {
  return [...new Set(Object.values(readings.metrics).map(reason))];
}

/** Adds a sample every `stepMs` from `fromMs` to `toMs` (inclusive). */
function fill(
  window: MetricWindow,
  fromMs: number,
  toMs: number,
  vertices: readonly SyntheticVertex[] = JOB,
  options: Parameters<typeof snapshotAt>[2] = {},
  stepMs = 15_000,
): void {
  for (let at = fromMs; at <= toMs; at += stepMs) window.add(snapshotAt(at, vertices, options));
}

/** A sample every 15 s over the default 60 s window, each source vertex rewritten by `rewrite`. */
function fillRewritingSources(
  window: MetricWindow,
  vertices: readonly SyntheticVertex[],
  rewrite: (source: VertexSnapshot, atMs: number) => VertexSnapshot,
): void {
  for (let at = T0; at <= T0 + 60_000; at += 15_000) {
    const snapshot = snapshotAt(at, vertices);
    window.add({
      ...snapshot,
      vertices: snapshot.vertices.map((vertex) => (vertex.source === null ? vertex : rewrite(vertex, at))),
    });
  }
}

describe('MetricWindow: the catalogue metrics of a steady job', () => {
  const window = new MetricWindow();
  fill(window, T0, T0 + 60_000);
  const readings = window.readings(T0 + 60_000);

  it('averages over the window from counter differences', () => {
    assert.equal(readings.sampleCount, 5);
    assert.equal(readings.spanSeconds, 60);
    assert.ok(
      Math.abs(value(readings.metrics.flink_busy_ratio) - 0.95) < 1e-9,
      'the map, the busiest vertex',
    );
    assert.ok(Math.abs(value(readings.metrics.flink_backpressure_ratio) - 0.8) < 1e-9, 'the source');
  });

  it('sums pendingRecords over sources and divides by their read rate for the lag', () => {
    assert.equal(value(readings.metrics.flink_source_pending_records), 5000);
    assert.ok(Math.abs(value(readings.metrics.flink_records_in_per_second) - 1000) < 1e-6);
    assert.ok(Math.abs(value(readings.metrics.flink_source_lag_seconds) - 5) < 1e-6);
  });

  it('keeps the per-vertex averages', () => {
    assert.deepEqual(
      readings.vertices.map((vertex) => [
        vertex.id,
        vertex.busyRatio?.toFixed(2),
        vertex.backPressureRatio?.toFixed(2),
      ]),
      [
        ['source', '0.10', '0.80'],
        ['map', '0.95', '0.00'],
        ['sink', '0.30', '0.00'],
      ],
    );
    assert.equal(readings.jobId, 'job-1');
    assert.equal(readings.taskSlots, 2);
  });
});

describe('MetricWindow: not enough to say', () => {
  it('has no data before the first sample', () => {
    assert.deepEqual(allReasons(new MetricWindow().readings(T0)), ['no-data']);
  });

  it('needs two samples', () => {
    const window = new MetricWindow();
    window.add(snapshotAt(T0, JOB));
    const readings = window.readings(T0);
    assert.deepEqual(allReasons(readings), ['not-enough-samples']);
    assert.equal(readings.sampleCount, 1);
  });

  it('has no metrics once the last good sample is older than the maximum age', () => {
    const window = new MetricWindow({ maxSampleAgeSeconds: 45 });
    fill(window, T0, T0 + 60_000);
    assert.equal(typeof value(window.readings(T0 + 105_000).metrics.flink_busy_ratio), 'number');
    assert.deepEqual(allReasons(window.readings(T0 + 105_001)), ['stale']);
  });

  it('serves the window through a passing network failure, then goes stale', () => {
    const window = new MetricWindow({ maxSampleAgeSeconds: 60 });
    fill(window, T0, T0 + 60_000);
    window.recordFailure({ atMs: T0 + 75_000, code: 'FLINK_TIMEOUT', message: 'no answer within 5000 ms' });
    assert.ok(value(window.readings(T0 + 75_000).metrics.flink_busy_ratio) > 0.9);
    const stale = window.readings(T0 + 130_000);
    assert.deepEqual(allReasons(stale), ['stale']);
    assert.equal((stale.metrics.flink_busy_ratio as { detail?: string }).detail, 'no answer within 5000 ms');
  });

  it('has no metrics when there is no job to read', () => {
    const window = new MetricWindow();
    fill(window, T0, T0 + 60_000);
    window.recordFailure({ atMs: T0 + 61_000, code: 'FLINK_NO_RUNNING_JOB', message: 'no RUNNING job' });
    assert.deepEqual(allReasons(window.readings(T0 + 61_000)), ['job-not-running']);
    window.add(snapshotAt(T0 + 75_000, JOB));
    assert.ok(
      value(window.readings(T0 + 75_000).metrics.flink_busy_ratio) > 0.9,
      'back with the next good sample',
    );
  });

  it('drops the window while the job is not RUNNING', () => {
    const window = new MetricWindow();
    fill(window, T0, T0 + 60_000);
    const added = window.add(snapshotAt(T0 + 75_000, JOB, { state: 'RESTARTING' }));
    assert.deepEqual(added.dropped, { job_not_running: 5 });
    assert.equal(window.size, 0);
    const readings = window.readings(T0 + 75_000);
    assert.deepEqual(allReasons(readings), ['job-not-running']);
    assert.equal(readings.state, 'RESTARTING');
    for (const state of ['FAILED', 'FINISHED', 'CANCELED']) {
      window.add(snapshotAt(T0 + 90_000 + state.length, JOB, { state }));
      assert.deepEqual(allReasons(window.readings(T0 + 91_000)), ['job-not-running']);
    }
  });
});

describe('MetricWindow: restarts', () => {
  it('withholds metrics while the job has been RUNNING for less than the holdoff', () => {
    const window = new MetricWindow({ restartHoldoffSeconds: 60 });
    const runningSinceMs = T0 - 30_000;
    fill(window, T0, T0 + 15_000, JOB, { runningSinceMs });
    assert.deepEqual(allReasons(window.readings(T0 + 15_000)), ['restarting']);
    fill(window, T0 + 30_000, T0 + 30_000, JOB, { runningSinceMs });
    assert.equal(value(window.readings(T0 + 30_000).metrics.flink_source_pending_records), 5000);
  });

  it('drops the window when the RUNNING timestamp moves, and holds off from it', () => {
    const window = new MetricWindow({ restartHoldoffSeconds: 60 });
    fill(window, T0, T0 + 60_000);
    const restartedAt = T0 + 70_000;
    const added = window.add(snapshotAt(T0 + 75_000, JOB, { runningSinceMs: restartedAt }));
    assert.equal(added.restart, true);
    assert.deepEqual(added.dropped, { restart: 5 });
    assert.equal(window.size, 1);
    fill(window, T0 + 90_000, T0 + 120_000, JOB, { runningSinceMs: restartedAt });
    assert.deepEqual(allReasons(window.readings(T0 + 120_000)), ['restarting']);
    fill(window, T0 + 135_000, T0 + 135_000, JOB, { runningSinceMs: restartedAt });
    const after = window.readings(T0 + 135_000);
    assert.ok(Math.abs(value(after.metrics.flink_busy_ratio) - 0.95) < 1e-9);
    assert.equal(after.sampleCount, 5, 'only samples of the new run');
  });

  it('sees counters going back under the same RUNNING timestamp as a restart', () => {
    const window = new MetricWindow({ restartHoldoffSeconds: 60 });
    fill(window, T0, T0 + 60_000);
    // Tasks restarted (region failover) at T0 + 70 s: counters start from zero again.
    const reset = snapshotAt(T0 + 75_000, JOB, {
      counters: (vertex, original) => ({
        ...original,
        busyTimeMs: 5_000 * vertex.parallelism * vertex.busyRatio,
        backPressuredTimeMs: 5_000 * vertex.parallelism * vertex.backPressureRatio,
        idleTimeMs: 5_000 * vertex.parallelism * (1 - vertex.busyRatio - vertex.backPressureRatio),
        recordsWritten: 5 * vertex.recordsPerSecond,
      }),
    });
    const added = window.add(reset);
    assert.equal(added.restart, true);
    assert.deepEqual(allReasons(window.readings(T0 + 75_000)), ['restarting']);
    assert.deepEqual(allReasons(window.readings(T0 + 134_999)), ['restarting']);
  });

  it('sees a new parallelism or a new job as a restart', () => {
    const first = snapshotAt(T0, JOB);
    assert.equal(countersWentBack(first, snapshotAt(T0 + 15_000, JOB)), false);
    assert.equal(
      countersWentBack(first, snapshotAt(T0 + 15_000, [SOURCE, { ...MAP, parallelism: 8 }, SINK])),
      true,
    );
    assert.equal(countersWentBack(first, snapshotAt(T0 + 15_000, [SOURCE, MAP])), true);
    assert.equal(
      countersWentBack(first, snapshotAt(T0 + 15_000, [SOURCE, { ...MAP, id: 'other' }, SINK])),
      true,
    );
    const window = new MetricWindow();
    fill(window, T0, T0 + 30_000);
    assert.equal(window.add(snapshotAt(T0 + 45_000, JOB, { jobId: 'job-2' })).restart, true);
  });

  it('does not take a small dip in busy time for a restart', () => {
    const older = snapshotAt(T0, JOB);
    const newer = snapshotAt(T0 + 15_000, JOB, {
      counters: (vertex, original) => ({
        ...original,
        // An idle period booked late: busy dips, the total still grows.
        busyTimeMs: (older.vertices.find((v) => v.id === vertex.id)?.counters.busyTimeMs ?? 0) - 100,
        idleTimeMs: (original.idleTimeMs ?? 0) + 100_000,
      }),
    });
    assert.equal(countersWentBack(older, newer), false);
  });
});

describe('MetricWindow: the formulas', () => {
  it('stays right when the JobManager serves counters from a 10 s cache', () => {
    const window = new MetricWindow();
    for (let at = T0; at <= T0 + 60_000; at += 15_000) {
      window.add(snapshotAt(at, JOB, { countersAtMs: Math.floor(at / 10_000) * 10_000 - 7_000 }));
    }
    const readings = window.readings(T0 + 60_000);
    assert.ok(Math.abs(value(readings.metrics.flink_busy_ratio) - 0.95) < 1e-9);
    assert.ok(
      Math.abs(value(readings.metrics.flink_records_in_per_second) - 1000) < 1,
      'rate over the TaskManagers time',
    );
  });

  it('uses Δbusy / (Δt × parallelism) where idle time is missing', () => {
    const window = new MetricWindow();
    fill(window, T0, T0 + 60_000, JOB, {
      counters: (_vertex, counters) => ({ ...counters, idleTimeMs: null }),
    });
    assert.ok(Math.abs(value(window.readings(T0 + 60_000).metrics.flink_busy_ratio) - 0.95) < 1e-9);
  });

  it('skips vertices without busy time, and says so when none has it', () => {
    const window = new MetricWindow();
    fill(window, T0, T0 + 60_000, JOB, {
      counters: (vertex, counters) => (vertex.id === 'map' ? { ...counters, busyTimeMs: null } : counters),
    });
    const readings = window.readings(T0 + 60_000);
    assert.ok(
      Math.abs(value(readings.metrics.flink_busy_ratio) - 0.3) < 1e-9,
      'the sink, as the map is unknown',
    );
    assert.equal(readings.vertices[1]?.busyRatio, null);

    const none = new MetricWindow();
    fill(none, T0, T0 + 60_000, JOB, {
      counters: (_vertex, counters) => ({ ...counters, busyTimeMs: null, backPressuredTimeMs: null }),
    });
    assert.equal(reason(none.readings(T0 + 60_000).metrics.flink_busy_ratio), 'counters-missing');
  });

  it('says the window is too short when the counters did not move (the JobManager metric cache)', () => {
    const window = new MetricWindow({ windowSeconds: 5 });
    for (const at of [T0, T0 + 2_000, T0 + 4_000])
      window.add(snapshotAt(at, JOB, { countersAtMs: T0 - 1_000 }));
    const readings = window.readings(T0 + 4_000);
    assert.deepEqual(readings.metrics.flink_busy_ratio, {
      unavailable: 'not-enough-samples',
      detail: 'the counters did not change within the window',
    });
  });

  it('averages the subtask gauges where counters are missing altogether', () => {
    const window = new MetricWindow();
    const gauges = [400, 600, 500];
    gauges.forEach((busy, index) => {
      const snapshot = snapshotAt(T0 + index * 15_000, [MAP], {
        counters: (_vertex, counters) => ({ ...counters, busyTimeMs: null, backPressuredTimeMs: null }),
      });
      window.add({
        ...snapshot,
        vertices: snapshot.vertices.map((vertex) => ({
          ...vertex,
          gauges: { busyTimeMsPerSecond: busy, backPressuredTimeMsPerSecond: 100, idleTimeMsPerSecond: null },
        })),
      });
    });
    const readings = window.readings(T0 + 30_000);
    assert.ok(Math.abs(value(readings.metrics.flink_busy_ratio) - 0.5) < 1e-9);
    assert.ok(Math.abs(value(readings.metrics.flink_backpressure_ratio) - 0.1) < 1e-9);
  });

  it('reports an unknown pendingRecords as unknown lag, never as zero', () => {
    const window = new MetricWindow();
    fill(window, T0, T0 + 60_000, [{ ...SOURCE, pendingRecords: null }, { ...SOURCE, id: 'source-2' }, MAP]);
    const readings = window.readings(T0 + 60_000);
    assert.equal(reason(readings.metrics.flink_source_pending_records), 'unknown-lag');
    assert.equal(reason(readings.metrics.flink_source_lag_seconds), 'unknown-lag');
    assert.ok(value(readings.metrics.flink_records_in_per_second) > 0);
    assert.ok(value(readings.metrics.flink_busy_ratio) > 0);
  });

  it('uses the latest known pendingRecords in the window', () => {
    const window = new MetricWindow();
    fill(window, T0, T0 + 45_000);
    window.add(snapshotAt(T0 + 60_000, [{ ...SOURCE, pendingRecords: null }, MAP, SINK]));
    assert.equal(value(window.readings(T0 + 60_000).metrics.flink_source_pending_records), 5000);
  });

  it('gives a lag of 0 when nothing is pending, and none when nothing is read', () => {
    const idle = new MetricWindow();
    fill(idle, T0, T0 + 60_000, [{ ...SOURCE, pendingRecords: 0, recordsPerSecond: 0 }]);
    assert.equal(value(idle.readings(T0 + 60_000).metrics.flink_source_lag_seconds), 0);
    const stuck = new MetricWindow();
    fill(stuck, T0, T0 + 60_000, [{ ...SOURCE, recordsPerSecond: 0 }]);
    assert.equal(reason(stuck.readings(T0 + 60_000).metrics.flink_source_lag_seconds), 'zero-rate');
  });

  it("falls back to the source vertex's written records when the operator's are unknown", () => {
    const window = new MetricWindow();
    fillRewritingSources(window, JOB, (vertex) =>
      vertex.source === null
        ? vertex
        : { ...vertex, source: { ...vertex.source, recordsIn: null, recordsOut: null } },
    );
    assert.ok(
      Math.abs(value(window.readings(T0 + 60_000).metrics.flink_records_in_per_second) - 1000) < 1e-6,
    );
  });

  it("reads consumption from the source operator's records out when its records in stay 0", () => {
    // Seen on a real MiniCluster: a reader that never counts numRecordsIn while records flow.
    const window = new MetricWindow();
    fillRewritingSources(window, JOB, (vertex) =>
      vertex.source === null
        ? vertex
        : {
            ...vertex,
            source: { ...vertex.source, recordsIn: 0 },
            counters: { ...vertex.counters, recordsWrittenComplete: false },
          },
    );
    const readings = window.readings(T0 + 60_000);
    assert.ok(Math.abs(value(readings.metrics.flink_records_in_per_second) - 1000) < 1e-6);
    assert.ok(value(readings.metrics.flink_source_lag_seconds) > 0);
  });

  it('says when the job has no source', () => {
    const window = new MetricWindow();
    fill(window, T0, T0 + 30_000, [MAP, SINK]);
    const readings = window.readings(T0 + 30_000);
    assert.equal(reason(readings.metrics.flink_source_pending_records), 'no-source');
    assert.equal(reason(readings.metrics.flink_source_lag_seconds), 'no-source');
  });

  it('computes the job metrics from vertex stats alone', () => {
    const metrics = jobMetrics([
      {
        id: 'a',
        name: 'a',
        parallelism: 1,
        isSource: true,
        busyRatio: 0.2,
        backPressureRatio: 0.7,
        pendingRecords: 600,
        recordsInPerSecond: 100,
        backlogGrowthPerRecord: 0,
        newestBacklogGrowthPerRecord: null,
        newestArrivalOverRead: null,
        newestBusyRatio: null,
        timeCountersReported: true,
      },
      {
        id: 'b',
        name: 'b',
        parallelism: 1,
        isSource: true,
        busyRatio: 0.1,
        backPressureRatio: 0.6,
        pendingRecords: 0,
        recordsInPerSecond: 200,
        backlogGrowthPerRecord: 0,
        newestBacklogGrowthPerRecord: null,
        newestArrivalOverRead: null,
        newestBusyRatio: null,
        timeCountersReported: true,
      },
      {
        id: 'c',
        name: 'c',
        parallelism: 1,
        isSource: false,
        busyRatio: 0.9,
        backPressureRatio: null,
        pendingRecords: null,
        recordsInPerSecond: null,
        backlogGrowthPerRecord: null,
        newestBacklogGrowthPerRecord: null,
        newestArrivalOverRead: null,
        newestBusyRatio: null,
        timeCountersReported: true,
      },
    ]);
    assert.equal(value(metrics.flink_busy_ratio), 0.9);
    assert.equal(value(metrics.flink_backpressure_ratio), 0.7);
    assert.equal(value(metrics.flink_source_pending_records), 600);
    assert.equal(value(metrics.flink_records_in_per_second), 300);
    assert.equal(value(metrics.flink_source_lag_seconds), 2);
    assert.equal(value(metrics.flink_demand_ratio), 0.9, 'no backlog grows: the busy ratio');
  });
});

describe('MetricWindow: the demand ratio', () => {
  /** A source that reads 1000 records/s, its backlog as a function of the counters' time. */
  const source = (pendingRecordsAt: (atMs: number) => number | null): SyntheticVertex => ({
    ...SOURCE,
    busyRatio: 0.1,
    backPressureRatio: 0,
    pendingRecordsAt,
  });
  const saturatedMap: SyntheticVertex = { ...MAP, busyRatio: 1 };
  const demandOf = (
    vertices: readonly SyntheticVertex[],
    options: Partial<MetricWindowOptions> = {},
  ): number => {
    const window = new MetricWindow(options);
    fill(window, T0, T0 + 60_000, vertices);
    return value(window.readings(T0 + 60_000).metrics.flink_demand_ratio);
  };
  const near = (actual: number, expected: number): void => {
    assert.ok(Math.abs(actual - expected) < 1e-9, `${actual}, expected ${expected}`);
  };

  it('is the busy ratio while the job keeps up (the backlog does not grow)', () => {
    const window = new MetricWindow();
    fill(window, T0, T0 + 60_000);
    const metrics = window.readings(T0 + 60_000).metrics;
    // The synthetic job's steady 5000 pending records, drained within 5 min, would need 17 records/s
    // more than the 1000 it reads: catching up never goes above the busy ratio.
    assert.equal(value(metrics.flink_demand_ratio), value(metrics.flink_busy_ratio));
  });

  it('goes past 1 when the job falls behind: arrival over capacity', () => {
    // Busy 1 reading 1000 records/s: capacity 1000; 2000 records/s more pile up: arrival 3000.
    near(demandOf([source((at) => 2 * (at - T0)), saturatedMap, SINK]), 3);
  });

  it('sees a step at the first tick after it: the arrival of the newest interval, where the backlog grows', () => {
    // The backlog starts to grow 15 s before the end of the window, at 3000 records/s. Over the
    // window only 750 records/s piled up; over the newest interval 3000: arrival 4000, capacity
    // 1000 / 0.95 (the map, busy 0.95).
    near(demandOf([source((at) => Math.max(0, 3 * (at - (T0 + 45_000)))), MAP, SINK]), 4 * 0.95);
  });

  it('takes the newest interval the JobManager refreshed its metrics in', () => {
    // The last sample repeats the previous one's counters (the metric cache did not refresh): the
    // growth comes from the two samples before it, not from an empty interval.
    const window = new MetricWindow();
    const vertices = [source((at) => Math.max(0, 3 * (at - (T0 + 30_000)))), MAP, SINK];
    fill(window, T0, T0 + 45_000, vertices);
    window.add(snapshotAt(T0 + 60_000, vertices, { countersAtMs: T0 + 45_000 }));
    near(value(window.readings(T0 + 60_000).metrics.flink_demand_ratio), 4 * 0.95);
  });

  it('while a backlog drains: what the input needs plus draining it within catch-up-duration, at most the busy ratio', () => {
    // Busy 1 reading 1000 records/s while the backlog falls by 400 records/s: 600 arrive.
    const draining = (backlogAtEnd: number): SyntheticVertex =>
      source((at) => backlogAtEnd + 0.4 * (T0 + 60_000 - at));
    // A small backlog: 6000 records over 300 s adds 20 records/s: (600 + 20) / 1000.
    near(demandOf([draining(6000), saturatedMap, SINK]), 0.62);
    // A catch-up-duration of 60 s: (600 + 100) / 1000.
    near(demandOf([draining(6000), saturatedMap, SINK], { catchUpSeconds: 60 }), 0.7);
    // A large one: draining it within 5 min needs more than the job has; the busy ratio, not more.
    near(demandOf([draining(600_000), saturatedMap, SINK]), 1);
  });

  it('is not fooled by an interval in which the job read less: what arrived is exact by conservation', () => {
    // 3000 records/s offered to a job reading 1000 at busy 1, but in the last 15 s it read only 500/s
    // (a GC pause, a noisy neighbour), and the backlog grew by the rest.
    const offered = 3;
    const vertices = [source((at) => (offered - 1) * (at - T0)), saturatedMap, SINK];
    const build = (withClock: boolean): number => {
      const window = new MetricWindow();
      fillRewritingSources(window, vertices, (vertex, at) => {
        assert.ok(vertex.source);
        const readNow = vertex.source.recordsIn ?? 0;
        // The last sample: 7,500 fewer records read, 7,500 more pending.
        const dip = at === T0 + 60_000 ? 7500 : 0;
        const readings = {
          ...vertex.source,
          recordsIn: readNow - dip,
          recordsOut: readNow - dip,
          pendingRecords: (vertex.source.pendingRecords ?? 0) + dip,
          ...(withClock ? {} : { taskTimeMs: null }),
        };
        return { ...vertex, source: readings };
      });
      return value(window.readings(T0 + 60_000).metrics.flink_demand_ratio);
    };
    // The window read 52,500 records in 60 s at busy 1: capacity 875 records/s; 3000 arrive.
    near(build(true), 3000 / 875);
    // Without the subtasks' clock, per record read over that interval alone: 1 + 37,500 / 7,500.
    near(build(false), 6);
  });

  it('an idle source adds no arrival and leaves the others’ growth counted', () => {
    // A side-input topic that nobody writes to: nothing read, its backlog of 0 unchanged.
    const idle: SyntheticVertex = {
      ...SOURCE,
      id: 'idle-source',
      busyRatio: 0,
      backPressureRatio: 0,
      recordsPerSecond: 0,
      pendingRecords: 0,
    };
    near(demandOf([source((at) => 2 * (at - T0)), idle, saturatedMap, SINK]), 3);
  });

  it('is the busy ratio when the backlog shrank by more than was read (records left it unread)', () => {
    // Busy 1, reading 1000 records/s, while the backlog falls by 1500 records/s: retention deleted
    // what was never read. No arrival can be told from that; not 0, which would scale a saturated
    // job down.
    const window = new MetricWindow();
    fill(window, T0, T0 + 60_000, [source((at) => 200_000 - 1.5 * (at - T0)), saturatedMap, SINK]);
    const metrics = window.readings(T0 + 60_000).metrics;
    assert.equal(value(metrics.flink_busy_ratio), 1);
    assert.equal(value(metrics.flink_demand_ratio), 1);
  });

  it('refuses a catch-up duration that is not positive', () => {
    assert.throws(() => new MetricWindow({ catchUpSeconds: 0 }), /catchUpSeconds must be positive/);
  });

  it('is the busy ratio where the backlog cannot be known, or there is no source', () => {
    const window = new MetricWindow();
    fill(window, T0, T0 + 60_000, [source(() => null), saturatedMap, SINK]);
    const metrics = window.readings(T0 + 60_000).metrics;
    assert.equal(reason(metrics.flink_source_pending_records), 'unknown-lag');
    assert.equal(value(metrics.flink_demand_ratio), 1);
    near(demandOf([MAP, SINK]), 0.95);
  });

  it('is unavailable exactly when the busy ratio is, for the same reason', () => {
    const window = new MetricWindow();
    window.add(snapshotAt(T0, JOB));
    const metrics = window.readings(T0);
    assert.deepEqual(metrics.metrics.flink_demand_ratio, metrics.metrics.flink_busy_ratio);
    assert.equal(reason(metrics.metrics.flink_demand_ratio), 'not-enough-samples');
  });

  it('sums the sources: each one’s arrival, against the records all of them read', () => {
    const stats = (
      id: string,
      read: number | null,
      growth: number | null,
      newestGrowth: number | null = null,
      pendingRecords: number | null = 0,
    ): VertexWindowStats => ({
      id,
      name: id,
      parallelism: 1,
      isSource: true,
      busyRatio: 0.1,
      backPressureRatio: 0,
      pendingRecords,
      recordsInPerSecond: read,
      backlogGrowthPerRecord: growth,
      newestBacklogGrowthPerRecord: newestGrowth,
      newestArrivalOverRead: null,
      newestBusyRatio: null,
      timeCountersReported: true,
    });
    const busy = { value: 0.8 };
    const newestBusy = { value: 1 };
    const demand = (
      sources: readonly VertexWindowStats[],
      newest: MetricReading = newestBusy,
    ): MetricReading => demandRatio(busy, newest, sources, 300);
    // Read 1000 + 1000 at busy 0.8. Arrival over the window: a 1000 × 1.5, b 1000 × 0.6 (draining).
    const a = stats('a', 1000, 0.5);
    const b = stats('b', 1000, -0.4);
    near(value(demand([a, b])), (0.8 * 2100) / 2000);
    // a falls behind in the newest interval (1.5 more per record read): that interval's busy ratio
    // (1) and arrival (a 1000 × 2.5, b 1000 × 0.6).
    const aBehind = stats('a', 1000, 0.5, 1.5);
    near(value(demand([aBehind, b])), (1 * 3100) / 2000);
    // Without the newest busy ratio, the window's.
    near(value(demand([aBehind, b], { unavailable: 'not-enough-samples' })), (0.8 * 3100) / 2000);
    // Jitter below 5 % per record read is not falling behind.
    near(value(demand([stats('c', 1000, 0, 0.049)])), 0.8);
    // Where anything is unknown, or nothing was read or busy: the busy ratio.
    assert.deepEqual(demand([a, stats('d', null, 0)]), busy);
    assert.deepEqual(demand([a, stats('d', 1000, null)]), busy);
    assert.deepEqual(demand([stats('d', 1000, 0, null, null)]), busy);
    assert.deepEqual(demand([stats('d', 0, 0.5)]), busy);
    assert.deepEqual(demandRatio({ value: 0 }, newestBusy, [a], 300), { value: 0 });
    assert.deepEqual(demandRatio({ unavailable: 'stale' }, newestBusy, [a], 300), { unavailable: 'stale' });
    assert.deepEqual(demand([]), busy);
  });

  it('is not skewed when the source’s metrics and the job’s time counters come from different metric refreshes', () => {
    // A job that keeps up (busy 0.95), with a few records of jitter in its backlog at the end. The
    // JobManager refreshed its metric cache between the two REST calls of the sample before: its
    // source counts are one refresh (10 s) behind its time counters. Per second of task time, the
    // newest interval would read twice the records (25 s of them in 15 s); per record read, the
    // jitter is 3 records in 25,000.
    const window = new MetricWindow();
    const vertices = [source((at) => (at >= T0 + 60_000 ? 3 : 0)), MAP, SINK];
    fillRewritingSources(window, vertices, (vertex, at) =>
      at === T0 + 45_000
        ? {
            ...vertex,
            source:
              snapshotAt(at - 10_000, vertices).vertices.find((v) => v.id === vertex.id)?.source ?? null,
          }
        : vertex,
    );
    const demand = value(window.readings(T0 + 60_000).metrics.flink_demand_ratio);
    assert.ok(Math.abs(demand - 0.95) < 1e-3, `${demand}`);
  });
});

describe('MetricWindow: memory and hygiene', () => {
  it('keeps only what the window needs', () => {
    const window = new MetricWindow({ windowSeconds: 60 });
    fill(window, T0, T0 + 3_600_000);
    assert.ok(window.size <= 6, `holds ${window.size} samples`);
    assert.equal(window.readings(T0 + 3_600_000).spanSeconds, 60);
  });

  it('caps the samples it holds', () => {
    const window = new MetricWindow({ windowSeconds: 3600, maxSamples: 4 });
    const dropped: number[] = [];
    for (let at = T0; at < T0 + 10_000; at += 1000)
      dropped.push(window.add(snapshotAt(at, JOB)).dropped.capacity ?? 0);
    assert.equal(window.size, 4);
    assert.equal(
      dropped.reduce((sum, count) => sum + count, 0),
      6,
    );
  });

  it('ignores a snapshot older than the last one', () => {
    const window = new MetricWindow();
    window.add(snapshotAt(T0 + 15_000, JOB));
    assert.deepEqual(window.add(snapshotAt(T0, JOB)).dropped, { out_of_order: 1 });
    assert.equal(window.size, 1);
  });

  it('refuses a snapshot carrying a non-finite number', () => {
    const window = new MetricWindow();
    const added = window.add(
      snapshotAt(T0, JOB, { counters: (_vertex, counters) => ({ ...counters, busyTimeMs: Number.NaN }) }),
    );
    assert.deepEqual(added.dropped, { implausible: 1 });
    assert.deepEqual(added.implausible, {
      field: 'vertex "source" accumulated-busy-time',
      value: Number.NaN,
      bound: 'not a finite number',
    });
    assert.equal(window.size, 0);
  });
});

describe('capacityUnitsOf', () => {
  const snapshot = snapshotAt(T0, [SOURCE, MAP, SINK]);
  const withPartitions = (partitions: readonly (number | null)[]) => ({
    ...snapshot,
    keyed: true,
    maxParallelism: 128,
    vertices: snapshot.vertices.map((vertex, i) =>
      vertex.source === null
        ? vertex
        : { ...vertex, source: { ...vertex.source, partitions: partitions[i] ?? null } },
    ),
  });
  it('has the key groups of a keyed plan and the fewest partitions a source reports', () => {
    assert.deepEqual(capacityUnitsOf(withPartitions([12])), { keyGroups: 128, sourcePartitions: 12 });
    assert.deepEqual(capacityUnitsOf({ ...withPartitions([7]), keyed: false }), {
      keyGroups: null,
      sourcePartitions: 7,
    });
  });
  it('has none without a plan, a keyed exchange or partition metrics', () => {
    assert.deepEqual(capacityUnitsOf(null), { keyGroups: null, sourcePartitions: null });
    assert.deepEqual(capacityUnitsOf({ ...withPartitions([]), keyed: null }), {
      keyGroups: null,
      sourcePartitions: null,
    });
  });
});

describe('MetricWindow: checkpoints', () => {
  it('carries the latest completed checkpoint on our clock, and when the snapshot before was taken', () => {
    const window = new MetricWindow();
    const withCheckpoint = (atMs: number, completedAtJobManagerMs: number | null): JobSnapshot => ({
      ...snapshotAt(atMs, JOB),
      // The JobManager's clock runs 7 s ahead of ours.
      jobManagerNowMs: atMs + 7_000,
      checkpointing: {
        intervalMs: 10_000,
        stats: {
          completed: 3,
          inProgress: 0,
          failed: 0,
          latestCompleted:
            completedAtJobManagerMs === null
              ? null
              : {
                  id: 3,
                  triggeredAtMs: completedAtJobManagerMs - 100,
                  completedAtMs: completedAtJobManagerMs,
                },
        },
      },
    });
    window.add(withCheckpoint(T0, null));
    assert.deepEqual(window.readings(T0).checkpoints, {
      intervalMs: 10_000,
      latestCompletedId: null,
      latestCompletedAtMs: null,
      seenAtMs: T0,
      previousSnapshotAtMs: null,
      previousLatestCompletedId: undefined,
    });
    window.add(withCheckpoint(T0 + 15_000, T0 + 7_000 + 12_000));
    assert.deepEqual(window.readings(T0 + 15_000).checkpoints, {
      intervalMs: 10_000,
      latestCompletedId: 3,
      latestCompletedAtMs: T0 + 12_000,
      seenAtMs: T0 + 15_000,
      previousSnapshotAtMs: T0,
      previousLatestCompletedId: null,
    });
    // Not read (a target that does not time its rescales on checkpoints): none.
    window.add(snapshotAt(T0 + 30_000, JOB));
    assert.equal(window.readings(T0 + 30_000).checkpoints, null);
  });
});
