// The HPA index on the in-memory Kubernetes: what each HPA scales, kept current by its watch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { TargetRef } from '../../../src/kube/events.js';
import { HpaIndex } from '../../../src/kube/hpa-index.js';
import type { KubeObject } from '../../../src/kube/objects.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { InMemoryKube } from '../../fakes/kube/in-memory-kube.js';

function hpa(name: string, scaleTargetRef: Record<string, string>, namespace = 'flink'): KubeObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name, namespace },
    spec: { scaleTargetRef, minReplicas: 1, maxReplicas: 4 },
  };
}

/** A Kubernetes holding `items`. */
function kubeWith(items: readonly KubeObject[]): InMemoryKube {
  const kube = new InMemoryKube();
  for (const item of items) kube.apply(item);
  return kube;
}

/** Lets the informers open their watches. */
async function watchesOpen(kube: InMemoryKube, count: number): Promise<void> {
  for (let i = 0; i < 1000 && kube.openWatches < count; i++) await new Promise((r) => setImmediate(r));
  assert.equal(kube.openWatches, count);
}

/** The paths of the LISTs made, without their query. */
const listPaths = (kube: InMemoryKube): string[] =>
  kube.requests.filter((r) => r.verb === 'list').map((r) => r.path.split('?')[0] ?? '');

const clicks: TargetRef = {
  apiVersion: 'flink.apache.org/v1beta1',
  kind: 'FlinkDeployment',
  namespace: 'flink',
  name: 'clicks',
};

describe('HpaIndex', () => {
  it('finds the HPAs whose scaleTargetRef names a target: same namespace, kind, name and API group (any version)', async () => {
    const kube = kubeWith([
      hpa('a', { apiVersion: 'flink.apache.org/v1beta1', kind: 'FlinkDeployment', name: 'clicks' }),
      hpa('b', { apiVersion: 'flink.apache.org/v1', kind: 'FlinkDeployment', name: 'clicks' }),
      hpa('other-name', {
        apiVersion: 'flink.apache.org/v1beta1',
        kind: 'FlinkDeployment',
        name: 'views',
      }),
      hpa('other-kind', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'clicks' }),
      hpa('other-group', { apiVersion: 'example.com/v1', kind: 'FlinkDeployment', name: 'clicks' }),
      hpa(
        'other-ns',
        { apiVersion: 'flink.apache.org/v1beta1', kind: 'FlinkDeployment', name: 'clicks' },
        'team-b',
      ),
    ]);
    const index = new HpaIndex(kube, [], silentLogger);
    await index.start();
    assert.deepEqual(listPaths(kube), ['/apis/autoscaling/v2/horizontalpodautoscalers']);
    assert.deepEqual(index.hpasScaling(clicks), ['a', 'b']);
    assert.deepEqual(index.hpasScaling({ ...clicks, name: 'views' }), ['other-name']);
    assert.deepEqual(index.hpasScaling({ ...clicks, name: 'none' }), []);

    // Repointed, then deleted: the index follows the watch.
    await watchesOpen(kube, 1);
    kube.apply(
      hpa('a', {
        apiVersion: 'flink.apache.org/v1beta1',
        kind: 'FlinkDeployment',
        name: 'views',
      }),
    );
    assert.deepEqual(index.hpasScaling(clicks), ['b']);
    assert.deepEqual(index.hpasScaling({ ...clicks, name: 'views' }), ['a', 'other-name']);
    kube.deleteObject('/apis/autoscaling/v2/namespaces/flink/horizontalpodautoscalers/b');
    assert.deepEqual(index.hpasScaling(clicks), []);
    await index.stop();
  });

  it('watches only the configured namespaces', async () => {
    const ref = { apiVersion: 'flink.apache.org/v1beta1', kind: 'FlinkDeployment', name: 'clicks' };
    const kube = kubeWith([hpa('elsewhere', ref, 'team-c')]);
    const index = new HpaIndex(kube, ['flink', 'team-b'], silentLogger);
    await index.start();
    assert.deepEqual(listPaths(kube).sort(), [
      '/apis/autoscaling/v2/namespaces/flink/horizontalpodautoscalers',
      '/apis/autoscaling/v2/namespaces/team-b/horizontalpodautoscalers',
    ]);
    await watchesOpen(kube, 2);
    kube.apply(hpa('later', ref, 'team-c'));
    kube.apply(hpa('here', ref, 'flink'));
    assert.deepEqual(index.hpasScaling({ ...clicks, namespace: 'team-c' }), []);
    assert.deepEqual(index.hpasScaling(clicks), ['here']);
    await index.stop();
  });
});
