/**
 * The per-tick scaling pass over every target, an executor of plans: for each target the pure
 * planner (`planTarget`, src/scaler/plan-target.ts) decides from the target's config, its view,
 * the tick's readings and its histories; this loop carries the plan out against the cluster (the
 * write, Events, logs, the status annotation) and remembers what happened. `slotscaler simulate`
 * carries out the same plans against a job model.
 *
 * A target that fails is logged, reported and skipped; the pass never throws. `runOnce` calls never
 * overlap (the caller's ticker makes sure; a second call while one runs returns at once).
 */
import { formatIssue } from '../config/annotations.js';
import { ANNOTATION_PREFIX } from '../config/keys.js';
import type { TargetHistory } from '../domain/decision.js';
import type { Clock, JobRequirementsClient } from '../domain/ports.js';
import { rescaleInPlace } from '../flink/in-place.js';
import type { JobAsSeen } from '../metrics/metric-window.js';
import type { MetricValues } from '../metrics/expression-metric.js';
import type { WindowReadings } from '../metrics/metric-window.js';
import { planTarget } from '../scaler/plan-target.js';
import { inFlightOf, rescaleProgress } from '../scaler/rescale-path.js';
import type { RescaleInFlight } from '../scaler/rescale-path.js';
import { NO_HISTORY, planHistoryOf } from '../scaler/history-store.js';
import type { Plan, PlannedTarget, Recommendation } from '../scaler/plan-target.js';
import type { Logger } from '../observability/logger.js';
import type { ScalingObserver } from '../observability/target-metrics.js';
import { STATUS_ANNOTATION } from '../kube/adapters/adapter.js';
import type { EventSink } from '../kube/events.js';
import type { OtherScalers } from '../kube/hpa-index.js';
import type { LeaderState } from '../kube/leader-election.js';
import { AnnotationHistoryStore, encodeStatus } from '../kube/status-annotation.js';
import type { RegisteredTarget, TargetSource } from '../kube/target-registry.js';
import type { ScaleTargetWriter, WriteOutcome } from '../kube/writer.js';

/** Where the loop reads a target's tick. Real: the `SnapshotStore` (the collector's windows, read once per tick). */
export interface MetricsSource {
  readings(targetId: string, nowMs: number): WindowReadings | undefined;
  /** The same tick's metric values, catalogue and expression metrics, each evaluated once. */
  values(targetId: string, nowMs: number): MetricValues | undefined;
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
  /** The targets' histories; by default a new store (taken from the status annotations). */
  readonly histories?: AnnotationHistoryStore;
  /**
   * The JobManager of a target, for the in-place rescales Slotscaler makes itself (a TaskManager
   * Deployment with no operator). None: such rescales fail as unreachable.
   */
  readonly jobManagers?: ((url: string) => JobRequirementsClient) | undefined;
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

/** What the executor keeps of a target besides its histories (those are in the history store). */
interface TargetMemory {
  uid: string | undefined;
  backoffUntilMs: number;
  failures: number;
  recommendation: Recommendation | undefined;
  /** The last hold or skip logged, so a steady one is logged once. */
  lastNotice: string | undefined;
  /** The recommendation last recorded in mode recommend. */
  recordedRecommendation: number | undefined;
  /** Expression metrics whose value was not finite at the last pass. */
  readonly notFinite: Set<string>;
  /** The rescale written and not yet seen on the JobManager. */
  inFlight: RescaleInFlight | null;
  /** The in-place rescale the job did not take in time (a redeploy may follow it). */
  notTaken: RescaleInFlight | null;
  /** The last refusal by the JobManager said in a Warning, so a repeated one is said once. */
  lastRefusal: string | undefined;
  logger: Logger;
  loggerJobId: string | null;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class ScalingLoop implements RecommendationSource {
  readonly options: ScalingLoopOptions;
  private readonly memories = new Map<string, TargetMemory>();
  private running = false;
  private readonly writeLog: AppliedWrite[] = [];
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly histories: AnnotationHistoryStore;

  constructor(
    private readonly deps: ScalingLoopDependencies,
    options: Partial<ScalingLoopOptions> = {},
  ) {
    this.options = Object.freeze({ ...DEFAULT_SCALING_LOOP_OPTIONS, ...options });
    this.sleep = deps.sleep ?? defaultSleep;
    this.histories = deps.histories ?? new AnnotationHistoryStore();
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
    return this.histories.get(targetId);
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
      for (const id of this.memories.keys()) if (!ids.has(id)) this.forget(id);
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
   * restart). Only the leader (or the target's owner) writes, never in dry-run.
   */
  async flushStatus(): Promise<void> {
    if (!this.options.statusAnnotation || this.options.dryRun) return;
    await Promise.all(
      this.deps.targets.list().map(async (target) => {
        if (!this.deps.leader.isLeader(target.id)) return;
        const memory = this.memories.get(target.id);
        const history = this.histories.get(target.id);
        if (memory === undefined || history === undefined) return;
        const text = encodeStatus(history);
        if (target.object.metadata.annotations?.[STATUS_ANNOTATION] === text) return;
        const outcome = await this.deps.writer.write([target.adapter.planStatusWrite(target.object, text)]);
        if (!outcome.ok && outcome.kind !== 'gone') {
          memory.logger.warn({ outcome }, 'cannot write the status annotation at shutdown');
        }
      }),
    );
  }

  private memoryOf(target: RegisteredTarget, jobId: string | null): TargetMemory {
    let memory = this.memories.get(target.id);
    if (memory === undefined || memory.uid !== target.object.metadata.uid) {
      this.histories.delete(target.id);
      memory = {
        uid: target.object.metadata.uid,
        backoffUntilMs: 0,
        failures: 0,
        recommendation: undefined,
        lastNotice: undefined,
        recordedRecommendation: undefined,
        notFinite: new Set(),
        inFlight: null,
        notTaken: null,
        lastRefusal: undefined,
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
    const problems = this.histories.take(target.id, text, this.deps.clock.nowMs(), force);
    if (problems.length === 0) return;
    memory.logger.warn({ problems }, 'status annotation not taken as it is');
    this.deps.events.emit(
      target.ref,
      'Warning',
      'InvalidStatus',
      `${STATUS_ANNOTATION}: ${problems.join('; ')}`,
    );
  }

  private forget(targetId: string): void {
    this.memories.delete(targetId);
    this.histories.delete(targetId);
  }

  private record(targetId: string, change: Partial<TargetHistory>): void {
    this.histories.set(targetId, { ...(this.histories.get(targetId) ?? NO_HISTORY), ...change });
  }

  /** Logs a steady condition once (until it changes). */
  private notice(memory: TargetMemory, key: string, log: () => void): void {
    if (memory.lastNotice === key) return;
    memory.lastNotice = key;
    log();
  }

  private async evaluate(target: RegisteredTarget, attempt: number): Promise<TargetOutcome> {
    const nowMs = this.deps.clock.nowMs();
    const readings = target.parsed.ok ? this.deps.metrics.readings(target.id, nowMs) : undefined;
    const memory = this.memoryOf(target, readings?.jobId ?? null);
    const leader = this.deps.leader.isLeader(target.id);
    if (target.parsed.ok && !leader) this.adopt(memory, target, false);
    if (memory.inFlight !== null) this.follow(target, memory, readings?.job ?? null, nowMs);
    // An in-place rescale that came late, after it was reported not taken: no redeploy for it.
    if (
      memory.notTaken !== null &&
      rescaleProgress({ ...memory.notTaken, deadlineMs: Infinity }, readings?.job ?? null, nowMs).state ===
        'done'
    ) {
      memory.notTaken = null;
    }
    const plan = planTarget({
      target: plannedTarget(target),
      readings,
      values: target.parsed.ok ? this.deps.metrics.values(target.id, nowMs) : undefined,
      history: planHistoryOf(this.histories.get(target.id), {
        backoffUntilMs: memory.backoffUntilMs,
        inFlight: memory.inFlight,
        notTaken: memory.notTaken,
      }),
      leader,
      dryRun: this.options.dryRun,
      otherScalers: this.deps.otherScalers?.hpasScaling(target.ref) ?? [],
      nowMs,
    });
    if (readings !== undefined) this.reportNonFinite(target, memory, plan);
    const decided = 'decision' in plan ? plan : null;
    memory.recommendation = decided?.recommendation;
    if (decided !== null) this.record(target.id, { recommendations: decided.decision.recommendations });
    if (plan.conflict !== null && leader) {
      // Said while it lasts (the recorder spaces the Warnings), whether or not a change is wanted now.
      this.deps.events.emit(
        target.ref,
        'Warning',
        'AutoscalerConflict',
        `not rescaled while ${plan.conflict.who}: two autoscalers on one object undo each other's rescales, and each one restarts the job; ${plan.conflict.fix}`,
      );
    }
    switch (plan.outcome) {
      case 'invalid':
        this.reportInvalid(target, memory, plan);
        return 'invalid';
      case 'metrics-only':
        return 'metrics-only';
      case 'no-metrics':
        this.reportNoMetrics(target, memory, plan);
        return 'no-metrics';
      case 'unchanged':
        memory.logger.debug(
          { replicas: plan.recorded.fromReplicas, reason: plan.decision.reason },
          'no change',
        );
        memory.lastNotice = undefined;
        return 'unchanged';
      case 'held':
      case 'recommended':
        return this.hold(target, memory, plan);
      case 'scale':
        return this.scale(target, memory, plan, attempt);
    }
  }

  private reportInvalid(
    target: RegisteredTarget,
    memory: TargetMemory,
    plan: Extract<Plan, { outcome: 'invalid' }>,
  ): void {
    this.notice(memory, `invalid:${plan.why}`, () => {
      memory.logger.warn(
        plan.key === null ? { issues: plan.why } : { key: plan.key, problem: plan.why },
        plan.key === null ? 'target skipped: invalid annotation' : 'target skipped',
      );
    });
    this.deps.events.emit(
      target.ref,
      'Warning',
      'InvalidAnnotation',
      plan.key === null
        ? `target skipped until fixed: ${plan.why}`
        : `${plan.key}: ${plan.why}; target skipped until fixed`,
    );
  }

  private reportNoMetrics(
    target: RegisteredTarget,
    memory: TargetMemory,
    plan: Extract<Plan, { outcome: 'no-metrics' }>,
  ): void {
    this.notice(memory, `no-metrics:${plan.reasons}`, () => {
      if (plan.missing === 'task-slots') memory.logger.info({}, plan.why);
      else memory.logger.warn({ why: plan.why }, 'no metric available; not scaling');
    });
    if (plan.alarm) {
      this.deps.events.emit(
        target.ref,
        'Warning',
        'MetricsUnavailable',
        `no metric available, not scaling (nor scaling down): ${plan.why}`,
      );
    }
  }

  /**
   * An expression metric whose value is not a finite number (a division by zero, the square root of
   * a negative) is not served; its target hears why when it becomes so, whether it scales on it or
   * only serves it (the Event recorder limits a flapping one).
   */
  private reportNonFinite(target: RegisteredTarget, memory: TargetMemory, plan: Plan): void {
    const now = new Set(plan.notFinite.map((expression) => expression.name));
    for (const name of memory.notFinite) if (!now.has(name)) memory.notFinite.delete(name);
    for (const expression of plan.notFinite) {
      if (memory.notFinite.has(expression.name)) continue;
      memory.notFinite.add(expression.name);
      memory.logger.warn(
        { metric: expression.name, detail: expression.detail },
        'expression metric not finite; not served',
      );
      this.deps.events.emit(
        target.ref,
        'Warning',
        'ExpressionNotFinite',
        `${ANNOTATION_PREFIX}metric.${expression.name} "${expression.source}" ${expression.detail}; not served while it is not finite`,
      );
    }
  }

  private async hold(
    target: RegisteredTarget,
    memory: TargetMemory,
    plan: Extract<Plan, { outcome: 'held' | 'recommended' }>,
  ): Promise<TargetOutcome> {
    const { hold, summary } = plan;
    const desired = plan.decision.desiredReplicas;
    const { events } = this.deps;
    this.deps.observer?.observeHold(target, hold.kind);
    this.notice(memory, `hold:${hold.kind}:${desired}`, () => {
      memory.logger.info({ from: plan.recorded.fromReplicas, to: desired, hold: hold.why }, 'change held');
      // A held target says why where its users look; the replicas that do not lead stay quiet
      // (the leader speaks), and recommend and stateless holds have Events of their own below.
      if (
        hold.kind === 'operator-busy' ||
        hold.kind === 'in-flight' ||
        hold.kind === 'post-rescale' ||
        hold.kind === 'backoff' ||
        hold.kind === 'checkpoint'
      ) {
        events.emit(target.ref, 'Normal', 'RescaleHeld', `${summary}: held: ${hold.why}`);
      }
      if (hold.kind === 'rescale-path') {
        events.emit(target.ref, 'Warning', 'RescalePathUnavailable', `${summary}: ${hold.why}`);
      }
      if (hold.kind === 'budget') {
        events.emit(target.ref, 'Warning', 'RestartBudgetSpent', `${summary}: held: ${hold.why}`);
      }
    });
    if (hold.kind === 'recommend') {
      this.record(target.id, { lastDecision: plan.recorded });
      // Recorded by the replica that writes the target alone: one Event, and a replica that takes the
      // target over (a new leader, or its new owner with shards) records it again.
      if (memory.recordedRecommendation !== desired && this.deps.leader.isLeader(target.id)) {
        memory.recordedRecommendation = desired;
        events.emit(target.ref, 'Normal', 'RescaleRecommended', `${summary} (${hold.why}, not written)`);
        if (this.options.statusAnnotation && !this.options.dryRun) {
          await this.deps.writer.write([
            target.adapter.planStatusWrite(
              target.object,
              encodeStatus(this.histories.get(target.id) ?? NO_HISTORY),
            ),
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
    if (hold.kind !== 'not-leader') this.record(target.id, { lastDecision: plan.recorded });
    return 'held';
  }

  /** The write: TaskManagers and parallelism together, guarded by the resourceVersion decided on. */
  private async scale(
    target: RegisteredTarget,
    memory: TargetMemory,
    plan: Extract<Plan, { outcome: 'scale' }>,
    attempt: number,
  ): Promise<TargetOutcome> {
    if (target.state !== 'ready') return 'invalid';
    const statusText = this.options.statusAnnotation ? encodeStatus(plan.history) : undefined;
    const steps = target.adapter.planWrite(
      target.object,
      { ...plan.write, statusAnnotation: statusText },
      target.parsed.config,
      target.crd,
    );
    const outcome =
      plan.write.path === 'in-place' && target.adapter.inPlaceThroughJobManager === true
        ? await this.writeThroughJobManager(target, plan, steps)
        : await this.deps.writer.write(steps);
    this.deps.observer?.observeWrite(target, {
      atMs: plan.recorded.atMs,
      fromReplicas: plan.recorded.fromReplicas,
      toReplicas: plan.write.replicas,
      parallelism: plan.write.parallelism,
      path: plan.write.path,
      steps,
      outcome,
    });
    if (outcome.ok) {
      this.written(target, memory, plan, statusText, target.parsed.config.rescaleConfirmTimeout);
      return 'scaled';
    }
    switch (outcome.kind) {
      case 'conflict':
        return this.retryOnNewer(target, memory, attempt);
      case 'gone':
        memory.logger.info({}, 'target deleted while a decision was in flight; dropped');
        this.forget(target.id);
        return 'gone';
      case 'throttled':
      case 'unreachable':
      case 'refused':
        this.failed(target, memory, plan, outcome);
        return 'write-failed';
    }
  }

  /**
   * An in-place rescale Slotscaler makes itself: the TaskManager Deployment through the API server
   * and the job's resource requirements through its JobManager. TaskManagers come first on the way
   * up and go last on the way down, so the job never asks for slots that are not there yet nor
   * loses TaskManagers whose slots it still uses.
   */
  private async writeThroughJobManager(
    target: RegisteredTarget,
    plan: Extract<Plan, { outcome: 'scale' }>,
    steps: Parameters<ScaleTargetWriter['write']>[0],
  ): Promise<WriteOutcome> {
    const { write } = plan;
    const jobManager = async (): Promise<WriteOutcome> => {
      if (target.state !== 'ready' || write.vertices === null || write.jobId === null) {
        return {
          ok: false,
          kind: 'refused',
          status: 0,
          message: 'the running job is not known',
          byJobManager: true,
        };
      }
      if (this.deps.jobManagers === undefined) {
        return { ok: false, kind: 'unreachable', message: 'no JobManager client' };
      }
      try {
        await rescaleInPlace(this.deps.jobManagers(target.view.jobManagerUrl), write.jobId, write.vertices);
        return { ok: true, resourceVersion: undefined };
      } catch (err) {
        return {
          ok: false,
          kind: 'refused',
          status: 0,
          message: `the JobManager refused the in-place rescale: ${err instanceof Error ? err.message : String(err)}`,
          byJobManager: true,
        };
      }
    };
    const up = write.replicas > plan.recorded.fromReplicas;
    const first = up ? await this.deps.writer.write(steps) : await jobManager();
    if (!first.ok) return first;
    return up ? jobManager() : this.deps.writer.write(steps);
  }

  /**
   * Follows a written rescale on the JobManager: once the job runs at the new parallelism the
   * post-rescale hold counts from then; a rescale not seen in time is reported, and an in-place one
   * may be followed by a redeploy (`slotscaler.dev/rescale: auto`, decided by the planner).
   */
  private follow(target: RegisteredTarget, memory: TargetMemory, job: JobAsSeen | null, nowMs: number): void {
    const inFlight = memory.inFlight;
    if (inFlight === null) return;
    const progress = rescaleProgress(inFlight, job, nowMs);
    if (progress.state === 'waiting') return;
    memory.inFlight = null;
    const how =
      inFlight.path === 'in-place'
        ? 'in-place rescale'
        : inFlight.path === 'redeploy'
          ? 'redeploy'
          : 'rescale';
    if (progress.state === 'done') {
      const seconds = Math.round((progress.runningSinceMs - inFlight.atMs) / 100) / 10;
      this.record(target.id, { rescaleDoneAtMs: progress.runningSinceMs });
      this.deps.observer?.observeRescaleResult(
        target,
        inFlight.path,
        progress.replaced ? 'replaced' : 'done',
      );
      memory.logger.info(
        { path: inFlight.path, parallelism: inFlight.parallelism, seconds, replaced: progress.replaced },
        'rescale done',
      );
      if (progress.replaced) {
        this.deps.events.emit(
          target.ref,
          'Warning',
          'RescaleRedeployed',
          `the in-place rescale to parallelism ${inFlight.parallelism} reached the job under a new job id ${job?.jobId ?? ''} (was ${inFlight.jobId ?? 'unknown'}): the job was redeployed, not rescaled in place (the operator falls back to a full upgrade when its in-place path fails; see its Events)`,
        );
      } else {
        this.deps.events.emit(
          target.ref,
          'Normal',
          'RescaleDone',
          `the job runs at parallelism ${inFlight.parallelism}${inFlight.path === 'in-place' ? ' (rescaled in place, same job)' : ` (${how})`}, ${seconds} s after the write`,
        );
      }
      return;
    }
    // Not seen in time: holds move on, and the planner may redeploy an in-place rescale.
    if (inFlight.path === 'in-place') memory.notTaken = inFlight;
    const config = target.parsed.ok ? target.parsed.config : null;
    const redeployFollows =
      inFlight.path === 'in-place' && config?.rescale === 'auto' && target.state === 'ready'
        ? target.view.rescale.notInPlace === 'redeploy'
        : false;
    const last = this.histories.get(target.id)?.lastDecision ?? null;
    this.record(target.id, {
      rescaleDoneAtMs: nowMs,
      ...(last === null ? {} : { lastDecision: { ...last, outcome: `${last.outcome}; not taken in time` } }),
    });
    this.deps.observer?.observeRescaleResult(target, inFlight.path, 'not-taken');
    const waited = Math.round((inFlight.deadlineMs - inFlight.atMs) / 1000);
    memory.logger.warn(
      { path: inFlight.path, parallelism: inFlight.parallelism, seen: progress.seen },
      'rescale not taken',
    );
    this.deps.events.emit(
      target.ref,
      'Warning',
      'RescaleNotTaken',
      `the ${how} to parallelism ${inFlight.parallelism} did not show on the JobManager within ${waited} s (seen: ${progress.seen}); ${
        redeployFollows
          ? 'redeploying at that parallelism (slotscaler.dev/rescale: auto)'
          : inFlight.path === 'in-place'
            ? 'no redeploy follows (slotscaler.dev/rescale is not auto, or the target has no redeploy)'
            : 'holds move on'
      }`,
    );
  }

  private written(
    target: RegisteredTarget,
    memory: TargetMemory,
    plan: Extract<Plan, { outcome: 'scale' }>,
    statusText: string | undefined,
    confirmTimeoutSeconds: number,
  ): void {
    const { decision, recorded, write } = plan;
    this.histories.set(target.id, plan.history);
    if (statusText !== undefined) this.histories.wrote(target.id, statusText);
    memory.failures = 0;
    memory.backoffUntilMs = 0;
    memory.lastNotice = undefined;
    memory.lastRefusal = undefined;
    if (write.path !== 'in-place') memory.notTaken = null;
    memory.inFlight = inFlightOf(write, recorded.atMs, confirmTimeoutSeconds);
    this.writeLog.push({
      targetId: target.id,
      atMs: recorded.atMs,
      fromReplicas: recorded.fromReplicas,
      toReplicas: plan.write.replicas,
      parallelism: plan.write.parallelism,
      reason: decision.reason,
      basedOn: target.object.metadata.resourceVersion,
    });
    if (this.writeLog.length > 1000) this.writeLog.shift();
    memory.logger.info(
      {
        from: recorded.fromReplicas,
        to: plan.write.replicas,
        parallelism: plan.write.parallelism,
        path: write.path,
        reason: decision.reason,
        proposals: decision.proposals,
      },
      'rescaled',
    );
    this.deps.events.emit(target.ref, 'Normal', 'Rescaled', plan.summary);
  }

  /** Someone changed the object since the decision: take the newer one from the informer (no GET) and plan again. */
  private async retryOnNewer(
    target: RegisteredTarget,
    memory: TargetMemory,
    attempt: number,
  ): Promise<TargetOutcome> {
    const basedOn = target.object.metadata.resourceVersion;
    memory.logger.info({ basedOn, attempt }, 'write conflict; deciding again on the newer object');
    if (attempt >= this.options.maxConflictRetries) return 'conflict';
    const newer = await this.waitForNewer(target.id, basedOn);
    if (newer === undefined) return 'gone';
    if (newer.object.metadata.resourceVersion === basedOn) return 'conflict';
    return this.evaluate(newer, attempt + 1);
  }

  private failed(
    target: RegisteredTarget,
    memory: TargetMemory,
    plan: Extract<Plan, { outcome: 'scale' }>,
    outcome: Extract<WriteOutcome, { kind: 'throttled' | 'unreachable' | 'refused' }>,
  ): void {
    memory.failures += 1;
    const backoffMs = Math.min(
      this.options.backoffMaxMs,
      this.options.backoffInitialMs * 2 ** (memory.failures - 1),
    );
    // A JobManager that refused an in-place rescale would refuse it again at once: the target waits
    // the longest back-off, and the Warning is said once per refusal.
    const byJobManager = outcome.kind === 'refused' && outcome.byJobManager === true;
    const waitMs =
      outcome.kind === 'throttled' && outcome.retryAfterMs !== null
        ? Math.max(outcome.retryAfterMs, 0)
        : byJobManager
          ? this.options.backoffMaxMs
          : backoffMs;
    memory.backoffUntilMs = plan.recorded.atMs + waitMs;
    this.record(target.id, { lastDecision: { ...plan.recorded, outcome: `write failed: ${outcome.kind}` } });
    memory.logger.warn(
      { outcome, retryInMs: waitMs, failures: memory.failures },
      'write failed; backing off',
    );
    if (byJobManager) {
      if (memory.lastRefusal !== outcome.message) {
        memory.lastRefusal = outcome.message;
        this.deps.events.emit(
          target.ref,
          'Warning',
          'RescaleRefused',
          `${plan.summary}: ${outcome.message}; not retried for ${Math.round(this.options.backoffMaxMs / 1000)} s, and no redeploy`,
        );
      }
    } else if (outcome.kind === 'refused') {
      this.deps.events.emit(
        target.ref,
        'Warning',
        'RescaleRefused',
        `${plan.summary}: the API server refused the write (HTTP ${outcome.status}): ${outcome.message}`,
      );
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
}

/** A registered target in the planner's terms. */
export function plannedTarget(target: RegisteredTarget): PlannedTarget {
  if (target.state === 'invalid') {
    return { state: 'invalid', issues: target.parsed.issues.map(formatIssue).join('; ') };
  }
  const { config, expressions } = target.parsed;
  switch (target.state) {
    case 'unscalable':
      return { state: 'unscalable', config, expressions, problem: target.view };
    case 'ready':
      return { state: 'ready', config, expressions, view: target.view };
  }
}
