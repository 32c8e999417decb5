/**
 * Decision core benchmark (a figure, not a test): decisions per second of `decide` alone, of one
 * target's whole tick mapping (window readings → observations → `targetDecisionInput` → `decide`),
 * and the throughput of `slotscaler simulate` (simulated seconds and scaler ticks per wall-clock
 * second) on the built-in traces. Histories are threaded from one decision to the next as the
 * scaler does, so their sizes are those of a running target.
 *
 *   node --import tsx bench/decide.bench.ts [--seconds 2]
 *
 * Each figure is measured for about `--seconds` after a warm-up of a quarter of that. Prints a table
 * and writes bench-results-decide.json.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { MetricWindow } from '../src/metrics/metric-window.js';
import type {
  DecisionInput,
  TimestampedRecommendation,
  TimestampedScaleEvent,
} from '../src/domain/decision.js';
import { decide } from '../src/scaler/decide.js';
import { metricValues, valueOf } from '../src/metrics/expression-metric.js';
import { observeMetrics, targetDecisionInput } from '../src/scaler/target-decision.js';
import { JobModel } from '../src/simulate/job-model.js';
import { defaultScalerConfig, hpaCpuPolicy, simulate, slotscalerPolicy } from '../src/simulate/run.js';
import { BUILTIN_TRACES, builtinTrace, seededRandom } from '../src/simulate/traces.js';
import type { BuiltinTraceName } from '../src/simulate/traces.js';

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

const seconds = Number(flag('seconds', '2'));

/** Runs `step` in batches until `budgetMs` has passed; returns calls and elapsed ms. */
function measure(step: () => void, budgetMs: number): { calls: number; elapsedMs: number } {
  let calls = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < budgetMs) {
    for (let index = 0; index < 1000; index += 1) step();
    calls += 1000;
    elapsed = performance.now() - started;
  }
  return { calls, elapsedMs: elapsed };
}

interface Row {
  readonly name: string;
  readonly calls: number;
  readonly elapsedSeconds: number;
  readonly perSecond: number;
  readonly microsecondsEach: number;
}

function rate(name: string, step: () => void): Row {
  measure(step, seconds * 250);
  const { calls, elapsedMs } = measure(step, seconds * 1000);
  return {
    name,
    calls,
    elapsedSeconds: elapsedMs / 1000,
    perSecond: calls / (elapsedMs / 1000),
    microsecondsEach: (elapsedMs * 1000) / calls,
  };
}

const { target: config } = defaultScalerConfig();

// 1. decide alone: two metrics, a busy job whose load wanders; histories threaded through.
const random = seededRandom(7);
let recommendations: readonly TimestampedRecommendation[] | null = null;
let scaleEvents: readonly TimestampedScaleEvent[] = [];
let nowMs = Date.UTC(2026, 0, 1);
let replicas = 4;
const decideRow = rate('decide (2 metrics, histories threaded)', () => {
  nowMs += 15_000;
  const input: DecisionInput = targetDecisionInput(
    config,
    { currentReplicas: replicas, readyReplicas: replicas, statusReplicas: replicas },
    [
      {
        name: 'flink_busy_ratio',
        type: 'Value',
        usageMilli: Math.round(400 + 500 * random()),
        targetMilli: 700,
      },
      {
        name: 'flink_source_lag_seconds',
        type: 'AverageValue',
        usageMilli: Math.round(120_000 * random()),
        targetMilli: 60_000,
      },
    ],
    { recommendations, scaleEvents },
    2,
    128,
    nowMs,
  );
  const decision = decide(input);
  recommendations = decision.recommendations;
  if (decision.desiredReplicas !== replicas) {
    scaleEvents = decision.scaleEvents;
    replicas = decision.desiredReplicas;
  }
});

// 2. A target's tick: a snapshot into its window, the readings, the mapping and the decision.
const model = new JobModel();
const window = new MetricWindow({ windowSeconds: config.metricsWindow });
let tickRecommendations: readonly TimestampedRecommendation[] | null = null;
const tickRow = rate('tick (window add + readings + mapping + decide)', () => {
  const state = model.state();
  model.advance(state.nowMs + 15_000, () => 3000);
  window.add(model.snapshot());
  const readings = window.readings(state.nowMs + 15_000);
  const values = metricValues(readings.metrics, []);
  const metrics = config.metrics.map((spec) => ({ spec, reading: valueOf(spec.name, values) }));
  const decision = decide(
    targetDecisionInput(
      config,
      { currentReplicas: 2, readyReplicas: 2, statusReplicas: 2 },
      observeMetrics(metrics),
      { recommendations: tickRecommendations, scaleEvents: [] },
      2,
      128,
      state.nowMs + 15_000,
    ),
  );
  tickRecommendations = decision.recommendations;
});

// 3. simulate throughput on every built-in trace, Slotscaler defaults and the HPA baseline.
interface SimulateRow {
  readonly trace: string;
  readonly policy: string;
  readonly simulatedSeconds: number;
  readonly ticks: number;
  readonly wallSeconds: number;
  readonly simulatedSecondsPerSecond: number;
  readonly ticksPerSecond: number;
}
const simulateRows: SimulateRow[] = [];
for (const name of Object.keys(BUILTIN_TRACES) as BuiltinTraceName[]) {
  const trace = builtinTrace(name);
  for (const policy of [slotscalerPolicy({}), hpaCpuPolicy(config)]) {
    const options = { trace, policy, tickIntervalSeconds: 15, lagObjectiveSeconds: 60 };
    simulate(options);
    let runs = 0;
    const started = performance.now();
    let result = simulate(options);
    runs += 1;
    while (performance.now() - started < seconds * 250) {
      result = simulate(options);
      runs += 1;
    }
    const wallSeconds = (performance.now() - started) / 1000 / runs;
    const ticks = Math.floor(result.summary.durationSeconds / result.tickIntervalSeconds);
    simulateRows.push({
      trace: trace.name,
      policy: policy.label,
      simulatedSeconds: result.summary.durationSeconds,
      ticks,
      wallSeconds,
      simulatedSecondsPerSecond: result.summary.durationSeconds / wallSeconds,
      ticksPerSecond: ticks / wallSeconds,
    });
  }
}

const rows = [decideRow, tickRow];
const format = (value: number): string => Math.round(value).toLocaleString('en-US');
console.log('decision core'.padEnd(52), 'per second'.padStart(14), 'µs each'.padStart(10));
for (const row of rows) {
  console.log(
    row.name.padEnd(52),
    format(row.perSecond).padStart(14),
    row.microsecondsEach.toFixed(2).padStart(10),
  );
}
console.log('');
console.log(
  'simulate'.padEnd(40),
  'simulated s'.padStart(12),
  'wall ms'.padStart(10),
  'sim s / s'.padStart(12),
  'ticks / s'.padStart(12),
);
for (const row of simulateRows) {
  console.log(
    `${row.trace} ${row.policy}`.padEnd(40),
    format(row.simulatedSeconds).padStart(12),
    (row.wallSeconds * 1000).toFixed(1).padStart(10),
    format(row.simulatedSecondsPerSecond).padStart(12),
    format(row.ticksPerSecond).padStart(12),
  );
}

writeFileSync(
  'bench-results-decide.json',
  `${JSON.stringify(
    {
      bench: 'decide',
      node: process.version,
      measuredSecondsEach: seconds,
      decisionCore: rows,
      simulate: simulateRows,
    },
    null,
    2,
  )}\n`,
);
console.log('\nwritten to bench-results-decide.json');
