/**
 * The stand-in operator's rules against the real API server and one MiniCluster: which spec
 * changes it rescales in place, which it scales, which it redeploys (the Apache operator's
 * @SpecDiff rules and NativeFlinkService / StandaloneFlinkService.scale). The MiniCluster backs
 * `steerable-job` (native, Flink v1_20, adaptive scheduler); FlinkDeployments without one check
 * the rules that need no job: an older Flink, standalone mode.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { flinkDeploymentYaml, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { expectOk, waitFor } from './harness/kube.js';
import { classifySpecChange } from './harness/operator-stand-in.js';
import type { AppliedChange } from './harness/operator-stand-in.js';

interface FlinkDeploymentStatus {
  readonly lifecycleState?: string;
  readonly observedGeneration?: number;
  readonly jobStatus?: { readonly jobId?: string; readonly state?: string };
}

const OVERRIDES = 'pipeline.jobvertex-parallelism-overrides';

describe(
  'stand-in operator: in place, scale or redeploy, by the Apache operator rules',
  { timeout: 600_000 },
  () => {
    let env: Environment;
    let sourceId = '';
    let mapId = '';

    const pathOf = (name: string) =>
      `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${name}`;

    /** Merge-patches a spec and resolves once the stand-in applied it (or saw nothing to apply). */
    async function patchSpec(
      name: string,
      spec: Record<string, unknown>,
    ): Promise<AppliedChange | undefined> {
      const before = env.operator.appliedFor(name).length;
      const patched = expectOk(
        await env.controlPlane.request('PATCH', pathOf(name), { spec }),
        `patch ${name}`,
      ).body as { metadata: { generation: number } };
      await waitFor(
        `${name} generation ${patched.metadata.generation} observed`,
        async () => {
          await env.operator.idle();
          const status = (await env.getFlinkDeployment(name)).status as FlinkDeploymentStatus | undefined;
          return (status?.observedGeneration ?? 0) >= patched.metadata.generation &&
            status?.lifecycleState === 'STABLE'
            ? true
            : undefined;
        },
        { timeoutMs: 180_000 },
      );
      const applied = env.operator.appliedFor(name);
      return applied.length > before ? applied.at(-1) : undefined;
    }

    const overrides = (source: number, map: number) => `${sourceId}:${source},${mapId}:${map}`;

    before(async () => {
      env = await startEnvironment({
        flink: { taskManagers: 1, slotsPerTaskManager: 2, recordsPerSecond: 500, costMicros: 100 },
        log: (message) => {
          console.log(`# ${message}`);
        },
      });
      const vertices = (await env.flink?.state())?.vertices ?? [];
      sourceId = vertices.find((vertex) => vertex.name.startsWith('Source'))?.id ?? '';
      mapId = vertices.find((vertex) => vertex.name.startsWith('costly-map'))?.id ?? '';
      assert.ok(sourceId !== '' && mapId !== '', JSON.stringify(vertices));
    });

    after(async () => {
      await env.stop();
    });

    it('sorts changes with the operator @SpecDiff rules per mode', () => {
      const native = {
        flinkVersion: 'v1_20',
        flinkConfiguration: { a: '1' },
        taskManager: { replicas: 1 },
        job: { parallelism: 2 },
      };
      const standalone = { ...native, mode: 'standalone' };
      const withConfig = (spec: typeof native, config: Record<string, string>) => ({
        ...spec,
        flinkConfiguration: { ...spec.flinkConfiguration, ...config },
      });
      assert.equal(classifySpecChange(native, withConfig(native, { [OVERRIDES]: 'v:2' })).type, 'scale');
      assert.equal(
        classifySpecChange(standalone, withConfig(standalone, { [OVERRIDES]: 'v:2' })).type,
        'upgrade',
      );
      assert.equal(classifySpecChange(native, { ...native, taskManager: { replicas: 2 } }).type, 'upgrade');
      assert.equal(
        classifySpecChange(standalone, { ...standalone, taskManager: { replicas: 2 } }).type,
        'scale',
      );
      assert.equal(classifySpecChange(native, { ...native, job: { parallelism: 4 } }).type, 'upgrade');
      assert.equal(classifySpecChange(standalone, { ...standalone, job: { parallelism: 4 } }).type, 'scale');
      for (const key of ['job.autoscaler.enabled', 'parallelism.default', 'kubernetes.operator.x']) {
        assert.equal(classifySpecChange(native, withConfig(native, { [key]: '9' })).type, 'ignore', key);
      }
      assert.equal(
        classifySpecChange(native, withConfig(native, { 'state.backend.type': 'rocksdb' })).type,
        'upgrade',
      );
      // The largest type wins: an override plus any other key is a full upgrade.
      const both = classifySpecChange(
        native,
        withConfig(native, { [OVERRIDES]: 'v:2', 'taskmanager.memory.process.size': '2g' }),
      );
      assert.equal(both.type, 'upgrade');
      assert.deepEqual(both.fields, [
        `flinkConfiguration.${OVERRIDES} (scale)`,
        'flinkConfiguration.taskmanager.memory.process.size (upgrade)',
      ]);
      assert.equal(
        classifySpecChange(native, { ...native, job: { parallelism: 2, upgradeMode: 'savepoint' } }).type,
        'ignore',
      );
    });

    it('rescales in place when only the overrides change: the same job, its vertices at the overrides, TaskManagers started first', async () => {
      const flink = env.flink;
      assert.ok(flink);
      const jobId = flink.jobId;
      const change = await patchSpec(env.flinkDeploymentName, {
        flinkConfiguration: { [OVERRIDES]: overrides(4, 3) },
      });
      assert.equal(change?.path, 'in-place', JSON.stringify(change));
      assert.equal(change.jobId, jobId);
      assert.equal(change.previousJobId, jobId);
      const state = await flink.state();
      assert.equal(state.jobId, jobId, 'no new job');
      assert.deepEqual(
        Object.fromEntries((state.vertices ?? []).map((vertex) => [vertex.id, vertex.parallelism])),
        { [sourceId]: 4, [mapId]: 3 },
      );
      assert.equal(state.taskManagers, 2, 'ceil(4 / 2 slots) TaskManagers');
      const status = (await env.getFlinkDeployment()).status as FlinkDeploymentStatus;
      assert.equal(status.jobStatus?.jobId, jobId);
      assert.equal(status.jobStatus.state, 'RUNNING');

      const down = await patchSpec(env.flinkDeploymentName, {
        flinkConfiguration: { [OVERRIDES]: overrides(2, 1) },
      });
      assert.equal(down?.path, 'in-place');
      assert.equal((await flink.state()).jobId, jobId);
      assert.equal(env.operator.inPlaceFor(env.flinkDeploymentName).length, 2);
      assert.equal(env.operator.redeploysFor(env.flinkDeploymentName).length, 0);
    });

    it('ignores a change of an IGNORE key: no restart', async () => {
      const change = await patchSpec(env.flinkDeploymentName, {
        flinkConfiguration: { 'job.autoscaler.enabled': 'false' },
      });
      assert.equal(change, undefined);
    });

    it('redeploys on a change of taskManager.replicas in native mode: stop with savepoint, new job id in status', async () => {
      const flink = env.flink;
      assert.ok(flink);
      const jobId = flink.jobId;
      const change = await patchSpec(env.flinkDeploymentName, { taskManager: { replicas: 2 } });
      assert.equal(change?.path, 'redeploy', JSON.stringify(change));
      assert.match(change.reason, /taskManager\.replicas \(upgrade\)/);
      assert.equal(change.previousJobId, jobId);
      assert.notEqual(change.jobId, jobId);
      const state = await flink.state();
      assert.equal(state.jobId, change.jobId);
      assert.equal(state.taskManagers, 2);
      assert.equal(state.redeploys, 1);
      // The overrides still in the spec apply to the new job.
      assert.deepEqual(
        Object.fromEntries((state.vertices ?? []).map((vertex) => [vertex.id, vertex.parallelism])),
        { [sourceId]: 2, [mapId]: 1 },
      );
      const status = (await env.getFlinkDeployment()).status as FlinkDeploymentStatus;
      assert.equal(status.jobStatus?.jobId, change.jobId);
      assert.equal(env.operator.redeploysFor(env.flinkDeploymentName).length, 1);
    });

    it('redeploys when an override is removed', async () => {
      const change = await patchSpec(env.flinkDeploymentName, {
        flinkConfiguration: { [OVERRIDES]: `${sourceId}:2` },
      });
      assert.equal(change?.path, 'redeploy');
      assert.match(change.reason, new RegExp(`override of vertex ${mapId} was removed`));
    });

    it('redeploys an overrides change on Flink v1_17 or without the adaptive scheduler', async () => {
      await env.applyYaml(
        flinkDeploymentYaml({
          name: 'old-flink',
          taskManagers: 1,
          slotsPerTaskManager: 2,
          flinkVersion: 'v1_17',
        }),
      );
      await env.applyYaml(
        flinkDeploymentYaml({
          name: 'default-scheduler',
          taskManagers: 1,
          slotsPerTaskManager: 2,
          flinkConfiguration: { 'jobmanager.scheduler': 'default' },
        }),
      );
      const old = await patchSpec('old-flink', { flinkConfiguration: { [OVERRIDES]: 'v:4' } });
      assert.equal(old?.path, 'redeploy');
      assert.match(old.reason, /flinkVersion v1_17 is older than v1_18/);
      const noAdaptive = await patchSpec('default-scheduler', { flinkConfiguration: { [OVERRIDES]: 'v:4' } });
      assert.equal(noAdaptive?.path, 'redeploy');
      assert.match(noAdaptive.reason, /jobmanager.scheduler is not adaptive/);
    });

    it('scales a standalone reactive deployment by its replicas, and redeploys one without reactive mode', async () => {
      await env.applyYaml(
        flinkDeploymentYaml({
          name: 'standalone-reactive',
          taskManagers: 1,
          slotsPerTaskManager: 2,
          mode: 'standalone',
          flinkConfiguration: { 'scheduler-mode': 'reactive' },
        }),
      );
      await env.applyYaml(
        flinkDeploymentYaml({
          name: 'standalone-plain',
          taskManagers: 1,
          slotsPerTaskManager: 2,
          mode: 'standalone',
        }),
      );
      const reactive = await patchSpec('standalone-reactive', { taskManager: { replicas: 3 } });
      assert.equal(reactive?.path, 'scale');
      assert.equal(reactive.taskManagers, 3);
      const plain = await patchSpec('standalone-plain', { taskManager: { replicas: 3 } });
      assert.equal(plain?.path, 'redeploy');
      assert.match(plain.reason, /scheduler-mode: reactive/);
    });
  },
);
