/**
 * What a rescale costs the job, by the path it takes (a figure, not a test): the real API server,
 * the stand-in operator and the Flink MiniCluster; the FlinkDeployment is written as Slotscaler
 * writes it (the overrides key alone for in place; replicas and parallelism for a redeploy) and the
 * stand-in applies it as the Apache operator does (the resource-requirements endpoint; a stop with
 * a savepoint, the MiniCluster replaced by a new one on the same REST port and the job submitted
 * again from the savepoint). Same job, same load, one rescale up (1 → 2 TaskManagers) and one down
 * per path and round, alternating the paths. Per rescale: the output gap at the sink (the longest
 * time no record came out) and the records the job processed twice (it resumes from its latest
 * checkpoint in place; from the savepoint on a redeploy).
 *
 *   node --import tsx bench/rescale-paths.bench.ts [--rounds 3] [--rate 800] [--redeploy-delay-ms 0]
 *
 * `--redeploy-delay-ms` stands for what a redeploy costs on Kubernetes and not on a MiniCluster in
 * one warm JVM: new JobManager and TaskManager pods scheduled, the image pulled and their JVMs
 * started (30 to 120 s). Writes
 * bench-results-rescale-paths.json.
 */
import { writeFileSync } from 'node:fs';

import { startEnvironment } from '../test/e2e/harness/environment.js';
import type { Environment } from '../test/e2e/harness/environment.js';
import { expectOk, waitFor } from '../test/e2e/harness/kube.js';

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

const rounds = Math.max(1, flag('rounds', 3));
const rate = flag('rate', 800);
const redeployDelayMs = flag('redeploy-delay-ms', 0);
const SLOTS = 2;
const OVERRIDES = 'pipeline.jobvertex-parallelism-overrides';

interface Rescale {
  readonly path: 'in-place' | 'redeploy';
  readonly direction: 'up' | 'down';
  readonly gapSeconds: number;
  readonly reprocessedRecords: number;
  /** From the write until the stand-in saw the job run at the new parallelism. */
  readonly appliedSeconds: number;
  readonly jobIdKept: boolean;
}

async function rescale(
  env: Environment,
  spec: Record<string, unknown>,
  path: Rescale['path'],
  direction: Rescale['direction'],
): Promise<Rescale> {
  const flink = env.flink;
  if (flink === undefined) throw new Error('no MiniCluster');
  const resource = `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${env.flinkDeploymentName}`;
  await env.operator.idle();
  const applied = env.operator.appliedFor(env.flinkDeploymentName).length;
  const before = await flink.state();
  const since = Date.now();
  expectOk(await env.controlPlane.request('PATCH', resource, { spec }), 'patch the FlinkDeployment');
  const change = await waitFor(
    `the stand-in to apply the ${path} rescale`,
    async () => {
      await env.operator.idle();
      return env.operator.appliedFor(env.flinkDeploymentName)[applied];
    },
    { timeoutMs: 180_000, intervalMs: 200 },
  );
  if (change.path !== path) throw new Error(`expected ${path}, the stand-in did: ${JSON.stringify(change)}`);
  // The output resumes after the job runs: let the sink show the end of the gap.
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const after = await flink.state();
  return {
    path,
    direction,
    gapSeconds: await flink.outputGapAround(since, Date.now()),
    reprocessedRecords: after.reprocessedRecords - before.reprocessedRecords,
    appliedSeconds: change.durationMs / 1000,
    jobIdKept: after.jobId === before.jobId,
  };
}

const mean = (values: readonly number[]): number =>
  values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;

const env = await startEnvironment({
  flink: { taskManagers: 1, slotsPerTaskManager: SLOTS, recordsPerSecond: rate, costMicros: 100 },
  redeployDelayMs,
});
const results: Rescale[] = [];
try {
  const flink = env.flink;
  if (flink === undefined) throw new Error('no MiniCluster');
  const vertices = (await flink.state()).vertices ?? [];
  const overrides = (parallelism: number): string =>
    vertices.map((vertex) => `${vertex.id}:${parallelism}`).join(',');
  // Let the checkpoints and the sink settle before the first rescale.
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  for (let round = 1; round <= rounds; round += 1) {
    results.push(
      await rescale(env, { flinkConfiguration: { [OVERRIDES]: overrides(2 * SLOTS) } }, 'in-place', 'up'),
      await rescale(env, { flinkConfiguration: { [OVERRIDES]: overrides(SLOTS) } }, 'in-place', 'down'),
      await rescale(
        env,
        {
          taskManager: { replicas: 2 },
          job: { parallelism: 2 * SLOTS },
          flinkConfiguration: { [OVERRIDES]: null },
        },
        'redeploy',
        'up',
      ),
      await rescale(env, { taskManager: { replicas: 1 }, job: { parallelism: SLOTS } }, 'redeploy', 'down'),
    );
    console.log(`round ${round} of ${rounds} done`);
  }
} finally {
  await env.stop();
}

const rows = (['in-place', 'redeploy'] as const).map((path) => {
  const of = results.filter((result) => result.path === path);
  return {
    path,
    rescales: of.length,
    gapSecondsMean: mean(of.map((result) => result.gapSeconds)),
    gapSecondsMax: Math.max(...of.map((result) => result.gapSeconds)),
    reprocessedMean: mean(of.map((result) => result.reprocessedRecords)),
    appliedSecondsMean: mean(of.map((result) => result.appliedSeconds)),
    jobIdKept: of.every((result) => result.jobIdKept),
  };
});
const [inPlace, redeploy] = rows;
const ratio = (inPlace?.gapSecondsMean ?? Number.NaN) / (redeploy?.gapSecondsMean ?? Number.NaN);
console.log(
  `\nWhat a rescale costs the job (${rate} records/s, ${SLOTS} slots per TaskManager, 1 ↔ 2 TaskManagers, ${rounds} rounds, redeploy delay ${redeployDelayMs} ms):\n`,
);
console.log(
  '| path | rescales | output gap, mean | output gap, max | records reprocessed, mean | write to running, mean | same job |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const row of rows) {
  console.log(
    `| ${row.path} | ${row.rescales} | ${row.gapSecondsMean.toFixed(2)} s | ${row.gapSecondsMax.toFixed(2)} s | ${row.reprocessedMean.toFixed(0)} | ${row.appliedSecondsMean.toFixed(2)} s | ${row.jobIdKept ? 'yes' : 'no'} |`,
  );
}
console.log(`\nin place's output gap is ${ratio.toFixed(2)} of the redeploy's (goal: at most 0.33)`);
writeFileSync(
  'bench-results-rescale-paths.json',
  `${JSON.stringify({ rate, slots: SLOTS, rounds, redeployDelayMs, rows, ratio, rescales: results }, null, 2)}\n`,
);
