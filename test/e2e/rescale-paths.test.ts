/**
 * How each rescale reaches the job, on the real API server, the stand-in operator and real Flink
 * MiniClusters, with `slotscaler serve`'s scaler deciding:
 * - in place: a native FlinkDeployment on the adaptive scheduler, up and down, one patch of its
 *   parallelism overrides, the same job throughout (the stand-in applies it through the
 *   resource-requirements endpoint, as the Apache operator does);
 * - redeploy: a FlinkDeployment on Flink 1.17, whose Event says why;
 * - scale fields: a standalone FlinkDeployment in reactive mode;
 * - in place without an operator: a TaskManager Deployment (its /scale) and the job's resource
 *   requirements, set by Slotscaler itself, both ways;
 * - refused: the same path against a JobManager on the default scheduler, which has no resource
 *   requirements to set: one Warning, no retry loop, nothing scaled.
 * Each test says which path it exercised.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { Scaler } from '../../src/runtime/start-scaler.js';
import { flinkDeploymentYaml, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { startFlinkWorkload } from './harness/flink.js';
import type { FlinkWorkload } from './harness/flink.js';
import { expectOk, waitFor } from './harness/kube.js';
import {
  eventsFor,
  fastAnnotations,
  fastConfig,
  patchAnnotations,
  playDeploymentController,
  specOf,
  startTestScaler,
} from './scaler-helpers.js';

const OVERRIDES = 'pipeline.jobvertex-parallelism-overrides';

describe(
  'rescale paths: in place, redeploy, scale fields, and in place without an operator',
  { timeout: 900_000 },
  () => {
    let env: Environment;
    let flink: FlinkWorkload;
    let scaler: Scaler;
    let refusing: FlinkWorkload | undefined;
    let syncing = true;
    const syncs: Promise<void>[] = [];
    const name = 'inplace-job';

    const fdPath = (target: string) =>
      `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${target}`;
    const deploymentPath = (target: string) =>
      `/apis/apps/v1/namespaces/${env.namespace}/deployments/${target}`;

    /** The job's vertices' parallelism when every vertex runs, else undefined. */
    async function runningParallelism(workload: FlinkWorkload): Promise<number | undefined> {
      const state = await workload.state();
      const vertices = state.vertices ?? [];
      return state.jobState === 'RUNNING' &&
        vertices.length > 0 &&
        vertices.every((vertex) => vertex.status === 'RUNNING')
        ? Math.max(...vertices.map((vertex) => vertex.parallelism))
        : undefined;
    }

    /**
     * A TaskManager Deployment of `workload`'s job with no operator (Slotscaler rescales it in place
     * through the JobManager), and a player of its Deployment controller running as many TaskManagers.
     */
    async function deployTaskManagers(
      target: string,
      workload: FlinkWorkload,
      replicas: number,
    ): Promise<void> {
      await env.applyYaml(
        taskManagerDeployment(
          target,
          fastAnnotations(workload.restUrl, {
            'slotscaler.dev/task-slots': '2',
            'slotscaler.dev/rescale': 'in-place',
          }),
          replicas,
        ),
      );
      syncs.push(
        playDeploymentController(
          env.controlPlane,
          deploymentPath(target),
          () => syncing,
          (count) => workload.setTaskManagers(count),
        ),
      );
    }

    function taskManagerDeployment(
      target: string,
      annotations: Record<string, string>,
      replicas: number,
    ): string {
      return JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: target, annotations },
        spec: {
          replicas,
          selector: { matchLabels: { app: target, component: 'taskmanager' } },
          template: {
            metadata: { labels: { app: target, component: 'taskmanager' } },
            spec: { containers: [{ name: 'taskmanager', image: 'flink:1.20', args: ['taskmanager'] }] },
          },
        },
      });
    }

    const messages = async (target: string, reason: string): Promise<string[]> =>
      (await eventsFor(env.controlPlane, env.namespace, target))
        .filter((event) => event.reason === reason)
        .map((event) => event.message);

    before(async () => {
      [env, refusing] = await Promise.all([
        startEnvironment({
          flink: { taskManagers: 1, slotsPerTaskManager: 2, recordsPerSecond: 400, costMicros: 1000 },
          flinkDeploymentName: name,
          log: (message) => console.log(`# ${message}`),
        }),
        // A JobManager on the default scheduler: it has no resource requirements to set.
        startFlinkWorkload({
          taskManagers: 2,
          slotsPerTaskManager: 2,
          recordsPerSecond: 100,
          costMicros: 1000,
          flinkConf: { 'jobmanager.scheduler': 'default' },
        }),
      ]);
      assert.ok(env.flink);
      flink = env.flink;
      scaler = await startTestScaler(env.controlPlane, fastConfig());
    });

    after(async () => {
      syncing = false;
      await Promise.allSettled(syncs);
      await scaler.stop();
      await refusing?.stop();
      await env.stop();
    });

    it('in place: a native FlinkDeployment on the adaptive scheduler scales up and down by its overrides alone, the same job throughout', async () => {
      const jobId = flink.jobId;
      await patchAnnotations(env.controlPlane, fdPath(name), fastAnnotations(flink.restUrl));
      await flink.setRate(3_000);
      await waitFor(
        'the job rescaled up in place',
        async () => (((await runningParallelism(flink)) ?? 0) >= 4 ? true : undefined),
        { timeoutMs: 180_000, intervalMs: 500 },
      );
      const up = await env.getFlinkDeployment(name);
      const spec = up.spec as {
        taskManager: { replicas: number };
        job: { parallelism: number };
        flinkConfiguration: Record<string, string>;
      };
      // The write was the overrides key alone: the full-upgrade fields are as they were.
      assert.equal(spec.taskManager.replicas, 1);
      assert.equal(spec.job.parallelism, 2);
      assert.match(spec.flinkConfiguration[OVERRIDES] ?? '', /^[0-9a-f]{32}:\d+,[0-9a-f]{32}:\d+$/);
      assert.equal(specOf(up).path, 'in-place');
      assert.equal(flink.jobId, jobId, 'the same job');
      await env.operator.idle();
      assert.ok(env.operator.inPlaceFor(name).length >= 1);
      assert.deepEqual(env.operator.redeploysFor(name), [], 'no redeploy');
      const rescaled = await messages(name, 'Rescaled');
      assert.match(
        rescaled[0] ?? '',
        /^TaskManagers 1 → \d, parallelism 2 → \d+: .*; in place \(native mode on the adaptive scheduler/,
      );
      await waitFor('the rescale followed to the job', async () =>
        (await messages(name, 'RescaleDone')).some((message) =>
          /\(rescaled in place, same job\)/.test(message),
        )
          ? true
          : undefined,
      );

      await flink.setRate(200);
      await waitFor(
        'the job rescaled down in place',
        async () => ((await runningParallelism(flink)) === 2 ? true : undefined),
        { timeoutMs: 180_000, intervalMs: 500 },
      );
      await env.operator.idle();
      assert.equal(flink.jobId, jobId, 'still the same job');
      assert.deepEqual(env.operator.redeploysFor(name), [], 'no redeploy');
      assert.ok(env.operator.inPlaceFor(name).length >= 2, 'up and down in place');
      assert.equal(specOf(await env.getFlinkDeployment(name)).replicas, 1);
      console.log(
        `# path exercised: in place, ${env.operator.inPlaceFor(name).length} rescales, job ${jobId}`,
      );
      // This job is the next tests' too: Slotscaler lets go of it.
      await patchAnnotations(env.controlPlane, fdPath(name), { 'slotscaler.dev/enabled': 'false' });
    });

    it('redeploy and scale fields: Flink 1.17 is redeployed, a standalone reactive one scaled, each Event saying why', async () => {
      // Both read the MiniCluster's job (its load decides), and have no job of their own to rescale.
      const annotations = fastAnnotations(flink.restUrl, { 'slotscaler.dev/rescale-confirm-timeout': '10s' });
      await flink.setRate(3_000);
      await env.applyYaml(
        flinkDeploymentYaml({
          name: 'old-flink',
          taskManagers: 1,
          slotsPerTaskManager: 2,
          flinkVersion: 'v1_17',
          annotations,
        }),
      );
      await env.applyYaml(
        flinkDeploymentYaml({
          name: 'standalone-job',
          taskManagers: 1,
          slotsPerTaskManager: 2,
          mode: 'standalone',
          flinkConfiguration: { 'scheduler-mode': 'reactive' },
          annotations,
        }),
      );
      const old = await waitFor(
        'old-flink rescaled',
        async () => {
          await env.operator.idle();
          return env.operator.appliedFor('old-flink')[0];
        },
        { timeoutMs: 180_000, intervalMs: 500 },
      );
      assert.equal(old.path, 'redeploy');
      const oldSpec = specOf(await env.getFlinkDeployment('old-flink'));
      assert.equal(oldSpec.path, 'redeploy');
      assert.ok((oldSpec.replicas ?? 0) > 1);
      assert.equal(oldSpec.parallelism, (oldSpec.replicas ?? 0) * 2);
      assert.match(
        (await messages('old-flink', 'Rescaled'))[0] ?? '',
        /; redeploy \(not in place without Flink 1\.18 or later \(flinkVersion v1_17\): the operator redeploys\)$/,
      );
      const standalone = await waitFor(
        'standalone-job rescaled',
        async () => {
          await env.operator.idle();
          return env.operator.appliedFor('standalone-job')[0];
        },
        { timeoutMs: 180_000, intervalMs: 500 },
      );
      assert.equal(standalone.path, 'scale');
      assert.match(
        (await messages('standalone-job', 'Rescaled'))[0] ?? '',
        /; scale fields \(standalone mode, reactive: the operator scales the TaskManager Deployment\)$/,
      );
      console.log('# paths exercised: redeploy (old-flink), scale fields (standalone-job)');
      for (const target of ['old-flink', 'standalone-job']) {
        await patchAnnotations(env.controlPlane, fdPath(target), { 'slotscaler.dev/enabled': 'false' });
      }
      await flink.setRate(200);
    });

    it('in place without an operator: the TaskManager Deployment and the job’s resource requirements, both ways, the same job', async () => {
      const target = 'taskmanagers';
      await waitFor(
        'the job back at parallelism 2',
        async () => ((await runningParallelism(flink)) === 2 ? true : undefined),
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      const jobId = flink.jobId;
      await deployTaskManagers(target, flink, 1);
      await flink.setRate(3_000);
      const up = await waitFor(
        'the job rescaled up by its requirements',
        async () => {
          const parallelism = (await runningParallelism(flink)) ?? 0;
          return parallelism >= 4 ? parallelism : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 500 },
      );
      const deployment = expectOk(await env.controlPlane.request('GET', deploymentPath(target)), 'get')
        .body as {
        spec: { replicas: number };
      };
      assert.equal(
        deployment.spec.replicas * 2,
        up,
        'TaskManagers × slots = the parallelism the job runs at',
      );
      assert.equal(flink.jobId, jobId, 'the same job');
      assert.match(
        (await messages(target, 'Rescaled'))[0] ?? '',
        /^TaskManagers 1 → \d, parallelism \d+: .*; in place \(slotscaler\.dev\/rescale: in-place\)$/,
      );

      await flink.setRate(200);
      await waitFor(
        'the job rescaled down by its requirements, then the Deployment',
        async () => {
          const object = expectOk(await env.controlPlane.request('GET', deploymentPath(target)), 'get')
            .body as {
            spec: { replicas: number };
          };
          return object.spec.replicas === 1 && (await runningParallelism(flink)) === 2 ? true : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 500 },
      );
      assert.equal(flink.jobId, jobId, 'still the same job');
      await waitFor('both rescales followed to the job', async () =>
        (await messages(target, 'RescaleDone')).filter((message) =>
          /rescaled in place, same job/.test(message),
        ).length >= 2
          ? true
          : undefined,
      );
      console.log(`# path exercised: in place through the JobManager (no operator), job ${jobId}`);
      await patchAnnotations(env.controlPlane, deploymentPath(target), { 'slotscaler.dev/enabled': 'false' });
    });

    it('in place refused by the JobManager: one Warning, no retry loop, no redeploy, the TaskManagers stay', async () => {
      const jobManager = refusing;
      assert.ok(jobManager);
      const target = 'refusing';
      await deployTaskManagers(target, jobManager, 2);
      // Little load on 2 TaskManagers: Slotscaler wants 1, and asks the job's requirements first.
      const refusal = await waitFor(
        'the refusal',
        async () => (await messages(target, 'RescaleRefused'))[0],
        { timeoutMs: 180_000, intervalMs: 500 },
      );
      assert.match(
        refusal,
        /^TaskManagers 2 → 1, parallelism 2: .*; in place \(slotscaler\.dev\/rescale: in-place\): the JobManager refused the in-place rescale: .*HTTP 500.*; not retried for 60 s, and no redeploy$/,
      );
      // Watch a while: no second Warning, no write of the Deployment, the job as it was.
      await new Promise((resolve) => setTimeout(resolve, 30_000));
      assert.equal((await messages(target, 'RescaleRefused')).length, 1);
      assert.deepEqual(await messages(target, 'Rescaled'), []);
      const deployment = expectOk(await env.controlPlane.request('GET', deploymentPath(target)), 'get')
        .body as {
        spec: { replicas: number };
      };
      assert.equal(deployment.spec.replicas, 2, 'no TaskManager taken from under the job');
      assert.equal(await runningParallelism(jobManager), 4);
      console.log('# path exercised: in place through the JobManager, refused');
    });
  },
);
