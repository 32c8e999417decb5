// `npm run demo`: Slotscaler's main job on a laptop. Brings up the real local environment (a
// kube-apiserver with the HPA controller, a Flink MiniCluster, the stand-in operator), starts
// `slotscaler serve` against it, drives a load ramp up and down on the job, shows what the scaler
// sees and does while it happens, writes demo-report.html from the real run, and stops everything.
//   npm run demo                      the full ramp (about 8 minutes after the first build)
//   npm run demo -- --quick           a shorter ramp (the test runs this)
//   npm run demo -- --report FILE     where to write the report (default demo-report.html)
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

import { startServe } from '../src/app/serve.js';
import type { Serving } from '../src/app/serve.js';
import { resolveConfig } from '../src/config/load.js';
import type { MetricReading } from '../src/domain/metrics.js';
import { decodeStatus } from '../src/kube/status-annotation.js';
import type { RecordedDecision } from '../src/domain/decision.js';
import { callbackLogger, logLine } from '../src/observability/logger.js';
import type { Logger } from '../src/observability/logger.js';
import { renderReport } from '../src/simulate/report.js';
import { defaultScalerConfig } from '../src/simulate/run.js';
import type { SimulatedDecision, SimulationResult, TimelinePoint } from '../src/simulate/run.js';
import { startEnvironment } from '../test/e2e/harness/environment.js';
import type { Environment } from '../test/e2e/harness/environment.js';
import { pollUntil } from '../test/e2e/harness/flink.js';
import { expectOk } from '../test/e2e/harness/kube.js';
import type { RescalePathTaken } from '../test/e2e/harness/operator-stand-in.js';
import { specOf } from '../test/e2e/scaler-helpers.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const reportIndex = args.indexOf('--report');
const reportPath = resolve(
  reportIndex >= 0 ? (args[reportIndex + 1] ?? 'demo-report.html') : 'demo-report.html',
);

/** The workload: 2 slots per TaskManager, 1000 µs per record: one slot takes about 980 records/s. */
const SLOTS = 2;
const COST_MICROS = 1000;
const RECORDS_PER_SLOT = 980;
const LOW_RATE = 800;
const HIGH_RATE = quick ? 3000 : 4500;

/**
 * The demo's tuning, on the target as annotations: short windows so a laptop sees it in minutes.
 * The metrics are the default ones.
 */
const ANNOTATIONS = {
  'slotscaler.dev/enabled': 'true',
  'slotscaler.dev/max-taskmanagers': '4',
  'slotscaler.dev/metrics-window': '15s',
  'slotscaler.dev/metrics-hold-after-restart': '20s',
  'slotscaler.dev/metrics-max-age': '30s',
  'slotscaler.dev/cooldown-after-rescale': '15s',
  'slotscaler.dev/scale-down-stabilization': quick ? '30s' : '60s',
};

/** Slotscaler's tick, and the demo's sampling period (its live view and report). */
const TICK_SECONDS = 3;
const SAMPLE_SECONDS = 2;

const tty = process.stdout.isTTY;
const say = (line: string): void => {
  console.log(line);
};

/** Slotscaler's own logs: warnings and errors only, indented under the demo's lines. */
function demoLogger(): Logger {
  return callbackLogger(
    (level, msg, fields) => console.log(`  [slotscaler ${level}] ${logLine(msg, fields)}`),
    (level) => level === 'warn' || level === 'error',
  );
}

function value(reading: MetricReading | undefined): number | null {
  return reading !== undefined && 'value' in reading ? reading.value : null;
}

function format(n: number | null, digits = 2): string {
  return n === null ? '-' : n.toFixed(digits);
}

interface Phase {
  readonly name: string;
  readonly rate: number;
  /** Ends when this holds (checked every sample), or after maxSeconds. */
  readonly until: (taskManagers: number, sample: TimelinePoint) => boolean;
  readonly minSeconds: number;
  readonly maxSeconds: number;
}

async function main(): Promise<number> {
  const started = Date.now();
  say(
    'Slotscaler demo: a real kube-apiserver + HPA controller, a Flink 1.20 MiniCluster, and slotscaler serve.',
  );
  say(
    'The first run builds kube-apiserver from Go modules and the Flink job with Maven: 4 to 10 minutes. Later runs: seconds.\n',
  );

  let env: Environment | undefined;
  let serving: Serving | undefined;
  try {
    env = await startEnvironment({
      flink: {
        taskManagers: 1,
        slotsPerTaskManager: SLOTS,
        recordsPerSecond: LOW_RATE,
        costMicros: COST_MICROS,
      },
      log: (message) => {
        say(`  ${message}`);
      },
    });
    const flink = env.flink;
    if (flink === undefined) throw new Error('the environment has no MiniCluster');
    const path = `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${env.flinkDeploymentName}`;
    expectOk(
      await env.controlPlane.request('PATCH', path, {
        metadata: { annotations: { ...ANNOTATIONS, 'slotscaler.dev/jobmanager-url': flink.restUrl } },
      }),
      'annotate the FlinkDeployment',
    );
    say(`\nAnnotated FlinkDeployment ${env.namespace}/${env.flinkDeploymentName}:`);
    for (const [key, annotation] of Object.entries(ANNOTATIONS)) say(`  ${key}: ${annotation}`);

    serving = await startServe({
      loaded: resolveConfig({
        flags: {
          tickInterval: `${TICK_SECONDS}s`,
          leaderElect: 'false',
          tlsSelfSignedHosts: 'localhost,127.0.0.1',
        },
      }),
      kubeconfigPath: env.kubeconfigPath,
      logger: demoLogger(),
      host: '127.0.0.1',
      metricsApiPort: 0,
      metricsPort: 0,
    });
    say(
      `\nslotscaler serve is running (external metrics API on https://127.0.0.1:${serving.metricsApi.port}).`,
    );
    say(
      `One TaskManager takes about ${SLOTS * RECORDS_PER_SLOT} records/s; Slotscaler scales on its default metrics, ${defaultScalerConfig()
        .target.metrics.map((metric) => `${metric.name}=${metric.targetMilli / 1000}`)
        .join(', ')}.\n`,
    );

    const targetId = `flinkdeployment/${env.namespace}/${env.flinkDeploymentName}`;
    const timeline: TimelinePoint[] = [];
    /** The workload's own counts at the start: records offered by the load and emitted by the sources. */
    const first = await flink.state();
    /** Slotscaler's decisions as it recorded them in the target's status annotation, by time. */
    const recorded = new Map<number, RecordedDecision>();
    const phases: Phase[] = [
      { name: 'low load', rate: LOW_RATE, until: () => false, minSeconds: 0, maxSeconds: quick ? 20 : 40 },
      {
        name: 'load above capacity',
        rate: HIGH_RATE,
        until: (taskManagers, sample) =>
          taskManagers > 1 && !sample.restarting && (sample.busyRatio ?? 1) < 0.9,
        minSeconds: 30,
        maxSeconds: quick ? 180 : 300,
      },
      {
        name: 'load falls',
        rate: LOW_RATE,
        until: (taskManagers) => taskManagers === 1,
        minSeconds: 10,
        maxSeconds: quick ? 180 : 300,
      },
    ];

    say(
      ' time  phase                 offered  capacity  TMs  par  busy  demand  backpr  lag s  last decision',
    );
    for (const phase of phases) {
      await flink.setRate(phase.rate);
      const phaseStart = Date.now();
      for (;;) {
        await new Promise((done) => setTimeout(done, SAMPLE_SECONDS * 1000));
        const object = await env.getFlinkDeployment();
        const status = object.status as
          { lifecycleState?: string; taskManager?: { replicas?: number } } | undefined;
        // What the spec asks for: in place, its parallelism overrides; else replicas and parallelism.
        const spec = specOf(object);
        const taskManagers = spec.replicas ?? 1;
        const last = decodeStatus(object.metadata.annotations?.['slotscaler.dev/status'])?.lastDecision;
        if (last?.outcome === 'scaled') recorded.set(last.atMs, last);
        const served = serving.scaler.servedTargets(env.namespace).find((target) => target.id === targetId);
        const state = await flink.state();
        const seconds = (Date.now() - started) / 1000;
        const sample: TimelinePoint = {
          seconds,
          inputRecordsPerSecond: phase.rate,
          capacityRecordsPerSecond:
            (status?.taskManager?.replicas ?? taskManagers) * SLOTS * RECORDS_PER_SLOT,
          taskManagers,
          parallelism: spec.parallelism ?? taskManagers * SLOTS,
          restarting: status?.lifecycleState !== 'STABLE' || state.jobState !== 'RUNNING',
          backlogRecords: state.pendingRecords,
          lagSeconds: value(served?.metrics['flink_source_lag_seconds']) ?? 0,
          busyRatio: value(served?.metrics['flink_busy_ratio']),
          backpressureRatio: value(served?.metrics['flink_backpressure_ratio']),
          demandRatio: value(served?.metrics['flink_demand_ratio']),
        };
        timeline.push(sample);
        const recommendation = serving.scaler.recommendations.recommendation(targetId);
        const line = `${seconds.toFixed(0).padStart(5)}  ${phase.name.padEnd(20)} ${String(phase.rate).padStart(8)} ${String(sample.capacityRecordsPerSecond).padStart(9)} ${String(taskManagers).padStart(4)} ${String(sample.parallelism).padStart(4)} ${format(sample.busyRatio).padStart(5)} ${format(sample.demandRatio).padStart(7)} ${format(sample.backpressureRatio).padStart(7)} ${format(sample.lagSeconds, 0).padStart(6)}  ${recommendation === undefined ? '-' : `${recommendation.replicas} TMs, ${recommendation.reason}`}${sample.restarting ? ' (restarting)' : ''}`;
        say(tty ? `\u001b[2K${line}` : line);
        const elapsed = (Date.now() - phaseStart) / 1000;
        if ((elapsed >= phase.minSeconds && phase.until(taskManagers, sample)) || elapsed >= phase.maxSeconds)
          break;
      }
    }

    // The last decision may still be being applied; the stand-in records a change once done.
    await env.operator.idle();
    const applied = env.operator.appliedFor(env.flinkDeploymentName);
    const inPlace = applied.filter((change) => change.path === 'in-place');
    const sameJob = applied.every((change) => change.jobId === change.previousJobId);
    const decisions: SimulatedDecision[] = [...recorded.values()]
      .sort((a, b) => a.atMs - b.atMs)
      .map((decision) => ({
        seconds: (decision.atMs - started) / 1000,
        fromTaskManagers: decision.fromReplicas,
        toTaskManagers: decision.toReplicas,
        parallelism: decision.toParallelism,
        reason: decision.reason,
        outcome: decision.outcome,
        metrics: decision.metrics
          .map(
            (metric) =>
              `${metric.name} ${metric.value === null ? 'unavailable' : format(metric.value)} (target ${metric.target})`,
          )
          .join(', '),
      }));
    const ups = decisions.filter((d) => d.toTaskManagers > d.fromTaskManagers).length;
    const downs = decisions.length - ups;
    const duration = timeline.at(-1)?.seconds ?? 0;
    // Each sample stands for the time until the next (a sample is a wait plus the calls it makes).
    const spanOf = (index: number): number =>
      (timeline[index + 1]?.seconds ?? (timeline[index]?.seconds ?? 0) + SAMPLE_SECONDS) -
      (timeline[index]?.seconds ?? 0);
    const secondsWhere = (holds: (point: TimelinePoint) => boolean): number =>
      timeline.reduce((sum, point, index) => sum + (holds(point) ? spanOf(index) : 0), 0);
    const last = await flink.state();
    // Slotscaler stops here so that it does not decide while the two paths are measured.
    await serving.stop();
    serving = undefined;
    const cost = await measureRescalePaths(env, flink);
    const result: SimulationResult = {
      policy: 'slotscaler (real run)',
      policyKind: 'slotscaler',
      trace: 'demo ramp',
      tickIntervalSeconds: TICK_SECONDS,
      timeline,
      decisions,
      summary: {
        durationSeconds: duration,
        rescales: decisions.length,
        scaleUps: ups,
        scaleDowns: downs,
        // As the stand-in operator applied them: the environment's FlinkDeployment takes them in place.
        rescalesByPath: {
          'in-place': inPlace.length,
          redeploy: applied.filter((change) => change.path === 'redeploy').length,
          scale: applied.filter((change) => change.path === 'scale').length,
        },
        restartDowntimeSeconds: secondsWhere((p) => p.restarting),
        secondsOverLagObjective: secondsWhere((p) => p.lagSeconds > 60),
        lagObjectiveSeconds: 60,
        peakLagSeconds: Math.max(0, ...timeline.map((p) => p.lagSeconds)),
        taskManagerHours: timeline.reduce((sum, p, i) => sum + (p.taskManagers * spanOf(i)) / 3600, 0),
        peakTaskManagers: Math.max(1, ...timeline.map((p) => p.taskManagers)),
        finalTaskManagers: timeline.at(-1)?.taskManagers ?? 1,
        recordsIn: last.offeredRecords - first.offeredRecords,
        recordsProcessed: last.emittedRecords - first.emittedRecords,
        recordsReprocessed: last.reprocessedRecords - first.reprocessedRecords,
        finalBacklogRecords: timeline.at(-1)?.backlogRecords ?? 0,
      },
    };
    await writeFile(
      reportPath,
      renderReport([result], {
        title: 'Slotscaler demo: a real run',
        introduction: `A real run of ${duration.toFixed(0)} s: Slotscaler serve against a real kube-apiserver and a Flink MiniCluster, sampled every ${SAMPLE_SECONDS} s.`,
        settings: [
          [
            'environment',
            'kube-apiserver + HPA controller (real), Flink 1.20 MiniCluster (real), stand-in operator',
          ],
          [
            'job',
            `${SLOTS} slots per TaskManager, ${COST_MICROS} µs per record (about ${RECORDS_PER_SLOT} records/s per slot)`,
          ],
          ['load', `${LOW_RATE} → ${HIGH_RATE} → ${LOW_RATE} records/s`],
          [
            'downtime per rescale',
            `in place ${cost.inPlace.gapSeconds} s, redeploy ${cost.redeploy.gapSeconds} s`,
          ],
          [
            'records reprocessed per rescale',
            `in place ${cost.inPlace.reprocessedRecords}, redeploy ${cost.redeploy.reprocessedRecords}`,
          ],
          ...Object.entries(ANNOTATIONS),
        ],
        limitations: [
          'Restart downtime and time over the lag objective are counted from the 2 s samples.',
          'Capacity is the nominal records/s of the TaskManagers the operator reports, not a measurement.',
          'The lag is the collector’s flink_source_lag_seconds (pending records / consumption rate).',
        ],
      }),
    );
    say(
      `\n${ups} scale-up(s), ${downs} scale-down(s) decided; the operator applied ${applied.length} spec change(s): one restart per decision, ${inPlace.length} of them in place${sameJob ? ' (the same job id throughout)' : ''} (paths: ${applied.map((change) => change.path).join(', ') || 'none'}).`,
    );
    say(
      `downtime per rescale: in place ${cost.inPlace.gapSeconds} s, redeploy ${cost.redeploy.gapSeconds} s (output gap at the sink, ${SLOTS} → ${2 * SLOTS} at ${LOW_RATE} records/s)`,
    );
    say(
      `records reprocessed per rescale: in place ${cost.inPlace.reprocessedRecords}, redeploy ${cost.redeploy.reprocessedRecords}`,
    );
    say(`Report: ${reportPath}`);
    say(`Done in ${((Date.now() - started) / 1000).toFixed(0)} s; stopping everything.`);
    // The environment's FlinkDeployment can be rescaled in place: every decision must have been.
    const allInPlace = inPlace.length === applied.length && sameJob;
    return ups >= 1 && downs >= 1 && applied.length === decisions.length && allInPlace ? 0 : 1;
  } finally {
    await serving?.stop();
    await env?.stop();
  }
}

/** What one rescale cost the job, as its sink saw it. */
interface RescaleCost {
  /** The longest time with no record out of the sink (seconds). */
  readonly gapSeconds: number;
  readonly reprocessedRecords: number;
}

/**
 * Measures the two ways a rescale reaches the job, on the same job at the same load, by writing
 * the FlinkDeployment as an autoscaler would and letting the stand-in operator apply it: in place
 * (only pipeline.jobvertex-parallelism-overrides changes) and a redeploy (taskManager.replicas and
 * job.parallelism change). Both scale the job from 1 to 2 TaskManagers; an in-place scale-down
 * in between returns it to the same start.
 */
async function measureRescalePaths(
  env: Environment,
  flink: NonNullable<Environment['flink']>,
): Promise<{ inPlace: RescaleCost; redeploy: RescaleCost }> {
  const path = `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${env.flinkDeploymentName}`;
  // The last decision may still be being applied: measure from a job that runs.
  await env.operator.idle();
  const running = await pollUntil(
    'the job RUNNING before the measurement',
    120_000,
    () => flink.state(),
    (state) =>
      state.jobState === 'RUNNING' &&
      (state.vertices ?? []).length > 0 &&
      (state.vertices ?? []).every((vertex) => vertex.status === 'RUNNING'),
  );
  const overrides = (parallelism: number): string =>
    (running.vertices ?? []).map((vertex) => `${vertex.id}:${parallelism}`).join(',');
  const apply = async (spec: Record<string, unknown>, expected: RescalePathTaken): Promise<RescaleCost> => {
    const applied = env.operator.appliedFor(env.flinkDeploymentName).length;
    const before = await flink.state();
    const since = Date.now();
    expectOk(await env.controlPlane.request('PATCH', path, { spec }), 'patch the FlinkDeployment');
    await pollUntil(
      `the stand-in operator to apply ${expected}`,
      180_000,
      async () => {
        await env.operator.idle();
        return env.operator.appliedFor(env.flinkDeploymentName).length;
      },
      (count) => count > applied,
    );
    const taken = env.operator.appliedFor(env.flinkDeploymentName).at(-1);
    if (taken?.path !== expected) {
      throw new Error(`the stand-in operator was to apply ${expected}; it did: ${JSON.stringify(taken)}`);
    }
    // Output resumes after the job runs; give the sink time to show the end of the gap.
    await new Promise((done) => setTimeout(done, 5000));
    const after = await flink.state();
    return {
      gapSeconds: Number((await flink.outputGapAround(since, Date.now())).toFixed(2)),
      reprocessedRecords: after.reprocessedRecords - before.reprocessedRecords,
    };
  };
  await flink.setRate(LOW_RATE);
  say(`\nMeasuring one rescale each way at ${LOW_RATE} records/s (Slotscaler stopped):`);
  const key = 'pipeline.jobvertex-parallelism-overrides';
  const inPlace = await apply({ flinkConfiguration: { [key]: overrides(2 * SLOTS) } }, 'in-place');
  say(
    `  in place ${SLOTS} → ${2 * SLOTS}: output gap ${inPlace.gapSeconds} s, ${inPlace.reprocessedRecords} records reprocessed`,
  );
  await apply({ flinkConfiguration: { [key]: overrides(SLOTS) } }, 'in-place');
  const redeploy = await apply(
    { taskManager: { replicas: 2 }, job: { parallelism: 2 * SLOTS }, flinkConfiguration: { [key]: null } },
    'redeploy',
  );
  say(
    `  redeploy ${SLOTS} → ${2 * SLOTS}: output gap ${redeploy.gapSeconds} s, ${redeploy.reprocessedRecords} records reprocessed`,
  );
  return { inPlace, redeploy };
}

process.exitCode = await main();
