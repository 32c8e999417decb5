/**
 * The polling loop: each tick (the scaler's ticker calls `tick` every interval,
 * src/runtime/start-scaler.ts), one snapshot per target, `maxConcurrentTargets` at a time (the
 * shared REST client limit bounds the requests), each pushed into its target's `MetricWindow` as
 * soon as it is taken.
 *
 * The loop never throws and never overlaps: a tick still running when the next is due is skipped
 * (and counted); a target that fails is recorded with its error while the others go on; a target
 * slower than the per-target deadline fails this tick, and later ticks skip it while its snapshot
 * is still in flight.
 */
import type { JobSnapshot } from '../domain/flink.js';
import type { RegisteredTarget } from '../kube/target-registry.js';
import type { Clock, FlinkClient, Readiness } from '../domain/ports.js';
import { FlinkImplausibleResponseError, FlinkSnapshotDeadlineError, isSlotscalerError } from '../errors.js';
import { SnapshotState, takeSnapshot } from '../flink/snapshot.js';
import type { SnapshotOptions } from '../flink/snapshot.js';
import { silentLogger } from '../observability/logger.js';
import type { Logger } from '../observability/logger.js';
import { RepeatLimiter } from '../observability/repeat-limiter.js';
import type { SampleDropReason } from '../domain/metrics.js';
import type { CollectorObserver, CollectorTargetState } from '../observability/metrics.js';
import { MetricWindow } from '../metrics/metric-window.js';
import type { MetricWindowOptions, WindowReadings } from '../metrics/metric-window.js';

/** One scale target as the collector sees it. */
export interface CollectorTarget {
  /** Stable key of the target, e.g. `flinkdeployment/namespace/name`. */
  readonly id: string;
  /** The JobManager's REST base URL. */
  readonly jobManagerUrl: string;
  /** The job to read; when absent, the one RUNNING job is discovered. */
  readonly jobId?: string | undefined;
  /** Per-target window options over the collector's defaults. */
  readonly window?: Partial<MetricWindowOptions> | undefined;
  /** Read slots per TaskManager (when the target does not set its task slots). */
  readonly wantTaskSlots?: boolean | undefined;
  /**
   * Read the job's checkpointing (its interval once per job id, its latest completed checkpoint
   * every tick): only for a target whose rescales wait for a checkpoint.
   */
  readonly wantCheckpoints?: boolean | undefined;
  /** Bound to the target's child logger, e.g. `{namespace, name, kind}`. */
  readonly logBindings?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * What the collector reads of a registered target: its JobManager, job and window options; null
 * for a target it has nothing to read of (invalid annotations, or an object it cannot scale).
 */
export function collectorTargetOf(target: RegisteredTarget): CollectorTarget | null {
  if (target.state !== 'ready') return null;
  const { config } = target.parsed;
  return {
    id: target.id,
    jobManagerUrl: target.view.jobManagerUrl,
    jobId: target.view.jobId,
    window: {
      windowSeconds: config.metricsWindow,
      restartHoldoffSeconds: config.metricsHoldAfterRestart,
      maxSampleAgeSeconds: config.metricsMaxAge,
      catchUpSeconds: config.catchUpDuration,
    },
    wantTaskSlots: target.view.taskSlots === null,
    // The checkpoint hold is the only reader of the checkpoint facts: a target that never writes
    // (modes recommend and metrics-only), or has it off, does not pay the call per tick.
    wantCheckpoints: config.mode === 'scale' && config.rescaleAfterCheckpoint,
    logBindings: { namespace: target.ref.namespace, name: target.ref.name, kind: target.ref.kind },
  };
}

/** Collector tuning. */
export interface CollectorOptions {
  /** Time between ticks (readiness counts the ticks that went missing by it). */
  readonly intervalMs: number;
  /** A target's snapshot not done within this is given up for the tick (its requests time out on their own). */
  readonly targetDeadlineMs: number;
  /** Targets whose snapshots are taken at once (the REST limit of the shared pool bounds the requests). */
  readonly maxConcurrentTargets: number;
}

export const DEFAULT_COLLECTOR_OPTIONS: CollectorOptions = Object.freeze({
  intervalMs: 15_000,
  targetDeadlineMs: 12_000,
  maxConcurrentTargets: 64,
});

export interface CollectorDependencies {
  /** The client of one JobManager; all of them should share one `FlinkHttpPool`. */
  readonly clientFor: (jobManagerUrl: string) => FlinkClient;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly observer?: CollectorObserver;
  readonly windowDefaults?: Partial<MetricWindowOptions>;
  readonly snapshotOptions?: Partial<SnapshotOptions>;
}

/** What the collector knows about one target's polling. */
export interface TargetStatus {
  readonly id: string;
  readonly state: CollectorTargetState;
  readonly jobId: string | null;
  readonly lastSuccessAtMs: number | null;
  readonly lastError: { readonly code: string; readonly message: string; readonly atMs: number } | null;
  readonly consecutiveFailures: number;
  /** REST calls of the last successful snapshot. */
  readonly lastRestCalls: number;
}

export interface TickResult {
  readonly skipped: boolean;
  readonly durationMs: number;
  readonly targets: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Targets not polled because their previous snapshot was still in flight. */
  readonly inFlight: number;
  /** REST calls of this tick's successful snapshots. */
  readonly restCalls: number;
}

type PollOutcome = { readonly ok: true; readonly restCalls: number } | { readonly ok: false } | null;

interface TargetEntry {
  readonly target: CollectorTarget;
  readonly client: FlinkClient;
  readonly window: MetricWindow;
  readonly snapshotState: SnapshotState;
  readonly logger: Logger;
  inFlight: boolean;
  status: TargetStatus;
  /** Failures logged once per cause per `FAILURE_LOG_INTERVAL_MS`, however the causes alternate. */
  readonly failureLog: RepeatLimiter;
}

/** How often one persisting failure of a target is logged again (with the count held back). */
const FAILURE_LOG_INTERVAL_MS = 5 * 60_000;

function errorCode(err: unknown): string {
  return isSlotscalerError(err) ? err.code : 'INTERNAL';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sameTarget(a: CollectorTarget, b: CollectorTarget): boolean {
  return (
    a.jobManagerUrl === b.jobManagerUrl &&
    a.jobId === b.jobId &&
    a.wantTaskSlots === b.wantTaskSlots &&
    a.wantCheckpoints === b.wantCheckpoints &&
    JSON.stringify(a.window ?? {}) === JSON.stringify(b.window ?? {})
  );
}

export interface CollectorStats {
  readonly ticks: number;
  readonly skippedTicks: number;
  readonly lastTickDurationMs: number | null;
  /** When the newest completed tick ended (the collector's clock). */
  readonly lastTickEndedAtMs: number | null;
}

/** Ticks that may go missing before a replica stops calling itself ready. */
const MISSED_TICKS_BEFORE_UNREADY = 3;

/**
 * Ready once a tick has completed, and for as long as one keeps completing: a replica whose loop has
 * not finished a tick for 3 of its periods (a period is the interval, or the newest tick's duration
 * when ticks run longer and skip) plus one target deadline stops being ready. Its Service then sends
 * the HPAs' reads to a replica that is collecting, or, with none, the APIService is unavailable and
 * every HPA holds its replicas, rather than act on readings nobody refreshes. A failing target does
 * not count: its tick still completes, and it is reported on its own.
 */
export function collectionReadiness(
  stats: CollectorStats,
  options: Pick<CollectorOptions, 'intervalMs' | 'targetDeadlineMs'>,
  nowMs: number,
): Readiness {
  if (stats.lastTickEndedAtMs === null) return { ready: false, reason: 'no collection has completed yet' };
  const periodMs = Math.max(options.intervalMs, stats.lastTickDurationMs ?? 0);
  const allowedMs = MISSED_TICKS_BEFORE_UNREADY * periodMs + options.targetDeadlineMs;
  const sinceMs = nowMs - stats.lastTickEndedAtMs;
  if (sinceMs <= allowedMs) return { ready: true };
  return {
    ready: false,
    reason: `no collection has completed for ${(sinceMs / 1000).toFixed(0)} s (one every ${(periodMs / 1000).toFixed(0)} s expected)`,
  };
}

export class Collector {
  readonly options: CollectorOptions;
  private readonly entries = new Map<string, TargetEntry>();
  private readonly logger: Logger;
  private running: Promise<TickResult> | null = null;
  private ticks = 0;
  private skippedTicks = 0;
  private lastTickDurationMs: number | null = null;
  private lastTickEndedAtMs: number | null = null;

  constructor(
    private readonly dependencies: CollectorDependencies,
    options: Partial<CollectorOptions> = {},
  ) {
    this.options = Object.freeze({ ...DEFAULT_COLLECTOR_OPTIONS, ...options });
    this.logger = dependencies.logger ?? silentLogger;
  }

  /**
   * Sets the targets to poll. New ones start empty; removed ones are forgotten; a target whose URL,
   * job id or window changed starts over.
   */
  setTargets(targets: readonly CollectorTarget[]): void {
    const wanted = new Map(targets.map((target) => [target.id, target]));
    for (const id of this.entries.keys()) if (!wanted.has(id)) this.entries.delete(id);
    for (const target of wanted.values()) {
      const existing = this.entries.get(target.id);
      if (existing !== undefined && sameTarget(existing.target, target)) continue;
      this.entries.set(target.id, {
        target,
        client: this.dependencies.clientFor(target.jobManagerUrl),
        window: new MetricWindow({ ...this.dependencies.windowDefaults, ...target.window }),
        snapshotState: new SnapshotState(),
        logger: this.logger.child({ target: target.id, ...target.logBindings }),
        inFlight: false,
        failureLog: new RepeatLimiter(FAILURE_LOG_INTERVAL_MS),
        status: {
          id: target.id,
          state: 'pending',
          jobId: target.jobId ?? null,
          lastSuccessAtMs: null,
          lastError: null,
          consecutiveFailures: 0,
          lastRestCalls: 0,
        },
      });
    }
    this.publishTargetCounts();
  }

  /** Waits for the tick in progress (the scaler's ticker calls `tick`; this is for shutdown). */
  async stop(): Promise<void> {
    if (this.running !== null) await this.running;
  }

  /** One tick over all targets; resolves `{skipped: true}` at once if the previous tick still runs. Never rejects. */
  tick(): Promise<TickResult> {
    if (this.running !== null) {
      this.skippedTicks += 1;
      this.dependencies.observer?.observeTickSkipped();
      this.logger.warn(
        { skippedTicks: this.skippedTicks },
        'collector tick skipped: the previous one is still running',
      );
      return Promise.resolve({
        skipped: true,
        durationMs: 0,
        targets: 0,
        succeeded: 0,
        failed: 0,
        inFlight: 0,
        restCalls: 0,
      });
    }
    const running = this.runTick().finally(() => {
      this.running = null;
    });
    this.running = running;
    return running;
  }

  /** The target's metrics as of `nowMs` (default: now); `undefined` for an unknown target. */
  readings(targetId: string, nowMs: number = this.dependencies.clock.nowMs()): WindowReadings | undefined {
    return this.entries.get(targetId)?.window.readings(nowMs);
  }

  statuses(): readonly TargetStatus[] {
    return [...this.entries.values()].map((entry) => entry.status);
  }

  stats(): CollectorStats {
    return {
      ticks: this.ticks,
      skippedTicks: this.skippedTicks,
      lastTickDurationMs: this.lastTickDurationMs,
      lastTickEndedAtMs: this.lastTickEndedAtMs,
    };
  }

  /** Whether this replica's readings are being kept fresh; see `collectionReadiness`. */
  readiness(nowMs: number = this.dependencies.clock.nowMs()): Readiness {
    return collectionReadiness(this.stats(), this.options, nowMs);
  }

  private async runTick(): Promise<TickResult> {
    const { observer } = this.dependencies;
    const started = performance.now();
    const entries = [...this.entries.values()];
    let succeeded = 0;
    let failed = 0;
    let inFlight = 0;
    let restCalls = 0;

    // A few snapshots at a time rather than all at once: each one's garbage dies young, and the
    // REST limit is shared fairly.
    const queue: TargetEntry[] = [];
    for (const entry of entries) {
      if (entry.inFlight) inFlight += 1;
      else queue.push(entry);
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let entry = queue[next++]; entry !== undefined; entry = queue[next++]) {
        const outcome = await this.pollWithDeadline(entry);
        if (outcome === null) continue;
        if (outcome.ok) {
          succeeded += 1;
          restCalls += outcome.restCalls;
        } else {
          failed += 1;
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.options.maxConcurrentTargets, queue.length) }, worker),
    );

    const durationMs = performance.now() - started;
    this.ticks += 1;
    this.lastTickDurationMs = durationMs;
    this.lastTickEndedAtMs = this.dependencies.clock.nowMs();
    observer?.observeTickDuration(durationMs / 1000);
    this.publishTargetCounts();
    const result: TickResult = {
      skipped: false,
      durationMs,
      targets: entries.length,
      succeeded,
      failed,
      inFlight,
      restCalls,
    };
    this.logger.debug({ ...result }, 'collector tick done');
    return result;
  }

  /**
   * `poll`, given up after `targetDeadlineMs`: the target fails this tick with a timeout, its
   * snapshot goes on (its requests time out on their own) and is still taken when it comes; ticks
   * that start meanwhile skip the target.
   */
  private async pollWithDeadline(entry: TargetEntry): Promise<PollOutcome> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => {
        resolve('late');
      }, this.options.targetDeadlineMs);
    });
    const outcome = await Promise.race([this.poll(entry), late]);
    clearTimeout(timer);
    if (outcome !== 'late') return outcome;
    if (this.entries.get(entry.target.id) !== entry) return null;
    this.recordFailure(
      entry,
      new FlinkSnapshotDeadlineError(entry.target.jobManagerUrl, this.options.targetDeadlineMs),
      this.dependencies.clock.nowMs(),
    );
    return { ok: false };
  }

  /** One target's snapshot; `null` when the result came too late to matter (target removed or replaced). */
  private async poll(entry: TargetEntry): Promise<PollOutcome> {
    entry.inFlight = true;
    let snapshot: JobSnapshot;
    try {
      snapshot = await takeSnapshot(entry.client, {
        jobId: entry.target.jobId,
        wantTaskSlots: entry.target.wantTaskSlots ?? false,
        wantCheckpoints: entry.target.wantCheckpoints ?? false,
        state: entry.snapshotState,
        clock: this.dependencies.clock,
        ...(this.dependencies.snapshotOptions === undefined
          ? {}
          : { options: this.dependencies.snapshotOptions }),
      });
    } catch (err) {
      entry.inFlight = false;
      if (this.entries.get(entry.target.id) !== entry) return null;
      this.recordFailure(entry, err, this.dependencies.clock.nowMs());
      return { ok: false };
    }
    entry.inFlight = false;
    if (this.entries.get(entry.target.id) !== entry) return null;
    try {
      // A sample refused as implausible fails the target like an answer that could not be read.
      if (!this.accept(entry, snapshot)) return { ok: false };
    } catch (err) {
      // A bug of ours must not stop the loop: record it like a failed snapshot.
      this.recordFailure(entry, err, this.dependencies.clock.nowMs());
      return { ok: false };
    }
    return { ok: true, restCalls: Object.values(snapshot.restCalls).reduce((sum, calls) => sum + calls, 0) };
  }

  /** Adds the snapshot to the target's window; false when the window refused it as implausible. */
  private accept(entry: TargetEntry, snapshot: JobSnapshot): boolean {
    const added = entry.window.add(snapshot);
    for (const [reason, count] of Object.entries(added.dropped) as [SampleDropReason, number][]) {
      this.dependencies.observer?.observeSamplesDropped(reason, count);
    }
    if (added.implausible !== undefined) {
      const { field, value, bound } = added.implausible;
      const error = new FlinkImplausibleResponseError(entry.target.jobManagerUrl, field, value, bound);
      this.recordFailure(entry, error, snapshot.takenAtMs);
      return false;
    }
    // Only a sample the window took: its state and parallelism may end a pending rescale.
    this.dependencies.observer?.observeTargetSnapshot(entry.target, snapshot);
    const restCalls = Object.values(snapshot.restCalls).reduce((sum, calls) => sum + calls, 0);
    if (added.restart) {
      entry.logger.info(
        { jobId: snapshot.jobId, runningSinceMs: snapshot.runningSinceMs },
        'job restart detected; window dropped',
      );
    }
    if (entry.status.state === 'failing') {
      entry.logger.info(
        { jobId: snapshot.jobId, failures: entry.status.consecutiveFailures },
        'target readable again',
      );
      entry.failureLog.forget();
    }
    entry.logger.debug({ jobId: snapshot.jobId, state: snapshot.state, restCalls }, 'snapshot taken');
    entry.status = {
      ...entry.status,
      state: 'ok',
      jobId: snapshot.jobId,
      lastSuccessAtMs: snapshot.takenAtMs,
      consecutiveFailures: 0,
      lastRestCalls: restCalls,
    };
    return true;
  }

  private recordFailure(entry: TargetEntry, err: unknown, atMs: number): void {
    const code = errorCode(err);
    const message = errorMessage(err);
    entry.window.recordFailure({ atMs, code, message });
    this.dependencies.observer?.observeTargetFailure(entry.target, code);
    const failures = entry.status.consecutiveFailures + 1;
    const heldBack = entry.failureLog.admit(code, atMs);
    if (heldBack !== null) {
      entry.logger.warn({ err, code, failures, heldBack }, 'target skipped: cannot read its Flink job');
    } else {
      entry.logger.debug({ code, failures }, 'target still failing');
    }
    entry.status = {
      ...entry.status,
      state: 'failing',
      lastError: { code, message, atMs },
      consecutiveFailures: entry.status.consecutiveFailures + 1,
    };
  }

  private publishTargetCounts(): void {
    const counts: Record<CollectorTargetState, number> = { ok: 0, failing: 0, pending: 0 };
    for (const entry of this.entries.values()) counts[entry.status.state] += 1;
    this.dependencies.observer?.setTargetCounts(counts);
  }
}
