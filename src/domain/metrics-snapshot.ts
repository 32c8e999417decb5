/**
 * The metrics of every scale target as of one collection: one immutable record per target, built
 * once per tick and then only read (by the external metrics API and the scaling loop), indexed so
 * a read is a map lookup.
 */
import type { ServedTarget } from './metrics.js';

const NONE: readonly ServedTarget[] = Object.freeze([]);

export class MetricsSnapshot {
  /** What is served before the first collection: no target. */
  static readonly EMPTY = new MetricsSnapshot([], { tick: 0, builtAtMs: 0 });

  /** Every target, in the order given. */
  readonly targets: readonly ServedTarget[];
  /** The collection it was built after (1, 2, ...); 0 for `EMPTY`. */
  readonly tick: number;
  /** When it was built, epoch ms. */
  readonly builtAtMs: number;
  /** Every metric name some target has a reading of, sorted. */
  readonly metricNames: readonly string[];
  private readonly byNamespace = new Map<string, ServedTarget[]>();
  /** `<namespace>/<name>` -> the targets of that name (several kinds may share one). */
  private readonly byName = new Map<string, ServedTarget[]>();

  constructor(targets: readonly ServedTarget[], at: { readonly tick: number; readonly builtAtMs: number }) {
    this.targets = Object.freeze(
      targets.map((target) => Object.freeze({ ...target, metrics: Object.freeze({ ...target.metrics }) })),
    );
    this.tick = at.tick;
    this.builtAtMs = at.builtAtMs;
    const names = new Set<string>();
    for (const target of this.targets) {
      for (const name of Object.keys(target.metrics)) names.add(name);
      push(this.byNamespace, target.namespace, target);
      push(this.byName, `${target.namespace}/${target.name}`, target);
    }
    this.metricNames = Object.freeze([...names].sort());
  }

  /** The targets of one namespace. */
  inNamespace(namespace: string): readonly ServedTarget[] {
    return this.byNamespace.get(namespace) ?? NONE;
  }

  /** The targets of one namespace with this name (the `target` label of their items). */
  named(namespace: string, name: string): readonly ServedTarget[] {
    return this.byName.get(`${namespace}/${name}`) ?? NONE;
  }
}

function push(index: Map<string, ServedTarget[]>, key: string, target: ServedTarget): void {
  const list = index.get(key);
  if (list === undefined) index.set(key, [target]);
  else list.push(target);
}
