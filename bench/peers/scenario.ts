/**
 * The load scenario of the peer benchmark and what it measured: the same phases of offered load
 * for each autoscaler, the job sampled as it ran (parallelism, backlog, state), and the figures of
 * one run summed up from those samples (`summarizeScenario`, plain numbers in, plain numbers out).
 *
 * The runner does not know which autoscaler runs: it sets the load, samples the job through a
 * probe that reads around the system under test (never through its counting proxy), and reads the
 * proxy's counts at the end.
 */
import type { RestCallCounts } from './counting-proxy.js';

export interface ScenarioPhase {
  readonly name: string;
  /** Records offered per second, all source subtasks together, for the whole phase. */
  readonly recordsPerSecond: number;
  readonly seconds: number;
}

/** What the probe saw of the job at one moment. */
export interface JobObservation {
  /** The highest vertex parallelism running; undefined while the REST API does not answer. */
  readonly parallelism: number | undefined;
  /**
   * Every vertex's parallelism, by vertex id, when known: the peer sizes each vertex on its own, so
   * a rescale can change a vertex other than the widest one (and restarts the job all the same).
   */
  readonly vertexParallelism?: Readonly<Record<string, number>>;
  /** Records offered but not read yet (the source's pendingRecords, all subtasks together). */
  readonly backlogRecords: number;
  /** Every vertex RUNNING. */
  readonly running: boolean;
}

export interface JobProbe {
  setRate(recordsPerSecond: number): Promise<void>;
  observe(): Promise<JobObservation>;
  /** The longest time with no record out of the job's sink between two wall-clock moments. */
  outputGapSeconds(sinceMs: number, untilMs: number): Promise<number>;
}

export interface ScenarioSample extends JobObservation {
  /** Seconds since the scenario started. */
  readonly seconds: number;
  readonly phase: string;
  readonly recordsPerSecond: number;
}

/**
 * A change of the running parallelism between two samples, and what it cost the sink. From and to
 * are the highest vertex parallelism; `up` says whether the job's subtasks grew in all.
 */
export interface ObservedRescale {
  readonly seconds: number;
  readonly phase: string;
  readonly fromParallelism: number;
  readonly toParallelism: number;
  readonly up: boolean;
  readonly outputGapSeconds: number;
}

export interface ScenarioRun {
  readonly startedAtMs: number;
  readonly durationSeconds: number;
  readonly phases: readonly (ScenarioPhase & { readonly startSeconds: number })[];
  readonly samples: readonly ScenarioSample[];
  readonly rescales: readonly ObservedRescale[];
  /** The system under test's REST calls over the whole scenario, from its counting proxy. */
  readonly restCalls: RestCallCounts;
}

export interface ScenarioOptions {
  readonly phases: readonly ScenarioPhase[];
  readonly probe: JobProbe;
  /** The counts of the system's proxy; reset when the scenario starts, read when it ends. */
  readonly proxy: { counts(): RestCallCounts; reset(): void };
  readonly sampleIntervalMs: number;
  /** How long after a rescale is seen its output gap is looked for (the sink resumes a little later). */
  readonly gapSettleMs?: number;
  /** Called with each sample, e.g. to print a live line. */
  readonly onSample?: (sample: ScenarioSample) => void;
  readonly nowMs?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the phases one after the other, sampling the job every `sampleIntervalMs`. */
export async function runScenario(options: ScenarioOptions): Promise<ScenarioRun> {
  const now = options.nowMs ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const samples: ScenarioSample[] = [];
  const phases: (ScenarioPhase & { startSeconds: number })[] = [];
  options.proxy.reset();
  const startedAtMs = now();
  const secondsNow = (): number => (now() - startedAtMs) / 1000;
  for (const phase of options.phases) {
    await options.probe.setRate(phase.recordsPerSecond);
    const startSeconds = secondsNow();
    phases.push({ ...phase, startSeconds });
    while (secondsNow() - startSeconds < phase.seconds) {
      await sleep(options.sampleIntervalMs);
      const observation = await options.probe.observe();
      const sample: ScenarioSample = {
        ...observation,
        seconds: secondsNow(),
        phase: phase.name,
        recordsPerSecond: phase.recordsPerSecond,
      };
      samples.push(sample);
      options.onSample?.(sample);
    }
  }
  const restCalls = options.proxy.counts();
  const durationSeconds = secondsNow();
  // The sink resumes after the job runs again: wait that long before asking for the last gap.
  const settleMs = options.gapSettleMs ?? 5000;
  await sleep(settleMs);
  const rescales: ObservedRescale[] = [];
  for (const { sinceSeconds, ...change } of parallelismChanges(samples)) {
    rescales.push({
      ...change,
      outputGapSeconds: await options.probe.outputGapSeconds(
        startedAtMs + sinceSeconds * 1000,
        startedAtMs + change.seconds * 1000 + settleMs,
      ),
    });
  }
  return {
    startedAtMs,
    durationSeconds,
    phases,
    samples,
    rescales,
    restCalls,
  };
}

/**
 * Each change of the running parallelism between two samples that saw one (of any vertex, when
 * the samples carry every vertex's), with the moment of the last sample that still saw the job
 * running at the old one (the rescale began after it).
 */
export function parallelismChanges(samples: readonly ScenarioSample[]): {
  seconds: number;
  sinceSeconds: number;
  phase: string;
  fromParallelism: number;
  toParallelism: number;
  up: boolean;
}[] {
  const changes = [];
  let last: ScenarioSample | undefined;
  let lastRunning: ScenarioSample | undefined;
  for (const sample of samples) {
    if (sample.parallelism === undefined) continue;
    if (last?.parallelism !== undefined && changed(last, sample)) {
      changes.push({
        seconds: sample.seconds,
        sinceSeconds: (lastRunning ?? last).seconds,
        phase: sample.phase,
        fromParallelism: last.parallelism,
        toParallelism: sample.parallelism,
        up: subtasksOf(sample) > subtasksOf(last),
      });
    }
    last = sample;
    if (sample.running) lastRunning = sample;
  }
  return changes;
}

function changed(before: JobObservation, after: JobObservation): boolean {
  if (before.parallelism !== after.parallelism) return true;
  const a = before.vertexParallelism;
  const b = after.vertexParallelism;
  if (a === undefined || b === undefined) return false;
  const ids = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...ids].some((id) => a[id] !== b[id]);
}

/** All subtasks of the job, or the highest parallelism when the vertices are not known. */
function subtasksOf(observation: JobObservation): number {
  const vertices = Object.values(observation.vertexParallelism ?? {});
  return vertices.length > 0 ? vertices.reduce((sum, p) => sum + p, 0) : (observation.parallelism ?? 0);
}

/** How one phase ended: the parallelism running against what its load needs at the target. */
export interface PhaseOutcome {
  readonly phase: string;
  readonly recordsPerSecond: number;
  readonly finalParallelism: number | undefined;
  /** ceil(rate / (records per subtask per second × target utilization)). */
  readonly neededParallelism: number;
}

export interface ScenarioSummary {
  readonly scaleUps: number;
  readonly scaleDowns: number;
  /**
   * From the start of the phase of the highest load to the sample where the backlog peaked: the
   * backlog grew until then. Null without that phase.
   */
  readonly backlogGrewSeconds: number | null;
  /** From the start of that phase to the first sample after the peak at or under `drainedRecords`; null: never drained. */
  readonly drainedSeconds: number | null;
  readonly peakBacklogRecords: number;
  readonly phases: readonly PhaseOutcome[];
  readonly restCallsPerMinute: number;
  readonly restCalls: RestCallCounts;
  readonly outputGapsSeconds: readonly number[];
}

export interface CapacityModel {
  /** What one subtask of the bottleneck processes per second. */
  readonly recordsPerSubtaskPerSecond: number;
  readonly targetUtilization: number;
  /** A backlog at or under this many records counts as drained. */
  readonly drainedRecords: number;
}

/** Needed parallelism at the target utilization, as both autoscalers size it. */
export function neededParallelism(recordsPerSecond: number, capacity: CapacityModel): number {
  return Math.max(
    1,
    Math.ceil(recordsPerSecond / (capacity.recordsPerSubtaskPerSecond * capacity.targetUtilization)),
  );
}

export function summarizeScenario(run: ScenarioRun, capacity: CapacityModel): ScenarioSummary {
  const scaleUps = run.rescales.filter((r) => r.up).length;
  const scaleDowns = run.rescales.length - scaleUps;

  const peakPhase = [...run.phases].sort((a, b) => b.recordsPerSecond - a.recordsPerSecond)[0];
  let backlogGrewSeconds: number | null = null;
  let drainedSeconds: number | null = null;
  let peakBacklogRecords = 0;
  if (peakPhase !== undefined) {
    const from = run.samples.filter((s) => s.seconds >= peakPhase.startSeconds);
    let peakIndex = -1;
    from.forEach((sample, index) => {
      if (sample.backlogRecords > peakBacklogRecords) {
        peakBacklogRecords = sample.backlogRecords;
        peakIndex = index;
      }
    });
    const peak = from[peakIndex];
    if (peak !== undefined) {
      backlogGrewSeconds = peak.seconds - peakPhase.startSeconds;
      const drained = from.slice(peakIndex).find((s) => s.backlogRecords <= capacity.drainedRecords);
      drainedSeconds = drained === undefined ? null : drained.seconds - peakPhase.startSeconds;
    }
  }

  const phases = run.phases.map((phase): PhaseOutcome => {
    const last = run.samples.filter((s) => s.phase === phase.name && s.parallelism !== undefined).at(-1);
    return {
      phase: phase.name,
      recordsPerSecond: phase.recordsPerSecond,
      finalParallelism: last?.parallelism,
      neededParallelism: neededParallelism(phase.recordsPerSecond, capacity),
    };
  });
  return {
    scaleUps,
    scaleDowns,
    backlogGrewSeconds,
    drainedSeconds,
    peakBacklogRecords,
    phases,
    restCallsPerMinute: run.durationSeconds > 0 ? run.restCalls.total / (run.durationSeconds / 60) : 0,
    restCalls: run.restCalls,
    outputGapsSeconds: run.rescales.map((r) => r.outputGapSeconds),
  };
}

/** One row per system: the table the bench prints and the README quotes. */
export function scenarioTable(rows: readonly { system: string; summary: ScenarioSummary }[]): string {
  const headers = [
    'system',
    'rescales up/down',
    'backlog grew (s)',
    'drained (s)',
    'peak backlog',
    'final p / needed',
    'REST calls/min',
    'output gap per rescale (s)',
  ];
  const seconds = (value: number | null): string => (value === null ? 'never' : value.toFixed(0));
  const cells = rows.map(({ system, summary }) => [
    system,
    `${summary.scaleUps} / ${summary.scaleDowns}`,
    seconds(summary.backlogGrewSeconds),
    seconds(summary.drainedSeconds),
    String(Math.round(summary.peakBacklogRecords)),
    summary.phases.map((p) => `${p.phase} ${p.finalParallelism ?? '?'}/${p.neededParallelism}`).join(', '),
    summary.restCallsPerMinute.toFixed(1),
    summary.outputGapsSeconds.length === 0
      ? '-'
      : summary.outputGapsSeconds.map((gap) => gap.toFixed(2)).join(', '),
  ]);
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...cells.map((row) => row[i]?.length ?? 0)),
  );
  const line = (row: readonly string[]): string =>
    `| ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
