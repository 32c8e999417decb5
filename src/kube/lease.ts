/**
 * What the leader election (`leader-election.ts`) and the replicas' own Leases
 * (`replica-leases.ts`) share of a coordination.k8s.io/v1 Lease: its spec, where it lives, the
 * object written, and client-go's timings (k8s.io/client-go/tools/leaderelection).
 */

/** The spec of a coordination.k8s.io/v1 Lease. */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** How long a Lease lasts and when its holder renews it. */
export interface LeaseTimingOptions {
  readonly leaseDurationMs: number;
  /** Default leaseDuration / 3. */
  readonly renewIntervalMs?: number;
  /** Default leaseDuration × 2/3. */
  readonly renewDeadlineMs?: number;
}

/** How often a holder renews: leaseDuration / 3 unless set. */
export function renewIntervalMs(options: LeaseTimingOptions): number {
  return options.renewIntervalMs ?? Math.floor(options.leaseDurationMs / 3);
}

/**
 * How long after its last renewal a holder still counts itself holder: leaseDuration × 2/3 unless
 * set, shorter than the duration so it stops before anyone else may take over.
 */
export function renewDeadlineMs(options: LeaseTimingOptions): number {
  return options.renewDeadlineMs ?? Math.floor((options.leaseDurationMs * 2) / 3);
}

/** The `leaseDurationSeconds` written: whole seconds, rounded up. */
export function leaseDurationSeconds(options: LeaseTimingOptions): number {
  return Math.ceil(options.leaseDurationMs / 1000);
}

/** The Leases of a namespace. */
export function leasesPath(namespace: string): string {
  return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
}

/** A Lease as written by a create or an update. */
export function leaseObject<M>(
  metadata: M,
  spec: LeaseSpec,
): { apiVersion: 'coordination.k8s.io/v1'; kind: 'Lease'; metadata: M; spec: LeaseSpec } {
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec };
}
