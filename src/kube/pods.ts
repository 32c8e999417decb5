/**
 * The running pods of a namespace, for the Pods metrics: their names, labels and IPs, which the
 * JobManager's TaskManager ids and hosts are matched to. One LIST per namespace per tick, made only
 * for namespaces with a target whose Pods metrics were read lately.
 */
import type { PodFacts, PodLister } from '../domain/ports.js';
import { requestSuccess } from './kube-client.js';
import type { KubeClient } from './kube-client.js';
import { stringAt } from './objects.js';

export class KubePodLister implements PodLister {
  constructor(private readonly client: KubeClient) {}

  async runningPods(namespace: string): Promise<readonly PodFacts[]> {
    const list = await requestSuccess(this.client, `list pods of ${namespace}`, {
      method: 'GET',
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?fieldSelector=${encodeURIComponent('status.phase=Running')}`,
    });
    const items = (list as { items?: unknown } | null)?.items;
    if (!Array.isArray(items)) return [];
    const pods: PodFacts[] = [];
    for (const item of items as unknown[]) {
      const name = stringAt(item, '.metadata.name');
      if (name === undefined) continue;
      const labels = (item as { metadata?: { labels?: unknown } }).metadata?.labels;
      pods.push({
        name,
        labels: isStringRecord(labels) ? labels : {},
        podIp: stringAt(item, '.status.podIP') ?? null,
      });
    }
    return pods;
  }
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value as Record<string, unknown>).every((entry) => typeof entry === 'string')
  );
}
