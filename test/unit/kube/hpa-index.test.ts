// The HPA index over a scripted KubeClient: what each HPA scales, kept current by its watch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { TargetRef } from '../../../src/kube/events.js';
import { HpaIndex } from '../../../src/kube/hpa-index.js';
import type {
  KubeClient,
  KubeRequest,
  KubeResponse,
  WatchEnd,
  WatchEvent,
} from '../../../src/kube/kube-client.js';
import { silentLogger } from '../../../src/observability/logger.js';

function hpa(
  name: string,
  resourceVersion: string,
  scaleTargetRef: Record<string, string>,
  namespace = 'flink',
) {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name, namespace, resourceVersion },
    spec: { scaleTargetRef, minReplicas: 1, maxReplicas: 4 },
  };
}

/** Answers the LIST with `items`, then delivers what `emit` is given on the open watch. */
class OneWatchClient implements KubeClient {
  paths: string[] = [];
  private deliver: ((event: WatchEvent) => void) | undefined;
  constructor(private readonly items: unknown[]) {}
  request(request: KubeRequest): Promise<KubeResponse> {
    this.paths.push(request.path.split('?')[0] ?? '');
    return Promise.resolve({
      status: 200,
      headers: {},
      body: { metadata: { resourceVersion: '10' }, items: this.items },
    });
  }
  async watch(
    _path: string,
    _query: Readonly<Record<string, string>>,
    onEvent: (event: WatchEvent) => void,
    options: { readonly signal: AbortSignal },
  ): Promise<WatchEnd> {
    this.deliver = onEvent;
    await new Promise<void>((resolve) =>
      options.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    return { kind: 'closed' };
  }
  async emit(event: WatchEvent): Promise<void> {
    while (this.deliver === undefined) await new Promise((resolve) => setImmediate(resolve));
    this.deliver(event);
  }
}

const clicks: TargetRef = {
  apiVersion: 'flink.apache.org/v1beta1',
  kind: 'FlinkDeployment',
  namespace: 'flink',
  name: 'clicks',
};

describe('HpaIndex', () => {
  it('finds the HPAs whose scaleTargetRef names a target: same namespace, kind, name and API group (any version)', async () => {
    const client = new OneWatchClient([
      hpa('a', '1', { apiVersion: 'flink.apache.org/v1beta1', kind: 'FlinkDeployment', name: 'clicks' }),
      hpa('b', '2', { apiVersion: 'flink.apache.org/v1', kind: 'FlinkDeployment', name: 'clicks' }),
      hpa('other-name', '3', {
        apiVersion: 'flink.apache.org/v1beta1',
        kind: 'FlinkDeployment',
        name: 'views',
      }),
      hpa('other-kind', '4', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'clicks' }),
      hpa('other-group', '5', { apiVersion: 'example.com/v1', kind: 'FlinkDeployment', name: 'clicks' }),
      hpa(
        'other-ns',
        '6',
        { apiVersion: 'flink.apache.org/v1beta1', kind: 'FlinkDeployment', name: 'clicks' },
        'team-b',
      ),
    ]);
    const index = new HpaIndex(client, [], silentLogger);
    await index.start();
    assert.deepEqual(client.paths, ['/apis/autoscaling/v2/horizontalpodautoscalers']);
    assert.deepEqual(index.hpasScaling(clicks), ['a', 'b']);
    assert.deepEqual(index.hpasScaling({ ...clicks, name: 'views' }), ['other-name']);
    assert.deepEqual(index.hpasScaling({ ...clicks, name: 'none' }), []);

    // Repointed, then deleted: the index follows the watch.
    await client.emit({
      type: 'MODIFIED',
      object: hpa('a', '11', {
        apiVersion: 'flink.apache.org/v1beta1',
        kind: 'FlinkDeployment',
        name: 'views',
      }),
    });
    assert.deepEqual(index.hpasScaling(clicks), ['b']);
    assert.deepEqual(index.hpasScaling({ ...clicks, name: 'views' }), ['a', 'other-name']);
    await client.emit({
      type: 'DELETED',
      object: hpa('b', '12', { apiVersion: 'flink.apache.org/v1', kind: 'FlinkDeployment', name: 'clicks' }),
    });
    assert.deepEqual(index.hpasScaling(clicks), []);
    await index.stop();
  });

  it('watches only the configured namespaces', async () => {
    const client = new OneWatchClient([]);
    const index = new HpaIndex(client, ['flink', 'team-b'], silentLogger);
    await index.start();
    assert.deepEqual(client.paths.sort(), [
      '/apis/autoscaling/v2/namespaces/flink/horizontalpodautoscalers',
      '/apis/autoscaling/v2/namespaces/team-b/horizontalpodautoscalers',
    ]);
    await index.stop();
  });
});
