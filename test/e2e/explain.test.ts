// `slotscaler explain` against a real API server, as a person or a script runs it: a kubeconfig
// whose current context points nowhere, `--context` picking the one that works, and `-o json|yaml`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { parse as parseYaml } from 'yaml';

import type { Explanation } from '../../src/cli/explain.js';
import { encodeStatus } from '../../src/kube/status-annotation.js';
import { flinkDeploymentYaml, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { applyYaml, expectOk } from './harness/kube.js';

const bin = fileURLToPath(new URL('../../bin/slotscaler.js', import.meta.url));
const NAMESPACE = 'flink';

/** `slotscaler <args>`; resolves to its exit code and output. */
function slotscaler(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, SLOTSCALER_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('slotscaler explain, against a real API server', { timeout: 300_000 }, () => {
  let env: Environment;
  let dir: string;
  let kubeconfig: string;
  /** The environment's own context (the one that works). */
  let context: string;
  const at = Date.UTC(2026, 0, 1, 0, 10);

  before(async () => {
    env = await startEnvironment({
      flink: false,
      namespace: NAMESPACE,
      log: (message) => console.log(`# ${message}`),
    });
    dir = await mkdtemp(join(tmpdir(), 'slotscaler-explain-'));
    // The environment's kubeconfig, plus a context that points at nothing, made the current one.
    const admin = parseYaml(await readFile(env.kubeconfigPath, 'utf8')) as {
      clusters: { name: string; cluster: Record<string, unknown> }[];
      users: { name: string; user: Record<string, unknown> }[];
      contexts: { name: string; context: { cluster: string; user: string } }[];
      'current-context': string;
    };
    context = admin['current-context'];
    const user = admin.contexts.find((entry) => entry.name === context)?.context.user ?? '';
    kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        ...admin,
        clusters: [...admin.clusters, { name: 'gone', cluster: { server: 'https://127.0.0.1:1' } }],
        contexts: [...admin.contexts, { name: 'gone', context: { cluster: 'gone', user } }],
        'current-context': 'gone',
      }),
    );

    const status = encodeStatus({
      lastDecision: {
        atMs: at,
        fromReplicas: 1,
        toReplicas: 2,
        fromParallelism: 2,
        toParallelism: 4,
        reason: 'DesiredWithinRange',
        outcome: 'scaled',
        metrics: [{ name: 'flink_demand_ratio', value: 1.2, target: 0.7, type: 'Value' }],
        path: 'in-place',
      },
      lastRescaleAtMs: at,
      rescaleDoneAtMs: null,
      recommendations: [{ replicas: 2, timestampMs: at }],
      scaleEvents: [{ replicaChange: 1, timestampMs: at }],
    });
    await applyYaml(
      env.controlPlane,
      flinkDeploymentYaml({
        name: 'clicks',
        taskManagers: 2,
        slotsPerTaskManager: 2,
        annotations: { 'slotscaler.dev/enabled': 'true', 'slotscaler.dev/status': status },
      }),
      NAMESPACE,
    );
    // An Event as Slotscaler records one (events.k8s.io/v1), read back by explain through core/v1.
    expectOk(
      await env.controlPlane.request('POST', `/apis/events.k8s.io/v1/namespaces/${NAMESPACE}/events`, {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: 'clicks.rescaled' },
        regarding: {
          apiVersion: 'flink.apache.org/v1beta1',
          kind: 'FlinkDeployment',
          name: 'clicks',
          namespace: NAMESPACE,
        },
        type: 'Normal',
        reason: 'Rescaled',
        action: 'Rescale',
        note: 'TaskManagers 1 → 2, parallelism 2 → 4',
        eventTime: '2026-01-01T00:10:00.000000Z',
        reportingController: 'slotscaler.dev/slotscaler',
        reportingInstance: 'explain-test',
      }),
      'create Event',
    );
  });

  after(async () => {
    await env.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('--context picks the context; -o json prints the target, its status and its Events', async () => {
    const { code, stdout, stderr } = await slotscaler([
      'explain',
      `${NAMESPACE}/clicks`,
      '--kubeconfig',
      kubeconfig,
      '--context',
      context,
      '-o',
      'json',
    ]);
    assert.equal(code, 0, stderr);
    const explanation = JSON.parse(stdout) as Explanation;
    assert.equal(explanation.kind, 'FlinkDeployment');
    assert.equal(explanation.enabled, true);
    const status = explanation.status;
    assert.ok(status?.lastDecision);
    assert.deepEqual(status.lastDecision.taskManagers, { from: 1, to: 2 });
    assert.equal(status.lastDecision.time, '2026-01-01T00:10:00.000Z');
    assert.equal(status.lastDecision.path, 'in-place', 'explain says how the decision reached the job');
    assert.deepEqual(status.scaleEvents, [{ time: '2026-01-01T00:10:00.000Z', change: 1 }]);
    assert.deepEqual(
      explanation.events?.map((event) => [event.type, event.reason, event.message]),
      [['Normal', 'Rescaled', 'TaskManagers 1 → 2, parallelism 2 → 4']],
    );

    const yaml = await slotscaler([
      'explain',
      `${NAMESPACE}/clicks`,
      '--kubeconfig',
      kubeconfig,
      '--context',
      context,
      '-o',
      'yaml',
    ]);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.deepEqual(parseYaml(yaml.stdout), explanation);
  });

  it('without --context it uses the current one, which points nowhere: one line, exit 1', async () => {
    const { code, stdout, stderr } = await slotscaler([
      'explain',
      `${NAMESPACE}/clicks`,
      '--kubeconfig',
      kubeconfig,
    ]);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /127\.0\.0\.1:1/);
  });
});
