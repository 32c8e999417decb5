#!/usr/bin/env node
// `npm run bench`: every benchmark, one after the other (they share 2 cores: never at once), each
// printing its own table and writing bench-results-<name>.json. Figures, never pass/fail.
//   npm run bench                 collector (1,000, 5,000 and 10,000 targets) and metrics API
//                                 (several minutes)
//   npm run bench -- --all        also the API-server load of the scaler (real control plane, 6 min),
//                                 what a rescale costs the job in place and redeployed (MiniCluster, 3 min),
//                                 the HPA's reads during a flood of the metrics API (2 min),
//                                 and Slotscaler against the Flink operator's standalone autoscaler
//                                 on the same MiniCluster job (peers: a Maven build once, then 20 min),
//                                 and three sharded replicas losing one (real control plane, 2 min)
//   npm run bench -- collector    only the named ones
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const all = args.includes('--all');
const named = args.filter((arg) => !arg.startsWith('--'));
const SLOW = new Set(['api-load', 'metrics-api-flood', 'peers', 'rescale-paths', 'shards']);

const benches = readdirSync(new URL('../bench/', import.meta.url))
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.replace(/\.bench\.ts$/, ''))
  .filter((name) => (named.length > 0 ? named.includes(name) : all || !SLOW.has(name)))
  .sort();

let failed = 0;
for (const name of benches) {
  console.log(`\n== bench ${name}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.bench.ts`], {
    cwd: root,
    stdio: 'inherit',
  });
  console.log(
    `== bench ${name}: ${result.status === 0 ? 'done' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  if (result.status !== 0) failed++;
}
// One table of the headline figures of every benchmark that ran, and all of them in one JSON.
const read = (name) => {
  const file = new URL(`../bench-results-${name}.json`, import.meta.url);
  return benches.includes(name) && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
};
const rows = [];
const collector = read('collector');
if (collector) {
  // One row per size (1,000, 5,000 and 10,000 targets by default; one when a size was named).
  for (const size of collector.sizes ?? [collector]) {
    const s = size.steadyState;
    rows.push([
      'collector',
      `tick, ${size.targets.toLocaleString('en')} targets × ${size.vertices} vertices`,
      `${s.tickSecondsMean.toFixed(2)} s mean, ${s.tickSecondsMax.toFixed(2)} s max; ` +
        `${s.cpuSecondsPerTickMean.toFixed(2)} CPU s (${(s.cpuShareOfOneCore * 100).toFixed(1)} % of one core); ` +
        `RSS ${size.peakRssMegabytes.toFixed(0)} MB`,
      'within the tick, at most 25 % of one core, RSS at most 600 MB',
    ]);
  }
  const s = collector.steadyState;
  rows.push([
    'collector',
    'REST calls per target per tick',
    `${s.restCallsPerTargetPerTick} (max ${s.maxRestCallsOfOneTarget})`,
    `at most ${s.budget} (1 + sources)`,
  ]);
}
const api = read('metrics-api');
if (api) {
  const baseline = (name) => api.baseline.find((phase) => phase.phase === name);
  for (const phase of api.phases) {
    const empty = baseline(phase.phase);
    rows.push([
      'metrics-api',
      phase.phase === 'rate'
        ? `${api.rate} req/s over TLS, ${api.clients} clients, ${api.targets} targets`
        : 'most req/s',
      `${phase.requestsPerSecond.toFixed(0)} req/s, p50 ${phase.p50Ms.toFixed(2)} ms, p99 ${phase.p99Ms.toFixed(2)} ms` +
        (empty
          ? ` (empty handler: ${empty.requestsPerSecond.toFixed(0)} req/s, p99 ${empty.p99Ms.toFixed(2)} ms)`
          : ''),
      phase.phase === 'rate' ? `p99 at most ${api.goal.p99MsAtMost} ms` : '',
    ]);
  }
  rows.push([
    'metrics-api',
    'req/s vs an empty node:https handler',
    `${api.ofBaselinePercent.toFixed(0)} %`,
    `at least ${api.goal.ofBaselinePercentAtLeast} %`,
  ]);
  const rate = api.phases.find((phase) => phase.phase === 'rate');
  if (rate) {
    const empty = baseline('rate');
    rows.push([
      'metrics-api',
      'server CPU per 1,000 requests',
      `${rate.serverCpuMsPer1000Requests.toFixed(0)} ms` +
        (empty ? ` (empty handler: ${empty.serverCpuMsPer1000Requests.toFixed(0)} ms)` : ''),
      `at most ${api.goal.serverCpuMsPer1000RequestsAtMost} ms`,
    ]);
  }
  // The same reads with clients that offer h2 as the aggregator does (negotiated with our server).
  if (api.h2) {
    const h2Rate = api.h2.phases.find((phase) => phase.phase === 'rate');
    const h2Empty = api.h2.baseline.find((phase) => phase.phase === 'rate');
    rows.push([
      'metrics-api',
      'req/s over h2 (metrics-api-http2 on) vs an empty node:https handler',
      `${api.h2.ofHttpsBaselinePercent.toFixed(0)} % (vs an empty node:http2 handler over h2: ${api.h2.ofHttp2BaselinePercent.toFixed(0)} %)`,
      '',
    ]);
    if (h2Rate)
      rows.push([
        'metrics-api',
        'server CPU per 1,000 requests over h2 (metrics-api-http2 on)',
        `${h2Rate.serverCpuMsPer1000Requests.toFixed(0)} ms, p99 ${h2Rate.p99Ms.toFixed(2)} ms` +
          (h2Empty ? ` (empty node:http2 handler: ${h2Empty.serverCpuMsPer1000Requests.toFixed(0)} ms)` : ''),
        `at most ${api.goal.serverCpuMsPer1000RequestsAtMost} ms`,
      ]);
  }
}
const flood = read('metrics-api-flood');
if (flood) {
  for (const name of ['before', 'during']) {
    const phase = flood[name];
    rows.push([
      'metrics-api-flood',
      `HPA reads through the aggregator, ${name} ${flood.attack.slowloris} slowloris + ${flood.attack.flood} flood connections`,
      `${phase.succeeded}/${phase.reads} ok, p50 ${phase.p50Ms.toFixed(0)} ms, p99 ${phase.p99Ms.toFixed(0)} ms, max ${phase.maxMs.toFixed(0)} ms`,
      name === 'during' ? 'every read ok' : '',
    ]);
  }
}
const decide = read('decide');
if (decide) {
  for (const entry of decide.decisionCore)
    rows.push([
      'decide',
      entry.name,
      `${Math.round(entry.perSecond).toLocaleString('en')} /s (${entry.microsecondsEach.toFixed(1)} µs)`,
      '',
    ]);
  const step = decide.simulate.find(
    (entry) => entry.trace === 'builtin:step' && entry.policy === 'slotscaler',
  );
  if (step)
    rows.push([
      'simulate',
      'simulated seconds per second (step)',
      Math.round(step.simulatedSecondsPerSecond).toLocaleString('en'),
      '',
    ]);
}
const shards = read('shards');
if (shards) {
  const span = (values) => `${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)} s`;
  rows.push([
    'shards',
    `a SIGKILLed replica's ${shards.moved} targets (of ${shards.targets}, lease ${shards.leaseSeconds} s, tick ${shards.tickSeconds} s)`,
    `taken ${span(shards.takenSeconds)}, collected ${span(shards.collectedSeconds)}, written ${span(shards.writtenSeconds)}`,
    `within a lease duration and a tick or two`,
  ]);
  rows.push([
    'shards',
    'reads of every target through the survivors during the move',
    `${shards.reads.answered}/${shards.reads.total} answered, p99 ${shards.reads.p99Ms.toFixed(1)} ms`,
    'every read answered',
  ]);
  rows.push(['shards', 'two holders of one target at once', String(shards.overlappingHolders), 'never']);
}
const load = read('api-load');
if (load) {
  const t = load.perTargetPerHour;
  rows.push([
    'api-load',
    `per target per hour, ${load.targets} targets, steady state`,
    `${t.reads} reads, ${t.targetWrites} target writes, ${t.eventWrites} Events`,
    'no reads beyond watches; writes only for decisions',
  ]);
  rows.push([
    'api-load',
    'per process per hour',
    `${load.perHour.leaseWrites} Lease writes, ${load.perHour.watchStarts} watch restarts`,
    '',
  ]);
}
const peers = read('peers');
if (peers) {
  for (const result of peers.results) {
    const s = result.summary;
    rows.push([
      'peers',
      `step scenario, ${result.system}`,
      s === undefined
        ? `failed: ${result.error}`
        : `${s.scaleUps} up / ${s.scaleDowns} down, drained in ${s.drainedSeconds === null ? 'never' : `${s.drainedSeconds.toFixed(0)} s`}, ${s.restCallsPerMinute.toFixed(0)} REST calls/min`,
      result.system === 'slotscaler' ? 'no more rescales than the peer, drained sooner' : '',
    ]);
  }
}
if (rows.length > 0) {
  const headers = ['bench', 'figure', 'measured', 'goal'];
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => String(row[i]).length)),
  );
  const line = (cells) => cells.map((cell, i) => String(cell).padEnd(widths[i])).join('  ');
  console.log(`\n== summary\n${line(headers)}`);
  for (const row of rows) console.log(line(row));
  writeFileSync(
    new URL('../bench-results.json', import.meta.url),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, summary: rows.map(([bench, figure, measured, goal]) => ({ bench, figure, measured, goal })), collector, metricsApi: api, metricsApiFlood: flood, decide, apiLoad: load, peers }, null, 2)}\n`,
  );
  console.log('written to bench-results.json');
}
process.exit(failed === 0 ? 0 : 1);
