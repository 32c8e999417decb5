/**
 * The core of `slotscaler collect`: sample one job for one window through the same snapshot and
 * window code the collector runs, and report what the autoscaler would see, with the REST calls it
 * took. The CLI is a thin shell around `collectReport` and `formatCollectReport`.
 */
import { METRIC_CATALOGUE } from '../metrics/catalogue.js';
import type { ExpressionMetric } from '../metrics/expression-metric.js';
import { MetricWindow } from '../metrics/metric-window.js';
import type { MetricWindowOptions, VertexWindowStats } from '../metrics/metric-window.js';
import { FLINK_ENDPOINTS } from '../domain/flink.js';
import type { FlinkEndpoint, JobSnapshot } from '../domain/flink.js';
import type { MetricReading } from '../domain/metrics.js';
import type { Clock, FlinkClient } from '../domain/ports.js';
import { isSlotscalerError } from '../errors.js';
import { SnapshotState, takeSnapshot } from './snapshot.js';

export interface CollectReportRequest {
  readonly client: FlinkClient;
  /** The job to read; when absent, the one RUNNING job. */
  readonly jobId?: string | undefined;
  /** How long to sample (default 30 s). */
  readonly windowSeconds?: number;
  /** Time between samples (default 5 s; Flink refreshes REST metrics every 10 s by default). */
  readonly sampleIntervalSeconds?: number;
  /** Window options other than the span, e.g. the restart holdoff (default: the collector's). */
  readonly windowOptions?: Partial<Omit<MetricWindowOptions, 'windowSeconds'>>;
  /** Expression metrics to evaluate too. */
  readonly expressionMetrics?: readonly ExpressionMetric[];
  readonly clock: Clock;
  readonly sleep: (ms: number) => Promise<void>;
}

export interface ReportedMetric {
  readonly name: string;
  readonly unit: string;
  readonly reading: MetricReading;
}

export interface CollectReport {
  readonly jobManagerUrl: string;
  readonly jobId: string;
  readonly jobName: string;
  readonly state: string;
  readonly runningSinceMs: number | null;
  readonly maxParallelism: number | null;
  readonly taskSlots: number | null;
  readonly windowSeconds: number;
  readonly samples: number;
  readonly spanSeconds: number;
  readonly metrics: readonly ReportedMetric[];
  readonly vertices: readonly VertexWindowStats[];
  /** Snapshots that failed after the first one (the first one failing fails the report). */
  readonly failedSamples: readonly { readonly code: string; readonly message: string }[];
  readonly restCalls: {
    readonly total: number;
    readonly byEndpoint: Readonly<Record<FlinkEndpoint, number>>;
    /** Calls of each successful snapshot, in order: the first includes job discovery and metric listings. */
    readonly perSample: readonly number[];
  };
}

/**
 * Samples the job every `sampleIntervalSeconds` for `windowSeconds` and returns the window's
 * readings. The first snapshot failing (unreachable, no running job, not a Flink JobManager) throws
 * its typed error; later failures are reported in `failedSamples`.
 */
export async function collectReport(request: CollectReportRequest): Promise<CollectReport> {
  const windowSeconds = request.windowSeconds ?? 30;
  const intervalMs = (request.sampleIntervalSeconds ?? 5) * 1000;
  if (!(windowSeconds > 0) || !(intervalMs > 0))
    throw new RangeError('window and sample interval must be positive');
  const { client, clock } = request;
  const window = new MetricWindow({
    ...request.windowOptions,
    windowSeconds,
    maxSampleAgeSeconds: Math.max(request.windowOptions?.maxSampleAgeSeconds ?? 0, (3 * intervalMs) / 1000),
  });
  const state = new SnapshotState();
  const byEndpoint = Object.fromEntries(FLINK_ENDPOINTS.map((endpoint) => [endpoint, 0])) as Record<
    FlinkEndpoint,
    number
  >;
  const perSample: number[] = [];
  const failedSamples: { code: string; message: string }[] = [];
  let last: JobSnapshot | null = null;

  const startedAtMs = clock.nowMs();
  for (let index = 0; ; index += 1) {
    const dueAtMs = startedAtMs + index * intervalMs;
    const waitMs = dueAtMs - clock.nowMs();
    if (waitMs > 0) await request.sleep(waitMs);
    try {
      const snapshot = await takeSnapshot(client, {
        jobId: request.jobId ?? last?.jobId,
        wantTaskSlots: true,
        state,
        clock,
      });
      let calls = 0;
      for (const [endpoint, count] of Object.entries(snapshot.restCalls) as [FlinkEndpoint, number][]) {
        byEndpoint[endpoint] += count;
        calls += count;
      }
      perSample.push(calls);
      window.add(snapshot);
      last = snapshot;
    } catch (err) {
      if (last === null) throw err;
      const code = isSlotscalerError(err) ? err.code : 'INTERNAL';
      const message = err instanceof Error ? err.message : String(err);
      failedSamples.push({ code, message });
      window.recordFailure({ atMs: clock.nowMs(), code, message });
    }
    if (dueAtMs - startedAtMs >= windowSeconds * 1000) break;
  }

  const readings = window.readings(clock.nowMs());
  const metrics: ReportedMetric[] = METRIC_CATALOGUE.map((entry) => ({
    name: entry.name,
    unit: entry.unit,
    reading: readings.metrics[entry.name],
  }));
  for (const expression of request.expressionMetrics ?? []) {
    metrics.push({
      name: expression.name,
      unit: `= ${expression.source}`,
      reading: expression.evaluate(readings.metrics),
    });
  }
  return {
    jobManagerUrl: client.baseUrl,
    jobId: last.jobId,
    jobName: last.jobName,
    state: last.state,
    runningSinceMs: last.runningSinceMs,
    maxParallelism: last.maxParallelism,
    taskSlots: last.taskSlots,
    windowSeconds,
    samples: readings.sampleCount,
    spanSeconds: readings.spanSeconds,
    metrics,
    vertices: readings.vertices,
    failedSamples,
    restCalls: { total: perSample.reduce((sum, calls) => sum + calls, 0), byEndpoint, perSample },
  };
}

/** A number for people: ratios with 3 decimals, others with up to 2. */
function formatNumber(value: number, ratio = false): string {
  if (ratio) return value.toFixed(3);
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(Math.abs(value) >= 100 ? 1 : 2);
}

function formatReading(reading: MetricReading, ratio: boolean): string {
  if ('value' in reading) return formatNumber(reading.value, ratio);
  return `unavailable (${reading.unavailable}${reading.detail === undefined ? '' : `: ${reading.detail}`})`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, column) => (widths[column] = Math.max(widths[column] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The report as a readable table, or as JSON (one object, stable field names). */
export function formatCollectReport(report: CollectReport, format: 'table' | 'json'): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  const orNone = (value: number | null): string => (value === null ? '-' : formatNumber(value));
  const lines: string[] = [];
  lines.push(
    table([
      ['jobmanager', report.jobManagerUrl],
      ['job', `${report.jobId} "${report.jobName}" ${report.state}`],
      ['running since', report.runningSinceMs === null ? '-' : new Date(report.runningSinceMs).toISOString()],
      ['max parallelism', orNone(report.maxParallelism)],
      ['task slots', orNone(report.taskSlots)],
      [
        'window',
        `${report.windowSeconds} s requested, ${report.samples} samples over ${report.spanSeconds.toFixed(1)} s`,
      ],
      ['REST calls', `${report.restCalls.total} (per sample: ${report.restCalls.perSample.join(', ')})`],
    ]),
  );
  lines.push('');
  lines.push(
    table([
      ['METRIC', 'VALUE', 'UNIT'],
      ...report.metrics.map((metric) => [
        metric.name,
        formatReading(metric.reading, metric.unit.startsWith('ratio')),
        metric.unit,
      ]),
    ]),
  );
  if (report.vertices.length > 0) {
    lines.push('');
    lines.push(
      table([
        ['VERTEX', 'PARALLELISM', 'BUSY', 'BACKPRESSURE', 'PENDING', 'RECORDS IN/S'],
        ...report.vertices.map((vertex) => [
          vertex.isSource ? `${vertex.name} (source)` : vertex.name,
          String(vertex.parallelism),
          vertex.busyRatio === null ? '-' : formatNumber(vertex.busyRatio, true),
          vertex.backPressureRatio === null ? '-' : formatNumber(vertex.backPressureRatio, true),
          vertex.isSource ? orNone(vertex.pendingRecords) : '',
          vertex.isSource ? orNone(vertex.recordsInPerSecond) : '',
        ]),
      ]),
    );
  }
  if (report.failedSamples.length > 0) {
    lines.push('');
    lines.push(
      `${report.failedSamples.length} sample(s) failed: ${report.failedSamples.map((f) => f.message).join('; ')}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
