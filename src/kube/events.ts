/**
 * Kubernetes Events on scale targets (events.k8s.io/v1): every decision that changes a target, and
 * every reason a target is skipped. Warnings are rate limited per (target, reason), so a broken
 * target does not flood the API server: the first is sent, the same one again only after
 * `warningIntervalMs`, with the count of those held back. Sending never throws and never blocks
 * the caller: it is queued behind the write token bucket.
 */
import type { Clock } from '../domain/ports.js';
import type { Logger } from '../observability/logger.js';
import { RepeatLimiter } from '../observability/repeat-limiter.js';
import type { KubeClient } from './kube-client.js';
import { statusMessage } from './kube-client.js';
import type { TokenBucket } from '../lib/token-bucket.js';

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
  | 'RescaleRefused'
  | 'RescaleHeld'
  | 'InvalidStatus'
  | 'ExpressionNotFinite'
  | 'AutoscalerConflict'
  | 'RescalePathUnavailable'
  | 'RescaleDone'
  | 'RescaleRedeployed'
  | 'RescaleNotTaken'
  /** `max-rescales-per-hour` is spent: a change the lag does not demand is held. */
  | 'RestartBudgetSpent';

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
  RescalePathUnavailable: 'Hold',
  RescaleDone: 'Scale',
  RescaleRedeployed: 'Scale',
  RescaleNotTaken: 'Scale',
  RescaleHeld: 'Hold',
  InvalidStatus: 'Validate',
  ExpressionNotFinite: 'Collect',
  AutoscalerConflict: 'Hold',
  RestartBudgetSpent: 'Hold',
};

/**
 * The longest note the API server takes, in bytes: events.k8s.io validation refuses
 * `len(event.Note) > NoteLengthLimit` (k8s.io/kubernetes pkg/apis/events/validation), and a Go
 * string's length is its UTF-8 byte count.
 */
export const MAX_NOTE_BYTES = 1024;

/**
 * A note cut to `MAX_NOTE_BYTES` of UTF-8, at a character boundary, ending in `...` when cut: an
 * annotation value full of non-ASCII characters must not cost its target its Event (a 422).
 */
export function truncateNote(note: string, maxBytes = MAX_NOTE_BYTES): string {
  if (Buffer.byteLength(note, 'utf8') <= maxBytes) return note;
  const ellipsis = '...';
  const budget = maxBytes - ellipsis.length;
  let bytes = 0;
  let end = 0;
  // Whole code points only: a surrogate pair is one character of 4 bytes.
  for (const character of note) {
    const size = Buffer.byteLength(character, 'utf8');
    if (bytes + size > budget) break;
    bytes += size;
    end += character.length;
  }
  return `${note.slice(0, end)}${ellipsis}`;
}

/** `2026-01-01T00:00:00.000000Z`: a metav1.MicroTime. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** `<object>.<hex>` as client-go names Events (its `%v.%x` of the name and the time in ns), made unique. */
export function eventName(objectName: string, atMs: number): string {
  const nanos = BigInt(atMs) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000));
  return `${objectName.slice(0, 236)}.${nanos.toString(16)}`;
}

export class KubeEventRecorder implements EventSink {
  /** Warnings per (target, reason). */
  private readonly limiter: RepeatLimiter;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Events sent, by reason (for tests and the API-load figures). */
  readonly sent = new Map<EventReason, number>();

  constructor(private readonly options: KubeEventRecorderOptions) {
    this.limiter = new RepeatLimiter(options.warningIntervalMs);
  }

  emit(target: TargetRef, type: EventType, reason: EventReason, note: string): void {
    const nowMs = this.options.clock.nowMs();
    let text = note;
    if (reason !== 'Rescaled' && reason !== 'RescaleDone') {
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
        note: truncateNote(note),
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
