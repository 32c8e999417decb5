/**
 * Writes scale targets: each request of a plan takes a token of the client-side bucket, and every
 * answer is classified for the loop: 409 (someone changed the object since the decision: re-read
 * and decide again), 404 (deleted), 429 and 5xx (back off, honouring `Retry-After`), other
 * refusals, and network failures.
 */
import type { Clock } from '../domain/ports.js';
import type { WriteStep } from './adapters/adapter.js';
import type { KubeClient } from './kube-client.js';
import { retryAfterMs, statusMessage } from './kube-client.js';
import type { TokenBucket } from '../lib/token-bucket.js';

export type WriteOutcome =
  | { readonly ok: true; readonly resourceVersion: string | undefined }
  | { readonly ok: false; readonly kind: 'conflict'; readonly message: string }
  | { readonly ok: false; readonly kind: 'gone'; readonly message: string }
  | {
      readonly ok: false;
      readonly kind: 'throttled';
      readonly status: number;
      readonly retryAfterMs: number | null;
      readonly message: string;
    }
  | {
      readonly ok: false;
      readonly kind: 'refused';
      readonly status: number;
      readonly message: string;
      /** The JobManager refused an in-place rescale (the API server was not asked, or took it). */
      readonly byJobManager?: true;
    }
  | { readonly ok: false; readonly kind: 'unreachable'; readonly message: string };

/**
 * Writes one plan to the API server. Real: `KubeScaleTargetWriter`. Fake: test/fakes/fake-writer.ts.
 * Never throws: every failure is an outcome. Stops at the first failed request.
 */
export interface ScaleTargetWriter {
  write(steps: readonly WriteStep[]): Promise<WriteOutcome>;
}

export class KubeScaleTargetWriter implements ScaleTargetWriter {
  /** Requests sent, for tests and the API-load figures. */
  requests = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly bucket: TokenBucket,
    private readonly clock: Clock,
  ) {}

  async write(steps: readonly WriteStep[]): Promise<WriteOutcome> {
    let resourceVersion: string | undefined;
    for (const step of steps) {
      await this.bucket.take();
      this.requests += 1;
      let answer;
      try {
        answer = await this.client.request({
          method: step.method,
          path: step.path,
          body: step.body,
          contentType: step.contentType,
        });
      } catch (err) {
        return { ok: false, kind: 'unreachable', message: err instanceof Error ? err.message : String(err) };
      }
      const outcome = classify(
        answer.status,
        answer.headers['retry-after'],
        statusMessage(answer.body),
        this.clock.nowMs(),
      );
      if (outcome !== null) return outcome;
      const metadata = (answer.body as { metadata?: { resourceVersion?: unknown } } | null)?.metadata;
      resourceVersion = typeof metadata?.resourceVersion === 'string' ? metadata.resourceVersion : undefined;
    }
    return { ok: true, resourceVersion };
  }
}

/** null for a 2xx; else the failure the status means. */
export function classify(
  status: number,
  retryAfter: string | undefined,
  message: string,
  nowMs: number,
): Exclude<WriteOutcome, { ok: true }> | null {
  if (status >= 200 && status < 300) return null;
  if (status === 409) return { ok: false, kind: 'conflict', message };
  if (status === 404) return { ok: false, kind: 'gone', message };
  if (status === 429 || status >= 500) {
    return { ok: false, kind: 'throttled', status, retryAfterMs: retryAfterMs(retryAfter, nowMs), message };
  }
  return { ok: false, kind: 'refused', status, message };
}
