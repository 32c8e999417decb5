// `slotscaler explain NS/NAME` over an in-memory API answering the object and its Events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parse as parseYaml } from 'yaml';

import { explainTarget } from '../../../src/cli/explain.js';
import type { ExplainIo, Explanation } from '../../../src/cli/explain.js';
import type { KubeClient, KubeRequest, KubeResponse } from '../../../src/kube/kube-client.js';
import { encodeStatus } from '../../../src/kube/status-annotation.js';

function fakeClient(answers: Record<string, unknown>): KubeClient & { paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    request(request: KubeRequest): Promise<KubeResponse> {
      paths.push(request.path);
      const body = answers[request.path];
      return Promise.resolve({ status: body === undefined ? 404 : 200, headers: {}, body: body ?? {} });
    },
    watch: () => Promise.reject(new Error('no watches here')),
  };
}

/** Collects what explain writes, out and error apart. */
function capture(): ExplainIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, write: (line) => out.push(line), writeError: (line) => err.push(line) };
}

const at = Date.UTC(2026, 0, 1, 0, 10);

/** A FlinkDeployment flink/job with a recorded scale-up, and its Rescaled Event. */
function scaledJob(): KubeClient {
  const status = encodeStatus({
    lastDecision: {
      atMs: at,
      fromReplicas: 1,
      toReplicas: 2,
      fromParallelism: 2,
      toParallelism: 4,
      reason: 'DesiredWithinRange',
      outcome: 'scaled',
      metrics: [{ name: 'flink_busy_ratio', value: 0.93, target: 0.7, type: 'Value' }],
      path: 'in-place',
    },
    lastRescaleAtMs: at,
    rescaleDoneAtMs: at + 4_000,
    recommendations: [
      { replicas: 2, timestampMs: at },
      { replicas: 1, timestampMs: at - 120_000 },
    ],
    scaleEvents: [{ replicaChange: 1, timestampMs: at }],
  });
  const client = fakeClient({
    '/apis/flink.apache.org/v1beta1/namespaces/flink/flinkdeployments/job': {
      metadata: {
        name: 'job',
        annotations: { 'slotscaler.dev/enabled': 'true', 'slotscaler.dev/status': status },
      },
    },
    [`/api/v1/namespaces/flink/events?fieldSelector=${encodeURIComponent('involvedObject.name=job,involvedObject.kind=FlinkDeployment')}`]:
      {
        items: [
          {
            type: 'Normal',
            reason: 'Rescaled',
            message: 'TaskManagers 1 → 2',
            eventTime: '2026-01-01T00:10:00.000000Z',
            reportingComponent: 'slotscaler.dev/slotscaler',
          },
        ],
      },
  });
  return client;
}

describe('explain', () => {
  it('prints the last decision, the histories and the Events', async () => {
    const io = capture();
    assert.equal(await explainTarget(scaledJob(), 'flink/job', io), 0);
    assert.deepEqual(io.err, []);
    const text = io.out.join('\n');
    assert.match(text, /FlinkDeployment flink\/job/);
    assert.match(
      text,
      /last decision 2026-01-01T00:10:00Z \(scaled\): TaskManagers 1 → 2, parallelism 2 → 4: flink_busy_ratio 0\.93 \(target 0\.7\); reason DesiredWithinRange; in place$/m,
    );
    assert.match(text, /last rescale: 2026-01-01T00:10:00Z; the job ran at it from 2026-01-01T00:10:04Z/);
    assert.match(text, /2026-01-01T00:10:00Z {2}\+1/);
    assert.match(text, /2026-01-01T00:10:00Z {2}Normal {2}Rescaled {2}TaskManagers 1 → 2/);
  });

  it('-o json: the same facts as data, times in ISO 8601, the histories oldest first', async () => {
    const io = capture();
    assert.equal(await explainTarget(scaledJob(), 'flink/job', io, { output: 'json' }), 0);
    const explanation = JSON.parse(io.out.join('\n')) as Explanation;
    assert.deepEqual(
      { ...explanation, status: { ...explanation.status, lastDecision: undefined } },
      {
        kind: 'FlinkDeployment',
        namespace: 'flink',
        name: 'job',
        enabled: true,
        status: {
          lastDecision: undefined,
          lastRescaleTime: '2026-01-01T00:10:00.000Z',
          rescaleDoneTime: '2026-01-01T00:10:04.000Z',
          recommendations: [
            { time: '2026-01-01T00:08:00.000Z', taskManagers: 1 },
            { time: '2026-01-01T00:10:00.000Z', taskManagers: 2 },
          ],
          scaleEvents: [{ time: '2026-01-01T00:10:00.000Z', change: 1 }],
        },
        events: [
          {
            time: '2026-01-01T00:10:00.000000Z',
            type: 'Normal',
            reason: 'Rescaled',
            message: 'TaskManagers 1 → 2',
          },
        ],
      },
    );
    const last = explanation.status?.lastDecision;
    assert.deepEqual(
      { ...last, summary: undefined },
      {
        time: '2026-01-01T00:10:00.000Z',
        outcome: 'scaled',
        reason: 'DesiredWithinRange',
        taskManagers: { from: 1, to: 2 },
        parallelism: { from: 2, to: 4 },
        metrics: [{ name: 'flink_busy_ratio', value: 0.93, target: 0.7, type: 'Value' }],
        summary: undefined,
        path: 'in-place',
      },
    );
    assert.match(last?.summary ?? '', /^TaskManagers 1 → 2, parallelism 2 → 4/);
  });

  it('-o yaml: the same document as -o json', async () => {
    const json = capture();
    const yaml = capture();
    await explainTarget(scaledJob(), 'flink/job', json, { output: 'json' });
    assert.equal(await explainTarget(scaledJob(), 'flink/job', yaml, { output: 'yaml' }), 0);
    assert.match(yaml.out[0] ?? '', /^kind: FlinkDeployment$/);
    assert.deepEqual(parseYaml(yaml.out.join('\n')), JSON.parse(json.out.join('\n')));
  });

  it('a target without a status, and Events that cannot be listed: null in the data, said in the table', async () => {
    const client: KubeClient = {
      request: (request: KubeRequest): Promise<KubeResponse> =>
        Promise.resolve(
          request.path.includes('/events')
            ? { status: 403, headers: {}, body: { message: 'events is forbidden' } }
            : {
                status: request.path.includes('/flinkdeployments/') ? 200 : 404,
                headers: {},
                body: { metadata: { name: 'new', annotations: { 'slotscaler.dev/enabled': 'TRUE' } } },
              },
        ),
      watch: () => Promise.reject(new Error('no watches here')),
    };
    const json = capture();
    assert.equal(await explainTarget(client, 'flink/new', json, { output: 'json' }), 0);
    const explanation = JSON.parse(json.out.join('\n')) as Explanation;
    assert.equal(explanation.enabled, true);
    assert.equal(explanation.status, null);
    assert.equal(explanation.events, null);
    assert.equal(explanation.eventsError, 'HTTP 403 events is forbidden');
    const table = capture();
    assert.equal(await explainTarget(client, 'flink/new', table), 0);
    assert.match(
      table.out.join('\n'),
      /no status recorded yet[\s\S]*cannot list Events: HTTP 403 events is forbidden/,
    );
  });

  it('says on the error output when there is no such target, and refuses a bad reference', async () => {
    for (const output of ['table', 'json'] as const) {
      const missing = capture();
      assert.equal(await explainTarget(fakeClient({}), 'flink/none', missing, { output }), 1);
      assert.deepEqual(missing.out, [], 'nothing on stdout a script would parse');
      assert.deepEqual(missing.err, ['no FlinkDeployment, FlinkApplication or Deployment flink/none']);
    }
    const bad = capture();
    assert.equal(await explainTarget(fakeClient({}), 'nonsense', bad), 2);
    assert.deepEqual(bad.err, ['expected NAMESPACE/NAME, got "nonsense"']);
  });
});
