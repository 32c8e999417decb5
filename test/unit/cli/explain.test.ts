// `slotscaler explain NS/NAME` over an in-memory API answering the object and its Events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { explainTarget } from '../../../src/cli/explain.js';
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

describe('explain', () => {
  it('prints the last decision, the histories and the Events', async () => {
    const at = Date.UTC(2026, 0, 1, 0, 10);
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
      },
      lastRescaleAtMs: at,
      recommendations: [{ replicas: 2, timestampMs: at }],
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
    const lines: string[] = [];
    assert.equal(await explainTarget(client, 'flink/job', (line) => lines.push(line)), 0);
    const text = lines.join('\n');
    assert.match(text, /FlinkDeployment flink\/job/);
    assert.match(
      text,
      /last decision 2026-01-01T00:10:00Z \(scaled\): TaskManagers 1 → 2, parallelism 2 → 4: flink_busy_ratio 0\.93 \(target 0\.7\)/,
    );
    assert.match(text, /2026-01-01T00:10:00Z {2}\+1/);
    assert.match(text, /2026-01-01T00:10:00Z {2}Normal {2}Rescaled {2}TaskManagers 1 → 2/);
  });

  it('says when there is no such target, and refuses a bad reference', async () => {
    const lines: string[] = [];
    assert.equal(await explainTarget(fakeClient({}), 'flink/none', (line) => lines.push(line)), 1);
    assert.equal(await explainTarget(fakeClient({}), 'nonsense', (line) => lines.push(line)), 2);
  });
});
