/**
 * May this user do this? Asked with a SubjectAccessReview, as k8s.io/apiserver's delegating
 * authorizer asks (pkg/server/options/authorization.go): allowed and denied answers are both cached
 * for 10 s (`AllowCacheTTL`, `DenyCacheTTL`), and the group `system:masters` is always allowed
 * without asking (the `authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)` in front of
 * the webhook). A review that fails is not cached and surfaces as an error (answered 500).
 */
import type { Clock } from '../../domain/ports.js';
import type { AccessAttributes, AccessDecision, SubjectAccessReviewer, UserInfo } from '../../domain/auth.js';

const PRIVILEGED_GROUP = 'system:masters';
const CACHE_MAX_ENTRIES = 10_000;

/** The user's part of a cache key, kept per frozen user object (the authenticator reuses them). */
const userKeys = new WeakMap<UserInfo, string>();
/** The attributes' part of a cache key, kept per frozen attributes object (the server reuses them per route). */
const attributeKeys = new WeakMap<AccessAttributes, string>();

/**
 * The user's part of a cache key: one flat JSON array of strings and counts (each list's length
 * before its items, so no two different users share a key). Groups and extra keys are sorted, as
 * their order means nothing to the authorizer.
 */
function userKey(user: UserInfo): string {
  let key = userKeys.get(user);
  if (key !== undefined) return key;
  const groups = user.groups.length > 1 ? [...user.groups].sort() : user.groups;
  const parts: (string | number | null)[] = [user.name, user.uid ?? null, groups.length, ...groups];
  const extraKeys = Object.keys(user.extra);
  if (extraKeys.length > 1) extraKeys.sort();
  parts.push(extraKeys.length);
  for (const name of extraKeys) {
    const values = user.extra[name] ?? [];
    parts.push(name, values.length, ...values);
  }
  key = JSON.stringify(parts);
  if (Object.isFrozen(user)) userKeys.set(user, key);
  return key;
}

function attributesKey(attributes: AccessAttributes): string {
  let key = attributeKeys.get(attributes);
  if (key !== undefined) return key;
  key =
    attributes.kind === 'resource'
      ? JSON.stringify([
          'resource',
          attributes.verb,
          attributes.group,
          attributes.version,
          attributes.resource,
          attributes.namespace,
          attributes.name ?? null,
          attributes.subresource ?? null,
        ])
      : JSON.stringify(['nonResource', attributes.verb, attributes.path]);
  if (Object.isFrozen(attributes)) attributeKeys.set(attributes, key);
  return key;
}

/** The cache key of a review: both parts are JSON arrays, so their concatenation is unambiguous. */
function cacheKey(user: UserInfo, attributes: AccessAttributes): string {
  return userKey(user) + attributesKey(attributes);
}

export class CachingAuthorizer {
  private readonly cache = new Map<
    string,
    { readonly expiresMs: number; readonly decision: AccessDecision }
  >();
  private readonly inFlight = new Map<string, Promise<AccessDecision>>();

  constructor(
    private readonly reviewer: SubjectAccessReviewer,
    private readonly clock: Clock,
    private readonly ttlMs = 10_000,
  ) {}

  /** Resolves the decision; rejects when the review itself fails. */
  authorize(user: UserInfo, attributes: AccessAttributes): AccessDecision | Promise<AccessDecision> {
    if (user.groups.includes(PRIVILEGED_GROUP)) return { allowed: true, reason: '' };
    const key = cacheKey(user, attributes);
    const now = this.clock.nowMs();
    const cached = this.cache.get(key);
    if (cached !== undefined && cached.expiresMs > now) return cached.decision;
    const pending = this.inFlight.get(key);
    if (pending !== undefined) return pending;
    const review = this.reviewer
      .review(user, attributes)
      .then((decision) => {
        this.cache.delete(key);
        this.cache.set(key, { expiresMs: this.clock.nowMs() + this.ttlMs, decision });
        if (this.cache.size > CACHE_MAX_ENTRIES) {
          const oldest = this.cache.keys().next();
          if (oldest.done !== true) this.cache.delete(oldest.value);
        }
        return decision;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, review);
    return review;
  }
}
