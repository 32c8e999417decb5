/**
 * Collector benchmark (a figure, not a test): N targets of V vertices (S sources each) against a
 * fleet of fake JobManagers answering real response shapes over loopback HTTP. Measures one
 * tick's duration, the CPU seconds it costs, peak RSS, and REST calls per target per tick in steady
 * state (after job discovery and the source metric listings).
 *
 *   node --import tsx bench/collector.bench.ts [--targets 1000] [--vertices 10] [--sources 2]
 *     [--servers 4] [--parallelism 2] [--ticks 8] [--interval 15] [--fleet child|in-process]
 *     [--concurrency 32] [--heap-limit-mb 128]
 *
 * `--fleet child` (default) runs the fake JobManagers in another process, so the CPU and memory
 * figures are the collector's own; `in-process` runs them in this one (the figures then include
 * them). Writes bench-results-collector.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { Clock } from '../src/domain/ports.js';
import { Collector } from '../src/runtime/collector.js';
import type { TickResult } from '../src/runtime/collector.js';
import { FlinkHttpPool } from '../src/flink/rest-client.js';
import { startFleet } from './fake-fleet.js';
import type { Fleet, FleetOptions } from './fake-fleet.js';

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

// V8 sizes its heap from the host's memory (gigabytes here) and lets garbage pile up before it
// collects; in a container it sizes it from the memory limit. Run under the old-space limit the
// chart sets (`--heap-limit-mb 0` for V8's own choice).
const heapLimitMb = Number(flag('heap-limit-mb', '128'));
if (heapLimitMb > 0 && !process.execArgv.some((arg) => arg.startsWith('--max-old-space-size'))) {
  const rerun = spawnSync(
    process.execPath,
    [...process.execArgv, `--max-old-space-size=${heapLimitMb}`, ...process.argv.slice(1)],
    { stdio: 'inherit' },
  );
  process.exit(rerun.status ?? 1);
}

const options: FleetOptions = {
  targets: Number(flag('targets', '1000')),
  vertices: Number(flag('vertices', '10')),
  sources: Number(flag('sources', '2')),
  servers: Number(flag('servers', '4')),
  parallelism: Number(flag('parallelism', '2')),
};
const ticks = Number(flag('ticks', '8'));
const fleetMode = flag('fleet', 'child');
const concurrency = Number(flag('concurrency', '32'));
const intervalSeconds = Number(flag('interval', '15'));

/**
 * Ticks run back to back, but the windows must see them `intervalSeconds` apart, as in production
 * (otherwise they would hold a minute of 1-second samples): the wall clock plus an offset that
 * jumps to the next tick's due time.
 */
class TickClock implements Clock {
  private offsetMs = 0;
  private tickStartedMs = Date.now();
  nowMs(): number {
    return Date.now() + this.offsetMs;
  }
  nextTick(): void {
    this.offsetMs += intervalSeconds * 1000 - (Date.now() - this.tickStartedMs);
    this.tickStartedMs = Date.now();
  }
}
const clock = new TickClock();

async function childFleet(): Promise<Fleet> {
  // fake-fleet.ts under tsx, fake-fleet.js when the benchmark runs compiled.
  const extension = extname(fileURLToPath(import.meta.url));
  const script = fileURLToPath(new URL(`./fake-fleet${extension}`, import.meta.url));
  const loader = extension === '.ts' ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...loader, script, '--serve', JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the fleet exited with ${String(code)}`)));
  });
  const { urls } = JSON.parse(first) as { urls: string[] };
  return {
    urls,
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

let peakRssBytes = 0;
const sampler = setInterval(() => {
  peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
}, 20);

const fleet = fleetMode === 'in-process' ? await startFleet(options) : await childFleet();
// A few servers stand in for a thousand JobManagers: let each keep as many idle connections as
// the thousand would together, or the benchmark measures reconnecting.
const pool = new FlinkHttpPool({ maxConcurrentRequests: concurrency, maxIdleSocketsPerHost: concurrency });
const collector = new Collector({ clientFor: (url) => pool.clientFor(url), clock });
collector.setTargets(fleet.urls.map((url, index) => ({ id: `bench/target-${index}`, jobManagerUrl: url })));

interface TickFigures {
  readonly tick: number;
  readonly durationSeconds: number;
  readonly cpuSeconds: number;
  readonly restCalls: number;
  readonly restCallsPerTarget: number;
  readonly maxRestCallsOfOneTarget: number;
  readonly succeeded: number;
  readonly failed: number;
}

const figures: TickFigures[] = [];
for (let tick = 1; tick <= ticks; tick += 1) {
  if (tick > 1) clock.nextTick();
  const cpuBefore = process.cpuUsage();
  const result: TickResult = await collector.tick();
  const cpu = process.cpuUsage(cpuBefore);
  const maxCalls = Math.max(...collector.statuses().map((status) => status.lastRestCalls));
  figures.push({
    tick,
    durationSeconds: result.durationMs / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    restCalls: result.restCalls,
    restCallsPerTarget: result.restCalls / Math.max(1, result.succeeded),
    maxRestCallsOfOneTarget: maxCalls,
    succeeded: result.succeeded,
    failed: result.failed,
  });
}

const readStarted = performance.now();
let available = 0;
for (const status of collector.statuses()) {
  const readings = collector.readings(status.id, clock.nowMs());
  if (readings !== undefined && 'value' in readings.metrics.flink_busy_ratio) available += 1;
}
const readingsSeconds = (performance.now() - readStarted) / 1000;

clearInterval(sampler);
peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
pool.close();
await fleet.close();

const steady = figures.slice(1);
const mean = (values: readonly number[]): number =>
  values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
const budget = 1 + options.sources;
const summary = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: (await import('node:os')).cpus().length,
  fleet: fleetMode,
  concurrency,
  heapLimitMb: (await import('node:v8')).getHeapStatistics().heap_size_limit / 1024 / 1024,
  ...options,
  ticks: figures,
  steadyState: {
    tickSecondsMean: mean(steady.map((figure) => figure.durationSeconds)),
    tickSecondsMax: Math.max(...steady.map((figure) => figure.durationSeconds)),
    cpuSecondsPerTickMean: mean(steady.map((figure) => figure.cpuSeconds)),
    restCallsPerTargetPerTick: mean(steady.map((figure) => figure.restCallsPerTarget)),
    maxRestCallsOfOneTarget: Math.max(...steady.map((figure) => figure.maxRestCallsOfOneTarget)),
    budget,
  },
  readingsForAllTargetsSeconds: readingsSeconds,
  targetsWithBusyRatio: available,
  peakRssMegabytes: peakRssBytes / 1024 / 1024,
  goals: {
    tickUnder5s: Math.max(...steady.map((figure) => figure.durationSeconds)) < 5,
    rssUnder200MB: peakRssBytes / 1024 / 1024 < 200,
    withinRestBudget: Math.max(...steady.map((figure) => figure.maxRestCallsOfOneTarget)) <= budget,
  },
};

const rows = [
  ['tick', 'seconds', 'CPU s', 'REST calls', 'per target', 'max one target', 'ok', 'failed'],
  ...figures.map((figure) => [
    String(figure.tick) + (figure.tick === 1 ? ' (discovery)' : ''),
    figure.durationSeconds.toFixed(3),
    figure.cpuSeconds.toFixed(3),
    String(figure.restCalls),
    figure.restCallsPerTarget.toFixed(2),
    String(figure.maxRestCallsOfOneTarget),
    String(figure.succeeded),
    String(figure.failed),
  ]),
];
const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
console.log(
  `collector: ${options.targets} targets × ${options.vertices} vertices (${options.sources} sources, parallelism ${options.parallelism}), ` +
    `${options.servers} fake servers (${fleetMode}), REST concurrency ${concurrency}, ${summary.cpus} CPUs, Node ${process.version}, ` +
    `V8 heap limit ${summary.heapLimitMb.toFixed(0)} MB`,
);
for (const row of rows) console.log(row.map((cell, column) => cell.padStart(widths[column] ?? 0)).join('  '));
console.log(
  `steady state: tick ${summary.steadyState.tickSecondsMean.toFixed(3)} s mean / ${summary.steadyState.tickSecondsMax.toFixed(3)} s max, ` +
    `${summary.steadyState.cpuSecondsPerTickMean.toFixed(3)} CPU s per tick, ` +
    `${summary.steadyState.restCallsPerTargetPerTick.toFixed(2)} REST calls per target per tick (max ${summary.steadyState.maxRestCallsOfOneTarget}, budget ${budget})`,
);
console.log(
  `peak RSS ${summary.peakRssMegabytes.toFixed(1)} MB; readings of all targets ${(readingsSeconds * 1000).toFixed(1)} ms ` +
    `(${available} with a busy ratio); goals: ${JSON.stringify(summary.goals)}`,
);
writeFileSync('bench-results-collector.json', `${JSON.stringify(summary, null, 2)}\n`);
