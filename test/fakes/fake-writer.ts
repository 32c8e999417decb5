/**
 * The in-memory twin of `ScaleTargetWriter`: records every plan and answers with scripted outcomes
 * (default: success), so the loop's handling of 409, 404, 429 and refusals can be driven.
 */
import type { WriteStep } from '../../src/kube/adapters/adapter.js';
import type { ScaleTargetWriter, WriteOutcome } from '../../src/kube/writer.js';

export class FakeWriter implements ScaleTargetWriter {
  readonly plans: (readonly WriteStep[])[] = [];
  /** Outcomes for the next writes, first used first; empty: success. */
  readonly script: WriteOutcome[] = [];
  /** Called with each plan before it is answered (e.g. to change the target meanwhile). */
  onWrite: ((steps: readonly WriteStep[]) => void) | undefined;

  write(steps: readonly WriteStep[]): Promise<WriteOutcome> {
    this.plans.push(steps);
    this.onWrite?.(steps);
    return Promise.resolve(this.script.shift() ?? { ok: true, resourceVersion: undefined });
  }
}
