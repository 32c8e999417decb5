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

function cacheKey(user: UserInfo, attributes: AccessAttributes): string {
  const extra = Object.keys(user.extra)
    .sort()
    .map((key) => [key, user.extra[key]]);
  return JSON.stringify([user.name, user.uid ?? '', [...user.groups].sort(), extra, attributes]);
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
