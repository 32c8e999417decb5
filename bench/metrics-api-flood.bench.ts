/**
 * The HPA's read latency through the real aggregator, before and during an attack on the metrics
 * API (a figure, not a test): the real control plane (kube-apiserver, HPA controller), `slotscaler
 * serve` as the external metrics APIService, and on loopback, from another process, `--slowloris`
 * TLS connections sending headers a byte at a time plus a `--flood` of connections (half silent TCP,
 * half TLS connections sending requests with made-up bearer tokens), each reopened a second after
 * the server closes it. The reads are the HPA controller's request
 * (`GET /apis/external.metrics.k8s.io/v1beta1/namespaces/<ns>/<metric>?labelSelector=...`), one at a
 * time, `--reads` per phase every `--interval-ms`.
 *
 *   npm run bench -- metrics-api-flood
 *   node --import tsx bench/metrics-api-flood.bench.ts [--reads 200] [--interval-ms 150]
 *     [--slowloris 250] [--flood 1000]
 *
 * Prints a table and writes bench-results-metrics-api-flood.json.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

import { callbackLogger } from '../src/observability/logger.js';
import { startConnectionFlood } from '../test/support/connection-flood.js';
import type { ConnectionFloodReport } from '../test/support/connection-flood.js';
import { startFloodScenario } from '../test/e2e/metrics-api-flood-scenario.js';
import type { ReadSeries } from '../test/e2e/metrics-api-flood-scenario.js';

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

const reads = Number(flag('reads', '200'));
const intervalMs = Number(flag('interval-ms', '150'));
const slowloris = Number(flag('slowloris', '250'));
const floodSize = Number(flag('flood', '1000'));

const limitedByReason = (metrics: string): Record<string, number> =>
  Object.fromEntries(
    [...metrics.matchAll(/^slotscaler_metrics_api_connections_limited_total\{reason="(\w+)"\} (\d+)/gm)].map(
      (match) => [match[1] ?? '', Number(match[2])],
    ),
  );

console.log('starting the control plane and slotscaler serve...');
const scenario = await startFloodScenario({
  logger: callbackLogger(
    (level, msg) => {
      if (level === 'error') console.error(`serve: ${msg}`);
    },
    (level) => level === 'error',
  ),
});
let before: ReadSeries;
let during: ReadSeries;
let attack: ConnectionFloodReport;
let warningsBefore: Record<string, number>;
let warningsAfter: Record<string, number>;
let rssBeforeMb: number;
let rssDuringMb = 0;
let closed: Record<string, number>;
try {
  await scenario.measureReads(10, intervalMs); // warm-up: caches, connections
  warningsBefore = await scenario.hpaWarnings();
  rssBeforeMb = process.memoryUsage().rss / 1e6;
  before = await scenario.measureReads(reads, intervalMs);
  const flood = await startConnectionFlood({
    port: scenario.metricsApiPort,
    slowloris,
    flood: floodSize,
    seconds: 30 + ((reads * intervalMs) / 1000) * 4,
  });
  try {
    await flood.waitForOpened(slowloris + floodSize, 60_000);
    const sampler = setInterval(() => {
      rssDuringMb = Math.max(rssDuringMb, process.memoryUsage().rss / 1e6);
    }, 500);
    during = await scenario.measureReads(reads, intervalMs);
    clearInterval(sampler);
  } finally {
    attack = await flood.stop();
  }
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  warningsAfter = await scenario.hpaWarnings();
  closed = limitedByReason(await scenario.scrape());
} finally {
  await scenario.stop();
}

const newWarnings = Object.fromEntries(
  Object.entries(warningsAfter)
    .map(([reason, count]) => [reason, count - (warningsBefore[reason] ?? 0)] as const)
    .filter(([, count]) => count > 0),
);
/** The failed reads, counted by what they got: `503 service unavailable`, `0 socket hang up`... */
const failuresByAnswer = (series: ReadSeries): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const failure of series.failures) {
    const answer = `${failure.status} ${failure.detail.trim().slice(0, 80)}`;
    counts[answer] = (counts[answer] ?? 0) + 1;
  }
  return counts;
};
const phase = (series: ReadSeries) => ({
  reads: series.reads,
  succeeded: series.succeeded,
  p50Ms: series.p50Ms,
  p99Ms: series.p99Ms,
  maxMs: series.maxMs,
  failuresByAnswer: failuresByAnswer(series),
});
const report = {
  benchmark: 'metrics-api-flood',
  node: process.version,
  cpus: cpus().length,
  loadAverage: loadavg()[0] ?? 0,
  attack: { slowloris, flood: floodSize, ...attack },
  readsPerPhase: reads,
  intervalMs,
  before: phase(before),
  during: phase(during),
  hpaWarningEventsDuringAttack: newWarnings,
  connectionsLimited: closed,
  rssMegabytes: { before: rssBeforeMb, peakDuring: rssDuringMb },
};
writeFileSync('bench-results-metrics-api-flood.json', `${JSON.stringify(report, null, 2)}\n`);

console.log(
  `HPA reads through the aggregator, ${reads} per phase, one every ${intervalMs} ms; attack: ${slowloris} slowloris + ${floodSize} flood connections on loopback, node ${process.version}`,
);
console.log(
  ['phase', 'ok', 'p50 ms', 'p99 ms', 'max ms'].map((t, i) => t.padStart(i === 0 ? 8 : 10)).join(' '),
);
for (const [name, series] of [
  ['before', before],
  ['during', during],
] as const) {
  console.log(
    [
      name.padStart(8),
      `${series.succeeded}/${series.reads}`.padStart(10),
      series.p50Ms.toFixed(1).padStart(10),
      series.p99Ms.toFixed(1).padStart(10),
      series.maxMs.toFixed(1).padStart(10),
    ].join(' '),
  );
}
for (const [name, series] of [
  ['before', before],
  ['during', during],
] as const) {
  if (series.failures.length > 0)
    console.log(`failed reads ${name}: ${JSON.stringify(failuresByAnswer(series))}`);
}
console.log(
  `attack: ${attack.opened} connections opened, ${attack.closedByServer} closed by the server, at most ${attack.peakOpen} open at once; flood answers ${JSON.stringify(attack.answers)}`,
);
console.log(
  `connections the limits acted on: ${JSON.stringify(closed)}; HPA Warning Events during: ${JSON.stringify(newWarnings)}`,
);
console.log(
  `RSS of the serving process: ${rssBeforeMb.toFixed(0)} MB before, ${rssDuringMb.toFixed(0)} MB at most during; written to bench-results-metrics-api-flood.json`,
);
process.exit(0);
