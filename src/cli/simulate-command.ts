/**
 * `slotscaler simulate --trace FILE|builtin:<name> [--annotations FILE] [--report out.html] [--json]
 * [--compare] [--rescale auto|in-place|redeploy]`: replays a load trace through a Flink job model and
 * Slotscaler's real metric window and decision code, prints the summary figures (a table, or JSON)
 * and writes an HTML report. `--compare` runs the same trace with Slotscaler's rescales taking the
 * other path too (in place and redeployed), under Slotscaler's defaults when annotations are given,
 * and under the plain HPA on CPU.
 */
import { readFileSync, writeFileSync } from 'node:fs';

import { parse as parseYaml } from 'yaml';

import { formatters } from '../config/schema.js';
import type { TargetConfig } from '../config/schema.js';
import { parseDuration, ValueError } from '../config/values.js';
import type { RescalePath } from '../domain/target.js';
import { isSlotscalerError, SimulateInputError } from '../errors.js';
import {
  DEFAULT_CHECKPOINT_INTERVAL_SECONDS,
  DEFAULT_RESCALE_COSTS,
  MODEL_LIMITATIONS,
} from '../simulate/job-model.js';
import type { RescaleCost } from '../simulate/job-model.js';
import { describeRescaleEffect, perRescaleRows, renderReport, summaryRows } from '../simulate/report.js';
import {
  defaultScalerConfig,
  HPA_SYNC_PERIOD_SECONDS,
  hpaCpuPolicy,
  peerModelPolicy,
  RESCALE_OPTIONS,
  simulate,
  simulatedRescalePath,
  slotscalerPolicy,
} from '../simulate/run.js';
import type { Policy, RescaleOption, SimulationResult } from '../simulate/run.js';
import { resolveTrace } from '../simulate/traces.js';

export interface SimulateCommandOptions {
  /** A CSV file (`seconds,records_per_second`) or `builtin:<name>`. */
  readonly trace: string;
  /** YAML or JSON: a map of `slotscaler.dev/*` annotations, or a Kubernetes object carrying them. */
  readonly annotations?: string | undefined;
  /** Where to write the HTML report. */
  readonly report?: string | undefined;
  readonly json?: boolean | undefined;
  readonly compare?: boolean | undefined;
  /** Lag above this counts as over the objective (duration, default 60s). */
  readonly lagObjective?: string | undefined;
  /** The scaler's tick interval (duration, default the config's, 15s). */
  readonly tickInterval?: string | undefined;
  /** Records per second one task slot processes (default 1000). */
  readonly capacityPerSlot?: string | undefined;
  /** TaskManagers at the start (default 2). */
  readonly initialTaskmanagers?: string | undefined;
  /** How Slotscaler's rescales reach the job: `auto` (in place), `in-place` or `redeploy`. */
  readonly rescale?: string | undefined;
  /** Seconds between completed checkpoints (duration, default `DEFAULT_CHECKPOINT_INTERVAL_SECONDS`; 0 turns them off). */
  readonly checkpointInterval?: string | undefined;
  /** Downtime of an in-place rescale, up and down (duration; default `IN_PLACE_UP_SECONDS`, `IN_PLACE_DOWN_SECONDS`). */
  readonly inPlaceDowntime?: string | undefined;
  /** Downtime of a redeploy's restart, after its savepoint (duration, default `REDEPLOY_RESTART_SECONDS`). */
  readonly redeployDowntime?: string | undefined;
  /** How long a redeploy's savepoint takes (duration, default `REDEPLOY_SAVEPOINT_SECONDS`). */
  readonly savepointDuration?: string | undefined;
}

export interface SimulateIo {
  readonly write: (text: string) => void;
  readonly writeError: (line: string) => void;
  readonly readFile?: (path: string) => string;
  readonly writeFile?: (path: string, text: string) => void;
}

/** Task slots of the model when the annotations do not say. */
const DEFAULT_TASK_SLOTS = 2;

function positiveNumber(flag: string, text: string, integer: boolean): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new SimulateInputError(
      flag,
      `expected ${integer ? 'a whole number' : 'a number'} > 0, got "${text}"`,
    );
  }
  return value;
}

function duration(flag: string, text: string, allowZero: boolean): number {
  try {
    const seconds = parseDuration(text);
    if (seconds < 0 || (!allowZero && seconds === 0)) throw new ValueError('expected a duration > 0');
    return seconds;
  } catch (err) {
    if (err instanceof ValueError) throw new SimulateInputError(flag, `${err.message}, got "${text}"`);
    throw err;
  }
}

/**
 * The annotations of `--annotations`: a mapping of `slotscaler.dev/<key>: value` (values may be
 * YAML numbers or booleans), or a Kubernetes object whose `metadata.annotations` carry them.
 */
export function parseAnnotationsFile(text: string, source: string): Record<string, string> {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw new SimulateInputError(
      source,
      `not YAML or JSON: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
  const isMap = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isMap(document)) throw new SimulateInputError(source, 'expected a mapping of annotations');
  const metadata = document['metadata'];
  const fromObject = isMap(metadata) && isMap(metadata['annotations']);
  const raw = fromObject && isMap(metadata) ? (metadata['annotations'] as Record<string, unknown>) : document;
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!key.startsWith('slotscaler.dev/')) {
      // An object carries others' annotations too; a plain map of ours must not hide a typo.
      if (fromObject) continue;
      throw new SimulateInputError(source, `${key}: annotation keys must start with slotscaler.dev/`);
    }
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      annotations[key] = String(value);
    } else {
      throw new SimulateInputError(source, `${key}: expected a string, number or boolean value`);
    }
  }
  return annotations;
}

function rescaleOption(text: string): RescaleOption {
  const option = RESCALE_OPTIONS.find((candidate) => candidate === text);
  if (option === undefined)
    throw new SimulateInputError('--rescale', `expected one of ${RESCALE_OPTIONS.join(', ')}, got "${text}"`);
  return option;
}

/** A downtime flag: the same seconds whichever way the parallelism goes. */
function downtimeFlag(flag: string, text: string): Pick<RescaleCost, 'upSeconds' | 'downSeconds'> {
  const seconds = duration(flag, text, true);
  return { upSeconds: seconds, downSeconds: seconds };
}

/** The cost of each path: the defaults, overridden by the flags given. */
function rescaleCosts(options: SimulateCommandOptions): Record<RescalePath, RescaleCost> {
  const defaults = DEFAULT_RESCALE_COSTS;
  return {
    'in-place': {
      ...defaults['in-place'],
      ...(options.inPlaceDowntime === undefined
        ? {}
        : downtimeFlag('--in-place-downtime', options.inPlaceDowntime)),
    },
    redeploy: {
      ...defaults.redeploy,
      ...(options.redeployDowntime === undefined
        ? {}
        : downtimeFlag('--redeploy-downtime', options.redeployDowntime)),
      ...(options.savepointDuration === undefined
        ? {}
        : { savepointSeconds: duration('--savepoint-duration', options.savepointDuration, true) }),
    },
    scale: defaults.scale,
  };
}

/** The costs, as the settings of the report say them. */
function describeCosts(costs: Readonly<Record<RescalePath, RescaleCost>>): string {
  const restart = (cost: RescaleCost): string =>
    cost.upSeconds === cost.downSeconds
      ? `${cost.upSeconds} s`
      : `${cost.upSeconds} s up, ${cost.downSeconds} s down`;
  const inPlace = costs['in-place'];
  const { redeploy, scale } = costs;
  return [
    `in place ${restart(inPlace)}, resumes from the latest checkpoint`,
    `redeploy ${redeploy.savepointSeconds ?? 0} s savepoint + ${restart(redeploy)} restart, resumes from the savepoint`,
    `scale (the HPA baseline, reactive mode) ${restart(scale)}, resumes from the latest checkpoint`,
  ].join('; ');
}

/** What a path is called in a policy's label. */
function pathLabel(option: RescaleOption): string {
  return simulatedRescalePath(option) === 'redeploy' ? 'redeploy' : 'in place';
}

function describeConfig(config: TargetConfig, tickIntervalSeconds: number): [string, string][] {
  const { formatDuration, formatMetricTargets, formatPolicies, formatTolerance } = formatters;
  return [
    ['metrics', formatMetricTargets(config.metrics)],
    ['TaskManagers', `${config.minTaskmanagers} to ${config.maxTaskmanagers}`],
    ['tolerance', formatTolerance(config.tolerance)],
    [
      'scale-up',
      `${formatPolicies(config.scaleUpPolicies)}, stabilization ${formatDuration(config.scaleUpStabilization)}`,
    ],
    [
      'scale-down',
      `${formatPolicies(config.scaleDownPolicies)}, stabilization ${formatDuration(config.scaleDownStabilization)}`,
    ],
    ['cooldown after rescale', formatDuration(config.cooldownAfterRescale)],
    [
      'metrics window',
      `${formatDuration(config.metricsWindow)}, held ${formatDuration(config.metricsHoldAfterRestart)} after a restart`,
    ],
    ['tick interval', formatDuration(tickIntervalSeconds)],
  ];
}

/** A text table with columns padded to their widest cell. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, index) =>
          index === 0 ? cell.padEnd(widths[index] ?? 0) : cell.padStart(widths[index] ?? 0),
        )
        .join('  '),
    )
    .join('\n');
}

/** Runs the command; resolves to the exit code: 0, 1 when the report cannot be written, 2 for bad input. */
export function runSimulate(options: SimulateCommandOptions, io: SimulateIo): number {
  const readFile = io.readFile ?? ((path: string): string => readFileSync(path, 'utf8'));
  const writeFile =
    io.writeFile ??
    ((path: string, text: string): void => {
      writeFileSync(path, text);
    });
  let results: SimulationResult[];
  let settings: [string, string][];
  let chosen: RescaleOption = 'auto';
  try {
    const defaults = defaultScalerConfig();
    const trace = resolveTrace(options.trace, readFile);
    let annotations: Record<string, string> = {};
    if (options.annotations !== undefined) {
      const path = options.annotations;
      let text: string;
      try {
        text = readFile(path);
      } catch (err) {
        throw new SimulateInputError(
          path,
          `cannot read: ${err instanceof Error ? err.message : String(err)}`,
          {
            cause: err,
          },
        );
      }
      annotations = parseAnnotationsFile(text, path);
    }
    const tickIntervalSeconds =
      options.tickInterval === undefined
        ? defaults.tickIntervalSeconds
        : duration('--tick-interval', options.tickInterval, false);
    const lagObjectiveSeconds = duration('--lag-objective', options.lagObjective ?? '60s', false);
    chosen = rescaleOption(options.rescale ?? 'auto');
    const costs = rescaleCosts(options);
    const checkpointIntervalSeconds =
      options.checkpointInterval === undefined
        ? DEFAULT_CHECKPOINT_INTERVAL_SECONDS
        : duration('--checkpoint-interval', options.checkpointInterval, true);
    const capacityPerSlot = positiveNumber('--capacity-per-slot', options.capacityPerSlot ?? '1000', false);
    const initialTaskManagers = positiveNumber(
      '--initial-taskmanagers',
      options.initialTaskmanagers ?? '2',
      true,
    );

    const compare = options.compare === true;
    // With --compare each Slotscaler run says its path: the chosen one first (charted in detail), the other next.
    const oursLabel = (base: string | null, option: RescaleOption): string => {
      const parts = [...(base === null ? [] : [base]), ...(compare ? [pathLabel(option)] : [])];
      return parts.length === 0 ? 'slotscaler' : `slotscaler (${parts.join(', ')})`;
    };
    const base = options.annotations === undefined ? null : 'annotations';
    const ours = slotscalerPolicy(annotations, oursLabel(base, chosen), options.annotations ?? 'annotations');
    const runs: { policy: Policy; rescale: RescaleOption }[] = [{ policy: ours, rescale: chosen }];
    if (compare) {
      const other: RescaleOption = simulatedRescalePath(chosen) === 'redeploy' ? 'in-place' : 'redeploy';
      runs.push({ policy: { ...ours, label: oursLabel(base, other) }, rescale: other });
      if (options.annotations !== undefined)
        runs.push({ policy: slotscalerPolicy({}, oursLabel('defaults', chosen)), rescale: chosen });
      runs.push({ policy: hpaCpuPolicy(ours.config), rescale: chosen });
      runs.push({
        policy: peerModelPolicy(ours.config, ours.config.taskSlots ?? DEFAULT_TASK_SLOTS),
        rescale: chosen,
      });
    }
    const taskSlots = ours.config.taskSlots ?? DEFAULT_TASK_SLOTS;
    const model = {
      taskSlots,
      capacityPerSlotRecordsPerSecond: capacityPerSlot,
      initialTaskManagers,
      rescaleCosts: costs,
      checkpointIntervalSeconds,
      ...(ours.config.maxParallelism === undefined ? {} : { maxParallelism: ours.config.maxParallelism }),
    };
    results = runs.map(({ policy, rescale }) =>
      simulate({ trace, policy, tickIntervalSeconds, lagObjectiveSeconds, model, rescale }),
    );
    settings = [
      ['trace', trace.name],
      ...describeConfig(ours.config, tickIntervalSeconds),
      [
        'job model',
        `${taskSlots} slots per TaskManager × ${capacityPerSlot} records/s per slot, ${initialTaskManagers} TaskManagers at the start`,
      ],
      ['rescale', `${chosen} (${pathLabel(chosen)})`],
      ['rescale costs', describeCosts(costs)],
      [
        'checkpoints',
        checkpointIntervalSeconds > 0
          ? `every ${checkpointIntervalSeconds} s`
          : 'off: a restart resumes where the job stopped',
      ],
      ['lag objective', `${lagObjectiveSeconds} s`],
    ];
    if (options.compare === true) {
      settings.push([
        'hpa-cpu baseline',
        `the HPA on CPU utilization (the busy ratio over 30 s) with target 0.7, default behavior, every ${HPA_SYNC_PERIOD_SECONDS} s, no hold after a restart; same TaskManager bounds; Flink in reactive mode, so its rescales take the scale path`,
      ]);
      settings.push([
        'flink-operator-autoscaler (model)',
        `a model of the Flink Kubernetes Operator autoscaler's published algorithm (1.15), not its code: true processing rate = processed rate / busy ratio, target capacity = backlog / catch-up + rate × restart time (5 min) / catch-up + rate / 0.7, rescaled in place when the true rate leaves the 0.4-1.0 utilization band; this config's metrics window, hold after restart (its stabilization interval), catch-up duration and scale-down stabilization (its scale-down interval); same parallelism bounds; every tick`,
      ]);
    }
  } catch (err) {
    if (!isSlotscalerError(err)) throw err;
    io.writeError(`slotscaler simulate: ${err.message}`);
    return 2;
  }

  if (options.report !== undefined) {
    const html = renderReport(results, {
      title: `slotscaler simulate: ${results[0]?.trace ?? ''}`,
      settings,
      limitations: MODEL_LIMITATIONS,
    });
    try {
      writeFile(options.report, html);
    } catch (err) {
      io.writeError(
        `slotscaler simulate: cannot write the report ${options.report}: ${err instanceof Error ? err.message : String(err)}`,
      );
      return 1;
    }
  }

  if (options.json === true) {
    io.write(
      JSON.stringify({
        trace: results[0]?.trace,
        settings: Object.fromEntries(settings),
        results,
      }),
    );
  } else {
    const lines = [formatTable(summaryRows(results)), '', formatTable(perRescaleRows(results))];
    const main = results[0];
    if (main !== undefined) {
      const scaled = main.decisions.filter((decision) => decision.outcome === 'scaled');
      lines.push('', `${main.policy}: ${scaled.length} rescales`);
      for (const decision of scaled.slice(0, 20)) {
        const cost = decision.rescale === undefined ? '' : ` (${describeRescaleEffect(decision.rescale)})`;
        lines.push(
          `  ${String(decision.seconds).padStart(6)} s  ${decision.fromTaskManagers} → ${decision.toTaskManagers} TaskManagers (parallelism ${decision.parallelism}), ${decision.reason}: ${decision.metrics}${cost}`,
        );
      }
      if (scaled.length > 20) lines.push(`  ... and ${scaled.length - 20} more (--json or --report for all)`);
    }
    if (options.report !== undefined) lines.push('', `report written to ${options.report}`);
    io.write(lines.join('\n'));
  }
  return 0;
}
