/**
 * One target's tick, decided: `planTarget` takes everything the scaler knows of a target at one
 * tick (its config, what its adapter read from the object, the tick's metric readings, its
 * histories, leadership and the time) and returns the plan: the outcome, the decision, the hold
 * that applies and what to record. It reads no clock, does no I/O and logs nothing.
 *
 * The scaling loop (src/runtime/scaling-loop.ts) executes plans against the cluster (the write,
 * Events, the status annotation); `slotscaler simulate` (src/simulate/run.ts) executes the same
 * plans against a job model. Whatever differs between the two worlds is an input here, so a
 * what-if shows what the cluster would do.
 */
import type { TargetConfig } from '../config/schema.js';
import { ANNOTATION_PREFIX } from '../config/keys.js';
import type { Decision, RecordedDecision, RecordedMetric, TargetHistory } from '../domain/decision.js';
import { isAvailable } from '../domain/metrics.js';
import type { MetricReading } from '../domain/metrics.js';
import type { RescalePath, TargetProblem, TargetView } from '../domain/target.js';
import type { WindowReadings } from '../metrics/metric-window.js';
import { decide } from './decide.js';
import { valueOf } from '../metrics/expression-metric.js';
import type { EvaluableMetric, MetricValues } from '../metrics/expression-metric.js';
import { choosePath, inPlaceVertices } from './rescale-path.js';
import type { RescaleInFlight, VertexParallelism } from './rescale-path.js';
import {
  backlogOf,
  budgetHold,
  checkpointHold,
  lagDemandsScaleUp,
  loadChangeHold,
  observeMetrics,
  postRescaleHold,
  rescalesWithin,
  sourceReadRate,
  targetDecisionInput,
} from './target-decision.js';

/** A target as the planner sees it: one of three states, so an impossible one does not type-check. */
export type PlannedTarget =
  /** Its annotations do not parse: `issues` says why. */
  | { readonly state: 'invalid'; readonly issues: string }
  /** Its config is good but the object cannot be scaled as it is (no JobManager URL, say). */
  | {
      readonly state: 'unscalable';
      readonly config: TargetConfig;
      readonly expressions: readonly EvaluableMetric[];
      readonly problem: TargetProblem;
    }
  | {
      readonly state: 'ready';
      readonly config: TargetConfig;
      readonly expressions: readonly EvaluableMetric[];
      readonly view: TargetView;
    };

/** The histories a plan needs: what the status annotation keeps, and the back-off after a failed write. */
export interface PlanHistory extends Omit<TargetHistory, 'recommendations'> {
  /** null: no recommendation yet (the decision core seeds the window with the current count). */
  readonly recommendations: TargetHistory['recommendations'] | null;
  /** No write before this time (epoch ms); 0 when not backing off. */
  readonly backoffUntilMs: number;
  /** A rescale written and not yet seen on the JobManager: nothing else is written meanwhile. */
  readonly inFlight: RescaleInFlight | null;
  /**
   * An in-place rescale the job did not take in time: with `rescale: auto`, the next write redeploys
   * (the operator's full upgrade) rather than wait for it.
   */
  readonly notTaken: RescaleInFlight | null;
}

export interface PlanInput {
  readonly target: PlannedTarget;
  /** The tick's readings of the target's metric window; undefined when none were taken. */
  readonly readings: WindowReadings | undefined;
  /**
   * The tick's metric values, catalogue and expression metrics (`metricValues` of the readings);
   * undefined when no readings were taken.
   */
  readonly values: MetricValues | undefined;
  readonly history: PlanHistory;
  /** This replica leads (only the leader writes). */
  readonly leader: boolean;
  /** Decide and report, write nothing. */
  readonly dryRun: boolean;
  /** The HorizontalPodAutoscalers that scale this target too (`namespace/name`). */
  readonly otherScalers: readonly string[];
  readonly nowMs: number;
}

/** Why a wanted change is not written now. */
export type HoldKind =
  | 'recommend'
  | 'not-leader'
  | 'conflict'
  | 'operator-busy'
  | 'in-flight'
  | 'post-rescale'
  /** A scale-up waits for a reading that has seen the whole change. */
  | 'partial-reading'
  /** A scale-up that catching up alone asks for, while the current capacity drains the backlog in time. */
  | 'catching-up'
  /** A scale-down waits for the stabilization window's recommendations to settle, then goes in one step. */
  | 'settling'
  /** `max-rescales-per-hour` is spent and the lag does not demand this change. */
  | 'budget'
  | 'stateless'
  | 'backoff'
  /** A rescale that restores from a checkpoint waits for the next one to complete (`rescale-after-checkpoint`). */
  | 'checkpoint'
  /** In place was asked for and the spec cannot do it, or the job's vertices are not known yet. */
  | 'rescale-path';

export interface Hold {
  readonly kind: HoldKind;
  readonly why: string;
}

/** Another autoscaler that writes the target too, and how to end the fight. */
export interface AutoscalerConflict {
  readonly who: string;
  readonly fix: string;
}

/** An expression metric whose value is not a finite number: not served, and its target hears why. */
export interface NonFiniteExpression {
  readonly name: string;
  readonly source: string;
  readonly detail: string;
}

/** The recommendation a plan makes: what `flink_recommended_taskmanagers` serves. */
export interface Recommendation {
  readonly replicas: number;
  readonly parallelism: number;
  readonly reason: string;
  /** When it was decided (epoch ms). */
  readonly atMs: number;
  readonly jobId: string | null;
}

interface PlanFacts {
  /** Expression metrics not finite at this tick (the executor reports a change). */
  readonly notFinite: readonly NonFiniteExpression[];
  /** Set while another autoscaler writes the target too and this one would. */
  readonly conflict: AutoscalerConflict | null;
}

interface Decided extends PlanFacts {
  readonly decision: Decision;
  readonly recommendation: Recommendation;
  /** The decision as `explain` and the status annotation show it (outcome: what happened). */
  readonly recorded: RecordedDecision;
  /** `TaskManagers 1 → 2, parallelism 2 → 4: ...`, for logs and Events. */
  readonly summary: string;
}

export type Plan =
  /** The annotations or the object are wrong: `why` names the key at fault. */
  | (PlanFacts & { readonly outcome: 'invalid'; readonly why: string; readonly key: string | null })
  /** Mode metrics-only: serve the metrics, decide nothing. */
  | (PlanFacts & { readonly outcome: 'metrics-only' })
  /**
   * Nothing to decide on. `alarm`: the cause persists (not a window filling or a job restarting),
   * so the target's users should hear it.
   */
  | (PlanFacts & {
      readonly outcome: 'no-metrics';
      /** No metric is available, or (`task-slots`) the job's task slots are not known yet. */
      readonly missing: 'metrics' | 'task-slots';
      /** Why, with the details (which change from tick to tick: records pending, ages...). */
      readonly why: string;
      /** The reasons alone (`stale,unknown-lag`): steady while the cause is, for saying it once. */
      readonly reasons: string;
      readonly alarm: boolean;
    })
  /** The decision keeps the current count. */
  | (Decided & { readonly outcome: 'unchanged' })
  /** A change is wanted and held (`recommend`: mode recommend or dry-run, recorded, never written). */
  | (Decided & { readonly outcome: 'held' | 'recommended'; readonly hold: Hold })
  /** Write it: `history` is what to record when the write succeeds. */
  | (Decided & {
      readonly outcome: 'scale';
      readonly write: PlannedWrite;
      readonly history: TargetHistory;
    });

/** What to write, and how it reaches the job. */
export interface PlannedWrite {
  readonly replicas: number;
  readonly parallelism: number;
  readonly path: RescalePath;
  /** Why this path (for the Event): what the spec allows, what the annotation asks. */
  readonly pathWhy: string;
  /** In place: every vertex of the running job and its new parallelism; null for other paths. */
  readonly vertices: readonly VertexParallelism[] | null;
  /** The job running when it was decided (an in-place rescale keeps it); null when none was seen. */
  readonly jobId: string | null;
}

export type PlanOutcome = Plan['outcome'];

/** Reasons a metric is unavailable that pass by themselves: no alarm for those. */
const TRANSIENT_REASONS: readonly string[] = ['no-data', 'not-enough-samples', 'restarting'];

/** A metric value as people read it: 4 significant digits. */
export function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
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

/** The plan of one target at one tick. Pure. */
export function planTarget(input: PlanInput): Plan {
  const { target } = input;
  if (target.state === 'invalid') {
    return { outcome: 'invalid', why: target.issues, key: null, notFinite: [], conflict: null };
  }
  const notFinite = nonFiniteExpressions(target.expressions, input.values);
  if (target.config.mode === 'metrics-only') return { outcome: 'metrics-only', notFinite, conflict: null };
  if (target.state === 'unscalable') {
    return {
      outcome: 'invalid',
      why: target.problem.problem,
      key: target.problem.key,
      notFinite,
      conflict: null,
    };
  }
  return planReady(input, target, notFinite);
}

function planReady(
  input: PlanInput,
  target: Extract<PlannedTarget, { state: 'ready' }>,
  notFinite: readonly NonFiniteExpression[],
): Plan {
  const { config, view } = target;
  const { readings, nowMs } = input;
  const conflict = conflictOf(input, view, config);
  const metrics = config.metrics.map((spec) => ({
    spec,
    reading: valueOf(spec.name, input.values),
  }));
  if (metrics.every(({ reading }) => !isAvailable(reading))) {
    return { outcome: 'no-metrics', missing: 'metrics', ...noMetrics(metrics, view), notFinite, conflict };
  }
  const taskSlots = view.taskSlots ?? readings?.taskSlots ?? null;
  if (taskSlots === null) {
    return {
      outcome: 'no-metrics',
      missing: 'task-slots',
      why: 'task slots not known yet (set slotscaler.dev/task-slots to skip asking Flink)',
      reasons: 'no-task-slots',
      alarm: false,
      notFinite,
      conflict,
    };
  }
  const decision = decide(
    targetDecisionInput(
      config,
      view,
      observeMetrics(metrics),
      input.history,
      taskSlots,
      readings?.maxParallelism ?? null,
      nowMs,
      readings?.capacityUnits,
    ),
  );
  const { recorded, ...decided } = decidedOf(input, view, metrics, decision, { notFinite, conflict });
  const redeployNotTaken = notTakenFallback(input, view, config);
  if (decision.desiredReplicas === view.currentReplicas && redeployNotTaken === null) {
    return { outcome: 'unchanged', ...decided, recorded };
  }
  const path = writeOf(input, config, view, decision, redeployNotTaken);
  const hold =
    holdOf(input, view, config, decision, conflict, redeployNotTaken !== null) ??
    path.hold ??
    checkpointHoldOf(input, view, config, decision, path.write);
  if (hold !== null || path.write === null) {
    const held = hold ?? { kind: 'rescale-path', why: 'no path' };
    const outcome = held.kind === 'recommend' ? held.why : `held: ${held.why}`;
    return {
      outcome: held.kind === 'recommend' ? 'recommended' : 'held',
      ...decided,
      hold: held,
      recorded: { ...recorded, outcome },
    };
  }
  const scaled: RecordedDecision = { ...recorded, outcome: 'scaled', path: path.write.path };
  return {
    outcome: 'scale',
    ...decided,
    recorded: scaled,
    summary: `${describeDecision(scaled)}; ${describePath(path.write)}`,
    write: path.write,
    history: {
      lastDecision: scaled,
      lastRescaleAtMs: nowMs,
      rescaleDoneAtMs: null,
      recommendations: decision.recommendations,
      scaleEvents: decision.scaleEvents,
      rescalesAtMs: [...rescalesWithin(input.history.rescalesAtMs, nowMs), nowMs],
    },
  };
}

/**
 * The last hold, once everything else lets the write go: a rescale that restores from a checkpoint
 * waits for the next one (see `checkpointHold`).
 */
function checkpointHoldOf(
  input: PlanInput,
  view: TargetView,
  config: TargetConfig,
  decision: Decision,
  write: PlannedWrite | null,
): Hold | null {
  if (write === null) return null;
  const why = checkpointHold({
    enabled: config.rescaleAfterCheckpoint,
    path: write.path,
    checkpoints: input.readings?.checkpoints,
    runningSinceMs: input.readings?.job?.runningSinceMs ?? null,
    currentReplicas: view.currentReplicas,
    desiredReplicas: decision.desiredReplicas,
    backlog: backlogOf(input.readings),
    readRecordsPerSecond: sourceReadRate(input.readings),
    catchUpSeconds: config.catchUpDuration,
    nowMs: input.nowMs,
  });
  return why === null ? null : { kind: 'checkpoint', why };
}

/** `in place (native mode on the adaptive scheduler: ...)`, for Events and logs. */
export function describePath(write: Pick<PlannedWrite, 'path' | 'pathWhy'>): string {
  const name =
    write.path === 'in-place' ? 'in place' : write.path === 'redeploy' ? 'redeploy' : 'scale fields';
  return `${name} (${write.pathWhy})`;
}

/**
 * The in-place rescale the job did not take, when `rescale: auto` lets a redeploy follow it: the
 * operator's full upgrade gets the job to the parallelism its spec already asks for.
 */
function notTakenFallback(input: PlanInput, view: TargetView, config: TargetConfig): RescaleInFlight | null {
  const notTaken = input.history.notTaken;
  if (notTaken === null || notTaken.path !== 'in-place') return null;
  if (config.rescale !== 'auto' || view.rescale.notInPlace !== 'redeploy') return null;
  return notTaken;
}

/** The write of a decision, or the hold that keeps it from being written (the path it needs is not there). */
function writeOf(
  input: PlanInput,
  config: TargetConfig,
  view: TargetView,
  decision: Decision,
  redeployNotTaken: RescaleInFlight | null,
): { write: PlannedWrite; hold: null } | { write: null; hold: Hold } {
  const write = {
    replicas: decision.desiredReplicas,
    parallelism: decision.parallelism,
    jobId: input.readings?.job?.jobId ?? null,
  };
  if (redeployNotTaken !== null) {
    return {
      write: {
        ...write,
        path: 'redeploy',
        pathWhy: `the job did not take the in-place rescale to parallelism ${redeployNotTaken.parallelism} in time (slotscaler.dev/rescale: auto)`,
        vertices: null,
      },
      hold: null,
    };
  }
  const choice = choosePath(view.rescale, config.rescale);
  if (!choice.ok) return { write: null, hold: { kind: 'rescale-path', why: choice.why } };
  if (choice.path !== 'in-place')
    return { write: { ...write, path: choice.path, pathWhy: choice.why, vertices: null }, hold: null };
  const job = input.readings?.job ?? null;
  if (job === null || job.vertices.length === 0) {
    return {
      write: null,
      hold: { kind: 'rescale-path', why: "in place needs the running job's vertices, not seen yet" },
    };
  }
  return {
    write: {
      ...write,
      path: 'in-place',
      pathWhy: choice.why,
      vertices: inPlaceVertices(job, decision.parallelism),
    },
    hold: null,
  };
}

/** What every plan with a decision carries: the decision, the recommendation, the record, the summary. */
function decidedOf(
  input: PlanInput,
  view: TargetView,
  metrics: readonly { readonly spec: TargetConfig['metrics'][number]; readonly reading: MetricReading }[],
  decision: Decision,
  facts: PlanFacts,
): Decided {
  const recorded: RecordedDecision = {
    atMs: input.nowMs,
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
  return {
    ...facts,
    decision,
    recommendation: {
      replicas: decision.desiredReplicas,
      parallelism: decision.parallelism,
      reason: decision.reason,
      atMs: input.nowMs,
      jobId: input.readings?.jobId ?? null,
    },
    recorded,
    summary: describeDecision(recorded),
  };
}

/** Why no metric can be decided on, and whether that deserves an alarm. */
function noMetrics(
  metrics: readonly { readonly spec: { readonly name: string }; readonly reading: MetricReading }[],
  view: TargetView,
): { why: string; reasons: string; alarm: boolean } {
  const reasons = metrics
    .map(({ reading }) => ('unavailable' in reading ? reading.unavailable : ''))
    .join(',');
  const why = metrics
    .map(({ spec, reading }) =>
      'unavailable' in reading
        ? `${spec.name}: ${reading.unavailable}${reading.detail === undefined ? '' : ` (${reading.detail})`}`
        : '',
    )
    .join('; ');
  // A new target filling its window, or a job restarting (after our own rescale, say), is
  // expected: no alarm for those, only for what persists (stale, no job, missing counters...).
  // Nor while the operator is busy: it is restarting the job on purpose.
  const transient = metrics.every(
    ({ reading }) => 'unavailable' in reading && TRANSIENT_REASONS.includes(reading.unavailable),
  );
  return { why, reasons, alarm: !transient && view.operatorBusy === null };
}

function nonFiniteExpressions(
  expressions: readonly EvaluableMetric[],
  values: MetricValues | undefined,
): NonFiniteExpression[] {
  if (values === undefined) return [];
  const out: NonFiniteExpression[] = [];
  for (const expression of expressions) {
    const reading = valueOf(expression.name, values);
    if ('unavailable' in reading && reading.unavailable === 'not-finite') {
      out.push({
        name: expression.name,
        source: expression.source,
        detail: reading.detail ?? 'is not a finite number',
      });
    }
  }
  return out;
}

/**
 * Another autoscaler that writes this target too; null when there is none or when Slotscaler does
 * not write it (modes recommend and metrics-only, dry-run).
 */
function conflictOf(input: PlanInput, view: TargetView, config: TargetConfig): AutoscalerConflict | null {
  if (config.mode !== 'scale' || input.dryRun) return null;
  if (view.otherAutoscaler !== null) {
    return {
      who: view.otherAutoscaler,
      fix: `turn one off: set it to "false", or let Slotscaler only serve metrics (${ANNOTATION_PREFIX}mode: metrics-only)`,
    };
  }
  const hpas = input.otherScalers;
  if (hpas.length === 0) return null;
  const many = hpas.length > 1;
  return {
    who: `the HorizontalPodAutoscaler${many ? 's' : ''} ${hpas.join(', ')} scale${many ? '' : 's'} it`,
    fix: `let the HPA write and Slotscaler serve its metrics (${ANNOTATION_PREFIX}mode: metrics-only), or delete the HPA`,
  };
}

/** The first hold that applies to a wanted change, in the order the scaler checks them; null: write it. */
function holdOf(
  input: PlanInput,
  view: TargetView,
  config: TargetConfig,
  decision: Decision,
  conflict: AutoscalerConflict | null,
  redeployingNotTaken: boolean,
): Hold | null {
  const { history, nowMs } = input;
  if (config.mode === 'recommend') return { kind: 'recommend', why: 'mode recommend' };
  if (input.dryRun) return { kind: 'recommend', why: 'dry-run' };
  if (!input.leader) return { kind: 'not-leader', why: 'not the leader' };
  if (conflict !== null) return { kind: 'conflict', why: conflict.who };
  if (view.operatorBusy !== null)
    return { kind: 'operator-busy', why: `the operator is busy: ${view.operatorBusy}` };
  if (history.inFlight !== null) {
    const inFlight = history.inFlight;
    return {
      kind: 'in-flight',
      why: `the ${inFlight.path === 'in-place' ? 'in-place rescale' : inFlight.path} to parallelism ${inFlight.parallelism} has not shown on the JobManager yet`,
    };
  }
  const postRescale = redeployingNotTaken
    ? null
    : postRescaleHold({
        lastRescaleAtMs: history.rescaleDoneAtMs ?? history.lastRescaleAtMs,
        readings: input.readings,
        currentReplicas: view.currentReplicas,
        desiredReplicas: decision.desiredReplicas,
        cooldownAfterRescaleSeconds: config.cooldownAfterRescale,
        nowMs,
      });
  if (postRescale !== null) return { kind: 'post-rescale', why: postRescale };
  const backlog = backlogOf(input.readings);
  // The redeploy after an in-place rescale the job did not take carries out a change already
  // decided and held for: the load-change holds do not apply to it again.
  const loadChange = redeployingNotTaken
    ? null
    : loadChangeHold({
        currentReplicas: view.currentReplicas,
        desiredReplicas: decision.desiredReplicas,
        proposedReplicas: decision.proposedReplicas,
        previousRecommendations: history.recommendations,
        recommendations: decision.recommendations,
        backlog,
        catchUpSeconds: config.catchUpDuration,
        scaleDownWindowSeconds: config.scaleDownStabilization,
        settleSeconds: config.metricsWindow,
        nowMs,
      });
  if (loadChange !== null) return loadChange;
  const budget = budgetHold({
    maxPerHour: config.maxRescalesPerHour,
    rescalesAtMs: history.rescalesAtMs,
    scalingUp: decision.desiredReplicas > view.currentReplicas,
    lagDemands: lagDemandsScaleUp(backlog, config.catchUpDuration),
    nowMs,
  });
  if (budget !== null) return { kind: 'budget', why: budget };
  if (view.stateless && !config.allowStatelessRescale) {
    return { kind: 'stateless', why: 'upgradeMode stateless' };
  }
  if (history.backoffUntilMs > nowMs) return { kind: 'backoff', why: 'backing off after a failed write' };
  return null;
}
