/**
 * Collector benchmark (a figure, not a test): N targets of V vertices (S sources each) against a
 * fleet of fake JobManagers answering real response shapes over loopback HTTP. Measures one
 * tick's duration, the CPU seconds it costs, peak RSS, and REST calls per target per tick in steady
 * state (after job discovery and the source metric listings).
 *
 *   node --import tsx bench/collector.bench.ts                   1,000, 5,000 and 10,000 targets
 *   node --import tsx bench/collector.bench.ts --targets 1000 [--vertices 10] [--sources 2]
 *     [--servers 4] [--parallelism 2] [--ticks 8] [--interval 15] [--fleet child|in-process]
 *     [--fleet-processes 2] [--concurrency 32] [--heap-limit-mb 128]
 *
 * Without `--targets` it runs each size in a process of its own (a fresh heap and RSS each) and
 * prints one line per size. `--fleet child` (default) runs the fake JobManagers in other processes,
 * so the CPU and memory figures are the collector's own, and reports the fleet's CPU beside them:
 * when the fleet's CPU per tick nears the tick's seconds, the fleet, not the collector, sets the
 * tick's length. `in-process` runs them in this one (the figures then include them). Writes
 * bench-results-collector.json.
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

/**
 * The old-space limit a size is run under: V8 sizes its heap from the host's memory (gigabytes
 * here) and lets garbage pile up before it collects; in a container it sizes it from the memory
 * limit. 128 MB, plus 40 MB per thousand targets beyond 1,000 (the metric windows hold a minute of
 * snapshots of each target: about 30 KB of a 10-vertex job), so each size runs with room to spare
 * and no more. `--heap-limit-mb 0` leaves it to V8.
 */
function heapLimitMbFor(targets: number): number {
  return 128 + Math.max(0, Math.ceil(((targets - 1000) / 1000) * 40));
}

const SIZES = [1000, 5000, 10_000] as const;
if (!process.argv.includes('--targets')) await runSizes();

const heapLimitMb = Number(flag('heap-limit-mb', String(heapLimitMbFor(Number(flag('targets', '1000'))))));
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
const fleetProcesses = Math.max(1, Math.min(options.servers, Number(flag('fleet-processes', '2'))));
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

/** One fleet process serving `share` of the targets on its servers. */
async function childFleet(share: FleetOptions): Promise<Fleet> {
  // fake-fleet.ts under tsx, fake-fleet.js when the benchmark runs compiled.
  const extension = extname(fileURLToPath(import.meta.url));
  const script = fileURLToPath(new URL(`./fake-fleet${extension}`, import.meta.url));
  const loader = extension === '.ts' ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...loader, script, '--serve', JSON.stringify(share)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  // One answer line per question, in order; the fleet exiting fails the question waiting.
  let waiting: { resolve: (line: string) => void; reject: (err: Error) => void } | null = null;
  lines.on('line', (line) => {
    waiting?.resolve(line);
    waiting = null;
  });
  child.once('exit', (code) => {
    waiting?.reject(new Error(`the fleet exited with ${String(code)}`));
    waiting = null;
  });
  const nextLine = (): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      waiting = { resolve, reject };
    });
  const { urls } = JSON.parse(await nextLine()) as { urls: string[] };
  return {
    urls,
    cpuSeconds: async () => {
      const answer = nextLine();
      child.stdin.write('cpu\n');
      return (JSON.parse(await answer) as { cpuSeconds: number }).cpuSeconds;
    },
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

/**
 * The fleet over `fleetProcesses` processes: one process of fake JobManagers is single-threaded and,
 * at thousands of targets, as busy as the collector; more let it use the other core too.
 */
async function childFleets(): Promise<Fleet> {
  const shares = Array.from({ length: fleetProcesses }, (_, index): FleetOptions => {
    const share = (total: number): number =>
      Math.floor(total / fleetProcesses) + (index < total % fleetProcesses ? 1 : 0);
    return { ...options, targets: share(options.targets), servers: share(options.servers) };
  });
  const fleets = await Promise.all(shares.map(childFleet));
  return {
    urls: fleets.flatMap((one) => one.urls),
    cpuSeconds: async () => {
      const each = await Promise.all(fleets.map((one) => one.cpuSeconds()));
      return each.reduce<number>((sum, seconds) => sum + (seconds ?? 0), 0);
    },
    close: async () => {
      await Promise.all(fleets.map((one) => one.close()));
    },
  };
}

const fleet = fleetMode === 'in-process' ? await startFleet(options) : await childFleets();
// A few servers stand in for a thousand JobManagers: let each keep as many idle connections as
// the thousand would together, or the benchmark measures reconnecting.
const pool = new FlinkHttpPool({ maxConcurrentRequests: concurrency, maxIdleSocketsPerHost: concurrency });
const collector = new Collector({ clientFor: (url) => pool.clientFor(url), clock });
collector.setTargets(fleet.urls.map((url, index) => ({ id: `bench/target-${index}`, jobManagerUrl: url })));

interface TickFigures {
  readonly tick: number;
  readonly durationSeconds: number;
  readonly cpuSeconds: number;
  /** The fleet's CPU seconds during the tick; null when it runs in this process. */
  readonly fleetCpuSeconds: number | null;
  readonly restCalls: number;
  readonly restCallsPerTarget: number;
  readonly maxRestCallsOfOneTarget: number;
  readonly succeeded: number;
  readonly failed: number;
}

const figures: TickFigures[] = [];
for (let tick = 1; tick <= ticks; tick += 1) {
  if (tick > 1) clock.nextTick();
  const fleetCpuBefore = await fleet.cpuSeconds();
  const cpuBefore = process.cpuUsage();
  const result: TickResult = await collector.tick();
  const cpu = process.cpuUsage(cpuBefore);
  const fleetCpuAfter = await fleet.cpuSeconds();
  const maxCalls = Math.max(...collector.statuses().map((status) => status.lastRestCalls));
  figures.push({
    tick,
    durationSeconds: result.durationMs / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    fleetCpuSeconds:
      fleetCpuBefore === null || fleetCpuAfter === null ? null : fleetCpuAfter - fleetCpuBefore,
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

// The kernel's high-water mark of this process: exact, and free, where sampling memoryUsage() every
// few milliseconds cost the ticks a tenth of the CPU they measured.
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
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
  // The machine's load while it ran: with more runnable processes than cores, tick seconds stretch
  // while CPU seconds stay the collector's.
  loadAverage: (await import('node:os')).loadavg()[0],
  fleet: fleetMode,
  concurrency,
  heapLimitMb: (await import('node:v8')).getHeapStatistics().heap_size_limit / 1024 / 1024,
  ...options,
  ticks: figures,
  steadyState: {
    tickSecondsMean: mean(steady.map((figure) => figure.durationSeconds)),
    tickSecondsMax: Math.max(...steady.map((figure) => figure.durationSeconds)),
    cpuSecondsPerTickMean: mean(steady.map((figure) => figure.cpuSeconds)),
    /** The collector's CPU over the tick interval: its average share of one core in production. */
    cpuShareOfOneCore: mean(steady.map((figure) => figure.cpuSeconds)) / intervalSeconds,
    fleetCpuSecondsPerTickMean: steady.some((figure) => figure.fleetCpuSeconds === null)
      ? null
      : mean(steady.map((figure) => figure.fleetCpuSeconds ?? 0)),
    restCallsPerTargetPerTick: mean(steady.map((figure) => figure.restCallsPerTarget)),
    maxRestCallsOfOneTarget: Math.max(...steady.map((figure) => figure.maxRestCallsOfOneTarget)),
    budget,
  },
  readingsForAllTargetsSeconds: readingsSeconds,
  targetsWithBusyRatio: available,
  peakRssMegabytes: peakRssBytes / 1024 / 1024,
  goals: {
    tickWithinInterval: Math.max(...steady.map((figure) => figure.durationSeconds)) < intervalSeconds,
    cpuAtMostQuarterOfOneCore: mean(steady.map((figure) => figure.cpuSeconds)) / intervalSeconds <= 0.25,
    rssAtMost600MB: peakRssBytes / 1024 / 1024 <= 600,
    withinRestBudget: Math.max(...steady.map((figure) => figure.maxRestCallsOfOneTarget)) <= budget,
  },
};

const rows = [
  ['tick', 'seconds', 'CPU s', 'fleet CPU s', 'REST calls', 'per target', 'max one target', 'ok', 'failed'],
  ...figures.map((figure) => [
    String(figure.tick) + (figure.tick === 1 ? ' (discovery)' : ''),
    figure.durationSeconds.toFixed(3),
    figure.cpuSeconds.toFixed(3),
    figure.fleetCpuSeconds === null ? '-' : figure.fleetCpuSeconds.toFixed(3),
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
    `${options.servers} fake servers (${fleetMode === 'child' ? `${fleetProcesses} child processes` : fleetMode}), REST concurrency ${concurrency}, ${summary.cpus} CPUs, Node ${process.version}, ` +
    `V8 heap limit ${summary.heapLimitMb.toFixed(0)} MB, load average ${summary.loadAverage?.toFixed(1) ?? '-'}`,
);
for (const row of rows) console.log(row.map((cell, column) => cell.padStart(widths[column] ?? 0)).join('  '));
console.log(
  `steady state: tick ${summary.steadyState.tickSecondsMean.toFixed(3)} s mean / ${summary.steadyState.tickSecondsMax.toFixed(3)} s max, ` +
    `${summary.steadyState.cpuSecondsPerTickMean.toFixed(3)} CPU s per tick ` +
    `(${(summary.steadyState.cpuShareOfOneCore * 100).toFixed(1)} % of one core at ${intervalSeconds} s; ` +
    `the fleet ${summary.steadyState.fleetCpuSecondsPerTickMean?.toFixed(3) ?? '-'} CPU s), ` +
    `${summary.steadyState.restCallsPerTargetPerTick.toFixed(2)} REST calls per target per tick (max ${summary.steadyState.maxRestCallsOfOneTarget}, budget ${budget})`,
);
console.log(
  `peak RSS ${summary.peakRssMegabytes.toFixed(1)} MB; readings of all targets ${(readingsSeconds * 1000).toFixed(1)} ms ` +
    `(${available} with a busy ratio); goals: ${JSON.stringify(summary.goals)}`,
);
writeFileSync('bench-results-collector.json', `${JSON.stringify(summary, null, 2)}\n`);

/**
 * Each size in a process of its own, then one line per size: tick seconds, the collector's CPU per
 * tick and peak RSS, the figures the goal is stated in (10,000 targets within a 15 s tick, at most a
 * quarter of one core, RSS at most 600 MB).
 */
async function runSizes(): Promise<never> {
  const { readFileSync } = await import('node:fs');
  const results: Record<string, unknown>[] = [];
  for (const targets of SIZES) {
    const run = spawnSync(
      process.execPath,
      [...process.execArgv, ...process.argv.slice(1), '--targets', String(targets)],
      { stdio: 'inherit' },
    );
    if (run.status !== 0) process.exit(run.status ?? 1);
    results.push(JSON.parse(readFileSync('bench-results-collector.json', 'utf8')) as Record<string, unknown>);
  }
  interface SizeFigures {
    readonly targets: number;
    readonly heapLimitMb: number;
    readonly peakRssMegabytes: number;
    readonly steadyState: {
      readonly tickSecondsMean: number;
      readonly tickSecondsMax: number;
      readonly cpuSecondsPerTickMean: number;
      readonly cpuShareOfOneCore: number;
      readonly fleetCpuSecondsPerTickMean: number | null;
    };
  }
  const sizes = results as unknown as SizeFigures[];
  console.log('\ncollector by size (steady state; CPU is the collector alone, the fleet beside it)');
  const table = [
    [
      'targets',
      'tick s mean',
      'tick s max',
      'CPU s/tick',
      'of one core',
      'fleet CPU s/tick',
      'peak RSS MB',
      'heap limit MB',
    ],
    ...sizes.map((size) => [
      size.targets.toLocaleString('en'),
      size.steadyState.tickSecondsMean.toFixed(2),
      size.steadyState.tickSecondsMax.toFixed(2),
      size.steadyState.cpuSecondsPerTickMean.toFixed(2),
      `${(size.steadyState.cpuShareOfOneCore * 100).toFixed(1)} %`,
      size.steadyState.fleetCpuSecondsPerTickMean?.toFixed(2) ?? '-',
      size.peakRssMegabytes.toFixed(0),
      size.heapLimitMb.toFixed(0),
    ]),
  ];
  const widths =
    table[0]?.map((_, column) => Math.max(...table.map((row) => row[column]?.length ?? 0))) ?? [];
  for (const row of table)
    console.log(row.map((cell, column) => cell.padStart(widths[column] ?? 0)).join('  '));
  // The first size's figures stay at the top level, as a single run writes them.
  writeFileSync(
    'bench-results-collector.json',
    `${JSON.stringify({ ...results[0], sizes: results }, null, 2)}\n`,
  );
  process.exit(0);
}
