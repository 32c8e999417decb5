/**
 * Fuzzing the response parsers: whatever a JobManager (or something pretending to be one) sends, only
 * the typed errors of a bad answer come out (`FlinkBadResponseError`, `FlinkImplausibleResponseError`,
 * `FlinkResponseTooLargeError`), no NaN or Infinity gets through to the metric window, and every
 * value the window computes is within its range.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import fc from 'fast-check';
import '../../support/property-seed.js';

import { metricRanges } from '../../../src/metrics/metric-bounds.js';
import { MetricWindow } from '../../../src/metrics/metric-window.js';
import type { WindowReadings } from '../../../src/metrics/metric-window.js';
import type { FlinkMetricName } from '../../../src/domain/metrics.js';
import type { FlinkClient } from '../../../src/domain/ports.js';
import {
  FlinkBadResponseError,
  FlinkImplausibleResponseError,
  FlinkResponseTooLargeError,
  isSlotscalerError,
} from '../../../src/errors.js';
import {
  decodeJsonBody,
  parseAggregatedMetrics,
  parseJobDetails,
  parseJobsOverview,
  parseMetricNames,
  parseMetricValues,
  parseTaskManagers,
} from '../../../src/flink/responses.js';
import { SnapshotState, takeSnapshot } from '../../../src/flink/snapshot.js';
import { FakeClock } from '../../fakes/fake-clock.js';

const URL_ = 'http://jm:8081/fuzz';
const PARSERS = [
  parseAggregatedMetrics,
  parseJobDetails,
  parseJobsOverview,
  parseMetricNames,
  parseMetricValues,
  parseTaskManagers,
];

function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}
const FIXTURES = [
  'job-details-running.json',
  'job-details-restarting.json',
  'job-details-bare-nan.txt',
  'jobs-overview.json',
  'taskmanagers.json',
  'vertex-metrics-source.json',
  'subtask-metrics-aggregated.json',
  'subtask-metric-names.json',
].map(fixture);

/** Every number reachable from `value` is finite. */
function assertFinite(value: unknown, path = '$'): void {
  if (typeof value === 'number') {
    assert.ok(Number.isFinite(value), `${path} is ${value}`);
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => assertFinite(item, `${path}[${index}]`));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) assertFinite(item, `${path}.${key}`);
  }
}

/** The errors a parser may throw: a bad answer, a value beyond the bounds, an answer too large. */
function isAnswerError(err: unknown): boolean {
  return (
    err instanceof FlinkBadResponseError ||
    err instanceof FlinkImplausibleResponseError ||
    err instanceof FlinkResponseTooLargeError
  );
}

/** Runs `fn`; anything thrown must be one of the typed errors of a bad answer. */
function onlyTyped<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    assert.ok(isAnswerError(err), `not an answer error: ${String(err)}`);
    return undefined;
  }
}

/** Every metric the window serves is finite and within its range. */
function assertWithinRanges(readings: WindowReadings): void {
  const ranges = metricRanges(readings.vertices);
  for (const [name, reading] of Object.entries(readings.metrics) as [
    FlinkMetricName,
    (typeof readings.metrics)[FlinkMetricName],
  ][]) {
    if (!('value' in reading)) continue;
    assert.ok(
      Number.isFinite(reading.value) && reading.value >= 0 && reading.value <= ranges[name].max,
      `${name} = ${reading.value}`,
    );
  }
}

/** JSON-like values, with the numbers a broken serializer might produce. */
const wild = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(
      null,
      true,
      false,
      'NaN',
      'Infinity',
      '-1',
      '',
      '12',
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -1,
      0,
      // Finite but absurd: what a lying JobManager sends.
      1e9,
      1e303,
      -1e300,
      2 ** 53,
      32_769,
      '1e303',
      Date.UTC(2200, 0, 1),
    ),
    fc.double(),
    fc.integer(),
    fc.string(),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A fixture with one leaf (or subtree) somewhere replaced by a wild value. */
function mutate(body: unknown, path: readonly number[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [step = 0, ...rest] = path;
  if (Array.isArray(body) && body.length > 0) {
    const items: unknown[] = body;
    const index = step % items.length;
    return items.map((item, i) => (i === index ? mutate(item, rest, replacement) : item));
  }
  if (typeof body === 'object' && body !== null) {
    const keys = Object.keys(body);
    if (keys.length === 0) return replacement;
    const key = keys[step % keys.length] ?? '';
    return { ...body, [key]: mutate((body as Record<string, unknown>)[key], rest, replacement) };
  }
  return replacement;
}

describe('response parsers under fuzzing', () => {
  it('turn random text into a value or a typed error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.constantFrom(...FIXTURES)), (text) => {
        const decoded = onlyTyped(() => decodeJsonBody(text, URL_));
        if (decoded === undefined) return;
        for (const parse of PARSERS) assertFinite(onlyTyped(() => parse(decoded, URL_)));
      }),
      { numRuns: 500 },
    );
  });

  it('turn truncated recorded answers into a typed error or a finite value', () => {
    fc.assert(
      fc.property(fc.constantFrom(...FIXTURES), fc.nat(), (text, cut) => {
        const truncated = text.slice(0, cut % (text.length + 1));
        const decoded = onlyTyped(() => decodeJsonBody(truncated, URL_));
        if (decoded === undefined) return;
        for (const parse of PARSERS) assertFinite(onlyTyped(() => parse(decoded, URL_)));
      }),
      { numRuns: 500 },
    );
  });

  it('turn random JSON values into a value or a typed error', () => {
    fc.assert(
      fc.property(wild, (value) => {
        for (const parse of PARSERS) assertFinite(onlyTyped(() => parse(value, URL_)));
      }),
      { numRuns: 300 },
    );
  });

  it('let no NaN reach the window from a mutated job answer', async () => {
    const job = decodeJsonBody(fixture('job-details-running.json'), URL_);
    const names = decodeJsonBody(fixture('subtask-metric-names.json'), URL_);
    const values = decodeJsonBody(fixture('vertex-metrics-source.json'), URL_);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.array(fc.nat(), { maxLength: 6 }), wild), { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.array(fc.nat(), { maxLength: 3 }), wild), { maxLength: 2 }),
        async (jobMutations, metricMutations) => {
          const clock = new FakeClock();
          const window = new MetricWindow();
          const state = new SnapshotState();
          let body = job;
          let metricBody = values;
          for (const [path, replacement] of jobMutations) body = mutate(body, path, replacement);
          for (const [path, replacement] of metricMutations)
            metricBody = mutate(metricBody, path, replacement);
          // An in-memory FlinkClient answering the mutated bodies through the real parsers.
          const client: FlinkClient = {
            baseUrl: URL_,
            listJobs: () => Promise.resolve([]),
            getJobDetails: () => Promise.resolve(parseJobDetails(body, URL_)),
            getVertexMetrics: () => Promise.resolve(parseMetricValues(metricBody, URL_)),
            listSubtaskMetricNames: () => Promise.resolve(parseMetricNames(names, URL_)),
            getAggregatedSubtaskMetrics: () => Promise.resolve(parseAggregatedMetrics(metricBody, URL_)),
            listTaskManagers: () => Promise.resolve([]),
            // A snapshot never reads per-TaskManager figures: they are not part of its budget.
            getVertexTaskManagers: () => Promise.reject(new Error('not part of a snapshot')),
            // Nor its checkpointing, unless asked for (`wantCheckpoints`).
            getCheckpointConfig: () => Promise.reject(new Error('not asked for')),
            getCheckpointStats: () => Promise.reject(new Error('not asked for')),
          };
          for (let tick = 0; tick < 3; tick += 1) {
            clock.advance(15_000);
            try {
              const snapshot = await takeSnapshot(client, { jobId: 'j', state, clock });
              assertFinite(snapshot);
              window.add(snapshot);
            } catch (err) {
              assert.ok(isSlotscalerError(err), `untyped ${String(err)}`);
            }
            const readings = window.readings(clock.nowMs());
            assertFinite(readings);
            assertWithinRanges(readings);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
