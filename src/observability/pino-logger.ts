/**
 * The process logger: pino, object first then message, errors under `err`, tokens and keys redacted
 * wherever they appear in a logged object. One record, two formats:
 *
 * - `json`: one JSON object a line, the level by name and the time in ISO 8601
 *   (`{"level":"info","time":"2026-05-04T09:30:00.000Z",...}`), which log stores read without
 *   a custom parser (Loki takes `level` as the line's level);
 * - `text`: one line a record for a person at a terminal: time, level, message, then the fields as
 *   `key=value` (the stack of an error-level record's `err` below it).
 *
 * `auto` writes text to a terminal and JSON anywhere else (a pod's log, a pipe, a file).
 */
import { pino } from 'pino';
import type { DestinationStream } from 'pino';

import type { Logger } from './logger.js';

export type LogFormat = 'json' | 'text';
export type LogFormatSetting = LogFormat | 'auto';

/** Where the lines go: process.stdout by default. */
export interface LogDestination {
  write(line: string): unknown;
  readonly isTTY?: boolean;
}

export interface LoggerOptions {
  readonly level: string;
  /** Default `auto`. */
  readonly format?: LogFormatSetting;
  readonly destination?: LogDestination;
  /** Colour the level in text lines. Default: the destination is a terminal and NO_COLOR is unset. */
  readonly color?: boolean;
}

/** The format `auto` stands for on a destination that is (or is not) a terminal. */
export function resolveLogFormat(setting: LogFormatSetting, isTTY: boolean): LogFormat {
  if (setting === 'auto') return isTTY ? 'text' : 'json';
  return setting;
}

/** Fields every record carries that a text line leaves out (they are the same on every line). */
const OMITTED_IN_TEXT = new Set(['time', 'level', 'msg', 'app', 'pid', 'hostname', 'err']);

const LEVEL_COLORS: Record<string, number> = {
  trace: 90,
  debug: 36,
  info: 32,
  warn: 33,
  error: 31,
  fatal: 35,
};

/** A value as it reads after `key=`: bare when it is a plain word, else as JSON. */
function textValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value === undefined) return 'undefined';
  return JSON.stringify(value);
}

interface SerializedError {
  readonly type?: string;
  readonly message?: string;
  readonly stack?: string;
}

/**
 * One JSON record of the `json` format as a text line: `<time> <LEVEL> <msg> key=value ...`, with
 * `err` by its message and, for error and fatal records, its stack indented below.
 */
export function formatTextRecord(record: Record<string, unknown>, color = false): string {
  const text = (value: unknown): string =>
    typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
  const level = text(record['level']);
  const label = level.toUpperCase().padEnd(5);
  const colored = color ? `\u001b[${LEVEL_COLORS[level] ?? 0}m${label}\u001b[0m` : label;
  const parts = [text(record['time']), colored, text(record['msg'])];
  for (const [key, value] of Object.entries(record)) {
    if (OMITTED_IN_TEXT.has(key)) continue;
    parts.push(`${key}=${textValue(value)}`);
  }
  const err = record['err'] as SerializedError | string | null | undefined;
  let stack = '';
  if (typeof err === 'string') parts.push(`err=${textValue(err)}`);
  else if (err !== undefined && err !== null) {
    parts.push(`err=${textValue(err.message ?? err.type ?? 'error')}`);
    if ((level === 'error' || level === 'fatal') && typeof err.stack === 'string') {
      stack = err.stack
        .split('\n')
        .slice(1)
        .map((line) => `\n    ${line.trim()}`)
        .join('');
    }
  }
  return `${parts.filter((part) => part !== '').join(' ')}${stack}`;
}

/** A pino destination that turns each JSON line into a text line on `out`. */
function textDestination(out: LogDestination, color: boolean): DestinationStream {
  return {
    write(chunk: string): void {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line) as Record<string, unknown>;
        } catch {
          out.write(`${line}\n`);
          continue;
        }
        out.write(`${formatTextRecord(record, color)}\n`);
      }
    },
  };
}

export function createLogger(options: LoggerOptions): Logger {
  const out: LogDestination = options.destination ?? process.stdout;
  const format = resolveLogFormat(options.format ?? 'auto', out.isTTY === true);
  const color =
    options.color ?? (out.isTTY === true && (process.env['NO_COLOR'] ?? '') === '' && format === 'text');
  const settings: pino.LoggerOptions = {
    level: options.level,
    base: { app: 'slotscaler' },
    // Level names and ISO times, not pino's numbers and epoch milliseconds.
    formatters: { level: (label) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        '*.token',
        '*.authorization',
        '*.Authorization',
        '*.password',
        '*.key',
        'headers.authorization',
      ],
      censor: '[redacted]',
    },
    serializers: { err: pino.stdSerializers.err },
  };
  if (format === 'text') return pino(settings, textDestination(out, color));
  // process.stdout itself: pino's own fast synchronous writer on fd 1.
  if (options.destination === undefined) return pino(settings);
  return pino(settings, options.destination as DestinationStream);
}
