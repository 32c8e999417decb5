/**
 * Replays a trace through the job model, the real metric window and the real decision core, as the
 * scaler would run them against the job: every tick the job's snapshot goes into a `MetricWindow`
 * (with the target's window options), the target's metrics are read from it (catalogue or expression
 * metrics), mapped to a `DecisionInput` by the scaler's own `targetDecisionInput`, decided by
 * `decide`, and held after a rescale by the scaler's own `postRescaleHold`. A change that is not
 * held is "written": the model rescales to the new TaskManagers and parallelism by the path the
 * write takes (`simulatedRescalePath`), at that path's cost.
 *
 * The baseline `hpa-cpu` is the plain HPA on the TaskManagers (the "HPA on TaskManagers" setup,
 * Flink reactive mode, so its rescales take the `scale` path): CPU utilization is read as the busy
 * ratio over the last 30 s (what metrics-server gives), with no hold after a restart and the HPA's
 * default behavior, every 15 s.
 *
 * Pure: the time is simulated.
 */
import { FLINK_METRIC_NAMES } from '../metrics/catalogue.js';
import { compileExpressionMetric } from '../metrics/expression-metric.js';
import { MetricWindow } from '../metrics/metric-window.js';
import type { MetricWindowOptions, WindowReadings } from '../metrics/metric-window.js';
import { formatIssue, parseTargetAnnotations } from '../config/annotations.js';
import { resolveConfig } from '../config/load.js';
import type { TargetConfig } from '../config/schema.js';
import type { RecordedDecision, TargetHistory } from '../domain/decision.js';
import type { JobSnapshot } from '../domain/flink.js';
import { isAvailable } from '../domain/metrics.js';
import type { FlinkMetricName, MetricReading } from '../domain/metrics.js';
import type { RescalePath, RescaleSupport } from '../domain/target.js';
import { SimulateInputError } from '../errors.js';
import { decide } from '../scaler/decide.js';
import { InMemoryHistoryStore, NO_HISTORY, planHistoryOf } from '../scaler/history-store.js';
import { planTarget } from '../scaler/plan-target.js';
import type { PlanHistory, PlanInput } from '../scaler/plan-target.js';
import { choosePath, inFlightOf, rescaleProgress } from '../scaler/rescale-path.js';
import type { RescaleInFlight, VertexParallelism } from '../scaler/rescale-path.js';
import { metricValues, valueOf } from '../metrics/expression-metric.js';
import type { EvaluableMetric } from '../metrics/expression-metric.js';
import { observeMetrics, targetDecisionInput } from '../scaler/target-decision.js';
import { JobModel } from './job-model.js';
import { PEER_DEFAULT_KNOBS, PeerModel } from './peer-model.js';
import type { PeerModelKnobs } from './peer-model.js';
import type { JobModelOptions, RescaleEffect } from './job-model.js';
import { rateAt } from './traces.js';
import type { Trace } from './traces.js';

/** A policy that decides the TaskManagers of the simulated job. */
export type Policy =
  | {
      readonly kind: 'slotscaler';
      /** Shown in tables and charts. */
      readonly label: string;
      readonly config: TargetConfig;
      readonly expressions: readonly EvaluableMetric[];
    }
  | {
      readonly kind: 'hpa-cpu';
      readonly label: string;
      /** Target CPU utilization (here: the busy ratio), 0..1. */
      readonly targetUtilization: number;
      /** The HPA's bounds and behavior; only `minTaskmanagers`, `maxTaskmanagers`, `tolerance` and the behavior fields are read. */
      readonly config: TargetConfig;
    }
  | {
      /** A model of the Flink operator's autoscaler (`./peer-model.ts`); rescales in place. */
      readonly kind: 'peer-model';
      readonly label: string;
      readonly knobs: PeerModelKnobs;
      /** Only the TaskManager bounds are read. */
      readonly config: TargetConfig;
    };

/** Slotscaler itself, as opposed to the baseline. */
export type SlotscalerPolicy = Extract<Policy, { kind: 'slotscaler' }>;

/**
 * How Slotscaler's rescales reach the simulated job (`--rescale`): `auto` is what a FlinkDeployment
 * in native mode on the adaptive scheduler with Flink ≥ 1.18 gets, in place.
 */
export const RESCALE_OPTIONS = ['auto', 'in-place', 'redeploy'] as const;
export type RescaleOption = (typeof RESCALE_OPTIONS)[number];

/**
 * The path a rescale Slotscaler writes to the simulated job takes. The simulated target is a
 * FlinkDeployment in native mode on the adaptive scheduler with Flink ≥ 1.18, which the operator
 * rescales in place; `redeploy` is the full upgrade it does for a spec that cannot.
 */
export function simulatedRescalePath(option: RescaleOption): RescalePath {
  const choice = choosePath(SIMULATED_RESCALE, option);
  return choice.ok ? choice.path : SIMULATED_RESCALE.notInPlace;
}

/** What the simulated target's spec allows: a FlinkDeployment that the operator rescales in place. */
const SIMULATED_RESCALE: RescaleSupport = {
  auto: 'in-place',
  autoWhy: 'native mode on the adaptive scheduler: the operator rescales in place',
  inPlaceMissing: null,
  notInPlace: 'redeploy',
};

export interface SimulationOptions {
  readonly trace: Trace;
  readonly policy: Policy;
  /** Seconds between two ticks of the scaler (the config's tick-interval). */
  readonly tickIntervalSeconds: number;
  /** Lag above this many seconds counts as "over the lag objective". */
  readonly lagObjectiveSeconds: number;
  readonly model?: Partial<JobModelOptions>;
  /** How Slotscaler's rescales reach the job (default `auto`); the baseline always takes `scale`. */
  readonly rescale?: RescaleOption;
}

/** The job and what the scaler saw, at one tick. */
export interface TimelinePoint {
  readonly seconds: number;
  readonly inputRecordsPerSecond: number;
  readonly capacityRecordsPerSecond: number;
  readonly taskManagers: number;
  readonly parallelism: number;
  readonly restarting: boolean;
  readonly backlogRecords: number;
  /** Age of the oldest pending record (the model's truth). */
  readonly lagSeconds: number;
  /** The window's metrics (null: unavailable). */
  readonly busyRatio: number | null;
  readonly backpressureRatio: number | null;
  /** The window's flink_demand_ratio (null: unavailable); above 1 when the job falls behind. */
  readonly demandRatio: number | null;
}

/** A change the policy wanted: written (`scaled`) or held, and why. */
export interface SimulatedDecision {
  readonly seconds: number;
  readonly fromTaskManagers: number;
  readonly toTaskManagers: number;
  readonly parallelism: number;
  readonly reason: string;
  /** `scaled`, or `held: <why>`. */
  readonly outcome: string;
  /** The metrics the decision was made on, as people read them. */
  readonly metrics: string;
  /** What a written change cost the job (absent when held, and in a real run that does not count it). */
  readonly rescale?: RescaleEffect;
}

export interface SimulationSummary {
  readonly durationSeconds: number;
  readonly rescales: number;
  readonly scaleUps: number;
  readonly scaleDowns: number;
  /** Rescales by the path they took (absent in a real run that does not tell them apart). */
  readonly rescalesByPath?: Readonly<Record<RescalePath, number>>;
  /** Seconds the job was down restarting (or taking a savepoint to stop). */
  readonly restartDowntimeSeconds: number;
  /**
   * Records processed again because a restore went back to the latest checkpoint (absent in a real
   * run that does not count them).
   */
  readonly recordsReprocessed?: number;
  /** Seconds the age of the oldest pending record was above the objective. */
  readonly secondsOverLagObjective: number;
  readonly lagObjectiveSeconds: number;
  readonly peakLagSeconds: number;
  readonly taskManagerHours: number;
  readonly peakTaskManagers: number;
  readonly finalTaskManagers: number;
  readonly recordsIn: number;
  /** Distinct records processed: a replayed record counts once. */
  readonly recordsProcessed: number;
  readonly finalBacklogRecords: number;
}

export interface SimulationResult {
  readonly policy: string;
  readonly policyKind: Policy['kind'];
  readonly trace: string;
  readonly tickIntervalSeconds: number;
  readonly timeline: readonly TimelinePoint[];
  readonly decisions: readonly SimulatedDecision[];
  readonly summary: SimulationSummary;
}

/** The HPA's sync period (`--horizontal-pod-autoscaler-sync-period`, default 15 s). */
export const HPA_SYNC_PERIOD_SECONDS = 15;
/** metrics-server's CPU window for the baseline. */
const HPA_CPU_WINDOW_SECONDS = 30;

const FORMAT = (value: number): string =>
  Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));

/** The defaults of `slotscaler serve`: the global config with nothing set. */
export function defaultScalerConfig(): { tickIntervalSeconds: number; target: TargetConfig } {
  const { config } = resolveConfig({});
  const result = parseTargetAnnotations({});
  if (!result.ok) throw new Error('the default target config does not parse');
  return { tickIntervalSeconds: config.tickInterval, target: result.config };
}

/**
 * Slotscaler with a target's `slotscaler.dev/*` annotations, parsed as the scaler parses them
 * (same schema, defaults, known metrics and expression check). Throws `SimulateInputError` listing
 * every problem.
 */
export function slotscalerPolicy(
  annotations: Readonly<Record<string, string>>,
  label = 'slotscaler',
  source = 'annotations',
): SlotscalerPolicy {
  const result = parseTargetAnnotations(annotations, {
    knownMetrics: FLINK_METRIC_NAMES,
    checkExpression: (name, expression) => {
      compileExpressionMetric(name, expression);
    },
  });
  if (!result.ok) throw new SimulateInputError(source, result.issues.map(formatIssue).join('; '));
  if (result.config.minTaskmanagers < 1) {
    throw new SimulateInputError(
      source,
      'slotscaler.dev/min-taskmanagers: the job model cannot scale to zero; set 1 or more to simulate',
    );
  }
  return {
    kind: 'slotscaler',
    label,
    config: result.config,
    expressions: Object.entries(result.expressions).map(([name, expression]) =>
      compileExpressionMetric(name, expression),
    ),
  };
}

/**
 * The plain HPA on CPU utilization with its default behavior, bounded like `bounds` (so both
 * policies have the same room).
 */
export function hpaCpuPolicy(bounds: TargetConfig, targetUtilization = 0.7): Policy {
  const defaults = defaultScalerConfig().target;
  return {
    kind: 'hpa-cpu',
    label: 'hpa-cpu',
    targetUtilization,
    config: { ...defaults, minTaskmanagers: bounds.minTaskmanagers, maxTaskmanagers: bounds.maxTaskmanagers },
  };
}

/**
 * The model of the Flink operator's autoscaler with Slotscaler's window, catch-up and scale-down
 * settings where it has the same knob, its own defaults elsewhere (restart time 5 min, boundary
 * 0.3), bounded to the same TaskManagers.
 */
export function peerModelPolicy(ours: TargetConfig, taskSlots: number, targetUtilization = 0.7): Policy {
  return {
    kind: 'peer-model',
    label: 'flink-operator-autoscaler (model)',
    knobs: {
      ...PEER_DEFAULT_KNOBS,
      metricsWindowSeconds: ours.metricsWindow,
      stabilizationSeconds: ours.metricsHoldAfterRestart,
      catchUpSeconds: ours.catchUpDuration,
      scaleDownIntervalSeconds: ours.scaleDownStabilization,
      targetUtilization,
      minParallelism: Math.max(1, ours.minTaskmanagers * taskSlots),
      maxParallelism: Math.min(
        ours.maxParallelism ?? Number.MAX_SAFE_INTEGER,
        ours.maxTaskmanagers * taskSlots,
      ),
    },
    config: ours,
  };
}

/** The modelled peer's tick: its decision on the job's snapshot, carried out in place. */
function peerStep(
  peer: PeerModel,
  snapshot: JobSnapshot,
  current: { readonly taskManagers: number; readonly parallelism: number },
  taskSlots: number,
  nowMs: number,
): TickStep | null {
  const tick = peer.tick(snapshot, nowMs);
  if (tick.action === 'collecting') return null;
  if (tick.action === 'keep') return { recommendations: [], entry: null, rescale: null };
  const e = tick.evaluation;
  const replicas = Math.ceil(tick.parallelism / taskSlots);
  const recorded: RecordedDecision = {
    atMs: nowMs,
    fromReplicas: current.taskManagers,
    toReplicas: replicas,
    fromParallelism: current.parallelism,
    toParallelism: tick.parallelism,
    reason: `true processing rate ${FORMAT(e.trueProcessingRate)}/s against target capacity ${FORMAT(e.targetCapacity)}/s`,
    outcome: 'scaled',
    metrics: [
      { name: 'busy ratio', type: 'Value', value: e.busyRatio, target: peer.knobs.targetUtilization },
    ],
  };
  const outcome = tick.action === 'rescale' ? 'scaled' : 'held: scale-down.interval';
  return {
    recommendations: [],
    entry: simulatedDecision(recorded, outcome, (name) => name),
    rescale:
      tick.action === 'rescale'
        ? policyRescale(recorded, nowMs, 'in-place', replicas, tick.parallelism, [])
        : null,
  };
}

function windowOptions(policy: Policy): Partial<MetricWindowOptions> {
  if (policy.kind === 'hpa-cpu') {
    return {
      windowSeconds: HPA_CPU_WINDOW_SECONDS,
      restartHoldoffSeconds: 0,
      maxSampleAgeSeconds: 2 * HPA_SYNC_PERIOD_SECONDS,
    };
  }
  return {
    windowSeconds: policy.config.metricsWindow,
    restartHoldoffSeconds: policy.config.metricsHoldAfterRestart,
    maxSampleAgeSeconds: policy.config.metricsMaxAge,
    catchUpSeconds: policy.config.catchUpDuration,
  };
}

function value(reading: MetricReading): number | null {
  return isAvailable(reading) ? reading.value : null;
}

/** What one tick of a policy did: the histories to keep, the change it wanted, the rescale to make. */
interface TickStep {
  readonly recommendations: TargetHistory['recommendations'];
  /** The change wanted (scaled or held); null when the count stays. */
  readonly entry: Omit<SimulatedDecision, 'seconds'> | null;
  readonly rescale: {
    readonly replicas: number;
    readonly parallelism: number;
    readonly path: RescalePath;
    readonly jobId: string | null;
    readonly vertices: readonly VertexParallelism[] | null;
    readonly history: Pick<
      PlanHistory,
      'lastDecision' | 'lastRescaleAtMs' | 'rescaleDoneAtMs' | 'scaleEvents'
    >;
  } | null;
}

/**
 * What the scaler in the cluster would be given for the simulated job at one tick: the job model
 * is the target (a FlinkDeployment whose operator is never busy, stateful, led by this replica,
 * with no other autoscaler), so the plan is the cluster's own.
 */
export function simulatedPlanInput(
  policy: SlotscalerPolicy,
  job: { readonly taskManagers: number; readonly parallelism: number },
  readings: WindowReadings | undefined,
  history: PlanHistory,
  modelTaskSlots: number,
  nowMs: number,
  rescale: RescaleOption = 'auto',
): PlanInput {
  const current = job.taskManagers;
  return {
    target: {
      state: 'ready',
      // `--rescale` stands for the target's slotscaler.dev/rescale annotation.
      config: { ...policy.config, rescale },
      expressions: policy.expressions,
      view: {
        jobManagerUrl: 'simulated',
        jobId: undefined,
        taskSlots: policy.config.taskSlots ?? modelTaskSlots,
        currentReplicas: current,
        readyReplicas: current,
        statusReplicas: current,
        currentParallelism: job.parallelism,
        operatorBusy: null,
        stateless: false,
        otherAutoscaler: null,
        rescale: SIMULATED_RESCALE,
      },
    },
    readings,
    values: readings === undefined ? undefined : metricValues(readings.metrics, policy.expressions),
    history,
    leader: true,
    dryRun: false,
    otherScalers: [],
    nowMs,
  };
}

/** Slotscaler's tick: the cluster's plan of the tick's input, carried out on the model. */
function slotscalerStep(input: PlanInput): TickStep | null {
  const plan = planTarget(input);
  switch (plan.outcome) {
    case 'invalid':
    case 'metrics-only':
    case 'no-metrics':
      return null;
    case 'unchanged':
      return { recommendations: plan.decision.recommendations, entry: null, rescale: null };
    case 'held':
    case 'recommended':
      return {
        recommendations: plan.decision.recommendations,
        entry: simulatedDecision(plan.recorded, `held: ${plan.hold.why}`, (name) => name),
        rescale: null,
      };
    case 'scale':
      return {
        recommendations: plan.decision.recommendations,
        entry: simulatedDecision(plan.recorded, 'scaled', (name) => name),
        rescale: { ...plan.write, history: plan.history },
      };
  }
}

/**
 * The baseline's tick: the plain HPA on CPU (read as the busy ratio), with the HPA's default
 * behavior and none of Slotscaler's holds.
 */
function hpaStep(
  policy: Extract<Policy, { kind: 'hpa-cpu' }>,
  current: number,
  readings: WindowReadings | undefined,
  history: PlanHistory,
  modelTaskSlots: number,
  nowMs: number,
): TickStep | null {
  const spec = {
    // The baseline reads CPU as the busy ratio (a type-checked catalogue name).
    name: 'flink_busy_ratio' satisfies FlinkMetricName,
    type: 'Value' as const,
    targetMilli: Math.round(policy.targetUtilization * 1000),
  };
  const reading = valueOf(spec.name, readings?.metrics);
  if (readings === undefined || !isAvailable(reading)) return null;
  const decision = decide(
    targetDecisionInput(
      policy.config,
      { currentReplicas: current, readyReplicas: current, statusReplicas: current },
      observeMetrics([{ spec, reading }]),
      history,
      policy.config.taskSlots ?? readings.taskSlots ?? modelTaskSlots,
      readings.maxParallelism,
      nowMs,
    ),
  );
  if (decision.desiredReplicas === current) {
    return { recommendations: decision.recommendations, entry: null, rescale: null };
  }
  const recorded: RecordedDecision = {
    atMs: nowMs,
    fromReplicas: current,
    toReplicas: decision.desiredReplicas,
    fromParallelism: null,
    toParallelism: decision.parallelism,
    reason: decision.reason,
    outcome: 'scaled',
    metrics: [{ name: spec.name, type: spec.type, value: reading.value, target: spec.targetMilli / 1000 }],
  };
  return {
    recommendations: decision.recommendations,
    entry: simulatedDecision(recorded, 'scaled', () => 'cpu (busy ratio)'),
    // Reactive mode: Flink follows the TaskManager count by itself.
    rescale: policyRescale(
      recorded,
      nowMs,
      'scale',
      decision.desiredReplicas,
      decision.parallelism,
      decision.scaleEvents,
    ),
  };
}

/**
 * The rescale of a policy that is not Slotscaler's plan (the peer model, the plain HPA): written at
 * once, on no particular job, confirmed when written.
 */
function policyRescale(
  recorded: RecordedDecision,
  nowMs: number,
  path: RescalePath,
  replicas: number,
  parallelism: number,
  scaleEvents: PlanHistory['scaleEvents'],
): NonNullable<TickStep['rescale']> {
  return {
    replicas,
    parallelism,
    path,
    jobId: null,
    vertices: null,
    history: { lastDecision: recorded, lastRescaleAtMs: nowMs, rescaleDoneAtMs: null, scaleEvents },
  };
}

function simulatedDecision(
  recorded: RecordedDecision,
  outcome: string,
  metricName: (name: string) => string,
): Omit<SimulatedDecision, 'seconds'> {
  return {
    fromTaskManagers: recorded.fromReplicas,
    toTaskManagers: recorded.toReplicas,
    parallelism: recorded.toParallelism,
    reason: recorded.reason,
    outcome,
    metrics: recorded.metrics
      .map(
        (metric) =>
          `${metricName(metric.name)} ${metric.value === null ? 'unavailable' : FORMAT(metric.value)} (target ${FORMAT(metric.target)})`,
      )
      .join(', '),
  };
}

/** Runs one policy over one trace. */
export function simulate(options: SimulationOptions): SimulationResult {
  const { trace, policy, lagObjectiveSeconds } = options;
  const tickSeconds = policy.kind === 'hpa-cpu' ? HPA_SYNC_PERIOD_SECONDS : options.tickIntervalSeconds;
  if (!(tickSeconds > 0)) throw new SimulateInputError('tick interval', 'must be > 0 seconds');
  const { config } = policy;
  const requested = options.model?.initialTaskManagers ?? 2;
  const initialTaskManagers = Math.min(
    Math.max(requested, config.minTaskmanagers, 1),
    config.maxTaskmanagers,
  );
  const model = new JobModel({ ...options.model, initialTaskManagers });
  const peer = policy.kind === 'peer-model' ? new PeerModel(policy.knobs) : null;
  const startMs = model.options.startMs;
  const window = new MetricWindow(windowOptions(policy));
  const rate = (seconds: number): number => rateAt(trace, seconds);

  // One target's histories, kept as the cluster keeps them (but in memory only).
  const histories = new InMemoryHistoryStore();
  const targetId = trace.name;
  const timeline: TimelinePoint[] = [];
  const decisions: SimulatedDecision[] = [];
  let secondsOverLag = 0;
  let peakLag = 0;
  let taskManagerSeconds = 0;
  const rescalesByPath: Record<RescalePath, number> = { 'in-place': 0, redeploy: 0, scale: 0 };
  let peakTaskManagers = model.state().taskManagers;
  let scaleUps = 0;
  let scaleDowns = 0;
  let readings: WindowReadings | undefined;
  let inFlight: RescaleInFlight | null = null;

  const record = (seconds: number): void => {
    const state = model.state();
    timeline.push({
      seconds,
      inputRecordsPerSecond: rate(seconds),
      capacityRecordsPerSecond: state.capacityRecordsPerSecond,
      taskManagers: state.taskManagers,
      parallelism: state.parallelism,
      restarting: state.restarting,
      backlogRecords: state.backlogRecords,
      lagSeconds: state.lagSeconds,
      busyRatio: readings === undefined ? null : value(readings.metrics.flink_busy_ratio),
      backpressureRatio: readings === undefined ? null : value(readings.metrics.flink_backpressure_ratio),
      demandRatio: readings === undefined ? null : value(readings.metrics.flink_demand_ratio),
    });
  };
  record(0);

  const duration = Math.ceil(trace.durationSeconds);
  for (let second = 1; second <= duration; second += 1) {
    const before = model.state();
    model.advance(startMs + second * 1000, rate);
    const state = model.state();
    taskManagerSeconds += before.taskManagers;
    if (state.lagSeconds > lagObjectiveSeconds) secondsOverLag += 1;
    peakLag = Math.max(peakLag, state.lagSeconds);
    if (second % tickSeconds !== 0) continue;

    // One tick: the snapshot into the window, the metrics out of it, the plan, carried out on the model.
    const nowMs = startMs + second * 1000;
    const snapshot = model.snapshot();
    window.add(snapshot);
    readings = window.readings(nowMs);
    const current = state.taskManagers;
    // A written rescale is followed on the (model) JobManager as the cluster follows it: the
    // post-rescale hold counts from when the job runs at the new parallelism.
    if (inFlight !== null) {
      const progress = rescaleProgress(inFlight, readings.job, nowMs);
      if (progress.state !== 'waiting') {
        const stored = histories.get(targetId) ?? NO_HISTORY;
        histories.set(targetId, {
          ...stored,
          rescaleDoneAtMs: progress.state === 'done' ? progress.runningSinceMs : nowMs,
        });
        inFlight = null;
      }
    }
    const history = planHistoryOf(histories.get(targetId), { backoffUntilMs: 0, inFlight, notTaken: null });
    const step =
      policy.kind === 'slotscaler'
        ? slotscalerStep(
            simulatedPlanInput(
              policy,
              { taskManagers: current, parallelism: state.parallelism },
              readings,
              history,
              model.options.taskSlots,
              nowMs,
              options.rescale ?? 'auto',
            ),
          )
        : policy.kind === 'hpa-cpu'
          ? hpaStep(policy, current, readings, history, model.options.taskSlots, nowMs)
          : peer === null
            ? null
            : peerStep(
                peer,
                snapshot,
                { taskManagers: current, parallelism: state.parallelism },
                model.options.taskSlots,
                nowMs,
              );
    if (step === null) {
      record(second);
      continue;
    }
    const stored = histories.get(targetId) ?? NO_HISTORY;
    histories.set(targetId, { ...stored, recommendations: step.recommendations });
    let effect: RescaleEffect | undefined;
    if (step.rescale !== null) {
      effect = model.rescale(step.rescale.replicas, step.rescale.parallelism, step.rescale.path);
      if (policy.kind === 'slotscaler') {
        inFlight = inFlightOf(step.rescale, nowMs, policy.config.rescaleConfirmTimeout);
      }
      histories.set(targetId, { ...stored, recommendations: step.recommendations, ...step.rescale.history });
      if (step.rescale.replicas > current) scaleUps += 1;
      else scaleDowns += 1;
      rescalesByPath[effect.path] += 1;
      peakTaskManagers = Math.max(peakTaskManagers, step.rescale.replicas);
    }
    if (step.entry !== null) {
      const previous = decisions.at(-1);
      const repeatedHold =
        step.entry.outcome !== 'scaled' &&
        previous !== undefined &&
        previous.outcome === step.entry.outcome &&
        previous.toTaskManagers === step.entry.toTaskManagers;
      if (!repeatedHold)
        decisions.push({
          ...step.entry,
          seconds: second,
          ...(effect === undefined ? {} : { rescale: effect }),
        });
    }
    record(second);
  }
  if (timeline.at(-1)?.seconds !== duration) record(duration);

  const end = model.state();
  return {
    policy: policy.label,
    policyKind: policy.kind,
    trace: trace.name,
    tickIntervalSeconds: tickSeconds,
    timeline,
    decisions,
    summary: {
      durationSeconds: duration,
      rescales: scaleUps + scaleDowns,
      scaleUps,
      scaleDowns,
      rescalesByPath,
      restartDowntimeSeconds: end.downtimeSecondsTotal,
      recordsReprocessed: end.reprocessedRecordsTotal,
      secondsOverLagObjective: secondsOverLag,
      lagObjectiveSeconds,
      peakLagSeconds: peakLag,
      taskManagerHours: taskManagerSeconds / 3600,
      peakTaskManagers,
      finalTaskManagers: end.taskManagers,
      recordsIn: end.inputRecordsTotal,
      recordsProcessed: end.processedRecordsTotal,
      finalBacklogRecords: end.backlogRecords,
    },
  };
}
