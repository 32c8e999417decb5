// The whole environment: the stand-in operator applies a FlinkDeployment's spec to the MiniCluster.
// The FlinkDeployment is in native mode, where taskManager.replicas and job.parallelism are
// full-upgrade fields: each change of them is a redeploy, a new job from a savepoint.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { flinkGet } from './harness/flink.js';
import { expectOk, waitFor } from './harness/kube.js';

interface FlinkDeploymentStatus {
  readonly lifecycleState?: string;
  readonly observedGeneration?: number;
  readonly taskManager?: { readonly replicas?: number; readonly labelSelector?: string };
  readonly jobStatus?: { readonly jobId?: string; readonly state?: string };
}

describe(
  'test environment: stand-in operator over a real API server and MiniCluster',
  { timeout: 600_000 },
  () => {
    let env: Environment;

    before(async () => {
      env = await startEnvironment({
        flink: { taskManagers: 1, slotsPerTaskManager: 2, recordsPerSecond: 200, costMicros: 100 },
        log: (message) => {
          console.log(`# ${message}`);
        },
      });
    });

    after(async () => {
      await env.stop();
    });

    it('reports the FlinkDeployment STABLE with its job, TaskManagers and selector', async () => {
      const object = await env.getFlinkDeployment();
      const status = object.status as FlinkDeploymentStatus;
      assert.equal(status.lifecycleState, 'STABLE');
      assert.equal(status.taskManager?.replicas, 1);
      assert.equal(status.taskManager.labelSelector, `component=taskmanager,app=${env.flinkDeploymentName}`);
      assert.equal(status.jobStatus?.jobId, env.flink?.jobId);
      assert.equal(status.jobStatus?.state, 'RUNNING');
      const scale = expectOk(
        await env.controlPlane.request(
          'GET',
          `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${env.flinkDeploymentName}/scale`,
        ),
        'get scale',
      ).body as { spec: { replicas: number }; status: { replicas: number; selector: string } };
      assert.deepEqual(scale.spec, { replicas: 1 });
      assert.equal(scale.status.selector, `component=taskmanager,app=${env.flinkDeploymentName}`);
    });

    it('applies a change of taskManager.replicas and job.parallelism to the MiniCluster as one redeploy (a new job id)', async () => {
      const flink = env.flink;
      assert.ok(flink);
      const firstJobId = flink.jobId;
      const path = `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${env.flinkDeploymentName}`;
      const patched = expectOk(
        await env.controlPlane.request('PATCH', path, {
          spec: { taskManager: { replicas: 2 }, job: { parallelism: 4 } },
        }),
        'patch spec',
      ).body as { metadata: { generation: number } };

      const status = await waitFor(
        'status to show 2 TaskManagers for the new generation',
        async () => {
          const current = (await env.getFlinkDeployment()).status as FlinkDeploymentStatus;
          return current.observedGeneration === patched.metadata.generation &&
            current.lifecycleState === 'STABLE'
            ? current
            : undefined;
        },
        { timeoutMs: 120_000 },
      );
      assert.equal(status.taskManager?.replicas, 2);
      assert.equal(status.jobStatus?.state, 'RUNNING');

      const overview = (await flinkGet(flink.restUrl, '/overview')) as {
        taskmanagers: number;
        'slots-total': number;
      };
      assert.equal(overview.taskmanagers, 2);
      assert.equal(overview['slots-total'], 4);
      const job = (await flinkGet(flink.restUrl, `/jobs/${flink.jobId}`)) as {
        state: string;
        vertices: { parallelism: number }[];
      };
      assert.equal(job.state, 'RUNNING');
      assert.deepEqual(
        job.vertices.map((vertex) => vertex.parallelism),
        job.vertices.map(() => 4),
      );

      const pods = expectOk(
        await env.controlPlane.request(
          'GET',
          `/api/v1/namespaces/${env.namespace}/pods?labelSelector=${encodeURIComponent(status.taskManager.labelSelector ?? '')}`,
        ),
        'list pods',
      ).body as { items: { status: { phase: string; conditions: { type: string; status: string }[] } }[] };
      assert.equal(pods.items.length, 2);
      for (const pod of pods.items) {
        assert.equal(pod.status.phase, 'Running');
        assert.ok(pod.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
      }

      const changes = env.operator.appliedFor(env.flinkDeploymentName);
      assert.equal(changes.length, 1, 'one merge patch of both fields is one restart');
      assert.deepEqual(
        changes.map(({ path, taskManagers, parallelism }) => ({ path, taskManagers, parallelism })),
        [{ path: 'redeploy', taskManagers: 2, parallelism: 4 }],
      );
      assert.equal(changes[0]?.previousJobId, firstJobId);
      assert.notEqual(flink.jobId, firstJobId, 'a redeploy submits the job again under a new id');
      assert.equal(changes[0].jobId, flink.jobId);
      assert.equal(status.jobStatus.jobId, flink.jobId, 'the status names the new job');
      console.log(`# path: redeploy, job ${firstJobId} -> ${flink.jobId}`);
    });

    it('counts two separate writes as two restarts, each a redeploy', async () => {
      const path = `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${env.flinkDeploymentName}`;
      const before = env.operator.appliedFor(env.flinkDeploymentName).length;
      expectOk(
        await env.controlPlane.request('PATCH', path, { spec: { taskManager: { replicas: 1 } } }),
        'patch replicas',
      );
      await waitFor('the first write to be applied', async () => {
        await env.operator.idle();
        return env.operator.appliedFor(env.flinkDeploymentName).length === before + 1 ? true : undefined;
      });
      expectOk(
        await env.controlPlane.request('PATCH', path, { spec: { job: { parallelism: 2 } } }),
        'patch parallelism',
      );
      await waitFor(
        'the second write to be applied',
        async () => {
          await env.operator.idle();
          const status = (await env.getFlinkDeployment()).status as FlinkDeploymentStatus;
          return env.operator.appliedFor(env.flinkDeploymentName).length === before + 2 &&
            status.lifecycleState === 'STABLE'
            ? true
            : undefined;
        },
        { timeoutMs: 120_000 },
      );
      const overview = (await flinkGet(env.flink?.restUrl ?? '', '/overview')) as { taskmanagers: number };
      assert.equal(overview.taskmanagers, 1);
      const paths = env.operator
        .appliedFor(env.flinkDeploymentName)
        .slice(before)
        .map((change) => change.path);
      assert.deepEqual(paths, ['redeploy', 'redeploy']);
      console.log(`# path: ${paths.join(', ')}`);
    });
  },
);
