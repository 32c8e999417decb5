/** The in-memory twin of `EventSink`: every Event, in order. */
import type { EventReason, EventSink, EventType, TargetRef } from '../../src/kube/events.js';

export interface RecordedEvent {
  readonly target: TargetRef;
  readonly type: EventType;
  readonly reason: EventReason;
  readonly note: string;
}

export class FakeEvents implements EventSink {
  readonly events: RecordedEvent[] = [];

  emit(target: TargetRef, type: EventType, reason: EventReason, note: string): void {
    this.events.push({ target, type, reason, note });
  }

  reasons(name?: string): EventReason[] {
    return this.events
      .filter((event) => name === undefined || event.target.name === name)
      .map((event) => event.reason);
  }
}
