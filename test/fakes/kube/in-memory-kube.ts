/**
 * The in-memory twin of the `KubeClient` port: a Kubernetes API server without the HTTP, for tests
 * of the code above the client (informers, the registry, the writer, leader election, the loop).
 *
 * What it keeps as the real one does: one revision counter (etcd's) that every write moves on and
 * stamps as the object's `resourceVersion`; lists with a collection resourceVersion, `limit` and
 * `continue`; watches that replay every change after the resourceVersion they start from (an
 * ERROR event with 410 Expired when that part of the history was compacted), send bookmarks on
 * request, and follow label and field selectors (an object that stops matching is DELETED for that
 * watch); guarded writes (a `metadata.resourceVersion` in a PUT or merge patch that is not the
 * current one is 409 Conflict); generation moved by spec changes; the status and scale
 * subresources; a CustomResourceDefinition that, once created, serves its kind.
 *
 * Faults are injected per verb, resource, namespace and name, for a number of requests: any status
 * (409, 410, 429 with `Retry-After`, 5xx: a `metav1.Status` as the server writes it) or a network
 * failure (`KubeUnreachableError`, worded as `HttpKubeClient` words it). A hook may instead change
 * the store just before a request is served (someone else's write wins the race).
 *
 * The test's own writes (`apply`, `patchObject`, `deleteObject`) are another client's: they go
 * around the faults and the request log, and watchers see them.
 */
import { KubeUnreachableError } from '../../../src/errors.js';
import type { Clock } from '../../../src/domain/ports.js';
import type {
  KubeClient,
  KubeRequest,
  KubeResponse,
  WatchEnd,
  WatchEvent,
} from '../../../src/kube/kube-client.js';
import type { KubeObject, ObjectMeta } from '../../../src/kube/objects.js';
import { valueAt } from '../../../src/kube/objects.js';
import {
  alreadyExists,
  JSON_HEADERS,
  modified,
  preconditionFailed,
  notFound,
  notServed,
  statusAnswer,
  tooOld,
} from './api-status.js';
import type { StatusOptions } from './api-status.js';
import { BUILT_IN, REVIEWS } from './resources.js';
import type { ServedResource } from './resources.js';
import { fieldFilter, labelFilter, SelectorError } from './selectors.js';

export { customResourceDefinition, FLINK_DEPLOYMENT_CRD } from './resources.js';
export type { ServedResource } from './resources.js';
import type { ObjectFilter } from './selectors.js';

/** The verbs of the API server's authorization, which faults match on. */
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

/** What a request is, as faults see it. */
export interface RequestFacts {
  readonly verb: Verb;
  readonly method: KubeRequest['method'] | 'WATCH';
  readonly path: string;
  readonly group: string;
  readonly version: string;
  /** The plural, and `plural/subresource` for a subresource. */
  readonly resource: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly query: Readonly<Record<string, string>>;
  /** The body as it went over the wire (JSON). */
  readonly body: unknown;
  /** The body's media type, as `HttpKubeClient` sends it (none without a body). */
  readonly contentType: string | undefined;
}

export interface RequestMatch {
  readonly verb?: Verb | readonly Verb[];
  /** `flinkdeployments`, or `deployments/scale` for the subresource. */
  readonly resource?: string;
  readonly namespace?: string;
  readonly name?: string;
  /** Matching requests let through before the fault starts. Default 0. */
  readonly skip?: number;
  /** Matching requests the fault answers; default 1, `Infinity` for an outage (end it with `remove`). */
  readonly times?: number;
}

/** An answer in place of the server's: a status (with a `metav1.Status` body unless `body` is given), or no answer at all. */
export type Fault =
  | (StatusOptions & {
      readonly status: number;
      readonly body?: unknown;
      readonly headers?: Readonly<Record<string, string>>;
    })
  | {
      /** The network failure, as `HttpKubeClient` reports it: `PATCH <path>: <network>`. */
      readonly network: string;
    };

/** Runs in place of a fault; returns the fault to answer with, or undefined to serve the request. */
export type FaultHook = (request: RequestFacts) => Fault | undefined;

export interface InjectedFault {
  /** Requests the rule has matched so far (skipped ones not counted). */
  readonly hits: number;
  remove(): void;
}

export interface InMemoryKubeOptions {
  /** For `creationTimestamp`; default the system clock. */
  readonly clock?: Clock;
  /** The revision before the first write. Default 1000. */
  readonly firstRevision?: number;
  /** Names the server in `KubeUnreachableError`s. */
  readonly origin?: string;
}

interface Change {
  readonly revision: number;
  readonly storeKey: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KubeObject;
  readonly previous: KubeObject | undefined;
}

interface Watcher {
  readonly storeKey: string;
  readonly resource: ServedResource;
  readonly namespace: string | undefined;
  readonly filter: ObjectFilter;
  readonly bookmarks: boolean;
  readonly onEvent: (event: WatchEvent) => void;
  readonly end: (end: WatchEnd | Error) => void;
}

interface Rule {
  readonly match: RequestMatch;
  readonly fault: Fault | FaultHook;
  skipped: number;
  hits: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Json = Record<string, unknown>;

const CRD_STORE = 'apiextensions.k8s.io/customresourcedefinitions';

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What went over the wire: `HttpKubeClient` sends JSON. */
function wire<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const base: Json = isObject(target) ? target : {};
  const out = new Map(Object.entries(base));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) out.delete(key);
    else out.set(key, mergePatch(base[key], value));
  }
  return Object.fromEntries(out);
}

function setAt(object: Json, path: string, value: unknown): Json {
  const parts = path.replace(/^\./, '').split('.');
  const patch: Json = {};
  let cursor = patch;
  parts.forEach((part, index) => {
    if (index === parts.length - 1) cursor[part] = value;
    else cursor = cursor[part] = {} as Json;
  });
  return mergePatch(object, patch) as Json;
}

function storeKeyOf(resource: Pick<ServedResource, 'group' | 'plural'>): string {
  return `${resource.group}/${resource.plural}`;
}

function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/** Everything but metadata and status: what moves `generation`. */
function specPart(object: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = object as unknown as Json;
  return JSON.stringify(rest);
}

export class InMemoryKube implements KubeClient {
  /** Every request and watch the client made, oldest first. */
  readonly requests: RequestFacts[] = [];
  private readonly resources = new Map<string, ServedResource>();
  private readonly stores = new Map<string, Map<string, KubeObject>>();
  private readonly history: Change[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly rules: Rule[] = [];
  private readonly snapshots = new Map<string, { revision: number; items: KubeObject[] }>();
  private revisionCounter: number;
  /** Watches and lists from before this revision are answered 410 Expired. */
  private compactedBefore: number;
  private uids = 0;
  /** Watch events held back while the watches lag (`holdWatchEvents`). */
  private held: [Watcher, WatchEvent][] | null = null;
  private readonly clock: Clock;
  readonly origin: string;

  constructor(options: InMemoryKubeOptions = {}) {
    this.revisionCounter = options.firstRevision ?? 1000;
    this.compactedBefore = this.revisionCounter;
    this.clock = options.clock ?? { nowMs: () => Date.now() };
    this.origin = options.origin ?? 'https://kube.test:6443';
    for (const resource of [...BUILT_IN, ...REVIEWS]) this.serve(resource);
  }

  /**
   * How a TokenReview is answered: the user the token stands for, or null (not authenticated), or
   * the error the authenticator reports. Default: no token is known.
   */
  reviewToken: (token: string) => Json | null | { readonly error: string } = () => null;

  /**
   * How a SubjectAccessReview (its `spec`) is answered. Default: no opinion, so not allowed (as an
   * RBAC authorizer without a matching rule).
   */
  reviewAccess: (spec: Json) => { allowed: boolean; denied?: boolean; reason?: string } = () => ({
    allowed: false,
  });

  /** The newest revision (what a LIST now answers as its resourceVersion). */
  get revision(): number {
    return this.revisionCounter;
  }

  /** Serves a kind (a built-in one the fake does not know, or a custom one without its CRD object). */
  serve(resource: ServedResource): void {
    this.resources.set(`${resource.group}/${resource.version}/${resource.plural}`, resource);
    if (!this.stores.has(storeKeyOf(resource))) this.stores.set(storeKeyOf(resource), new Map());
  }

  // ---------------------------------------------------------------------------------------------
  // Faults, history, watches: what a test controls
  // ---------------------------------------------------------------------------------------------

  /** Answers matching requests with `fault` (or runs the hook) instead of serving them. */
  inject(match: RequestMatch, fault: Fault | FaultHook): InjectedFault {
    const rule: Rule = { match, fault, skipped: 0, hits: 0 };
    this.rules.push(rule);
    return {
      get hits() {
        return rule.hits;
      },
      remove: () => {
        const index = this.rules.indexOf(rule);
        if (index >= 0) this.rules.splice(index, 1);
      },
    };
  }

  /** Forgets the history before `revision` (default: all of it): watches and continues from before it get 410. */
  compact(revision = this.revisionCounter + 1): void {
    this.compactedBefore = Math.max(this.compactedBefore, revision);
    while (this.history.length > 0 && (this.history[0]?.revision ?? Infinity) < this.compactedBefore) {
      this.history.shift();
    }
  }

  /** Sends a BOOKMARK at the current revision to every watch that asked for bookmarks. */
  bookmark(): void {
    for (const watcher of this.watchers) {
      if (!watcher.bookmarks) continue;
      this.send(watcher, {
        type: 'BOOKMARK',
        object: {
          kind: watcher.resource.kind,
          apiVersion: apiVersionOf(watcher.resource),
          metadata: { resourceVersion: String(this.revisionCounter) },
        },
      });
    }
  }

  /**
   * Holds back what the open watches would be sent, until `releaseWatchEvents`: a watch that lags
   * behind the writes, so a client sees the answer of its own write before the events before it.
   */
  holdWatchEvents(): void {
    this.held ??= [];
  }

  releaseWatchEvents(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const [watcher, event] of held) if (this.watchers.has(watcher)) watcher.onEvent(event);
  }

  /**
   * Sends an event no write to this store makes to every open watch: one with an opaque
   * resourceVersion (as an API whose storage is not etcd may send), say.
   */
  sendEvent(event: WatchEvent): void {
    for (const watcher of [...this.watchers]) this.send(watcher, wire(event));
  }

  /** Ends every open watch as the server does at its timeout (the stream closes cleanly). */
  closeWatches(): void {
    for (const watcher of [...this.watchers]) watcher.end({ kind: 'closed' });
  }

  /** Breaks every open watch as a lost connection does. */
  breakWatches(detail = 'read ECONNRESET'): void {
    for (const watcher of [...this.watchers]) {
      watcher.end(new KubeUnreachableError(this.origin, `watch ${watcher.storeKey}: ${detail}`));
    }
  }

  /** Watches open now. */
  get openWatches(): number {
    return this.watchers.size;
  }

  /** Requests of one verb (and resource), for load assertions. */
  count(verb: Verb, resource?: string): number {
    return this.requests.filter((r) => r.verb === verb && (resource === undefined || r.resource === resource))
      .length;
  }

  // ---------------------------------------------------------------------------------------------
  // Another client's writes
  // ---------------------------------------------------------------------------------------------

  /** Creates or replaces an object wholesale, status included (an operator's or an administrator's write). */
  apply(object: KubeObject): KubeObject {
    const resource = this.resourceOfKind(object.apiVersion ?? '', object.kind ?? '');
    const copy = wire(object);
    const existing = this.storeOf(resource).get(objectKey(copy.metadata.namespace, copy.metadata.name));
    return existing === undefined ? this.insert(resource, copy) : this.replace(resource, existing, copy);
  }

  /** A merge patch of an object by its path (`objectPath(...)`), status included. */
  patchObject(path: string, patch: Json): KubeObject {
    const { resource, namespace, name } = this.locate(path);
    const existing = this.storeOf(resource).get(objectKey(namespace, name ?? ''));
    if (existing === undefined || name === undefined) throw new Error(`no object at ${path}`);
    return this.replace(resource, existing, mergePatch(existing, wire(patch)) as KubeObject);
  }

  deleteObject(path: string): void {
    const { resource, namespace, name } = this.locate(path);
    const existing = this.storeOf(resource).get(objectKey(namespace, name ?? ''));
    if (existing === undefined) throw new Error(`no object at ${path}`);
    this.remove(resource, existing);
  }

  /** The object as stored now (a copy), or undefined. */
  read(path: string): KubeObject | undefined {
    const { resource, namespace, name } = this.locate(path);
    const object = this.storeOf(resource).get(objectKey(namespace, name ?? ''));
    return object === undefined ? undefined : wire(object);
  }

  /** Every object of a kind (copies), by its collection path (a namespace in the path narrows it). */
  objects(collection: string): KubeObject[] {
    const { resource, namespace } = this.locate(collection);
    return [...this.storeOf(resource).values()]
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .map(wire);
  }

  // ---------------------------------------------------------------------------------------------
  // KubeClient
  // ---------------------------------------------------------------------------------------------

  async request(request: KubeRequest): Promise<KubeResponse> {
    const [path = '', search = ''] = request.path.split('?');
    const query = Object.fromEntries(new URLSearchParams(search));
    const target = this.parsePath(path);
    const body = wire(request.body);
    const verb: Verb =
      request.method === 'GET'
        ? target?.name === undefined
          ? 'list'
          : 'get'
        : request.method === 'POST'
          ? 'create'
          : request.method === 'PUT'
            ? 'update'
            : request.method === 'PATCH'
              ? 'patch'
              : 'delete';
    const facts: RequestFacts = {
      verb,
      method: request.method,
      path: request.path,
      group: target?.group ?? '',
      version: target?.version ?? '',
      resource:
        target === null
          ? ''
          : target.subresource === undefined
            ? target.plural
            : `${target.plural}/${target.subresource}`,
      namespace: target?.namespace,
      name: target?.name,
      query,
      body,
      contentType:
        request.body === undefined
          ? undefined
          : (request.contentType ??
            (request.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json')),
    };
    this.requests.push(facts);
    // An answer comes later than the call, as over the wire.
    await Promise.resolve();
    const fault = this.faultFor(facts);
    if (fault !== undefined) {
      if ('network' in fault) {
        throw new KubeUnreachableError(this.origin, `${request.method} ${request.path}: ${fault.network}`);
      }
      return this.faultAnswer(fault);
    }
    const resource =
      target === null ? undefined : this.resources.get(`${target.group}/${target.version}/${target.plural}`);
    if (target === null || resource === undefined) return notServed();
    try {
      return this.serveRequest(verb, resource, target, query, body, facts.contentType ?? 'application/json');
    } catch (err) {
      if (err instanceof SelectorError) return statusAnswer(400, { message: err.message });
      throw err;
    }
  }

  async watch(
    path: string,
    query: Readonly<Record<string, string>>,
    listener: (event: WatchEvent) => void,
    options: { readonly signal: AbortSignal; readonly idleTimeoutMs: number },
  ): Promise<WatchEnd> {
    // What the listener throws ends the watch with that error, as it does over HTTP.
    let thrown: Error | undefined;
    let endWatch: ((end: Error) => void) | undefined;
    const onEvent = (event: WatchEvent): void => {
      if (thrown !== undefined) return;
      try {
        listener(event);
      } catch (err) {
        thrown = err instanceof Error ? err : new Error(String(err));
        endWatch?.(thrown);
      }
    };
    const target = this.parsePath(path);
    const search = new URLSearchParams({ ...query, watch: 'true' });
    const facts: RequestFacts = {
      verb: 'watch',
      method: 'WATCH',
      path: `${path}?${search.toString()}`,
      group: target?.group ?? '',
      version: target?.version ?? '',
      resource: target?.plural ?? '',
      namespace: target?.namespace,
      name: target?.name,
      query: { ...query },
      body: undefined,
      contentType: undefined,
    };
    this.requests.push(facts);
    await Promise.resolve();
    if (options.signal.aborted) return { kind: 'closed' };
    const fault = this.faultFor(facts);
    if (fault !== undefined) {
      if ('network' in fault) throw new KubeUnreachableError(this.origin, `watch ${path}: ${fault.network}`);
      const answer = this.faultAnswer(fault);
      return { kind: 'http', status: answer.status, body: answer.body };
    }
    const resource =
      target === null ? undefined : this.resources.get(`${target.group}/${target.version}/${target.plural}`);
    if (target === null || resource === undefined || target.name !== undefined) {
      return { kind: 'http', status: 404, body: notServed().body };
    }
    let filter: ObjectFilter;
    try {
      filter = this.filterOf(resource, target.namespace, query);
    } catch (err) {
      if (!(err instanceof SelectorError)) throw err;
      const answer = statusAnswer(400, { message: err.message });
      return { kind: 'http', status: 400, body: answer.body };
    }
    const from = query['resourceVersion'] ?? '';
    const storeKey = storeKeyOf(resource);
    if (from === '' || from === '0') {
      // No resourceVersion: the current state as ADDED events first, then the changes.
      for (const object of this.storeOf(resource).values()) {
        if (filter(object)) onEvent({ type: 'ADDED', object: this.asEvent(object) });
      }
    } else {
      const revision = Number(from);
      if (!Number.isFinite(revision)) {
        return {
          kind: 'http',
          status: 400,
          body: statusAnswer(400, { message: `invalid resource version: ${from}` }).body,
        };
      }
      if (revision < this.compactedBefore - 1) {
        // As the watch cache does it: the stream opens, says 410 Expired, and ends.
        onEvent({ type: 'ERROR', object: tooOld(revision, this.compactedBefore - 1) });
        if (thrown !== undefined) throw thrown;
        return { kind: 'closed' };
      }
      for (const change of this.history) {
        if (change.revision <= revision || change.storeKey !== storeKey) continue;
        const event = this.eventFor(change, filter);
        if (event !== null) onEvent(event);
      }
    }
    if (thrown !== undefined) throw thrown;
    return new Promise<WatchEnd>((resolve, reject) => {
      const watcher: Watcher = {
        storeKey,
        resource,
        namespace: target.namespace,
        filter,
        bookmarks: query['allowWatchBookmarks'] === 'true',
        onEvent,
        end: (end) => {
          if (!this.watchers.delete(watcher)) return;
          options.signal.removeEventListener('abort', abort);
          if (end instanceof Error) reject(end);
          else resolve(end);
        },
      };
      const abort = (): void => watcher.end({ kind: 'closed' });
      endWatch = watcher.end;
      this.watchers.add(watcher);
      options.signal.addEventListener('abort', abort, { once: true });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Serving
  // ---------------------------------------------------------------------------------------------

  private serveRequest(
    verb: Verb,
    resource: ServedResource,
    target: ParsedPath,
    query: Readonly<Record<string, string>>,
    body: unknown,
    contentType: string,
  ): KubeResponse {
    const { namespace, name, subresource } = target;
    const store = this.storeOf(resource);
    const existing = name === undefined ? undefined : store.get(objectKey(namespace, name));
    const missing = (): KubeResponse => notFound(resource.group, resource.plural, name ?? '');
    if (subresource !== undefined && subresource !== 'status' && subresource !== 'scale') return notServed();
    if (subresource === 'scale' && resource.scale === undefined) return notServed();
    if (subresource === 'status' && !resource.statusSubresource) return notServed();
    if (REVIEWS.includes(resource)) return this.review(verb, resource, body);

    switch (verb) {
      case 'list':
        return this.list(resource, namespace, query);
      case 'get':
        if (existing === undefined) return missing();
        return ok(200, subresource === 'scale' ? this.scaleOf(resource, existing) : existing);
      case 'create': {
        if (!isObject(body) || !isObject(body['metadata'])) {
          return statusAnswer(400, { message: 'the body of the request was in an unknown format' });
        }
        const metadata = body['metadata'] as Mutable<ObjectMeta> & { generateName?: string };
        if (resource.namespaced && metadata.namespace !== undefined && metadata.namespace !== namespace) {
          return statusAnswer(400, {
            message: 'the namespace of the provided object does not match the namespace sent on the request',
          });
        }
        let objectName = metadata.name as string | undefined;
        if ((objectName === undefined || objectName === '') && metadata.generateName !== undefined) {
          objectName = `${metadata.generateName}${(this.uids + 1).toString(36).padStart(5, '0')}`;
        }
        if (objectName === undefined || objectName === '') {
          return statusAnswer(422, {
            message: `${resource.kind} "" is invalid: metadata.name: Required value`,
          });
        }
        if (store.has(objectKey(namespace, objectName))) {
          return alreadyExists(resource.group, resource.plural, objectName);
        }
        const object = {
          ...body,
          apiVersion: apiVersionOf(resource),
          kind: resource.kind,
          metadata: { ...metadata, name: objectName, ...(resource.namespaced ? { namespace } : {}) },
        } as unknown as Json;
        // With a status subresource, the status of a new object is the server's to fill.
        if (resource.statusSubresource) delete object['status'];
        return ok(201, this.insert(resource, object as unknown as KubeObject));
      }
      case 'update':
      case 'patch': {
        if (existing === undefined) return missing();
        let proposed: unknown;
        if (verb === 'patch') {
          if (contentType !== 'application/merge-patch+json') {
            return statusAnswer(415, {
              message: `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json`,
            });
          }
          const current = subresource === 'scale' ? this.scaleOf(resource, existing) : existing;
          proposed = mergePatch(current, body);
        } else {
          proposed = body;
        }
        if (!isObject(proposed) || !isObject(proposed['metadata'])) {
          return statusAnswer(400, { message: 'the body of the request was in an unknown format' });
        }
        const asked = proposed['metadata']['resourceVersion'];
        const current = existing.metadata.resourceVersion;
        if (verb === 'update' && (asked === undefined || asked === '') && resource.custom) {
          return statusAnswer(422, {
            message: `${resource.kind}.${resource.group} "${existing.metadata.name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
          });
        }
        if (asked !== undefined && asked !== '' && asked !== current) {
          return modified(resource.group, resource.plural, existing.metadata.name);
        }
        if (subresource === 'scale') {
          const replicas = valueAt(proposed, '.spec.replicas');
          if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
            return statusAnswer(422, {
              message: `Scale "${existing.metadata.name}" is invalid: spec.replicas`,
            });
          }
          const scale = resource.scale;
          if (scale === undefined) return notServed();
          const written = this.replace(
            resource,
            existing,
            setAt(existing as unknown as Json, scale.specReplicasPath, replicas) as unknown as KubeObject,
          );
          return ok(200, this.scaleOf(resource, written));
        }
        let next = proposed as unknown as KubeObject;
        if (subresource === 'status') {
          next = {
            ...existing,
            metadata: { ...existing.metadata, ...pickLabelsAnnotations(next) },
            status: next.status,
          };
        } else if (resource.statusSubresource) {
          // The status is the status subresource's to write.
          const { status: _ignored, ...rest } = next;
          next = existing.status === undefined ? rest : { ...rest, status: existing.status };
        }
        return ok(200, this.replace(resource, existing, next));
      }
      case 'delete': {
        if (existing === undefined) return missing();
        // DeleteOptions.preconditions: the API server refuses with 409 when the object changed.
        const preconditions = isObject(body) && isObject(body['preconditions']) ? body['preconditions'] : {};
        const { uid, resourceVersion } = preconditions;
        const {
          name: objectName,
          uid: objectUid = '',
          resourceVersion: objectVersion = '',
        } = existing.metadata;
        if (typeof uid === 'string' && uid !== objectUid) {
          return preconditionFailed(resource.group, resource.plural, objectName, 'UID', uid, objectUid);
        }
        if (typeof resourceVersion === 'string' && resourceVersion !== objectVersion) {
          return preconditionFailed(
            resource.group,
            resource.plural,
            objectName,
            'ResourceVersion',
            resourceVersion,
            objectVersion,
          );
        }
        return ok(200, this.remove(resource, existing));
      }
      case 'watch':
        return statusAnswer(405, { message: 'watch through watch()' });
    }
  }

  /** A TokenReview or SubjectAccessReview: created, answered, never stored. */
  private review(verb: Verb, resource: ServedResource, body: unknown): KubeResponse {
    if (verb !== 'create') {
      return statusAnswer(405, {
        message: `the server does not allow this method on the requested resource`,
      });
    }
    const spec = isObject(body) && isObject(body['spec']) ? body['spec'] : {};
    let status: Json;
    if (resource.kind === 'TokenReview') {
      const token = spec['token'];
      const user = typeof token === 'string' ? this.reviewToken(token) : null;
      status =
        user === null
          ? { user: {} }
          : 'error' in user
            ? { user: {}, error: user['error'] }
            : { authenticated: true, user, audiences: spec['audiences'] ?? [] };
    } else {
      status = { ...this.reviewAccess(spec) };
    }
    return ok(201, {
      apiVersion: apiVersionOf(resource),
      kind: resource.kind,
      metadata: { creationTimestamp: null },
      spec,
      status,
    });
  }

  private list(
    resource: ServedResource,
    namespace: string | undefined,
    query: Readonly<Record<string, string>>,
  ): KubeResponse {
    const limit = Number(query['limit'] ?? '0');
    const token = query['continue'] ?? '';
    let snapshot: { revision: number; items: KubeObject[] };
    if (token !== '') {
      const [id = '', start = '0'] = token.split(':');
      const kept = this.snapshots.get(id);
      if (kept === undefined || kept.revision < this.compactedBefore - 1) {
        return statusAnswer(410, {
          message:
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        });
      }
      snapshot = { revision: kept.revision, items: kept.items.slice(Number(start)) };
    } else {
      const asked = query['resourceVersion'];
      if (asked !== undefined && asked !== '' && asked !== '0' && Number(asked) < this.compactedBefore - 1) {
        return statusAnswer(410, {
          message: tooOld(Number(asked), this.compactedBefore - 1)['message'] as string,
        });
      }
      const filter = this.filterOf(resource, namespace, query);
      const items = [...this.storeOf(resource).values()]
        .filter(filter)
        .sort((a, b) =>
          objectKey(a.metadata.namespace, a.metadata.name).localeCompare(
            objectKey(b.metadata.namespace, b.metadata.name),
          ),
        );
      snapshot = { revision: this.revisionCounter, items };
    }
    const offset = token === '' ? 0 : Number(token.split(':')[1] ?? '0');
    const page = limit > 0 ? snapshot.items.slice(0, limit) : snapshot.items;
    const rest = snapshot.items.length - page.length;
    const metadata: Json = { resourceVersion: String(snapshot.revision) };
    if (rest > 0) {
      const id = token === '' ? String(this.snapshots.size + 1) : (token.split(':')[0] ?? '');
      if (token === '') this.snapshots.set(id, { revision: snapshot.revision, items: snapshot.items });
      metadata['continue'] = `${id}:${offset + page.length}`;
      metadata['remainingItemCount'] = rest;
    }
    return ok(200, {
      apiVersion: apiVersionOf(resource),
      kind: `${resource.kind}List`,
      metadata,
      // Built-in kinds' list items carry no kind and apiVersion; custom resources' do.
      items: page.map((item) => {
        if (resource.custom) return item;
        const { kind: _k, apiVersion: _a, ...rest } = item;
        return rest;
      }),
    });
  }

  private filterOf(
    resource: ServedResource,
    namespace: string | undefined,
    query: Readonly<Record<string, string>>,
  ): ObjectFilter {
    const labels = labelFilter(query['labelSelector']);
    const fields = fieldFilter(query['fieldSelector']);
    return (object) =>
      (!resource.namespaced || namespace === undefined || object.metadata.namespace === namespace) &&
      labels(object) &&
      fields(object);
  }

  /** The `autoscaling/v1` Scale of an object. */
  private scaleOf(resource: ServedResource, object: KubeObject): Json {
    const scale = resource.scale;
    const selector =
      scale?.labelSelectorPath === undefined ? undefined : valueAt(object, scale.labelSelectorPath);
    return {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: {
        name: object.metadata.name,
        namespace: object.metadata.namespace,
        uid: object.metadata.uid,
        resourceVersion: object.metadata.resourceVersion,
      },
      spec: { replicas: scale === undefined ? 0 : (valueAt(object, scale.specReplicasPath) ?? 0) },
      status: {
        replicas:
          scale?.statusReplicasPath === undefined ? 0 : (valueAt(object, scale.statusReplicasPath) ?? 0),
        ...(typeof selector === 'string' ? { selector } : {}),
      },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // The store
  // ---------------------------------------------------------------------------------------------

  private insert(resource: ServedResource, object: KubeObject): KubeObject {
    this.revisionCounter += 1;
    this.uids += 1;
    const stored: KubeObject = {
      ...object,
      apiVersion: apiVersionOf(resource),
      kind: resource.kind,
      metadata: {
        ...object.metadata,
        uid: object.metadata.uid ?? `00000000-0000-4000-8000-${String(this.uids).padStart(12, '0')}`,
        resourceVersion: String(this.revisionCounter),
        ...(resource.generation ? { generation: 1 } : {}),
        creationTimestamp: new Date(this.clock.nowMs()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      } as ObjectMeta,
    };
    this.storeOf(resource).set(objectKey(stored.metadata.namespace, stored.metadata.name), stored);
    this.record(resource, 'ADDED', stored, undefined);
    if (storeKeyOf(resource) === CRD_STORE) this.crdChanged(stored);
    return wire(stored);
  }

  private replace(resource: ServedResource, existing: KubeObject, next: KubeObject): KubeObject {
    this.revisionCounter += 1;
    const generation =
      existing.metadata.generation === undefined
        ? undefined
        : existing.metadata.generation + (specPart(existing) === specPart(next) ? 0 : 1);
    const stored: KubeObject = {
      ...next,
      apiVersion: existing.apiVersion ?? '',
      kind: existing.kind ?? '',
      metadata: {
        ...next.metadata,
        name: existing.metadata.name,
        ...(existing.metadata.namespace === undefined ? {} : { namespace: existing.metadata.namespace }),
        uid: existing.metadata.uid,
        creationTimestamp: (existing.metadata as unknown as Json)['creationTimestamp'],
        resourceVersion: String(this.revisionCounter),
        ...(generation === undefined ? {} : { generation }),
      } as ObjectMeta,
    };
    this.storeOf(resource).set(objectKey(stored.metadata.namespace, stored.metadata.name), stored);
    this.record(resource, 'MODIFIED', stored, existing);
    if (storeKeyOf(resource) === CRD_STORE) this.crdChanged(stored);
    return wire(stored);
  }

  private remove(resource: ServedResource, existing: KubeObject): KubeObject {
    this.revisionCounter += 1;
    const removed: KubeObject = {
      ...existing,
      metadata: { ...existing.metadata, resourceVersion: String(this.revisionCounter) },
    };
    this.storeOf(resource).delete(objectKey(existing.metadata.namespace, existing.metadata.name));
    this.record(resource, 'DELETED', removed, existing);
    if (storeKeyOf(resource) === CRD_STORE) this.crdRemoved(existing);
    return wire(removed);
  }

  private record(
    resource: ServedResource,
    type: Change['type'],
    object: KubeObject,
    previous: KubeObject | undefined,
  ): void {
    const change: Change = {
      revision: this.revisionCounter,
      storeKey: storeKeyOf(resource),
      type,
      object,
      previous,
    };
    this.history.push(change);
    for (const watcher of [...this.watchers]) {
      if (watcher.storeKey !== change.storeKey) continue;
      const event = this.eventFor(change, watcher.filter);
      if (event !== null) this.send(watcher, event);
    }
  }

  private send(watcher: Watcher, event: WatchEvent): void {
    if (this.held === null) watcher.onEvent(event);
    else this.held.push([watcher, event]);
  }

  /** The event a watch with `filter` sees for a change: an object leaving the selection is DELETED for it. */
  private eventFor(change: Change, filter: ObjectFilter): WatchEvent | null {
    const now = change.type !== 'DELETED' && filter(change.object);
    const before = change.previous !== undefined && filter(change.previous);
    if (change.type === 'DELETED') {
      return before ? { type: 'DELETED', object: this.asEvent(change.object) } : null;
    }
    if (now) return { type: before ? 'MODIFIED' : 'ADDED', object: this.asEvent(change.object) };
    if (!before) return null;
    const gone = {
      ...change.previous,
      metadata: { ...change.previous.metadata, resourceVersion: String(change.revision) },
    };
    return { type: 'DELETED', object: this.asEvent(gone) };
  }

  private asEvent(object: KubeObject): KubeObject {
    return wire(object);
  }

  /** A CRD serves its kind's versions once it is Established, and ends the kind when it goes. */
  private crdChanged(crd: KubeObject): void {
    const spec = crd.spec as
      | {
          group?: string;
          scope?: string;
          names?: { plural?: string; kind?: string };
          versions?: { name?: string; served?: boolean; subresources?: Json }[];
        }
      | undefined;
    const conditions = (crd.status as { conditions?: { type?: string; status?: string }[] } | undefined)
      ?.conditions;
    if (!(conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True')) {
      // The API server accepts the names and establishes a new CRD at once: a second write, as there.
      this.replace(this.resourceOfKind('apiextensions.k8s.io/v1', 'CustomResourceDefinition'), crd, {
        ...crd,
        status: {
          conditions: [
            { type: 'NamesAccepted', status: 'True' },
            { type: 'Established', status: 'True' },
          ],
        },
      });
      return;
    }
    for (const version of spec?.versions ?? []) {
      if (version.served === false) continue;
      const scale = version.subresources?.['scale'] as
        { specReplicasPath?: string; statusReplicasPath?: string; labelSelectorPath?: string } | undefined;
      this.serve({
        group: spec?.group ?? '',
        version: version.name ?? '',
        plural: spec?.names?.plural ?? '',
        kind: spec?.names?.kind ?? '',
        namespaced: spec?.scope !== 'Cluster',
        statusSubresource: version.subresources?.['status'] !== undefined,
        ...(scale?.specReplicasPath === undefined
          ? {}
          : {
              scale: {
                specReplicasPath: scale.specReplicasPath,
                ...(scale.statusReplicasPath === undefined
                  ? {}
                  : { statusReplicasPath: scale.statusReplicasPath }),
                ...(scale.labelSelectorPath === undefined
                  ? {}
                  : { labelSelectorPath: scale.labelSelectorPath }),
              },
            }),
        custom: true,
        generation: true,
      });
    }
  }

  private crdRemoved(crd: KubeObject): void {
    const spec = crd.spec as { group?: string; names?: { plural?: string } } | undefined;
    const storeKey = `${spec?.group ?? ''}/${spec?.names?.plural ?? ''}`;
    const served = [...this.resources.entries()].filter(([, r]) => storeKeyOf(r) === storeKey);
    const resource = served[0]?.[1];
    if (resource !== undefined) {
      // Its objects go with it, then its watches end and the kind is no longer served.
      for (const object of [...this.storeOf(resource).values()]) this.remove(resource, object);
    }
    for (const watcher of [...this.watchers])
      if (watcher.storeKey === storeKey) watcher.end({ kind: 'closed' });
    for (const [key] of served) this.resources.delete(key);
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers
  // ---------------------------------------------------------------------------------------------

  private faultFor(facts: RequestFacts): Fault | undefined {
    for (const rule of this.rules) {
      if (!matches(rule.match, facts)) continue;
      if (rule.skipped < (rule.match.skip ?? 0)) {
        rule.skipped += 1;
        continue;
      }
      rule.hits += 1;
      if (rule.hits >= (rule.match.times ?? 1)) this.rules.splice(this.rules.indexOf(rule), 1);
      return typeof rule.fault === 'function' ? rule.fault(facts) : rule.fault;
    }
    return undefined;
  }

  private faultAnswer(fault: Exclude<Fault, { network: string }>): KubeResponse {
    const answer = statusAnswer(fault.status, fault);
    return {
      status: fault.status,
      headers: { ...answer.headers, ...fault.headers },
      body: 'body' in fault ? fault.body : answer.body,
    };
  }

  private storeOf(resource: Pick<ServedResource, 'group' | 'plural'>): Map<string, KubeObject> {
    const key = storeKeyOf(resource);
    let store = this.stores.get(key);
    if (store === undefined) this.stores.set(key, (store = new Map<string, KubeObject>()));
    return store;
  }

  private resourceOfStore(storeKey: string): ServedResource | undefined {
    for (const resource of this.resources.values()) if (storeKeyOf(resource) === storeKey) return resource;
    return undefined;
  }

  private resourceOfKind(apiVersion: string, kind: string): ServedResource {
    for (const resource of this.resources.values()) {
      if (apiVersionOf(resource) === apiVersion && resource.kind === kind) return resource;
    }
    throw new Error(`the in-memory Kubernetes does not serve ${apiVersion} ${kind}`);
  }

  private locate(path: string): {
    resource: ServedResource;
    namespace: string | undefined;
    name: string | undefined;
  } {
    const target = this.parsePath(path.split('?')[0] ?? '');
    const resource =
      target === null ? undefined : this.resources.get(`${target.group}/${target.version}/${target.plural}`);
    if (target === null || resource === undefined) throw new Error(`not served: ${path}`);
    return { resource, namespace: target.namespace, name: target.name };
  }

  private parsePath(path: string): ParsedPath | null {
    const parts = path
      .split('/')
      .filter((part) => part !== '')
      .map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 3) {
      group = '';
      version = parts[1] ?? '';
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 4) {
      group = parts[1] ?? '';
      version = parts[2] ?? '';
      rest = parts.slice(3);
    } else {
      return null;
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, subresource] = rest;
    if (plural === undefined || rest.length > 3) return null;
    return {
      group,
      version,
      plural,
      ...(namespace === undefined ? {} : { namespace }),
      ...(name === undefined ? {} : { name }),
      ...(subresource === undefined ? {} : { subresource }),
    };
  }
}

interface ParsedPath {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

function apiVersionOf(resource: Pick<ServedResource, 'group' | 'version'>): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

function ok(status: number, body: unknown): KubeResponse {
  return { status, headers: { ...JSON_HEADERS }, body: wire(body) };
}

function pickLabelsAnnotations(object: KubeObject): Partial<ObjectMeta> {
  return {
    ...(object.metadata.labels === undefined ? {} : { labels: object.metadata.labels }),
    ...(object.metadata.annotations === undefined ? {} : { annotations: object.metadata.annotations }),
  };
}

function matches(match: RequestMatch, facts: RequestFacts): boolean {
  if (match.verb !== undefined) {
    const verbs: readonly Verb[] = typeof match.verb === 'string' ? [match.verb] : match.verb;
    if (!verbs.includes(facts.verb)) return false;
  }
  if (match.resource !== undefined && match.resource !== facts.resource) return false;
  if (match.namespace !== undefined && match.namespace !== facts.namespace) return false;
  if (match.name !== undefined && match.name !== facts.name) return false;
  return true;
}
