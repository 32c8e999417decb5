/**
 * The HTML report of `slotscaler simulate`: one self-contained page (inline CSS and SVG, no script,
 * nothing fetched), so it can be mailed, attached to a ticket or opened from disk.
 *
 * Charts of the first policy: input vs capacity, TaskManagers and parallelism, lag against the
 * objective, busy and back-pressure ratios as the metric window read them; each rescale is a
 * vertical line whose tooltip gives its reason, path and cost. With several policies (`--compare`,
 * e.g. Slotscaler in place and redeployed, and the plain HPA): the summary table (rescales by path,
 * downtime, records reprocessed...), and TaskManagers and lag of every policy on one chart each.
 */
import type { RescalePath } from '../domain/target.js';
import type { RescaleEffect } from './job-model.js';
import type { SimulatedDecision, SimulationResult, TimelinePoint } from './run.js';

/** What the report says about the set-up, besides the results. */
export interface ReportContext {
  readonly title: string;
  /** `key: value` lines describing the scaler config and the job model. */
  readonly settings: readonly (readonly [string, string])[];
  /** What the model leaves out, one item each. */
  readonly limitations: readonly string[];
  /** The sentence under the title; by default it says the run is simulated. */
  readonly introduction?: string;
}

interface Series {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number | null])[];
  /** Drawn as steps (a value holds until the next point). */
  readonly step?: boolean;
  readonly dashed?: boolean;
}

interface Marker {
  readonly x: number;
  readonly color: string;
  readonly title: string;
}

interface ChartSpec {
  readonly title: string;
  readonly yLabel: string;
  readonly durationSeconds: number;
  readonly series: readonly Series[];
  readonly markers?: readonly Marker[];
  /** Fixed top of the y axis (otherwise from the data). */
  readonly yMax?: number;
  readonly horizontal?: readonly { readonly y: number; readonly label: string; readonly color: string }[];
}

const WIDTH = 960;
const HEIGHT = 280;
const MARGIN = { left: 70, right: 20, top: 46, bottom: 40 };
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
/** Most points drawn per series; more are thinned (steps keep every change). */
const MAX_POINTS = 1500;

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A "nice" step for about `count` ticks over `max`. */
function niceStep(max: number, count: number): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

function formatNumber(value: number): string {
  if (Math.abs(value) >= 10_000) return `${Number((value / 1000).toPrecision(3))}k`;
  return String(Number(value.toPrecision(3)));
}

/** The time axis unit: minutes up to 3 h, hours beyond. */
function timeUnit(durationSeconds: number): { seconds: number; label: string } {
  return durationSeconds > 3 * 3600 ? { seconds: 3600, label: 'h' } : { seconds: 60, label: 'min' };
}

function thin(series: Series): (readonly [number, number | null])[] {
  const { points } = series;
  if (series.step === true) {
    // Keep each change (and the last point).
    return points.filter(
      (point, index) => index === 0 || index === points.length - 1 || point[1] !== points[index - 1]?.[1],
    );
  }
  if (points.length <= MAX_POINTS) return [...points];
  const stride = Math.ceil(points.length / MAX_POINTS);
  return points.filter((_, index) => index % stride === 0 || index === points.length - 1);
}

/** One line chart as an inline SVG element. */
export function lineChart(spec: ChartSpec): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xMax = Math.max(1, spec.durationSeconds);
  const values = spec.series.flatMap((series) =>
    series.points.map((point) => point[1]).filter((value): value is number => value !== null),
  );
  const dataMax = Math.max(0, ...values, ...(spec.horizontal ?? []).map((line) => line.y));
  const yStep = niceStep(spec.yMax ?? (dataMax > 0 ? dataMax : 1), 5);
  const yMax = spec.yMax ?? Math.max(yStep, Math.ceil((dataMax * 1.05) / yStep) * yStep);
  const x = (seconds: number): number => MARGIN.left + (seconds / xMax) * plotWidth;
  const y = (value: number): number => MARGIN.top + plotHeight - (Math.min(value, yMax) / yMax) * plotHeight;
  const parts: string[] = [];

  parts.push(
    `<text x="${MARGIN.left}" y="18" class="chart-title">${escapeHtml(spec.title)}</text>`,
    `<text x="14" y="${MARGIN.top + plotHeight / 2}" class="axis-label" transform="rotate(-90 14 ${MARGIN.top + plotHeight / 2})" text-anchor="middle">${escapeHtml(spec.yLabel)}</text>`,
  );
  // Y grid and ticks.
  for (let tick = 0; tick <= yMax + yStep / 1000; tick += yStep) {
    const ty = y(tick).toFixed(1);
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${ty}" y2="${ty}" class="grid"/>`,
      `<text x="${MARGIN.left - 6}" y="${ty}" class="tick" text-anchor="end" dominant-baseline="middle">${formatNumber(tick)}</text>`,
    );
  }
  // X ticks.
  const unit = timeUnit(xMax);
  const xStep = niceStep(xMax / unit.seconds, 10) * unit.seconds;
  for (let tick = 0; tick <= xMax + 1e-6; tick += xStep) {
    const tx = x(tick).toFixed(1);
    parts.push(
      `<line x1="${tx}" x2="${tx}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight + 4}" class="axis"/>`,
      `<text x="${tx}" y="${MARGIN.top + plotHeight + 16}" class="tick" text-anchor="middle">${formatNumber(tick / unit.seconds)}</text>`,
    );
  }
  parts.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 4}" class="axis-label" text-anchor="middle">time (${unit.label})</text>`,
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" class="frame"/>`,
  );
  for (const line of spec.horizontal ?? []) {
    const ly = y(line.y).toFixed(1);
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${ly}" y2="${ly}" stroke="${line.color}" stroke-dasharray="6 4" stroke-width="1.5"><title>${escapeHtml(line.label)}</title></line>`,
    );
  }
  for (const marker of spec.markers ?? []) {
    const mx = x(marker.x).toFixed(1);
    parts.push(
      `<line x1="${mx}" x2="${mx}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="${marker.color}" stroke-width="1.5" stroke-opacity="0.7" class="marker"><title>${escapeHtml(marker.title)}</title></line>`,
    );
  }
  for (const series of spec.series) {
    const segments: string[][] = [];
    let current: string[] = [];
    let previousY: number | null = null;
    for (const [seconds, value] of thin(series)) {
      if (value === null) {
        if (current.length > 0) segments.push(current);
        current = [];
        previousY = null;
        continue;
      }
      const px = x(seconds).toFixed(1);
      const py = y(value).toFixed(1);
      if (series.step === true && previousY !== null) current.push(`${px},${previousY.toFixed(1)}`);
      current.push(`${px},${py}`);
      previousY = y(value);
    }
    if (current.length > 0) segments.push(current);
    for (const segment of segments) {
      parts.push(
        `<polyline points="${segment.join(' ')}" fill="none" stroke="${series.color}" stroke-width="1.8"${series.dashed === true ? ' stroke-dasharray="5 3"' : ''}><title>${escapeHtml(series.label)}</title></polyline>`,
      );
    }
  }
  // Legend.
  let legendX = MARGIN.left;
  for (const series of spec.series) {
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 18}" y1="32" y2="32" stroke="${series.color}" stroke-width="3"${series.dashed === true ? ' stroke-dasharray="5 3"' : ''}/>`,
      `<text x="${legendX + 22}" y="36" class="legend">${escapeHtml(series.label)}</text>`,
    );
    legendX += 30 + series.label.length * 6.5;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeHtml(spec.title)}">${parts.join('')}</svg>`;
}

function column<T extends number | null>(
  timeline: readonly TimelinePoint[],
  pick: (point: TimelinePoint) => T,
): [number, T][] {
  return timeline.map((point) => [point.seconds, pick(point)]);
}

function formatSeconds(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`
    : `${m}:${String(s).padStart(2, '0')}`;
}

/** How people read a path. */
const PATH_NAMES: Readonly<Record<RescalePath, string>> = {
  'in-place': 'in place',
  redeploy: 'redeploy',
  scale: 'scale',
};

/** A count of records as people read it (`1,205,906`). */
function formatRecords(records: number): string {
  return Math.round(records).toLocaleString('en-US');
}

/** The rescales of a run by path, e.g. `in place 3, redeploy 1`; `-` when none or not told apart. */
function pathsCell(byPath: Readonly<Record<RescalePath, number>> | undefined): string {
  if (byPath === undefined) return '-';
  const cells = (Object.keys(PATH_NAMES) as RescalePath[])
    .filter((path) => byPath[path] > 0)
    .map((path) => `${PATH_NAMES[path]} ${byPath[path]}`);
  return cells.length === 0 ? '-' : cells.join(', ');
}

/** What one rescale cost the job, as people read it: `in place, 3.3 s down, 60,000 records reprocessed`. */
export function describeRescaleEffect(effect: RescaleEffect): string {
  return `${PATH_NAMES[effect.path]}, ${effect.downtimeSeconds} s down, ${formatRecords(effect.reprocessedRecords)} records reprocessed`;
}

/** The summary figures of each policy, as rows of strings (shared by the HTML table and the CLI). */
export function summaryRows(results: readonly SimulationResult[]): string[][] {
  const header = [
    'policy',
    'rescales',
    'up',
    'down',
    'restart downtime (s)',
    'records reprocessed',
    'over lag objective (s)',
    'peak lag (s)',
    'TaskManager-hours',
    'peak TMs',
    'rescales by path',
  ];
  return [
    header,
    ...results.map((result) => {
      const s = result.summary;
      return [
        result.policy,
        String(s.rescales),
        String(s.scaleUps),
        String(s.scaleDowns),
        s.restartDowntimeSeconds.toFixed(1),
        s.recordsReprocessed === undefined ? '-' : formatRecords(s.recordsReprocessed),
        String(s.secondsOverLagObjective),
        s.peakLagSeconds.toFixed(0),
        s.taskManagerHours.toFixed(2),
        String(s.peakTaskManagers),
        pathsCell(s.rescalesByPath),
      ];
    }),
  ];
}

/**
 * What one rescale cost on average, per policy: the figure to weigh one path against another
 * (downtime per rescale, records reprocessed per rescale). `-` where there was no rescale or the
 * run did not count it.
 */
export function perRescaleRows(results: readonly SimulationResult[]): string[][] {
  return [
    ['policy', 'rescales', 'downtime per rescale (s)', 'records reprocessed per rescale'],
    ...results.map((result) => {
      const s = result.summary;
      const per = (total: number | undefined, format: (value: number) => string): string =>
        s.rescales === 0 || total === undefined ? '-' : format(total / s.rescales);
      return [
        result.policy,
        String(s.rescales),
        per(s.restartDowntimeSeconds, (value) => value.toFixed(1)),
        per(s.recordsReprocessed, formatRecords),
      ];
    }),
  ];
}

/** The path and cost cells of a decision in the decisions table (empty when held or not counted). */
function costCells(decision: SimulatedDecision): string[] {
  const effect = decision.rescale;
  if (effect === undefined) return ['', '', ''];
  return [PATH_NAMES[effect.path], String(effect.downtimeSeconds), formatRecords(effect.reprocessedRecords)];
}

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1000px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.text { text-align: left; }
.settings td { text-align: left; }
svg { display: block; margin: 8px 0 16px; background: #fff; }
.chart-title { font-size: 14px; font-weight: 600; }
.axis-label, .tick, .legend { font-size: 11px; fill: #444; }
.grid { stroke: #eee; } .axis { stroke: #888; } .frame { fill: none; stroke: #aaa; }
.note { color: #555; font-size: 13px; }
`;

/** The whole page. `results[0]` is the policy charted in detail. */
export function renderReport(results: readonly SimulationResult[], context: ReportContext): string {
  const main = results[0];
  if (main === undefined) throw new Error('a report needs at least one result');
  const duration = main.summary.durationSeconds;
  const scaled = main.decisions.filter((decision) => decision.outcome === 'scaled');
  const markers: Marker[] = scaled.map((decision) => ({
    x: decision.seconds,
    color: decision.toTaskManagers > decision.fromTaskManagers ? '#d62728' : '#2ca02c',
    title: `${formatSeconds(decision.seconds)}: TaskManagers ${decision.fromTaskManagers} → ${decision.toTaskManagers} (parallelism ${decision.parallelism}), ${decision.reason}: ${decision.metrics}${decision.rescale === undefined ? '' : `; ${describeRescaleEffect(decision.rescale)}`}`,
  }));
  const lagObjective = main.summary.lagObjectiveSeconds;
  const charts = [
    lineChart({
      title: `Input vs capacity (${main.policy})`,
      yLabel: 'records/s',
      durationSeconds: duration,
      series: [
        {
          label: 'input',
          color: PALETTE[0] ?? '#000',
          points: column(main.timeline, (p) => p.inputRecordsPerSecond),
        },
        {
          label: 'capacity',
          color: PALETTE[1] ?? '#000',
          points: column(main.timeline, (p) => p.capacityRecordsPerSecond),
          step: true,
        },
      ],
      markers,
    }),
    lineChart({
      title: `TaskManagers and parallelism (${main.policy})`,
      yLabel: 'count',
      durationSeconds: duration,
      series: [
        {
          label: 'TaskManagers',
          color: PALETTE[0] ?? '#000',
          points: column(main.timeline, (p) => p.taskManagers),
          step: true,
        },
        {
          label: 'parallelism',
          color: PALETTE[3] ?? '#000',
          points: column(main.timeline, (p) => p.parallelism),
          step: true,
          dashed: true,
        },
      ],
      markers,
    }),
    lineChart({
      title: `Lag: age of the oldest pending record (${main.policy})`,
      yLabel: 'seconds',
      durationSeconds: duration,
      series: [
        { label: 'lag', color: PALETTE[4] ?? '#000', points: column(main.timeline, (p) => p.lagSeconds) },
      ],
      horizontal: [{ y: lagObjective, label: `lag objective ${lagObjective} s`, color: '#d62728' }],
      markers,
    }),
    lineChart({
      title: `Busy, demand and back-pressure ratios as the metric window reads them (${main.policy})`,
      yLabel: 'ratio',
      durationSeconds: duration,
      // The demand ratio goes past 1 when the job falls behind; the busy ratio never does.
      ...(main.timeline.some((p) => (p.demandRatio ?? 0) > 1) ? {} : { yMax: 1 }),
      series: [
        { label: 'busy', color: PALETTE[0] ?? '#000', points: column(main.timeline, (p) => p.busyRatio) },
        {
          label: 'demand',
          color: PALETTE[2] ?? '#000',
          points: column(main.timeline, (p) => p.demandRatio),
          dashed: true,
        },
        {
          label: 'back-pressure',
          color: PALETTE[1] ?? '#000',
          points: column(main.timeline, (p) => p.backpressureRatio),
        },
      ],
      markers,
    }),
  ];
  if (results.length > 1) {
    charts.push(
      lineChart({
        title: 'Compare: TaskManagers by policy',
        yLabel: 'TaskManagers',
        durationSeconds: duration,
        series: results.map((result, index) => ({
          label: result.policy,
          color: PALETTE[index % PALETTE.length] ?? '#000',
          points: column(result.timeline, (p) => p.taskManagers),
          step: true,
          dashed: index > 0,
        })),
      }),
      lineChart({
        title: 'Compare: lag by policy',
        yLabel: 'seconds',
        durationSeconds: duration,
        series: results.map((result, index) => ({
          label: result.policy,
          color: PALETTE[index % PALETTE.length] ?? '#000',
          points: column(result.timeline, (p) => p.lagSeconds),
          dashed: index > 0,
        })),
        horizontal: [{ y: lagObjective, label: `lag objective ${lagObjective} s`, color: '#999' }],
      }),
    );
  }

  const rows = summaryRows(results);
  const table = (cells: readonly (readonly string[])[], headerRow: boolean, textColumns = 1): string =>
    `<table>${cells
      .map(
        (row, rowIndex) =>
          `<tr>${row
            .map((cell, index) => {
              const tag = headerRow && rowIndex === 0 ? 'th' : 'td';
              const cls =
                tag === 'td' && index >= row.length - textColumns + 1 && textColumns > 1
                  ? ' class="text"'
                  : '';
              return `<${tag}${cls}>${escapeHtml(cell)}</${tag}>`;
            })
            .join('')}</tr>`,
      )
      .join('')}</table>`;
  const decisionRows = [
    [
      'time',
      'TaskManagers',
      'parallelism',
      'path',
      'downtime (s)',
      'records reprocessed',
      'reason',
      'outcome',
      'metrics',
    ],
    ...main.decisions.map((decision) => [
      formatSeconds(decision.seconds),
      `${decision.fromTaskManagers} → ${decision.toTaskManagers}`,
      String(decision.parallelism),
      ...costCells(decision),
      decision.reason,
      decision.outcome,
      decision.metrics,
    ]),
  ];

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(context.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(context.title)}</h1>
<p class="note">${escapeHtml(context.introduction ?? `Trace ${main.trace}, ${formatSeconds(duration)} of simulated time; the decisions are made by Slotscaler's own metric window and decision code.`)} Hover a vertical line for the reason of a rescale (red: up, green: down).</p>
<h2>Summary</h2>
${table(rows, true)}
${table(perRescaleRows(results), true)}
<p class="note">Restart downtime: seconds the job processed nothing (a restart, or the savepoint a redeploy stops with) while input kept arriving. Records reprocessed: what the job had processed since its latest completed checkpoint when a rescale restored it from there; a redeploy resumes from its savepoint and replays nothing.</p>
${charts.join('\n')}
<h2>Decisions (${escapeHtml(main.policy)})</h2>
<p class="note">Every change the policy wanted: written (scaled) or held, and why. A hold repeated tick after tick is listed once.</p>
${main.decisions.length === 0 ? '<p>No change was wanted.</p>' : table(decisionRows, true, 3)}
<h2>Settings</h2>
<table class="settings">${context.settings.map(([key, value]) => `<tr><td>${escapeHtml(key)}</td><td>${escapeHtml(value)}</td></tr>`).join('')}</table>
<h2>What the model leaves out</h2>
<ul>${context.limitations.map((item) => `<li>${escapeHtml(item)}</li>`).join('')}</ul>
</body>
</html>
`;
}
