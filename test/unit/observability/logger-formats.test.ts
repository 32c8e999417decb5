// The process logger's two formats: JSON with level names and ISO times, and text lines for a terminal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { createLogger, formatTextRecord, resolveLogFormat } from '../../../src/observability/pino-logger.js';
import type { LogDestination } from '../../../src/observability/pino-logger.js';

function destination(isTTY = false): LogDestination & { lines: () => string[] } {
  let text = '';
  return {
    isTTY,
    write: (chunk: string) => (text += chunk),
    lines: () => text.split('\n').filter((line) => line !== ''),
  };
}

const GREEN = '\u001b[32m';
const RESET = '\u001b[0m';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('logger, json', () => {
  it('writes level names and ISO 8601 times, the bindings and the object, then the message', () => {
    const out = destination();
    const logger = createLogger({ level: 'info', format: 'json', destination: out });
    logger.child({ component: 'metrics-api' }).info({ port: 6443 }, 'listening');
    logger.debug({}, 'dropped at info');
    const [line, ...rest] = out.lines();
    assert.deepEqual(rest, []);
    const record = JSON.parse(line ?? '') as Record<string, unknown>;
    assert.equal(record['level'], 'info');
    assert.match(String(record['time']), ISO);
    assert.ok(Math.abs(Date.parse(String(record['time'])) - Date.now()) < 60_000);
    assert.deepEqual(
      { ...record, time: undefined },
      {
        level: 'info',
        time: undefined,
        app: 'slotscaler',
        component: 'metrics-api',
        port: 6443,
        msg: 'listening',
      },
    );
  });

  it('names every level it writes, serializes errors under err and redacts credentials', () => {
    const out = destination();
    const logger = createLogger({ level: 'debug', format: 'json', destination: out });
    logger.debug({}, 'd');
    logger.warn({ headers: { authorization: 'Bearer secret' }, upstream: { token: 't0k3n' } }, 'w');
    logger.error({ err: new Error('boom') }, 'e');
    const records = out.lines().map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      records.map((record) => record['level']),
      ['debug', 'warn', 'error'],
    );
    const [, warn, error] = records;
    assert.ok(warn !== undefined && error !== undefined);
    assert.deepEqual(warn['headers'], { authorization: '[redacted]' });
    assert.deepEqual(warn['upstream'], { token: '[redacted]' });
    const err = error['err'] as { type: string; message: string; stack: string };
    assert.equal(err.type, 'Error');
    assert.equal(err.message, 'boom');
    assert.match(err.stack, /^Error: boom\n\s+at /);
    assert.ok(!out.lines().join('\n').includes('secret'));
  });
});

describe('logger, text', () => {
  it('writes one line a record: time, level, message, fields as key=value', () => {
    const out = destination();
    const logger = createLogger({ level: 'info', format: 'text', destination: out });
    logger
      .child({ component: 'scaler' })
      .info({ target: 'flink/clicks', reason: 'desired within range', replicas: 3, ok: true }, 'decided');
    const [line, ...rest] = out.lines();
    assert.deepEqual(rest, []);
    const [time, ...words] = (line ?? '').split(' ');
    assert.match(time ?? '', ISO);
    assert.equal(
      words.join(' '),
      'INFO  decided component=scaler target=flink/clicks reason="desired within range" replicas=3 ok=true',
    );
  });

  it('shows an error by its message, and its stack below an error-level line only', () => {
    const out = destination();
    const logger = createLogger({ level: 'info', format: 'text', destination: out });
    logger.warn({ err: new Error('JobManager unreachable') }, 'skipped');
    logger.error({ err: new Error('bug') }, 'failed');
    const lines = out.lines();
    assert.match(lines[0] ?? '', / WARN {2}skipped err="JobManager unreachable"$/);
    assert.match(lines[1] ?? '', / ERROR failed err=bug$/);
    assert.match(lines[2] ?? '', /^ {4}at /, 'the stack, indented');
    assert.ok(lines.slice(2).every((line) => line.startsWith('    at ')));
    assert.doesNotMatch(lines[0] ?? '', /\n/);
  });

  it('redacts as the JSON format does', () => {
    const out = destination();
    createLogger({ level: 'info', format: 'text', destination: out }).info(
      { headers: { authorization: 'Bearer secret' } },
      'request',
    );
    assert.match(out.lines()[0] ?? '', /headers=\{"authorization":"\[redacted\]"\}$/);
  });

  it('formats a record with nested values as JSON and leaves out the fields every line has', () => {
    assert.equal(
      formatTextRecord({
        level: 'info',
        time: '2026-05-04T09:30:00.000Z',
        app: 'slotscaler',
        pid: 1,
        hostname: 'h',
        msg: 'served',
        metrics: ['a', 'b'],
        labels: { target: 'x' },
        empty: '',
      }),
      '2026-05-04T09:30:00.000Z INFO  served metrics=["a","b"] labels={"target":"x"} empty=""',
    );
    assert.equal(
      formatTextRecord({ level: 'warn', time: 't', msg: 'm' }, true),
      't \u001b[33mWARN \u001b[0m m',
    );
  });
});

describe('logger, auto', () => {
  it('is text on a terminal (coloured) and JSON anywhere else', () => {
    assert.equal(resolveLogFormat('auto', true), 'text');
    assert.equal(resolveLogFormat('auto', false), 'json');
    assert.equal(resolveLogFormat('json', true), 'json');
    assert.equal(resolveLogFormat('text', false), 'text');

    const terminal = destination(true);
    createLogger({ level: 'info', destination: terminal }).info({}, 'hello');
    assert.equal(terminal.lines()[0]?.replace(/^\S+ /, ''), `${GREEN}INFO ${RESET} hello`);
    const pipe = destination(false);
    createLogger({ level: 'info', destination: pipe }).info({}, 'hello');
    assert.equal((JSON.parse(pipe.lines()[0] ?? '') as { msg: string }).msg, 'hello');
  });

  it('leaves the colour out with NO_COLOR set, or when told to', () => {
    const before = process.env['NO_COLOR'];
    process.env['NO_COLOR'] = '1';
    try {
      const terminal = destination(true);
      createLogger({ level: 'info', destination: terminal }).info({}, 'hello');
      assert.match(terminal.lines()[0] ?? '', /^\S+ INFO {2}hello$/);
    } finally {
      if (before === undefined) delete process.env['NO_COLOR'];
      else process.env['NO_COLOR'] = before;
    }
    const told = destination(true);
    createLogger({ level: 'info', destination: told, color: false }).info({}, 'hello');
    assert.match(told.lines()[0] ?? '', /^\S+ INFO {2}hello$/);
  });
});
