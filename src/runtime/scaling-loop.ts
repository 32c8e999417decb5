/**
 * The per-tick scaling pass over every target (collect -> evaluate -> execute, as the Apache
 * operator's `JobAutoScalerImpl`): the target's metrics from its window, the pure decision core with
 * the target's histories, then the write, the Event and the status annotation. Everything outside
 * is a port (targets, metrics, writer, events, leadership, clock), so the unit tests drive it with
 * fakes.
 *
 * A target that fails is logged, reported and skipped; the pass never throws. `runOnce` calls never
 * overlap (the caller's ticker makes sure; a second call while one runs returns at once).
 */
import type {
  Decision,
  MetricObservation,
  TimestampedRecommendation,
  TimestampedScaleEvent,
} from '../domain/decision.js';
import { isAvailable } from '../domain/metrics.js';
import type { Clock } from '../domain/ports.js';
import type { WindowReadings } from '../metrics/metric-window.js';
import { formatIssue } from '../config/annotations.js';
import { ANNOTATION_PREFIX } from '../config/keys.js';
import type { TargetConfig } from '../config/schema.js';
import { decide } from '../scaler/decide.js';
import {
  observeMetrics,
  postRescaleHold,
  readingOf,
  targetDecisionInput,
} from '../scaler/target-decision.js';
import type { Logger } from '../observability/logger.js';
import type { ScalingObserver } from '../observability/target-metrics.js';
import { isProblem, STATUS_ANNOTATION } from '../kube/adapters/adapter.js';
import type { TargetView } from '../domain/target.js';
import type { EventSink } from '../kube/events.js';
import type { OtherScalers } from '../kube/hpa-index.js';
import type { LeaderState } from '../kube/leader-election.js';
import { encodeStatus, mergeRecommendations, readStatus } from '../kube/status-annotation.js';
import type { RecordedDecision, RecordedMetric, TargetHistory } from '../domain/decision.js';
import type { RegisteredTarget, TargetSource } from '../kube/target-registry.js';
import type { ScaleTargetWriter, WriteOutcome } from '../kube/writer.js';

/** Where the loop reads a target's metrics. Real: the `Collector` (its windows). */
export interface MetricsSource {
  readings(targetId: string, nowMs: number): WindowReadings | undefined;
}

/** The scaler's recommendation for one target: what `flink_recommended_taskmanagers` serves. */
export interface Recommendation {
  readonly replicas: number;
  readonly parallelism: number;
  readonly reason: string;
  /** When it was decided (epoch ms). */
  readonly atMs: number;
  readonly jobId: string | null;
}

/**
 * The recommendations, for the external metrics API (`flink_recommended_taskmanagers`): the lead
 * plugs this into the MetricsProvider. Reads are from memory.
 */
export interface RecommendationSource {
  /** The latest recommendation for a target id (`flinkdeployment/<ns>/<name>`), if any. */
  recommendation(targetId: string): Recommendation | undefined;
}

export interface ScalingLoopOptions {
  /** Decide and report, write nothing to any target. */
  readonly dryRun: boolean;
  /** Record the status annotation with each scale and at shutdown. */
  readonly statusAnnotation: boolean;
  /** Decisions made again after a 409 within one pass. */
  readonly maxConflictRetries: number;
  /** How long to wait for the informer to bring the newer object after a 409. */
  readonly conflictWaitMs: number;
  /** Back-off after a failed write (doubled per failure), unless the server said how long. */
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
}

export const DEFAULT_SCALING_LOOP_OPTIONS: ScalingLoopOptions = Object.freeze({
  dryRun: false,
  statusAnnotation: true,
  maxConflictRetries: 3,
  conflictWaitMs: 2_000,
  backoffInitialMs: 1_000,
  backoffMaxMs: 60_000,
});

export interface ScalingLoopDependencies {
  readonly targets: TargetSource;
  readonly metrics: MetricsSource;
  readonly writer: ScaleTargetWriter;
  readonly events: EventSink;
  readonly leader: LeaderState;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Waits `ms` (after a 409, for the informer); injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The HPAs of the cluster, so a target an HPA writes too is not written (none: not checked). */
  readonly otherScalers?: OtherScalers | undefined;
  /** Per-target Prometheus metrics (src/observability/target-metrics.ts). */
  readonly observer?: ScalingObserver | undefined;
}

/** What the loop did with one target in one pass; the `outcome` of its last decision. */
export type TargetOutcome =
  | 'invalid'
  | 'metrics-only'
  | 'no-metrics'
  | 'unchanged'
  | 'scaled'
  | 'recommended'
  | 'held'
  | 'conflict'
  | 'gone'
  | 'write-failed'
  | 'error';

/** One successful write, for logs and tests. */
export interface AppliedWrite {
  readonly targetId: string;
  readonly atMs: number;
  readonly fromReplicas: number;
  readonly toReplicas: number;
  readonly parallelism: number;
  readonly reason: string;
  /** The resourceVersion the decision was made on. */
  readonly basedOn: string | undefined;
}

export interface PassResult {
  readonly skipped: boolean;
  readonly outcomes: ReadonlyMap<string, TargetOutcome>;
}

interface TargetMemory {
  uid: string | undefined;
  /** The status annotation text last adopted. */
  adoptedStatus: string | undefined;
  recommendations: readonly TimestampedRecommendation[] | null;
  scaleEvents: readonly TimestampedScaleEvent[];
  lastRescaleAtMs: number | null;
  lastDecision: RecordedDecision | null;
  backoffUntilMs: number;
  failures: number;
  recommendation: Recommendation | undefined;
  /** The last hold or skip logged, so a steady one is logged once. */
  lastNotice: string | undefined;
  /** The recommendation last recorded in mode recommend. */
  recordedRecommendation: number | undefined;
  /** Expression metrics whose value was not finite at the last pass. */
  readonly notFinite: Set<string>;
  logger: Logger;
  loggerJobId: string | null;
}

/** Reasons a metric is unavailable that pass by themselves: logged, not reported as Events. */
const TRANSIENT_REASONS: readonly string[] = ['no-data', 'not-enough-samples', 'restarting'];

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A metric value as people read it: 4 significant digits. */
function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

export class ScalingLoop implements RecommendationSource {
  readonly options: ScalingLoopOptions;
  private readonly memories = new Map<string, TargetMemory>();
  private running = false;
  private readonly writeLog: AppliedWrite[] = [];
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly deps: ScalingLoopDependencies,
    options: Partial<ScalingLoopOptions> = {},
  ) {
    this.options = Object.freeze({ ...DEFAULT_SCALING_LOOP_OPTIONS, ...options });
    this.sleep = deps.sleep ?? defaultSleep;
  }

  /** Successful writes so far, oldest first (bounded). */
  get writes(): readonly AppliedWrite[] {
    return [...this.writeLog];
  }

  recommendation(targetId: string): Recommendation | undefined {
    return this.memories.get(targetId)?.recommendation;
  }

  /** The histories the loop holds for a target (for tests and `explain`). */
  status(targetId: string): TargetHistory | undefined {
    const memory = this.memories.get(targetId);
    if (memory === undefined) return undefined;
    return {
      lastDecision: memory.lastDecision,
      lastRescaleAtMs: memory.lastRescaleAtMs,
      recommendations: memory.recommendations ?? [],
      scaleEvents: memory.scaleEvents,
    };
  }

  /**
   * A new leader reloads the histories its predecessor left in the status annotations: scale
   * events and the last rescale from there, recommendations merged with its own.
   */
  reloadHistories(): void {
    for (const target of this.deps.targets.list()) {
      const memory = this.memories.get(target.id);
      if (memory === undefined) continue;
      this.adopt(memory, target, true);
    }
  }

  /** One pass over every target. Never throws; a call while one runs is skipped. */
  async runOnce(): Promise<PassResult> {
    if (this.running) return { skipped: true, outcomes: new Map() };
    this.running = true;
    const outcomes = new Map<string, TargetOutcome>();
    try {
      const targets = this.deps.targets.list();
      const ids = new Set(targets.map((target) => target.id));
      for (const id of this.memories.keys()) if (!ids.has(id)) this.memories.delete(id);
      for (const target of targets) {
        let outcome: TargetOutcome;
        try {
          outcome = await this.evaluate(target, 0);
        } catch (err) {
          // A bug of ours must not stop the other targets.
          this.deps.logger.error({ err, target: target.id }, 'target evaluation failed');
          outcome = 'error';
        }
        outcomes.set(target.id, outcome);
        const reason = this.memories.get(target.id)?.recommendation?.reason;
        this.deps.observer?.observeOutcome(target, outcome, reason);
      }
    } finally {
      this.running = false;
    }
    return { skipped: false, outcomes };
  }

  /**
   * Writes every target's status annotation (at shutdown: the stabilization windows survive a
   * restart). Only the leader writes, never in dry-run.
   */
  async flushStatus(): Promise<void> {
    if (!this.options.statusAnnotation || this.options.dryRun || !this.deps.leader.isLeader()) return;
    await Promise.all(
      this.deps.targets.list().map(async (target) => {
        const memory = this.memories.get(target.id);
        if (memory === undefined || memory.recommendations === null) return;
        const text = encodeStatus(this.statusOf(memory));
        if (target.object.metadata.annotations?.[STATUS_ANNOTATION] === text) return;
        const outcome = await this.deps.writer.write([target.adapter.planStatusWrite(target.object, text)]);
        if (!outcome.ok && outcome.kind !== 'gone') {
          memory.logger.warn({ outcome }, 'cannot write the status annotation at shutdown');
        }
      }),
    );
  }

  private statusOf(memory: TargetMemory): TargetHistory {
    return {
      lastDecision: memory.lastDecision,
      lastRescaleAtMs: memory.lastRescaleAtMs,
      recommendations: memory.recommendations ?? [],
      scaleEvents: memory.scaleEvents,
    };
  }

  private memoryOf(target: RegisteredTarget, jobId: string | null): TargetMemory {
    let memory = this.memories.get(target.id);
    if (memory === undefined || memory.uid !== target.object.metadata.uid) {
      memory = {
        uid: target.object.metadata.uid,
        adoptedStatus: undefined,
        recommendations: null,
        scaleEvents: [],
        lastRescaleAtMs: null,
        lastDecision: null,
        backoffUntilMs: 0,
        failures: 0,
        recommendation: undefined,
        lastNotice: undefined,
        recordedRecommendation: undefined,
        notFinite: new Set(),
        logger: this.deps.logger.child({ namespace: target.ref.namespace, name: target.ref.name, jobId }),
        loggerJobId: jobId,
      };
      this.memories.set(target.id, memory);
      this.adopt(memory, target, true);
    } else if (memory.loggerJobId !== jobId) {
      memory.logger = this.deps.logger.child({
        namespace: target.ref.namespace,
        name: target.ref.name,
        jobId,
      });
      memory.loggerJobId = jobId;
    }
    return memory;
  }

  /**
   * Takes the histories of the target's status annotation: at first sight, when becoming leader
   * (`force`), and while not leader whenever the leader has written a new one.
   */
  private adopt(memory: TargetMemory, target: RegisteredTarget, force: boolean): void {
    const text = target.object.metadata.annotations?.[STATUS_ANNOTATION];
    if (!force && text === memory.adoptedStatus) return;
    memory.adoptedStatus = text;
    const { status, problems } = readStatus(text, this.deps.clock.nowMs());
    if (problems.length > 0) {
      memory.logger.warn({ problems }, 'status annotation not taken as it is');
      this.deps.events.emit(
        target.ref,
        'Warning',
        'InvalidStatus',
        `${STATUS_ANNOTATION}: ${problems.join('; ')}`,
      );
    }
    if (status === null) return;
    memory.scaleEvents = status.scaleEvents;
    memory.lastRescaleAtMs = status.lastRescaleAtMs;
    memory.lastDecision = status.lastDecision ?? memory.lastDecision;
    memory.recommendations = mergeRecommendations(status.recommendations, memory.recommendations ?? []);
  }

  /**
   * An expression metric whose value is not a finite number (a division by zero, the square root of
   * a negative) is not served; its target hears why, whether it scales on it or only serves it.
   */
  private reportNonFiniteExpressions(
    target: RegisteredTarget,
    memory: TargetMemory,
    readings: WindowReadings | undefined,
  ): void {
    if (!target.parsed.ok || readings === undefined) return;
    for (const expression of target.parsed.expressions) {
      const reading = readingOf(expression.name, readings, target.parsed.expressions);
      const notFinite = 'unavailable' in reading && reading.unavailable === 'not-finite';
      if (!notFinite) {
        memory.notFinite.delete(expression.name);
        continue;
      }
      // Said when it becomes non-finite; the Event recorder limits a flapping one.
      if (memory.notFinite.has(expression.name)) continue;
      memory.notFinite.add(expression.name);
      const detail = reading.detail ?? 'is not a finite number';
      memory.logger.warn({ metric: expression.name, detail }, 'expression metric not finite; not served');
      this.deps.events.emit(
        target.ref,
        'Warning',
        'ExpressionNotFinite',
        `${ANNOTATION_PREFIX}metric.${expression.name} "${expression.source}" ${detail}; not served while it is not finite`,
      );
    }
  }

  /**
   * Another autoscaler that writes this target too, and how to end the fight; null when there is
   * none or when Slotscaler does not write it (modes recommend and metrics-only, dry-run).
   */
  private conflictOf(
    target: RegisteredTarget,
    view: TargetView,
    config: TargetConfig,
  ): { who: string; fix: string } | null {
    if (config.mode !== 'scale' || this.options.dryRun) return null;
    if (view.otherAutoscaler !== null) {
      return {
        who: view.otherAutoscaler,
        fix: `turn one off: set it to "false", or let Slotscaler only serve metrics (${ANNOTATION_PREFIX}mode: metrics-only)`,
      };
    }
    const hpas = this.deps.otherScalers?.hpasScaling(target.ref) ?? [];
    if (hpas.length === 0) return null;
    return {
      who: `the HorizontalPodAutoscaler${hpas.length > 1 ? 's' : ''} ${hpas.join(', ')} scale${hpas.length > 1 ? '' : 's'} it`,
      fix: `let the HPA write and Slotscaler serve its metrics (${ANNOTATION_PREFIX}mode: metrics-only), or delete the HPA`,
    };
  }

  /** Logs a steady condition once (until it changes). */
  private notice(memory: TargetMemory, key: string, log: () => void): void {
    if (memory.lastNotice === key) return;
    memory.lastNotice = key;
    log();
  }

  private async evaluate(target: RegisteredTarget, attempt: number): Promise<TargetOutcome> {
    const { events, leader, clock } = this.deps;
    const nowMs = clock.nowMs();

    if (!target.parsed.ok) {
      const issues = target.parsed.issues.map(formatIssue).join('; ');
      const memory = this.memoryOf(target, null);
      memory.recommendation = undefined;
      this.notice(memory, `invalid:${issues}`, () => {
        memory.logger.warn(
          { issues: target.parsed.ok ? [] : target.parsed.issues },
          'target skipped: invalid annotation',
        );
      });
      events.emit(target.ref, 'Warning', 'InvalidAnnotation', `target skipped until fixed: ${issues}`);
      return 'invalid';
    }
    const { config, expressions } = target.parsed;
    const readings = this.deps.metrics.readings(target.id, nowMs);
    const memory = this.memoryOf(target, readings?.jobId ?? null);
    if (!leader.isLeader()) this.adopt(memory, target, false);
    this.reportNonFiniteExpressions(target, memory, readings);

    if (config.mode === 'metrics-only') {
      memory.recommendation = undefined;
      return 'metrics-only';
    }
    const view = target.view;
    if (view === null) return 'invalid';
    if (isProblem(view)) {
      memory.recommendation = undefined;
      this.notice(memory, `problem:${view.problem}`, () => {
        memory.logger.warn({ key: view.key, problem: view.problem }, 'target skipped');
      });
      events.emit(
        target.ref,
        'Warning',
        'InvalidAnnotation',
        `${view.key}: ${view.problem}; target skipped until fixed`,
      );
      return 'invalid';
    }

    const conflict = this.conflictOf(target, view, config);
    if (conflict !== null && leader.isLeader()) {
      // Said while it lasts (the recorder spaces the Warnings), whether or not a change is wanted now.
      events.emit(
        target.ref,
        'Warning',
        'AutoscalerConflict',
        `not rescaled while ${conflict.who}: two autoscalers on one object undo each other's rescales, and each one restarts the job; ${conflict.fix}`,
      );
    }

    const metrics = config.metrics.map((spec) => {
      const reading = readingOf(spec.name, readings, expressions);
      return { spec, reading };
    });
    if (metrics.every(({ reading }) => !isAvailable(reading))) {
      memory.recommendation = undefined;
      const why = metrics
        .map(({ spec, reading }) =>
          isAvailable(reading)
            ? ''
            : `${spec.name}: ${reading.unavailable}${reading.detail === undefined ? '' : ` (${reading.detail})`}`,
        )
        .join('; ');
      this.notice(
        memory,
        `no-metrics:${metrics.map(({ reading }) => ('unavailable' in reading ? reading.unavailable : '')).join(',')}`,
        () => {
          memory.logger.warn({ why }, 'no metric available; not scaling');
        },
      );
      // A new target filling its window, or a job restarting (after our own rescale, say), is
      // expected: no alarm for those, only for what persists (stale, no job, missing counters...).
      const transient = metrics.every(
        ({ reading }) => 'unavailable' in reading && TRANSIENT_REASONS.includes(reading.unavailable),
      );
      if (!transient && view.busy === null) {
        events.emit(
          target.ref,
          'Warning',
          'MetricsUnavailable',
          `no metric available, not scaling (nor scaling down): ${why}`,
        );
      }
      return 'no-metrics';
    }

    const taskSlots = view.taskSlots ?? readings?.taskSlots ?? null;
    if (taskSlots === null) {
      this.notice(memory, 'no-slots', () => {
        memory.logger.info(
          {},
          'task slots not known yet (set slotscaler.dev/task-slots to skip asking Flink)',
        );
      });
      return 'no-metrics';
    }
    const observations: MetricObservation[] = observeMetrics(metrics);
    const input = targetDecisionInput(
      config,
      view,
      observations,
      memory,
      taskSlots,
      readings?.maxParallelism ?? null,
      nowMs,
    );
    const decision = decide(input);
    const recommendation: Recommendation = {
      replicas: decision.desiredReplicas,
      parallelism: decision.parallelism,
      reason: decision.reason,
      atMs: nowMs,
      jobId: readings?.jobId ?? null,
    };
    memory.recommendation = recommendation;
    memory.recommendations = decision.recommendations;

    const recorded: RecordedDecision = {
      atMs: nowMs,
      fromReplicas: view.currentReplicas,
      toReplicas: decision.desiredReplicas,
      fromParallelism: view.currentParallelism,
      toParallelism: decision.parallelism,
      reason: decision.reason,
      outcome: 'unchanged',
      metrics: metrics.map(({ spec, reading }) => ({
        name: spec.name,
        type: spec.type,
        value: isAvailable(reading) ? reading.value : null,
        target: spec.targetMilli / 1000,
      })),
    };
    const summary = describeDecision(recorded);

    if (decision.desiredReplicas === view.currentReplicas) {
      memory.logger.debug({ replicas: view.currentReplicas, reason: decision.reason }, 'no change');
      memory.lastNotice = undefined;
      return 'unchanged';
    }

    // A change is wanted. Is this replica allowed to write it now?
    const hold = this.holdReason(memory, target, view, config, readings, decision, nowMs);
    if (hold !== null) {
      this.deps.observer?.observeHold(target, hold.kind);
      const recordedHold = { ...recorded, outcome: `held: ${hold.why}` };
      this.notice(memory, `hold:${hold.kind}:${decision.desiredReplicas}`, () => {
        memory.logger.info(
          { from: view.currentReplicas, to: decision.desiredReplicas, hold: hold.why },
          'change held',
        );
        // A held target says why where its users look; the replicas that do not lead stay quiet
        // (the leader speaks), and recommend and stateless holds have Events of their own below.
        if (hold.kind === 'busy' || hold.kind === 'post-rescale' || hold.kind === 'backoff') {
          events.emit(target.ref, 'Normal', 'RescaleHeld', `${summary}: held: ${hold.why}`);
        }
      });
      if (hold.kind === 'recommend') {
        memory.lastDecision = { ...recorded, outcome: hold.why };
        if (memory.recordedRecommendation !== decision.desiredReplicas) {
          memory.recordedRecommendation = decision.desiredReplicas;
          events.emit(target.ref, 'Normal', 'RescaleRecommended', `${summary} (${hold.why}, not written)`);
          if (this.options.statusAnnotation && !this.options.dryRun && leader.isLeader()) {
            await this.deps.writer.write([
              target.adapter.planStatusWrite(target.object, encodeStatus(this.statusOf(memory))),
            ]);
          }
        }
        return 'recommended';
      }
      if (hold.kind === 'stateless') {
        events.emit(
          target.ref,
          'Warning',
          'StatelessUpgradeMode',
          `${summary}: not written: upgradeMode stateless restarts the job from empty state; set slotscaler.dev/allow-stateless-rescale: "true" if it has no state to lose`,
        );
      }
      if (hold.kind !== 'not-leader') memory.lastDecision = recordedHold;
      return 'held';
    }

    // The write: TaskManagers and parallelism together, guarded by the resourceVersion decided on.
    const scaleEvents = decision.scaleEvents;
    const scaled: RecordedDecision = { ...recorded, outcome: 'scaled' };
    const statusText = this.options.statusAnnotation
      ? encodeStatus({
          lastDecision: scaled,
          lastRescaleAtMs: nowMs,
          recommendations: decision.recommendations,
          scaleEvents,
        })
      : undefined;
    const steps = target.adapter.planWrite(
      target.object,
      { replicas: decision.desiredReplicas, parallelism: decision.parallelism, statusAnnotation: statusText },
      config,
      target.crd,
    );
    const outcome = await this.deps.writer.write(steps);
    this.deps.observer?.observeWrite(target, {
      atMs: nowMs,
      fromReplicas: view.currentReplicas,
      toReplicas: decision.desiredReplicas,
      parallelism: decision.parallelism,
      steps,
      outcome,
    });
    return this.afterWrite(target, memory, outcome, {
      decision,
      scaled,
      summary,
      attempt,
      statusText,
      nowMs,
      view,
    });
  }

  private async afterWrite(
    target: RegisteredTarget,
    memory: TargetMemory,
    outcome: WriteOutcome,
    context: {
      decision: Decision;
      scaled: RecordedDecision;
      summary: string;
      attempt: number;
      statusText: string | undefined;
      nowMs: number;
      view: TargetView;
    },
  ): Promise<TargetOutcome> {
    const { decision, scaled, summary, nowMs, view } = context;
    if (outcome.ok) {
      memory.scaleEvents = decision.scaleEvents;
      memory.lastRescaleAtMs = nowMs;
      memory.lastDecision = scaled;
      memory.failures = 0;
      memory.backoffUntilMs = 0;
      memory.lastNotice = undefined;
      if (context.statusText !== undefined) memory.adoptedStatus = context.statusText;
      this.writeLog.push({
        targetId: target.id,
        atMs: nowMs,
        fromReplicas: view.currentReplicas,
        toReplicas: decision.desiredReplicas,
        parallelism: decision.parallelism,
        reason: decision.reason,
        basedOn: target.object.metadata.resourceVersion,
      });
      if (this.writeLog.length > 1000) this.writeLog.shift();
      memory.logger.info(
        {
          from: view.currentReplicas,
          to: decision.desiredReplicas,
          parallelism: decision.parallelism,
          reason: decision.reason,
          proposals: decision.proposals,
        },
        'rescaled',
      );
      this.deps.events.emit(target.ref, 'Normal', 'Rescaled', summary);
      return 'scaled';
    }
    switch (outcome.kind) {
      case 'conflict': {
        // Someone changed the object since the decision: take the newer one from the informer
        // (no GET) and decide again.
        const basedOn = target.object.metadata.resourceVersion;
        memory.logger.info(
          { basedOn, attempt: context.attempt },
          'write conflict; deciding again on the newer object',
        );
        if (context.attempt >= this.options.maxConflictRetries) return 'conflict';
        const newer = await this.waitForNewer(target.id, basedOn);
        if (newer === undefined) return 'gone';
        if (newer.object.metadata.resourceVersion === basedOn) return 'conflict';
        return this.evaluate(newer, context.attempt + 1);
      }
      case 'gone':
        memory.logger.info({}, 'target deleted while a decision was in flight; dropped');
        this.memories.delete(target.id);
        return 'gone';
      case 'throttled':
      case 'unreachable':
      case 'refused': {
        memory.failures += 1;
        const backoffMs = Math.min(
          this.options.backoffMaxMs,
          this.options.backoffInitialMs * 2 ** (memory.failures - 1),
        );
        const waitMs =
          outcome.kind === 'throttled' && outcome.retryAfterMs !== null
            ? Math.max(outcome.retryAfterMs, 0)
            : backoffMs;
        memory.backoffUntilMs = nowMs + waitMs;
        memory.lastDecision = { ...scaled, outcome: `write failed: ${outcome.kind}` };
        memory.logger.warn(
          { outcome, retryInMs: waitMs, failures: memory.failures },
          'write failed; backing off',
        );
        if (outcome.kind === 'refused') {
          this.deps.events.emit(
            target.ref,
            'Warning',
            'RescaleRefused',
            `${summary}: the API server refused the write (HTTP ${outcome.status}): ${outcome.message}`,
          );
        }
        return 'write-failed';
      }
    }
  }

  private async waitForNewer(id: string, basedOn: string | undefined): Promise<RegisteredTarget | undefined> {
    const deadline = this.deps.clock.nowMs() + this.options.conflictWaitMs;
    for (;;) {
      const current = this.deps.targets.get(id);
      if (current === undefined || current.object.metadata.resourceVersion !== basedOn) return current;
      if (this.deps.clock.nowMs() >= deadline) return current;
      await this.sleep(50);
    }
  }

  private holdReason(
    memory: TargetMemory,
    target: RegisteredTarget,
    view: TargetView,
    config: TargetConfig,
    readings: WindowReadings | undefined,
    decision: Decision,
    nowMs: number,
  ): {
    kind: 'recommend' | 'not-leader' | 'conflict' | 'busy' | 'post-rescale' | 'stateless' | 'backoff';
    why: string;
  } | null {
    if (config.mode === 'recommend') return { kind: 'recommend', why: 'mode recommend' };
    if (this.options.dryRun) return { kind: 'recommend', why: 'dry-run' };
    if (!this.deps.leader.isLeader()) return { kind: 'not-leader', why: 'not the leader' };
    const conflict = this.conflictOf(target, view, config);
    if (conflict !== null) return { kind: 'conflict', why: conflict.who };
    if (view.busy !== null) return { kind: 'busy', why: `the operator is busy: ${view.busy}` };
    const postRescale = postRescaleHold({
      lastRescaleAtMs: memory.lastRescaleAtMs,
      readings,
      currentReplicas: view.currentReplicas,
      desiredReplicas: decision.desiredReplicas,
      cooldownAfterRescaleSeconds: config.cooldownAfterRescale,
      nowMs,
    });
    if (postRescale !== null) return { kind: 'post-rescale', why: postRescale };
    if (view.stateless && !config.allowStatelessRescale) {
      return { kind: 'stateless', why: 'upgradeMode stateless' };
    }
    if (memory.backoffUntilMs > nowMs)
      return { kind: 'backoff', why: `backing off after a failed write (${target.id})` };
    return null;
  }
}

/** `TaskManagers 1 → 2, parallelism 2 → 4: flink_busy_ratio 0.93 (target 0.7); reason ScaleUpLimit`. */
export function describeDecision(decision: RecordedDecision): string {
  const metrics = decision.metrics.map((metric: RecordedMetric) =>
    metric.value === null
      ? `${metric.name} unavailable (target ${formatValue(metric.target)})`
      : `${metric.name} ${formatValue(metric.value)} (target ${formatValue(metric.target)}${metric.type === 'AverageValue' ? ' per TaskManager' : ''})`,
  );
  const parallelism =
    decision.fromParallelism === null
      ? `${decision.toParallelism}`
      : `${decision.fromParallelism} → ${decision.toParallelism}`;
  return `TaskManagers ${decision.fromReplicas} → ${decision.toReplicas}, parallelism ${parallelism}: ${metrics.join(', ')}; reason ${decision.reason}`;
}
