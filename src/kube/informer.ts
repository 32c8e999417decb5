/**
 * A list-then-watch cache of one collection, as client-go's reflector does it: one LIST, then a
 * watch from its resourceVersion with bookmarks; when a watch ends it is resumed from the last
 * resourceVersion seen (no new LIST); only a 410 Gone (history compacted) lists again. Every
 * failure (a refused LIST or watch, a network error, an `onEvent` that throws) backs off
 * exponentially with jitter and tries again: the informer never gives up while started. No
 * periodic LIST or GET: the watch is the only read.
 *
 * A collection whose resource is not served (404 on the LIST: its CRD is not installed) makes an
 * informer given `onMissing` report it and stop; whoever watches the CRD starts it again when it
 * appears. Without `onMissing` a 404 is one more failure, retried.
 */
import type { Logger } from '../observability/logger.js';
import { silentLogger } from '../observability/logger.js';
import type { KubeClient, WatchEvent } from './kube-client.js';
import { statusMessage } from './kube-client.js';
import { isKubeObject } from './objects.js';
import type { KubeObject } from './objects.js';

export type InformerEventType = 'added' | 'updated' | 'deleted';

export interface InformerOptions {
  /** Collection path, e.g. `/apis/apps/v1/namespaces/ns/deployments`. */
  readonly path: string;
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
  readonly onEvent: (type: InformerEventType, object: KubeObject) => void;
  /** The collection is not served (404 on LIST): the informer has stopped. Absent: retried as a failure. */
  readonly onMissing?: () => void;
  readonly logger?: Logger;
  /** Server-side watch timeout; the server ends the stream after it and the informer resumes. Default 300..600 s. */
  readonly watchTimeoutSeconds?: () => number;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** Waits between retries (injectable for tests). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Read through a call, so the compiler does not narrow it across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function keyOf(object: KubeObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

const DECIMAL = /^[1-9][0-9]*$/;

/**
 * Whether `candidate` is an older version of the object than `cached`. resourceVersions are opaque
 * in general; etcd's are decimal revisions, and for those the API server itself compares them (the
 * watch cache, and apimachinery's `CompareResourceVersion`). Anything else is never called older.
 */
export function isOlderVersion(candidate: KubeObject, cached: KubeObject): boolean {
  const older = candidate.metadata.resourceVersion ?? '';
  const newer = cached.metadata.resourceVersion ?? '';
  return DECIMAL.test(older) && DECIMAL.test(newer) && BigInt(older) < BigInt(newer);
}

/** Older than the cached object (see `isOlderVersion`), or the very same version of it. */
function notNewer(candidate: KubeObject, cached: KubeObject): boolean {
  const version = candidate.metadata.resourceVersion ?? '';
  return isOlderVersion(candidate, cached) || (version !== '' && version === cached.metadata.resourceVersion);
}

/** `setTimeout` as a promise that resolves early when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', done);
      resolve();
    }, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
  });
}

export class Informer {
  private readonly store = new Map<string, KubeObject>();
  private readonly logger: Logger;
  private controller: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private resourceVersion = '';
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private listTried = false;
  private listWaiters: ((synced: boolean) => void)[] = [];
  /** LISTs and watches started, for tests and the API-load figures. */
  readonly counts = { lists: 0, watches: 0 };

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  get running(): boolean {
    return this.loop !== null;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Starts listing and watching; a no-op while running. */
  start(): void {
    if (this.loop !== null) return;
    const controller = new AbortController();
    this.controller = controller;
    this.loop = this.run(controller.signal).finally(() => {
      if (this.controller === controller) {
        this.controller = null;
        this.loop = null;
      }
    });
  }

  /** Stops the watch; the cache is kept (and cleared with `clear`). */
  async stop(): Promise<void> {
    this.controller?.abort();
    await this.loop;
    // Whoever waits for a first LIST that will not come now learns it did not fill the cache.
    this.markListTried();
  }

  /** Forgets every object, reporting each as deleted. */
  clear(): void {
    for (const object of this.store.values()) this.options.onEvent('deleted', object);
    this.store.clear();
    this.resourceVersion = '';
    this.synced = false;
  }

  get(namespace: string, name: string): KubeObject | undefined {
    return this.store.get(`${namespace}/${name}`);
  }

  list(): readonly KubeObject[] {
    return [...this.store.values()];
  }

  /**
   * Puts an object this process just wrote (the answer of its own write) into the cache ahead of
   * the watch, which will bring the same object again. A watch event older than it, delivered
   * after it, does not put the older version back (see `isOlderVersion`).
   */
  inject(value: unknown): void {
    if (!isKubeObject(value)) return;
    const key = keyOf(value);
    const existing = this.store.get(key);
    if (existing !== undefined && notNewer(value, existing)) return;
    this.store.set(key, value);
    this.options.onEvent(existing === undefined ? 'added' : 'updated', value);
  }

  /** Resolves once the first LIST is in the cache (or at once when it already is). */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /**
   * Resolves once the first LIST was tried: true when it is in the cache, false when it failed
   * (the informer goes on retrying) or the informer stopped first. For a caller that must not
   * wait forever on a missing RBAC rule.
   */
  waitForFirstList(): Promise<boolean> {
    if (this.listTried || this.synced) return Promise.resolve(this.synced);
    return new Promise((resolve) => this.listWaiters.push(resolve));
  }

  private async run(signal: AbortSignal): Promise<void> {
    const sleep = this.options.sleep ?? abortableSleep;
    const initialMs = this.options.backoffInitialMs ?? 500;
    const maxMs = this.options.backoffMaxMs ?? 30_000;
    let failures = 0;
    const backoff = async (): Promise<void> => {
      const base = Math.min(maxMs, initialMs * 2 ** failures);
      failures += 1;
      await sleep(base / 2 + (Math.random() * base) / 2, signal);
    };

    while (!signal.aborted) {
      try {
        if (this.resourceVersion === '') {
          let listed: 'ok' | 'missing' | 'failed';
          try {
            listed = await this.relist();
          } finally {
            this.markListTried();
          }
          const onMissing = this.options.onMissing;
          if (listed === 'missing' && onMissing === undefined) {
            this.logger.warn({ path: this.options.path }, 'list answered 404; retrying');
            await backoff();
            continue;
          }
          if (listed === 'missing' && onMissing !== undefined) {
            this.logger.info(
              { path: this.options.path },
              'resource not served (CRD not installed?); not watching it',
            );
            onMissing();
            return;
          }
          if (listed === 'failed') {
            await backoff();
            continue;
          }
        }
        if (isAborted(signal)) return;
        const watchStartedMs = Date.now();
        const end = await this.watchOnce(signal);
        // A stream that ends at once (a server shutting down, or one that answers every watch with
        // 410) is not a reason to spin.
        const endedAtOnce = Date.now() - watchStartedMs < 1000 && !isAborted(signal);
        if (end === 'gone') {
          this.resourceVersion = '';
          if (endedAtOnce) await backoff();
          continue;
        }
        if (end === 'closed' && endedAtOnce) {
          await backoff();
          continue;
        }
        if (end === 'failed') {
          await backoff();
          continue;
        }
        failures = 0;
      } catch (err) {
        if (isAborted(signal)) return;
        this.logger.warn({ err, path: this.options.path, failures }, 'watch failed; retrying');
        await backoff();
      }
    }
  }

  /** One LIST (all pages) into the cache: adds, updates and deletes reported. */
  private async relist(): Promise<'ok' | 'missing' | 'failed'> {
    const items: KubeObject[] = [];
    let continueToken = '';
    let resourceVersion = '';
    do {
      const query = new URLSearchParams({ limit: '500' });
      if (this.options.fieldSelector !== undefined) query.set('fieldSelector', this.options.fieldSelector);
      if (this.options.labelSelector !== undefined) query.set('labelSelector', this.options.labelSelector);
      if (continueToken !== '') query.set('continue', continueToken);
      this.counts.lists += 1;
      const answer = await this.client.request({
        method: 'GET',
        path: `${this.options.path}?${query.toString()}`,
      });
      if (answer.status === 404) return 'missing';
      if (answer.status === 410 && continueToken !== '') {
        continueToken = '';
        items.length = 0;
        continue;
      }
      if (answer.status !== 200) {
        this.logger.warn(
          { path: this.options.path, status: answer.status, message: statusMessage(answer.body) },
          'list failed',
        );
        return 'failed';
      }
      const body = answer.body as {
        metadata?: { resourceVersion?: string; continue?: string };
        items?: unknown[];
      };
      for (const item of body.items ?? []) if (isKubeObject(item)) items.push(item);
      continueToken = body.metadata?.continue ?? '';
      resourceVersion = body.metadata?.resourceVersion ?? '';
    } while (continueToken !== '');

    const seen = new Set<string>();
    for (const item of items) {
      const key = keyOf(item);
      seen.add(key);
      const existing = this.store.get(key);
      this.store.set(key, item);
      if (existing === undefined) this.options.onEvent('added', item);
      else if (existing.metadata.resourceVersion !== item.metadata.resourceVersion)
        this.options.onEvent('updated', item);
    }
    for (const [key, object] of [...this.store]) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.options.onEvent('deleted', object);
      }
    }
    this.resourceVersion = resourceVersion;
    this.markSynced();
    return 'ok';
  }

  private markListTried(): void {
    if (this.listTried) return;
    this.listTried = true;
    for (const waiter of this.listWaiters.splice(0)) waiter(this.synced);
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    for (const waiter of this.syncWaiters.splice(0)) waiter();
  }

  private async watchOnce(signal: AbortSignal): Promise<'closed' | 'gone' | 'failed'> {
    const timeoutSeconds = this.options.watchTimeoutSeconds?.() ?? 300 + Math.floor(Math.random() * 300);
    const query: Record<string, string> = {
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(timeoutSeconds),
    };
    if (this.options.fieldSelector !== undefined) query['fieldSelector'] = this.options.fieldSelector;
    if (this.options.labelSelector !== undefined) query['labelSelector'] = this.options.labelSelector;
    const seen = { gone: false };
    this.counts.watches += 1;
    const end = await this.client.watch(
      this.options.path,
      query,
      (event) => {
        if (this.apply(event) === 'gone') seen.gone = true;
      },
      // Bookmarks come about once a minute; a stream silent for longer than its own timeout is dead.
      { signal, idleTimeoutMs: (timeoutSeconds + 30) * 1000 },
    );
    if (seen.gone) return 'gone';
    if (end.kind === 'http') {
      if (end.status === 410) return 'gone';
      if (end.status === 404) {
        this.resourceVersion = '';
        return 'closed';
      }
      this.logger.warn(
        { path: this.options.path, status: end.status, message: statusMessage(end.body) },
        'watch refused',
      );
      return 'failed';
    }
    return 'closed';
  }

  private apply(event: WatchEvent): 'ok' | 'gone' {
    if (event.type === 'ERROR') {
      const code = (event.object as { code?: unknown } | null)?.code;
      return code === 410 ? 'gone' : 'ok';
    }
    // A bookmark carries only a resourceVersion (no name), so the version is read before the shape.
    const version = (event.object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata
      ?.resourceVersion;
    const object = event.object;
    if (event.type === 'BOOKMARK') {
      if (typeof version === 'string' && version !== '') this.resourceVersion = version;
      return 'ok';
    }
    if (!isKubeObject(object)) return 'ok';
    if (typeof version === 'string' && version !== '') this.resourceVersion = version;
    const key = keyOf(object);
    const existing = this.store.get(key);
    if (event.type === 'DELETED') {
      // A deletion older than our own re-creation, injected ahead of the watch, does not remove it.
      if (existing !== undefined && isOlderVersion(object, existing)) return 'ok';
      this.store.delete(key);
      this.options.onEvent('deleted', object);
      return 'ok';
    }
    // Our own write's answer, injected ahead of the watch, is as new as this event or newer: keep it.
    if (existing !== undefined && notNewer(object, existing)) return 'ok';
    this.store.set(key, object);
    this.options.onEvent(existing === undefined ? 'added' : 'updated', object);
    return 'ok';
  }
}
