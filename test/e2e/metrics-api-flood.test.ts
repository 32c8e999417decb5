// The metrics API keeps answering the HPA under attack: while unauthenticated clients on loopback
// hold 250 slowloris connections (headers a byte at a time) and a 1,000-connection flood (half
// silent TCP, half TLS connections sending requests with made-up bearer tokens), every read the
// aggregator proxies to `slotscaler serve` succeeds, and the real HPA controller records no failed
// read. All clients are 127.0.0.1: only the aggregator's verified front-proxy certificate tells it
// apart (src/metrics-api/connection-guard.ts). Latency is measured, not asserted: the figures
// belong to `npm run bench -- metrics-api-flood`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { startConnectionFlood } from '../support/connection-flood.js';
import type { ConnectionFloodReport } from '../support/connection-flood.js';
import { startFloodScenario } from './metrics-api-flood-scenario.js';
import type { FloodScenario, ReadSeries } from './metrics-api-flood-scenario.js';
import { testLogger } from './scaler-helpers.js';

const SLOWLORIS = 250;
const FLOOD = 1000;

function figures(name: string, series: ReadSeries): string {
  return `${name}: ${series.succeeded}/${series.reads} reads ok, p50 ${series.p50Ms.toFixed(0)} ms, p99 ${series.p99Ms.toFixed(0)} ms, max ${series.maxMs.toFixed(0)} ms`;
}

describe(
  'metrics API under a slowloris and a connection flood, read by the real aggregator and HPA',
  { timeout: 600_000 },
  () => {
    let scenario: FloodScenario;

    before(async () => {
      scenario = await startFloodScenario({
        logger: testLogger('serve '),
        log: (message) => console.log(`# ${message}`),
      });
    });

    after(async () => {
      await scenario.stop();
    });

    it('every read through the aggregator succeeds before and during the attack, and the HPA records no failed read', async () => {
      const before = await scenario.measureReads(10, 250);
      console.log(`# ${figures('before', before)}`);
      assert.deepEqual(before.failures, []);
      const warningsBefore = await scenario.hpaWarnings();

      const flood = await startConnectionFlood({
        port: scenario.metricsApiPort,
        slowloris: SLOWLORIS,
        flood: FLOOD,
        seconds: 90,
      });
      let during: ReadSeries;
      let report: ConnectionFloodReport;
      try {
        // At full strength: every slot has connected once.
        await flood.waitForOpened(SLOWLORIS + FLOOD, 30_000);
        // 40 reads a little over 400 ms apart: about 20 s, four HPA syncs (5 s period).
        during = await scenario.measureReads(40, 400);
        // One more HPA sync inside the attack.
        await new Promise((resolve) => setTimeout(resolve, 5_000));
      } finally {
        report = await flood.stop();
      }
      console.log(`# ${figures('during', during)}`);
      console.log(`# flood: ${JSON.stringify(report)}`);
      assert.deepEqual(during.failures, [], 'every read through the aggregator answered 200 with a value');
      // Events are written asynchronously: give a failed sync's Event time to arrive.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.deepEqual(await scenario.hpaWarnings(), warningsBefore, 'no new Warning Event of the HPA');

      // The attack was real: every slot connected, and the limits acted on its connections.
      assert.ok(report.opened >= SLOWLORIS + FLOOD, `opened ${report.opened}`);
      const metrics = await scenario.scrape();
      const closed = [
        ...metrics.matchAll(/^slotscaler_metrics_api_connections_limited_total\{reason="(\w+)"\} (\d+)/gm),
      ];
      console.log(`# connections the limits acted on: ${closed.map((m) => `${m[1]} ${m[2]}`).join(', ')}`);
      assert.ok(closed.reduce((sum, m) => sum + Number(m[2]), 0) > 0, 'the limits acted');
    });
  },
);
