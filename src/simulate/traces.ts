/**
 * Load traces for `slotscaler simulate`: the input rate of a job over time.
 *
 * A CSV file has rows `seconds,records_per_second` (an optional header row of those two names,
 * blank lines and `#` comments allowed). Seconds must not decrease; the rate is linear between two
 * rows, and two rows at the same second make a step. The trace ends at its last row.
 *
 * Built-in traces (`builtin:<name>`), sized for the default job model (2 slots per TaskManager,
 * 1000 records/s per slot, 2 TaskManagers at the start, so 4000 records/s of capacity):
 * step, step-down, up-down, ramp, daily-sine, spike, flat-with-noise (seeded, deterministic).
 */
import { SimulateInputError } from '../errors.js';

export interface TracePoint {
  readonly seconds: number;
  readonly recordsPerSecond: number;
}

export interface Trace {
  /** `builtin:step`, or the file's path. */
  readonly name: string;
  /** At least one point; seconds non-decreasing, starting at 0 or later. */
  readonly points: readonly TracePoint[];
  readonly durationSeconds: number;
}

/** Parses a CSV trace; `source` names it in errors (`trace.csv:12: ...`). */
export function parseTraceCsv(text: string, source: string): Trace {
  const points: TracePoint[] = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index += 1) {
    const lineNumber = index + 1;
    const line = (lines[index] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(',').map((field) => field.trim());
    if (points.length === 0 && /^[a-z_\s]+$/i.test(fields[0] ?? '')) {
      if (fields.length === 2 && fields[0] === 'seconds' && fields[1] === 'records_per_second') continue;
      throw new SimulateInputError(
        `${source}:${lineNumber}`,
        `expected the header "seconds,records_per_second" or a first row of numbers, got "${line}"`,
      );
    }
    if (fields.length !== 2) {
      throw new SimulateInputError(
        `${source}:${lineNumber}`,
        `expected 2 fields (seconds,records_per_second), got ${fields.length}: "${line}"`,
      );
    }
    const seconds = parseNumber(fields[0] ?? '');
    const rate = parseNumber(fields[1] ?? '');
    if (seconds === null || seconds < 0) {
      throw new SimulateInputError(
        `${source}:${lineNumber}`,
        `seconds must be a number ≥ 0, got "${fields[0] ?? ''}"`,
      );
    }
    if (rate === null || rate < 0) {
      throw new SimulateInputError(
        `${source}:${lineNumber}`,
        `records_per_second must be a number ≥ 0, got "${fields[1] ?? ''}"`,
      );
    }
    const previous = points.at(-1);
    if (previous !== undefined && seconds < previous.seconds) {
      throw new SimulateInputError(
        `${source}:${lineNumber}`,
        `seconds go back: ${seconds} after ${previous.seconds}`,
      );
    }
    points.push({ seconds, recordsPerSecond: rate });
  }
  const last = points.at(-1);
  if (last === undefined) throw new SimulateInputError(source, 'the trace has no rows');
  if (last.seconds <= 0) throw new SimulateInputError(source, 'the trace must last longer than 0 seconds');
  return { name: source, points, durationSeconds: last.seconds };
}

function parseNumber(text: string): number | null {
  if (text === '') return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/**
 * The rate at `seconds`: linear between points, the later point's value at a step (two points at
 * the same second), the first value before the first point and the last after the last.
 */
export function rateAt(trace: Trace, seconds: number): number {
  const { points } = trace;
  // Binary search for the last point at or before `seconds`.
  let low = 0;
  let high = points.length - 1;
  const first = points[0];
  if (first === undefined) return 0;
  if (seconds < first.seconds) return first.recordsPerSecond;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    const point = points[middle];
    if (point !== undefined && point.seconds <= seconds) low = middle;
    else high = middle - 1;
  }
  const before = points[low];
  const after = points[low + 1];
  if (before === undefined) return 0;
  if (after === undefined || after.seconds === before.seconds) return before.recordsPerSecond;
  const fraction = (seconds - before.seconds) / (after.seconds - before.seconds);
  return before.recordsPerSecond + fraction * (after.recordsPerSecond - before.recordsPerSecond);
}

/** A small, fast, seeded generator (mulberry32): the same seed gives the same trace everywhere. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export type BuiltinTraceName =
  'step' | 'step-down' | 'up-down' | 'ramp' | 'daily-sine' | 'spike' | 'flat-with-noise';

/** What each built-in trace is, for `--help` and the report. */
export const BUILTIN_TRACES: Readonly<Record<BuiltinTraceName, string>> = {
  step: '2400 records/s for 10 min, then 7000 records/s for 50 min (from 60 % to 175 % of the start capacity)',
  'step-down':
    '9000 records/s for 20 min, then 1600 records/s for 40 min (one drop, from 225 % to 40 % of the start capacity)',
  'up-down':
    '2400 records/s for 10 min, 7000 records/s for 30 min, then 2400 records/s for 30 min (one step up, one down, each 7 s after a tick)',
  ramp: '1000 → 12 000 records/s over 60 min, then back down to 1000 over 60 min',
  'daily-sine': 'one day: 1000 records/s at 04:00, 9000 records/s at 16:00, a point every minute',
  spike: '2500 records/s for 60 min, with 10 000 records/s from minute 20 to 23',
  'flat-with-noise': '2800 records/s ± 10 % (uniform noise, seeded) every 10 s for 2 h',
};

export function isBuiltinTraceName(name: string): name is BuiltinTraceName {
  return Object.hasOwn(BUILTIN_TRACES, name);
}

/** A built-in trace; `seed` changes the noise of `flat-with-noise` (default 1). */
export function builtinTrace(name: BuiltinTraceName, seed = 1): Trace {
  const points: TracePoint[] = [];
  const add = (seconds: number, recordsPerSecond: number): void => {
    points.push({ seconds, recordsPerSecond });
  };
  switch (name) {
    case 'step':
      add(0, 2400);
      add(600, 2400);
      add(600, 7000);
      add(3600, 7000);
      break;
    case 'step-down':
      add(0, 9000);
      add(1200, 9000);
      add(1200, 1600);
      add(3600, 1600);
      break;
    case 'up-down':
      // Between two ticks, as real changes come: the first reading after each sees part of it.
      add(0, 2400);
      add(607, 2400);
      add(607, 7000);
      add(2407, 7000);
      add(2407, 2400);
      add(4200, 2400);
      break;
    case 'ramp':
      add(0, 1000);
      add(3600, 12_000);
      add(7200, 1000);
      break;
    case 'daily-sine':
      for (let minute = 0; minute <= 24 * 60; minute += 1) {
        // Lowest at 04:00, highest at 16:00.
        const phase = ((minute / 60 - 4) / 24) * 2 * Math.PI;
        add(minute * 60, Math.round(5000 - 4000 * Math.cos(phase)));
      }
      break;
    case 'spike':
      add(0, 2500);
      add(1200, 2500);
      add(1200, 10_000);
      add(1380, 10_000);
      add(1380, 2500);
      add(3600, 2500);
      break;
    case 'flat-with-noise': {
      const random = seededRandom(seed);
      for (let seconds = 0; seconds <= 7200; seconds += 10) {
        add(seconds, Math.round(2800 * (1 + 0.2 * (random() - 0.5))));
      }
      break;
    }
  }
  const last = points.at(-1);
  return { name: `builtin:${name}`, points, durationSeconds: last?.seconds ?? 0 };
}

/**
 * A trace from `--trace`: `builtin:<name>` or a CSV file's text (read by the caller, so this stays
 * free of I/O). `readFile` is called only for a file.
 */
export function resolveTrace(spec: string, readFile: (path: string) => string): Trace {
  if (spec.startsWith('builtin:')) {
    const name = spec.slice('builtin:'.length);
    if (!isBuiltinTraceName(name)) {
      throw new SimulateInputError(
        '--trace',
        `unknown built-in trace "${name}"; expected one of ${Object.keys(BUILTIN_TRACES)
          .map((known) => `builtin:${known}`)
          .join(', ')}`,
      );
    }
    return builtinTrace(name);
  }
  let text: string;
  try {
    text = readFile(spec);
  } catch (err) {
    throw new SimulateInputError(
      spec,
      `cannot read the trace: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return parseTraceCsv(text, spec);
}
