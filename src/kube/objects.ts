/**
 * Kubernetes objects as the scaler reads them: only `metadata` is typed; everything else is read
 * with `valueAt` and checked where it is used, because the scaler must not trust a CR's shape.
 */

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
  readonly deletionTimestamp?: string;
}

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
  readonly spec?: unknown;
  readonly status?: unknown;
}

/** A kind's REST coordinates: `group` is '' for the core group. */
export interface ResourceRef {
  readonly group: string;
  readonly version: string;
  /** Lower-case plural, e.g. `flinkdeployments`. */
  readonly plural: string;
  readonly kind: string;
}

export function apiVersionOf(resource: ResourceRef): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

/** `/apis/g/v/namespaces/ns/plural` (or cluster-wide without a namespace). */
export function collectionPath(resource: ResourceRef, namespace?: string): string {
  const base =
    resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  return namespace === undefined || namespace === ''
    ? `${base}/${resource.plural}`
    : `${base}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`;
}

export function objectPath(resource: ResourceRef, namespace: string, name: string): string {
  return `${collectionPath(resource, namespace)}/${encodeURIComponent(name)}`;
}

/** True when `value` looks like an object with a `metadata.name`. */
export function isKubeObject(value: unknown): value is KubeObject {
  if (typeof value !== 'object' || value === null) return false;
  const metadata = (value as { metadata?: unknown }).metadata;
  return (
    typeof metadata === 'object' &&
    metadata !== null &&
    typeof (metadata as { name?: unknown }).name === 'string'
  );
}

/** The value at a dotted path (`.spec.job.parallelism` or `spec.job.parallelism`), or undefined. */
export function valueAt(object: unknown, path: string): unknown {
  let value: unknown = object;
  for (const part of path.replace(/^\./, '').split('.')) {
    if (part === '') continue;
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A non-negative integer at `path`, or undefined. */
export function integerAt(object: unknown, path: string): number | undefined {
  const value = valueAt(object, path);
  const number = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) && number >= 0 ? number : undefined;
}

export function stringAt(object: unknown, path: string): string | undefined {
  const value = valueAt(object, path);
  return typeof value === 'string' ? value : undefined;
}

/** A merge-patch body that sets `value` at a dotted path: `.spec.job.parallelism` → `{spec:{job:{parallelism}}}`. */
export function patchAt(path: string, value: unknown): Record<string, unknown> {
  const parts = path
    .replace(/^\./, '')
    .split('.')
    .filter((part) => part !== '');
  let body: unknown = value;
  for (const part of [...parts].reverse()) body = { [part]: body };
  return body as Record<string, unknown>;
}

/** Deep merge of merge-patch bodies (objects merged, everything else replaced). */
export function mergePatches(...patches: readonly Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const patch of patches) {
    for (const [key, value] of Object.entries(patch)) {
      const existing = out[key];
      out[key] = isPlainObject(existing) && isPlainObject(value) ? mergePatches(existing, value) : value;
    }
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
