/**
 * Slotscaler against its peer on the same job (a figure, not a test): the Apache Flink Kubernetes
 * Operator's flink-autoscaler-standalone, built unmodified from its release source
 * (bench/peers/build.sh), and `slotscaler serve` on the real control plane, each driving the e2e
 * Flink MiniCluster (test/e2e/flink-workload) through the same load scenario: a warm-up, a step
 * up to several times the starting capacity, a step back down. Both rescale in place through the
 * adaptive scheduler's resource-requirements endpoint (the peer itself; Slotscaler through the
 * FlinkDeployment's parallelism overrides, which the stand-in operator applies as the Apache
 * operator does), with the same knobs wherever both have one. A counting proxy in front of the
 * JobManager's REST port counts each system's calls; the scenario runner reads the job around it.
 *
 *   node --import tsx bench/peers.bench.ts [--only slotscaler|peer] [--scale 1]
 *
 * `--scale 0.5` halves every phase (a quicker, rougher run). Writes bench-results-peers.json.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startServe } from '../src/app/serve.js';
import type { Serving } from '../src/app/serve.js';
import { resolveConfig } from '../src/config/load.js';
import { callbackLogger, logLine } from '../src/observability/logger.js';
import { startEnvironment } from '../test/e2e/harness/environment.js';
import type { Environment } from '../test/e2e/harness/environment.js';
import { startFlinkWorkload } from '../test/e2e/harness/flink.js';
import type { FlinkWorkload } from '../test/e2e/harness/flink.js';
import { expectOk } from '../test/e2e/harness/kube.js';
import { startCountingProxy } from './peers/counting-proxy.js';
import type { CountingProxy } from './peers/counting-proxy.js';
import { buildPeer, peerOptions, slotscalerAnnotations, startPeer } from './peers/peer.js';
import type { PeerBuild, ScalingKnobs } from './peers/peer.js';
import { runScenario, scenarioTable, summarizeScenario } from './peers/scenario.js';
import type {
  CapacityModel,
  JobProbe,
  ScenarioPhase,
  ScenarioRun,
  ScenarioSummary,
} from './peers/scenario.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const argValue = (name: string): string | undefined => {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
};
const only = argValue('only');
const scale = Number(argValue('scale') ?? '1') > 0 ? Number(argValue('scale') ?? '1') : 1;

/** The job: 2 slots per TaskManager, 1000 µs per record: one map subtask takes about 980 records/s. */
const SLOTS = 2;
const COST_MICROS = 1000;
const START_PARALLELISM = 2;
const LOW_RATE = 1000;
const HIGH_RATE = 5000;

const KNOBS: ScalingKnobs = {
  metricsWindowSeconds: 30,
  stabilizationSeconds: 20,
  catchUpSeconds: 60,
  scaleDownSeconds: 60,
  targetUtilization: 0.7,
  maxParallelism: 10,
  loopSeconds: 5,
};

const PHASES: readonly ScenarioPhase[] = [
  { name: 'warm-up', recordsPerSecond: LOW_RATE, seconds: 60 * scale },
  { name: 'step up', recordsPerSecond: HIGH_RATE, seconds: 240 * scale },
  { name: 'step down', recordsPerSecond: LOW_RATE, seconds: 240 * scale },
];

const CAPACITY: CapacityModel = {
  recordsPerSubtaskPerSecond: 980,
  targetUtilization: KNOBS.targetUtilization,
  // Drained: less than one second of the step's load waiting.
  drainedRecords: HIGH_RATE,
};

const SAMPLE_MS = 2000;

function probeOf(flink: FlinkWorkload): JobProbe {
  return {
    async setRate(recordsPerSecond) {
      await flink.setRate(recordsPerSecond);
    },
    async observe() {
      try {
        const state = await flink.state();
        const vertices = state.vertices ?? [];
        return {
          parallelism: state.parallelism,
          vertexParallelism: Object.fromEntries(vertices.map((vertex) => [vertex.id, vertex.parallelism])),
          backlogRecords: state.pendingRecords,
          running:
            state.jobState === 'RUNNING' &&
            vertices.length > 0 &&
            vertices.every((vertex) => vertex.status === 'RUNNING'),
        };
      } catch {
        return { parallelism: undefined, backlogRecords: 0, running: false };
      }
    },
    outputGapSeconds: (sinceMs, untilMs) => flink.outputGapAround(sinceMs, untilMs),
  };
}

function printSample(
  system: string,
): (sample: Parameters<NonNullable<Parameters<typeof runScenario>[0]['onSample']>>[0]) => void {
  return (sample) => {
    console.log(
      `  ${system.padEnd(10)} ${sample.seconds.toFixed(0).padStart(4)} s  ${sample.phase.padEnd(9)} ${String(sample.recordsPerSecond).padStart(5)}/s  p ${String(sample.parallelism ?? '?').padStart(2)}  backlog ${String(Math.round(sample.backlogRecords)).padStart(8)}${sample.running ? '' : '  (restarting)'}`,
    );
  };
}

async function runSlotscaler(): Promise<ScenarioRun> {
  let env: Environment | undefined;
  let serving: Serving | undefined;
  let proxy: CountingProxy | undefined;
  try {
    env = await startEnvironment({
      flink: {
        taskManagers: START_PARALLELISM / SLOTS,
        slotsPerTaskManager: SLOTS,
        parallelism: START_PARALLELISM,
        recordsPerSecond: LOW_RATE,
        costMicros: COST_MICROS,
      },
      log: (message) => console.log(`  ${message}`),
    });
    const flink = env.flink;
    if (flink === undefined) throw new Error('the environment has no MiniCluster');
    proxy = await startCountingProxy(flink.restUrl);
    const path = `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${env.flinkDeploymentName}`;
    expectOk(
      await env.controlPlane.request('PATCH', path, {
        metadata: { annotations: slotscalerAnnotations(KNOBS, SLOTS, proxy.url) },
      }),
      'annotate the FlinkDeployment',
    );
    serving = await startServe({
      loaded: resolveConfig({
        flags: {
          tickInterval: `${KNOBS.loopSeconds}s`,
          leaderElect: 'false',
          tlsSelfSignedHosts: 'localhost,127.0.0.1',
        },
      }),
      kubeconfigPath: env.kubeconfigPath,
      logger: callbackLogger(
        (level, msg, fields) => console.log(`  [slotscaler ${level}] ${logLine(msg, fields)}`),
        (level) => level === 'warn' || level === 'error',
      ),
      host: '127.0.0.1',
      metricsApiPort: 0,
      metricsPort: 0,
    });
    return await runScenario({
      phases: PHASES,
      probe: probeOf(flink),
      proxy,
      sampleIntervalMs: SAMPLE_MS,
      onSample: printSample('slotscaler'),
    });
  } finally {
    await serving?.stop();
    await proxy?.close();
    await env?.stop();
  }
}

async function runPeer(build: PeerBuild): Promise<ScenarioRun> {
  // Nothing provisions TaskManagers for the peer (on Kubernetes the operator's native resource
  // manager would): the MiniCluster starts with the slots of the maximum parallelism, and the
  // job at the same starting parallelism as Slotscaler's.
  const flink = await startFlinkWorkload({
    taskManagers: Math.ceil(KNOBS.maxParallelism / SLOTS),
    slotsPerTaskManager: SLOTS,
    parallelism: START_PARALLELISM,
    recordsPerSecond: LOW_RATE,
    costMicros: COST_MICROS,
  });
  let proxy: CountingProxy | undefined;
  let peer: Awaited<ReturnType<typeof startPeer>> | undefined;
  try {
    proxy = await startCountingProxy(flink.restUrl);
    peer = await startPeer(build, KNOBS, new URL(proxy.url), join(root, '.cache/peers/logs'));
    console.log(`  peer log: ${peer.logPath}`);
    return await runScenario({
      phases: PHASES,
      probe: probeOf(flink),
      proxy,
      sampleIntervalMs: SAMPLE_MS,
      onSample: printSample('peer'),
    });
  } finally {
    await peer?.stop();
    await proxy?.close();
    await flink.stop();
  }
}

async function main(): Promise<number> {
  const results: { system: string; run?: ScenarioRun; summary?: ScenarioSummary; error?: string }[] = [];
  let build: PeerBuild | undefined;
  let buildError: string | undefined;
  if (only !== 'slotscaler') {
    try {
      build = buildPeer();
    } catch (error) {
      buildError = error instanceof Error ? error.message : String(error);
      console.log(`peer build failed: ${buildError}`);
    }
  }
  if (only !== 'peer') {
    console.log('\n-- slotscaler serve (real control plane, stand-in operator, in place)');
    try {
      const run = await runSlotscaler();
      results.push({ system: 'slotscaler', run, summary: summarizeScenario(run, CAPACITY) });
    } catch (error) {
      results.push({ system: 'slotscaler', error: error instanceof Error ? error.message : String(error) });
    }
  }
  if (only !== 'slotscaler') {
    const system = `flink-autoscaler-standalone (${build?.tag ?? 'release-1.15.0'})`;
    if (build === undefined) {
      results.push({ system, error: `build failed: ${buildError ?? '?'}` });
    } else {
      console.log(`\n-- ${system}`);
      try {
        const run = await runPeer(build);
        results.push({ system, run, summary: summarizeScenario(run, CAPACITY) });
      } catch (error) {
        results.push({ system, error: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  const measured = results.flatMap(({ system, summary }) =>
    summary === undefined ? [] : [{ system, summary }],
  );
  console.log(
    `\nstep scenario: ${PHASES.map((p) => `${p.name} ${p.recordsPerSecond}/s for ${p.seconds} s`).join(', ')}; ` +
      `start at parallelism ${START_PARALLELISM}, ${COST_MICROS} µs per record (about ${CAPACITY.recordsPerSubtaskPerSecond} records/s per subtask)`,
  );
  console.log(scenarioTable(measured));
  for (const { system, error } of results)
    if (error !== undefined) console.log(`${system}: FAILED: ${error}`);
  writeFileSync(
    join(root, 'bench-results-peers.json'),
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        scenario: {
          phases: PHASES,
          startParallelism: START_PARALLELISM,
          slotsPerTaskManager: SLOTS,
          costMicros: COST_MICROS,
        },
        knobs: KNOBS,
        peerOptions: peerOptions(KNOBS, new URL('http://127.0.0.1:8081')),
        slotscalerAnnotations: slotscalerAnnotations(KNOBS, SLOTS, 'http://127.0.0.1:8081'),
        capacity: CAPACITY,
        peer: build === undefined ? { error: buildError } : { source: build.source, tag: build.tag },
        results,
      },
      null,
      2,
    )}\n`,
  );
  console.log('written to bench-results-peers.json');
  return results.every((result) => result.error === undefined) ? 0 : 1;
}

process.exitCode = await main();
