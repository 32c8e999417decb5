/**
 * The scale targets: one informer per kind (and per namespace when namespaces are configured),
 * started for a custom kind only while its CRD is installed (a watch on the CRD, so a kind whose
 * CRD appears later is picked up, and one that is removed is let go). Only objects annotated
 * `slotscaler.dev/enabled: "true"` are targets, and those whose value is neither true nor false (so
 * that value is reported, not silently ignored). Each target's config is its annotations parsed
 * through the one schema over the global defaults; an invalid one is kept with its issues, so the
 * loop can report it and skip that target alone.
 */
import { optInOf, parseTargetAnnotations } from '../config/annotations.js';
import type { ConfigIssue, RawTargetValues } from '../config/annotations.js';
import type { TargetConfig, TargetFieldKey } from '../config/schema.js';
import { compileExpressionMetric } from '../metrics/expression-metric.js';
import type { ExpressionMetric } from '../metrics/expression-metric.js';
import { FLINK_METRIC_NAMES } from '../metrics/catalogue.js';
import type { Logger } from '../observability/logger.js';
import { isProblem } from './adapters/adapter.js';
import type { TargetProblem, TargetView } from '../domain/target.js';
import type { CrdFacts, TargetAdapter } from './adapters/adapter.js';
import type { TargetRef } from './events.js';
import { Informer } from './informer.js';
import type { KubeClient } from './kube-client.js';
import { apiVersionOf, collectionPath, stringAt } from './objects.js';
import type { KubeObject } from './objects.js';

export const ENABLED_ANNOTATION = 'slotscaler.dev/enabled';

/** The metrics a target may scale on besides its expression metrics. */
export const KNOWN_METRICS: readonly string[] = FLINK_METRIC_NAMES;

/** A target's annotations that parse: its config and compiled expression metrics. */
export interface ValidTargetConfig {
  readonly ok: true;
  readonly config: TargetConfig;
  readonly expressions: readonly ExpressionMetric[];
}

/** A target's annotations that do not: every issue found. */
export interface InvalidTargetConfig {
  readonly ok: false;
  readonly issues: readonly ConfigIssue[];
}

export type ParsedTargetConfig = ValidTargetConfig | InvalidTargetConfig;

/** What every registered target has: the object as the informer holds it now, and where it is. */
export interface TargetBase {
  /** `flinkdeployment/<namespace>/<name>`. */
  readonly id: string;
  readonly adapter: TargetAdapter;
  readonly ref: TargetRef;
  readonly object: KubeObject;
  readonly crd: CrdFacts | null;
}

/**
 * One target as the loop sees it, in one of three states, so an impossible one (a view of an
 * object whose config does not parse, say) does not type-check:
 * - `invalid`: its annotations do not parse; reported and skipped;
 * - `unscalable`: its config is good but the object cannot be scaled as it is (`view` says why);
 * - `ready`: config and view both good.
 */
export type RegisteredTarget =
  | (TargetBase & { readonly state: 'invalid'; readonly parsed: InvalidTargetConfig; readonly view: null })
  | (TargetBase & {
      readonly state: 'unscalable';
      readonly parsed: ValidTargetConfig;
      readonly view: TargetProblem;
    })
  | (TargetBase & { readonly state: 'ready'; readonly parsed: ValidTargetConfig; readonly view: TargetView });

/** A target from its parsed annotations and what its adapter reads of the object. */
export function registeredTarget(
  base: TargetBase,
  parsed: ParsedTargetConfig,
  describe: (config: TargetConfig) => TargetView | TargetProblem,
): RegisteredTarget {
  if (!parsed.ok) return { ...base, state: 'invalid', parsed, view: null };
  const view = describe(parsed.config);
  return isProblem(view)
    ? { ...base, state: 'unscalable', parsed, view }
    : { ...base, state: 'ready', parsed, view };
}

/** Where the loop finds its targets. Real: `TargetRegistry`. Fake: a plain list in the unit tests. */
export interface TargetSource {
  list(): readonly RegisteredTarget[];
  get(id: string): RegisteredTarget | undefined;
}

export interface TargetRegistryOptions {
  readonly client: KubeClient;
  readonly adapters: readonly TargetAdapter[];
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
  readonly targetDefaults: RawTargetValues;
  readonly describeDefaultKey: (key: TargetFieldKey) => string;
  readonly logger: Logger;
  /** Called (batched) after targets were added, changed or removed. */
  readonly onChange?: () => void;
  /** How long after a 404 on a kind whose CRD exists the informer tries again. */
  readonly missingRetryMs?: number;
}

export function targetId(adapter: TargetAdapter, namespace: string, name: string): string {
  return `${adapter.resource.kind.toLowerCase() || adapter.resource.plural}/${namespace}/${name}`;
}

interface KindState {
  readonly adapter: TargetAdapter;
  readonly informers: Informer[];
  crdWatch: Informer | null;
  crd: CrdFacts | null;
  crdKind: string | null;
  installed: boolean;
}

/** The CRD's scale paths and kind, from its storage (or first served) version. */
function crdFacts(crd: KubeObject): { facts: CrdFacts; kind: string | null } {
  const versions = (crd.spec as { versions?: unknown } | undefined)?.versions;
  const list = Array.isArray(versions) ? (versions as Record<string, unknown>[]) : [];
  const version = list.find((v) => v['storage'] === true) ?? list[0];
  const scale = (version?.['subresources'] as { scale?: Record<string, unknown> } | undefined)?.scale;
  return {
    facts: {
      specReplicasPath: typeof scale?.['specReplicasPath'] === 'string' ? scale['specReplicasPath'] : null,
      statusReplicasPath:
        typeof scale?.['statusReplicasPath'] === 'string' ? scale['statusReplicasPath'] : null,
    },
    kind: stringAt(crd, '.spec.names.kind') ?? null,
  };
}

function isEstablished(crd: KubeObject): boolean {
  const conditions = (crd.status as { conditions?: unknown } | undefined)?.conditions;
  return (
    Array.isArray(conditions) &&
    conditions.some(
      (c: unknown) =>
        typeof c === 'object' &&
        c !== null &&
        (c as { type?: unknown }).type === 'Established' &&
        (c as { status?: unknown }).status === 'True',
    )
  );
}

export class TargetRegistry implements TargetSource {
  private readonly kinds: KindState[];
  private readonly targets = new Map<string, RegisteredTarget>();
  private readonly parseCache = new Map<string, { key: string; parsed: ParsedTargetConfig }>();
  private changeScheduled = false;
  private stopped = false;
  private readonly retryTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: TargetRegistryOptions) {
    this.kinds = options.adapters.map((adapter) => ({
      adapter,
      informers: [],
      crdWatch: null,
      crd: null,
      crdKind: null,
      installed: adapter.crd === null,
    }));
    for (const state of this.kinds) {
      const namespaces = options.namespaces.length === 0 ? [undefined] : options.namespaces;
      for (const namespace of namespaces) {
        state.informers.push(
          new Informer(options.client, {
            path: collectionPath(state.adapter.resource, namespace),
            logger: options.logger,
            onEvent: (type, object) => {
              if (type === 'deleted') this.remove(state, object);
              else this.upsert(state, object);
            },
            onMissing: () => this.retryLater(state),
          }),
        );
      }
    }
  }

  /** Starts every watch; resolves once each started informer has its first LIST (CRD watches included). */
  async start(): Promise<void> {
    const syncs: Promise<void>[] = [];
    for (const state of this.kinds) {
      const crd = state.adapter.crd;
      if (crd === null) {
        for (const informer of state.informers) {
          informer.start();
          syncs.push(informer.waitForSync());
        }
        continue;
      }
      const watch = new Informer(this.options.client, {
        path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
        fieldSelector: `metadata.name=${crd}`,
        logger: this.options.logger,
        onEvent: (type, object) => this.onCrd(state, type === 'deleted' ? null : object),
      });
      state.crdWatch = watch;
      watch.start();
      syncs.push(
        watch.waitForSync().then(async () => {
          if (!state.installed) {
            this.options.logger.info({ crd }, 'CRD not installed; its kind is skipped until it appears');
            return;
          }
          await Promise.race([
            Promise.all(state.informers.map((informer) => informer.waitForSync())),
            new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
          ]);
        }),
      );
    }
    await Promise.all(syncs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    await Promise.all(
      this.kinds.flatMap((state) => [
        ...state.informers.map((i) => i.stop()),
        state.crdWatch?.stop() ?? Promise.resolve(),
      ]),
    );
  }

  list(): readonly RegisteredTarget[] {
    return [...this.targets.values()];
  }

  get(id: string): RegisteredTarget | undefined {
    return this.targets.get(id);
  }

  /** Kinds being watched now (their CRD installed), for logs and tests. */
  watchedKinds(): readonly string[] {
    return this.kinds.filter((state) => state.installed).map((state) => state.adapter.resource.plural);
  }

  private onCrd(state: KindState, crd: KubeObject | null): void {
    const installed = crd !== null && isEstablished(crd);
    if (crd !== null) {
      const { facts, kind } = crdFacts(crd);
      state.crd = facts;
      state.crdKind = kind;
    }
    if (installed === state.installed) return;
    state.installed = installed;
    if (installed) {
      this.options.logger.info({ crd: state.adapter.crd }, 'CRD installed; watching its kind');
      for (const informer of state.informers) informer.start();
    } else {
      this.options.logger.info({ crd: state.adapter.crd }, 'CRD removed; no longer watching its kind');
      for (const informer of state.informers) {
        void informer.stop().then(() => {
          informer.clear();
        });
      }
    }
  }

  /** A kind answered 404 although its CRD is there (not served yet): try again a little later. */
  private retryLater(state: KindState): void {
    if (this.stopped || !state.installed || state.adapter.crd === null) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (this.stopped || !state.installed) return;
      for (const informer of state.informers) informer.start();
    }, this.options.missingRetryMs ?? 5_000);
    timer.unref();
    this.retryTimers.add(timer);
  }

  private upsert(state: KindState, object: KubeObject): void {
    const namespace = object.metadata.namespace ?? '';
    const id = targetId(state.adapter, namespace, object.metadata.name);
    const annotations = object.metadata.annotations ?? {};
    if (optInOf(annotations) === 'out' || object.metadata.deletionTimestamp !== undefined) {
      if (this.targets.delete(id)) {
        this.parseCache.delete(id);
        this.scheduleChange();
      }
      return;
    }
    const parsed = this.parse(id, annotations);
    const crd = state.adapter.crd === null ? null : state.crd;
    const previous = this.targets.get(id);
    const kind = object.kind ?? state.crdKind ?? state.adapter.resource.kind;
    const target = registeredTarget(
      {
        id,
        adapter: state.adapter,
        ref: {
          apiVersion: apiVersionOf(state.adapter.resource),
          kind: kind === '' ? state.adapter.resource.plural : kind,
          namespace,
          name: object.metadata.name,
          uid: object.metadata.uid,
        },
        object,
        crd,
      },
      parsed,
      (config) => state.adapter.describe(object, config, crd),
    );
    const view = target.view;
    this.targets.set(id, target);
    if (
      previous === undefined ||
      previous.parsed !== parsed ||
      JSON.stringify(collectorKey(previous.view)) !== JSON.stringify(collectorKey(view))
    ) {
      if (previous === undefined) {
        this.options.logger.info({ namespace, name: object.metadata.name, kind }, 'target added');
      }
      this.scheduleChange();
    }
    if (
      view !== null &&
      isProblem(view) &&
      previous?.view !== null &&
      previous?.view !== undefined &&
      !isProblem(previous.view)
    ) {
      this.options.logger.warn(
        { namespace, name: object.metadata.name, problem: view.problem },
        'target cannot be scaled',
      );
    }
  }

  private remove(state: KindState, object: KubeObject): void {
    const id = targetId(state.adapter, object.metadata.namespace ?? '', object.metadata.name);
    if (this.targets.delete(id)) {
      this.parseCache.delete(id);
      this.options.logger.info(
        { namespace: object.metadata.namespace, name: object.metadata.name },
        'target removed',
      );
      this.scheduleChange();
    }
  }

  /** Annotations parsed once per distinct set of our annotations (the status annotation aside). */
  private parse(id: string, annotations: Readonly<Record<string, string>>): ParsedTargetConfig {
    const ours = Object.entries(annotations)
      .filter(([key]) => key.startsWith('slotscaler.dev/') && key !== 'slotscaler.dev/status')
      .sort(([a], [b]) => a.localeCompare(b));
    const key = JSON.stringify(ours);
    const cached = this.parseCache.get(id);
    if (cached?.key === key) return cached.parsed;
    const result = parseTargetAnnotations(Object.fromEntries(ours), {
      defaults: this.options.targetDefaults,
      describeDefaultKey: this.options.describeDefaultKey,
      knownMetrics: KNOWN_METRICS,
      checkExpression: (name, source) => {
        compileExpressionMetric(name, source);
      },
    });
    const parsed: ParsedTargetConfig = result.ok
      ? {
          ok: true,
          config: result.config,
          expressions: Object.entries(result.expressions).map(([name, source]) =>
            compileExpressionMetric(name, source),
          ),
        }
      : { ok: false, issues: result.issues };
    this.parseCache.set(id, { key, parsed });
    return parsed;
  }

  private scheduleChange(): void {
    if (this.changeScheduled) return;
    this.changeScheduled = true;
    queueMicrotask(() => {
      this.changeScheduled = false;
      this.options.onChange?.();
    });
  }
}

/** What of a view matters to the collector. */
function collectorKey(view: TargetView | TargetProblem | null): unknown {
  if (view === null || isProblem(view)) return view;
  return [view.jobManagerUrl, view.jobId, view.taskSlots];
}
