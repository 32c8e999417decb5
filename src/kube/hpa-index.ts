/**
 * The HorizontalPodAutoscalers of the watched namespaces, indexed by the object they scale
 * (`spec.scaleTargetRef`), so the scaling loop can refuse to write a target an HPA writes too: two
 * autoscalers on one object undo each other's decisions, and for a Flink job each one is a restart.
 * One informer per namespace (or one for all), like the targets'.
 */
import type { Logger } from '../observability/logger.js';
import type { TargetRef } from './events.js';
import { Informer } from './informer.js';
import type { KubeClient } from './kube-client.js';
import { collectionPath, stringAt } from './objects.js';
import type { KubeObject, ResourceRef } from './objects.js';

/** Who else scales a target. Real: `HpaIndex`; the unit tests give a plain function. */
export interface OtherScalers {
  /** Names of the HPAs in the target's namespace whose scaleTargetRef is the target. */
  hpasScaling(target: TargetRef): readonly string[];
}

const HPA: ResourceRef = {
  group: 'autoscaling',
  version: 'v2',
  plural: 'horizontalpodautoscalers',
  kind: 'HorizontalPodAutoscaler',
};

/** The API group of an `apiVersion` (`apps/v1` → `apps`, `v1` → the core group ``). */
function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** The index key of what an HPA scales, or of a target: namespace, API group, kind, name. */
function keyOf(namespace: string, apiVersion: string, kind: string, name: string): string {
  return JSON.stringify([namespace, groupOf(apiVersion), kind, name]);
}

/** What an HPA's scaleTargetRef names (any version of the group: the HPA resolves it through discovery). */
function scaleTargetKey(hpa: KubeObject): string | null {
  const kind = stringAt(hpa, '.spec.scaleTargetRef.kind');
  const name = stringAt(hpa, '.spec.scaleTargetRef.name');
  if (kind === undefined || name === undefined) return null;
  return keyOf(
    hpa.metadata.namespace ?? '',
    stringAt(hpa, '.spec.scaleTargetRef.apiVersion') ?? '',
    kind,
    name,
  );
}

export class HpaIndex implements OtherScalers {
  private readonly informers: Informer[];
  /** HPA (`namespace/name`) → what it scales, and the reverse. */
  private readonly targetOf = new Map<string, string>();
  private readonly hpasOf = new Map<string, Set<string>>();

  constructor(client: KubeClient, namespaces: readonly string[], logger: Logger) {
    const scopes = namespaces.length === 0 ? [undefined] : namespaces;
    this.informers = scopes.map(
      (namespace) =>
        new Informer(client, {
          path: collectionPath(HPA, namespace),
          logger,
          onEvent: (type, hpa) => {
            this.index(hpa, type === 'deleted' ? null : scaleTargetKey(hpa));
          },
        }),
    );
  }

  async start(): Promise<void> {
    for (const informer of this.informers) informer.start();
    await Promise.all(this.informers.map((informer) => informer.waitForSync()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((informer) => informer.stop()));
  }

  hpasScaling(target: TargetRef): readonly string[] {
    const names = this.hpasOf.get(keyOf(target.namespace, target.apiVersion, target.kind, target.name));
    return names === undefined ? [] : [...names].sort();
  }

  private index(hpa: KubeObject, key: string | null): void {
    const id = `${hpa.metadata.namespace ?? ''}/${hpa.metadata.name}`;
    const previous = this.targetOf.get(id);
    if (previous === key) return;
    if (previous !== undefined) {
      const names = this.hpasOf.get(previous);
      names?.delete(hpa.metadata.name);
      if (names?.size === 0) this.hpasOf.delete(previous);
      this.targetOf.delete(id);
    }
    if (key === null) return;
    this.targetOf.set(id, key);
    let names = this.hpasOf.get(key);
    if (names === undefined) this.hpasOf.set(key, (names = new Set()));
    names.add(hpa.metadata.name);
  }
}
