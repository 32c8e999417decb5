/**
 * Kubernetes Events on scale targets (events.k8s.io/v1): every decision that changes a target, and
 * every reason a target is skipped. Warnings are rate limited per (target, reason), so a broken
 * target does not flood the API server: the first is sent, the same one again only after
 * `warningIntervalMs`, with the count of those held back. Sending never throws and never blocks
 * the caller: it is queued behind the write token bucket.
 */
import type { Clock } from '../domain/ports.js';
import type { Logger } from '../observability/logger.js';
import type { KubeClient } from './kube-client.js';
import { statusMessage } from './kube-client.js';
import type { TokenBucket } from './token-bucket.js';

/** The object an Event is about. */
export interface TargetRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string | undefined;
}

export type EventType = 'Normal' | 'Warning';

/** Reasons Slotscaler reports; stable strings (tests, alerts and `explain` match on them). */
export type EventReason =
  | 'Rescaled'
  | 'RescaleRecommended'
  | 'InvalidAnnotation'
  | 'MetricsUnavailable'
  | 'StatelessUpgradeMode'
  | 'RescaleRefused';

/**
 * Where the scaling loop reports. Real: `KubeEventRecorder`. Fake: test/fakes/fake-events.ts.
 * `emit` returns at once and never throws.
 */
export interface EventSink {
  emit(target: TargetRef, type: EventType, reason: EventReason, note: string): void;
}

export interface KubeEventRecorderOptions {
  readonly client: KubeClient;
  readonly bucket: TokenBucket;
  readonly clock: Clock;
  readonly logger: Logger;
  /** `reportingInstance`: the pod name. */
  readonly identity: string;
  /** The least time between two Events of one (target, reason). Normal `Rescaled` Events are never held back. */
  readonly warningIntervalMs: number;
  /** Events queued at most; more are dropped (counted in the log). */
  readonly maxQueued?: number;
}

const ACTIONS: Record<EventReason, string> = {
  Rescaled: 'Scale',
  RescaleRecommended: 'Recommend',
  InvalidAnnotation: 'Validate',
  MetricsUnavailable: 'Collect',
  StatelessUpgradeMode: 'Hold',
  RescaleRefused: 'Scale',
};

/** `2026-01-01T00:00:00.000000Z`: a metav1.MicroTime. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** `<object>.<hex>` as client-go names Events (its `%v.%x` of the name and the time in ns), made unique. */
export function eventName(objectName: string, atMs: number): string {
  const nanos = BigInt(atMs) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000));
  return `${objectName.slice(0, 236)}.${nanos.toString(16)}`;
}

/** Rate limiting of Events per (target, reason); pure apart from the time it is given. */
export class EventRateLimiter {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(private readonly intervalMs: number) {}

  /** null: hold this one back; else the number held back since the last one sent. */
  admit(key: string, nowMs: number): number | null {
    const entry = this.last.get(key);
    if (entry !== undefined && nowMs - entry.atMs < this.intervalMs) {
      entry.suppressed += 1;
      return null;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { atMs: nowMs, suppressed: 0 });
    if (this.last.size > 10_000) this.prune(nowMs);
    return suppressed;
  }

  /** Forgets a target (deleted). */
  forget(prefix: string): void {
    for (const key of this.last.keys()) if (key.startsWith(prefix)) this.last.delete(key);
  }

  private prune(nowMs: number): void {
    for (const [key, entry] of this.last) if (nowMs - entry.atMs >= this.intervalMs) this.last.delete(key);
  }
}

export class KubeEventRecorder implements EventSink {
  private readonly limiter: EventRateLimiter;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Events sent, by reason (for tests and the API-load figures). */
  readonly sent = new Map<EventReason, number>();

  constructor(private readonly options: KubeEventRecorderOptions) {
    this.limiter = new EventRateLimiter(options.warningIntervalMs);
  }

  emit(target: TargetRef, type: EventType, reason: EventReason, note: string): void {
    const nowMs = this.options.clock.nowMs();
    let text = note;
    if (reason !== 'Rescaled') {
      const suppressed = this.limiter.admit(
        `${target.namespace}/${target.kind}/${target.name}/${reason}`,
        nowMs,
      );
      if (suppressed === null) return;
      if (suppressed > 0) text = `${note} (${suppressed} more like this held back)`;
    }
    if (this.queued >= (this.options.maxQueued ?? 1000)) {
      this.options.logger.warn(
        { reason, name: target.name, namespace: target.namespace },
        'event dropped: queue full',
      );
      return;
    }
    this.queued += 1;
    this.queue = this.queue
      .then(() => this.send(target, type, reason, text, nowMs))
      .catch((err: unknown) => {
        this.options.logger.warn(
          { err, reason, name: target.name, namespace: target.namespace },
          'cannot record event',
        );
      })
      .finally(() => {
        this.queued -= 1;
      });
  }

  /** Resolves once every queued Event has been sent (or given up). */
  async flush(): Promise<void> {
    await this.queue;
  }

  private async send(
    target: TargetRef,
    type: EventType,
    reason: EventReason,
    note: string,
    atMs: number,
  ): Promise<void> {
    await this.options.bucket.take();
    const answer = await this.options.client.request({
      method: 'POST',
      path: `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(target.namespace)}/events`,
      body: {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: eventName(target.name, atMs), namespace: target.namespace },
        eventTime: microTime(atMs),
        reportingController: 'slotscaler.dev/slotscaler',
        reportingInstance: this.options.identity.slice(0, 128),
        action: ACTIONS[reason],
        reason,
        type,
        // The API server refuses notes over 1 kB.
        note: note.length > 1024 ? `${note.slice(0, 1021)}...` : note,
        regarding: {
          apiVersion: target.apiVersion,
          kind: target.kind,
          namespace: target.namespace,
          name: target.name,
          ...(target.uid === undefined ? {} : { uid: target.uid }),
        },
      },
    });
    if (answer.status >= 300) {
      this.options.logger.warn(
        { status: answer.status, message: statusMessage(answer.body), reason, name: target.name },
        'event refused',
      );
      return;
    }
    this.sent.set(reason, (this.sent.get(reason) ?? 0) + 1);
  }
}
