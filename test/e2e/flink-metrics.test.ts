// Issue 4 against a real Flink: the collector's metrics from a MiniCluster whose load we steer.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { systemClock } from '../../src/runtime/clock.js';
import { Collector } from '../../src/runtime/collector.js';
import type { FlinkMetricName, MetricReading } from '../../src/domain/metrics.js';
import { FlinkHttpPool, FlinkRestClient } from '../../src/flink/rest-client.js';
import { startFlinkWorkload } from './harness/flink.js';
import type { FlinkWorkload } from './harness/flink.js';
import { waitFor } from './harness/kube.js';

const TARGET = 'flinkdeployment/e2e/steerable-job';
/** One map subtask handles about 980 records/s at 1000 µs per record: 2 subtasks about 1,960. */
const COST_MICROS = 1000;
const OVERLOAD = 8000;
const LOW = 150;
const HOLD_SECONDS = 12;
const WINDOW_SECONDS = 10;

function value(reading: MetricReading | undefined): number | undefined {
  return reading !== undefined && 'value' in reading ? reading.value : undefined;
}

describe('Flink metrics from a real MiniCluster', { timeout: 600_000 }, () => {
  let flink: FlinkWorkload;
  let pool: FlinkHttpPool;
  let collector: Collector;
  let ticker: NodeJS.Timeout | undefined;
  let startedMs: number;
  /** When the collector first had pendingRecords: the demand ratio needs a window of them. */
  let pendingSinceMs: number | undefined;

  const reading = (name: FlinkMetricName): MetricReading | undefined =>
    collector.readings(TARGET)?.metrics[name];

  before(async () => {
    flink = await startFlinkWorkload({
      taskManagers: 1,
      slotsPerTaskManager: 2,
      recordsPerSecond: OVERLOAD,
      costMicros: COST_MICROS,
    });
    pool = new FlinkHttpPool();
    collector = new Collector(
      {
        clientFor: (url) => new FlinkRestClient(url, pool),
        clock: systemClock,
        windowDefaults: {
          windowSeconds: WINDOW_SECONDS,
          restartHoldoffSeconds: HOLD_SECONDS,
          maxSampleAgeSeconds: 15,
        },
      },
      { intervalMs: 1000, targetDeadlineMs: 900 },
    );
    collector.setTargets([{ id: TARGET, jobManagerUrl: flink.restUrl }]);
    // Ticks as the scaler's ticker does: now, then every interval (a tick still running is skipped).
    void collector.tick();
    ticker = setInterval(() => void collector.tick(), 1000);
    startedMs = Date.now();
  });

  after(async () => {
    clearInterval(ticker);
    await collector.stop();
    pool.close();
    await flink.stop();
  });

  it('overloaded: busy ≥ 0.9 and backpressure ≥ 0.5 within 30 s, pending records grow, lag positive and finite', async () => {
    const overloaded = await waitFor(
      'flink_busy_ratio ≥ 0.9 and flink_backpressure_ratio ≥ 0.5',
      () => {
        const busy = value(reading('flink_busy_ratio'));
        const backpressure = value(reading('flink_backpressure_ratio'));
        return Promise.resolve(
          busy !== undefined && backpressure !== undefined && busy >= 0.9 && backpressure >= 0.5
            ? { busy, backpressure }
            : undefined,
        );
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    console.log(
      `# overloaded after ${((Date.now() - startedMs) / 1000).toFixed(1)} s: ${JSON.stringify(overloaded)}`,
    );

    // The reader registers pendingRecords when it starts; the JobManager shows it after its next metric
    // fetch (every second here, 10 s by default), and the collector lists the names again 1, 2, 4, ... ticks apart.
    const firstPending = await waitFor(
      'flink_source_pending_records',
      () => Promise.resolve(value(reading('flink_source_pending_records'))),
      { timeoutMs: 45_000, intervalMs: 250 },
    ).catch((err: unknown) => {
      throw new Error(
        `pending records: ${JSON.stringify(reading('flink_source_pending_records'))} (${String(err)})`,
      );
    });
    pendingSinceMs = Date.now();
    console.log(`# pending records after ${((pendingSinceMs - startedMs) / 1000).toFixed(1)} s`);
    await waitFor(
      'pending records to grow',
      () =>
        Promise.resolve(
          (value(reading('flink_source_pending_records')) ?? 0) > firstPending + 1000 ? true : undefined,
        ),
      { timeoutMs: 15_000 },
    );
    const lag = value(reading('flink_source_lag_seconds'));
    assert.ok(
      lag !== undefined && lag > 0 && Number.isFinite(lag),
      `lag: ${JSON.stringify(reading('flink_source_lag_seconds'))}`,
    );
    const recordsIn = value(reading('flink_records_in_per_second'));
    // The sources read what the map can take: about 2 × 980 records/s, far below the offered 8,000.
    assert.ok(
      recordsIn !== undefined && recordsIn > 1000 && recordsIn < 3000,
      `records in: ${String(recordsIn)}`,
    );
  });

  it('overloaded: the demand ratio is the offered load over the capacity, where the busy ratio stops at 1', async () => {
    // The truth: 8,000 records/s offered to 2 map subtasks of about 980 records/s each, about 4.1.
    // Once the window (10 s) is full of overload and of pendingRecords, busy and records read are the
    // capacity's and the backlog's growth is the excess.
    assert.ok(pendingSinceMs !== undefined, 'the test before found pendingRecords');
    const windowFullMs = pendingSinceMs + WINDOW_SECONDS * 1000 + 2000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, windowFullMs - Date.now())));
    const truth = OVERLOAD / (2 * (1_000_000 / COST_MICROS) * 0.98);
    // Five readings a second apart (spanning refreshes of the JobManager's metric cache): the median
    // within 25 % of the truth, each within 35 % (the subtasks read less on a busy machine, and that is measured).
    const readings: number[] = [];
    for (let index = 0; index < 5; index += 1) {
      const observed = value(reading('flink_demand_ratio'));
      assert.ok(observed !== undefined, `demand: ${JSON.stringify(reading('flink_demand_ratio'))}`);
      readings.push(observed);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const median = [...readings].sort((a, b) => a - b)[2] ?? Number.NaN;
    const busy = value(reading('flink_busy_ratio'));
    console.log(
      `# demand ${readings.map((r) => r.toFixed(2)).join(', ')} (truth ${truth.toFixed(2)}), busy ${String(busy)}`,
    );
    assert.ok(Math.abs(median / truth - 1) <= 0.25, `median ${median}, truth ${truth}`);
    for (const observed of readings) assert.ok(Math.abs(observed / truth - 1) <= 0.35, `${observed}`);
    // Saturated, the busy ratio says so and no more (it stops at 1); the demand says how far past.
    assert.ok(busy !== undefined && busy >= 0.9 && busy <= 1, `busy ${String(busy)}`);
    assert.ok(median > 2 * busy, `median demand ${median}, busy ${busy}`);
  });

  it('at a low rate both ratios fall to 0.2 or less', async () => {
    // The backlog drains first (at full speed, still busy); then the ratios fall.
    await flink.setRate(LOW);
    const low = await waitFor(
      'flink_busy_ratio ≤ 0.2 and flink_backpressure_ratio ≤ 0.2',
      () => {
        const busy = value(reading('flink_busy_ratio'));
        const backpressure = value(reading('flink_backpressure_ratio'));
        return Promise.resolve(
          busy !== undefined && backpressure !== undefined && busy <= 0.2 && backpressure <= 0.2
            ? { busy, backpressure }
            : undefined,
        );
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    console.log(`# low load: ${JSON.stringify(low)}`);
    // Keeping up, nothing grows: the demand is the busy ratio (within the collector's ticks).
    const demand = await waitFor(
      'flink_demand_ratio ≤ 0.2',
      () => {
        const observed = value(reading('flink_demand_ratio'));
        return Promise.resolve(observed !== undefined && observed <= 0.2 ? observed : undefined);
      },
      { timeoutMs: 15_000, intervalMs: 500 },
    );
    console.log(`# low load demand: ${demand}`);
    // Read at the same moment (one collector tick), the two agree.
    const same = collector.readings(TARGET)?.metrics;
    const [busyNow, demandNow] = [value(same?.flink_busy_ratio), value(same?.flink_demand_ratio)];
    assert.ok(
      busyNow !== undefined && demandNow !== undefined && Math.abs(demandNow - busyNow) <= 0.05,
      `busy ${String(busyNow)}, demand ${String(demandNow)}`,
    );
  });

  it('`slotscaler collect` prints the same values as the collector', async () => {
    const bin = fileURLToPath(new URL('../../bin/slotscaler.js', import.meta.url));
    const child = spawn(process.execPath, [
      bin,
      'collect',
      '--jobmanager',
      flink.restUrl,
      '--window',
      '8s',
      '--interval',
      '1s',
      '--json',
    ]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as {
      jobId: string;
      metrics: { name: string; reading: { value?: number; unavailable?: string } }[];
      restCalls: { perSample: number[] };
    };
    assert.equal(report.jobId, flink.jobId);
    for (const name of ['flink_busy_ratio', 'flink_backpressure_ratio'] as const) {
      const printedReading = report.metrics.find((metric) => metric.name === name)?.reading;
      const printed = printedReading?.value;
      const collected = value(reading(name));
      assert.ok(
        printed !== undefined && collected !== undefined,
        `${name}: ${JSON.stringify(printedReading)}`,
      );
      assert.ok(
        Math.abs(printed - collected) <= 0.1,
        `${name}: collect printed ${printed}, the collector has ${collected}`,
      );
    }
    // Steady state: one GET /jobs/{jid} plus one metrics call per source vertex (the job has one source).
    assert.ok(
      report.restCalls.perSample.slice(1).every((calls) => calls <= 2),
      JSON.stringify(report.restCalls),
    );
  });

  it('detects the restart of a rescale and withholds metrics for the hold time', async () => {
    await flink.setTaskManagers(2);
    await flink.rescale(4);
    const withheld = await waitFor(
      'the restart to be detected',
      () => {
        const busy = reading('flink_busy_ratio');
        return Promise.resolve(
          busy !== undefined && 'unavailable' in busy && busy.unavailable === 'restarting'
            ? Date.now()
            : undefined,
        );
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const back = await waitFor(
      'metrics after the hold',
      () => Promise.resolve(value(reading('flink_busy_ratio')) !== undefined ? Date.now() : undefined),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const heldSeconds = (back - withheld) / 1000;
    console.log(`# metrics withheld for ${heldSeconds.toFixed(1)} s after the restart was seen`);
    assert.ok(heldSeconds >= HOLD_SECONDS - 6, `held only ${heldSeconds} s`);
  });
});
