import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SimulateInputError } from '../../../src/errors.js';
import {
  BUILTIN_TRACES,
  builtinTrace,
  parseTraceCsv,
  rateAt,
  resolveTrace,
} from '../../../src/simulate/traces.js';
import type { BuiltinTraceName } from '../../../src/simulate/traces.js';

describe('traces', () => {
  it('parses a CSV with a header, comments and blank lines; linear between rows, a step at a repeated second', () => {
    const trace = parseTraceCsv(
      'seconds,records_per_second\n# warm-up\n0,100\n\n60,700\n60,1000\r\n120, 1000\n',
      'load.csv',
    );
    assert.equal(trace.durationSeconds, 120);
    assert.equal(trace.points.length, 4);
    assert.equal(rateAt(trace, 0), 100);
    assert.equal(rateAt(trace, 30), 400);
    assert.equal(rateAt(trace, 59.999) < 700, true);
    assert.equal(rateAt(trace, 60), 1000);
    assert.equal(rateAt(trace, 90), 1000);
    assert.equal(rateAt(trace, 500), 1000);
  });

  it('reports the line of each kind of error', () => {
    const cases: [string, RegExp][] = [
      ['0,100\n10,abc\n', /^load\.csv:2: records_per_second must be a number ≥ 0, got "abc"$/],
      ['0,100\n10\n', /^load\.csv:2: expected 2 fields/],
      ['0,100\n10,5,6\n', /^load\.csv:2: expected 2 fields/],
      ['\n0,100\n20,1\n10,1\n', /^load\.csv:4: seconds go back: 10 after 20$/],
      ['0,100\n-5,1\n', /^load\.csv:2: seconds must be a number ≥ 0/],
      ['0,-1\n', /^load\.csv:1: records_per_second must be a number ≥ 0/],
      ['time,rate\n0,1\n', /^load\.csv:1: expected the header "seconds,records_per_second"/],
      ['# nothing\n', /^load\.csv: the trace has no rows$/],
      ['0,5\n', /^load\.csv: the trace must last longer than 0 seconds$/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseTraceCsv(text, 'load.csv'),
        (err: unknown) => err instanceof SimulateInputError && message.test(err.message),
        text,
      );
    }
  });

  it('has the built-in traces, deterministic, and resolves builtin:<name> or a file', () => {
    for (const name of Object.keys(BUILTIN_TRACES) as BuiltinTraceName[]) {
      const trace = builtinTrace(name);
      assert.ok(trace.durationSeconds > 0, name);
      assert.deepEqual(builtinTrace(name), trace, name);
      assert.ok(trace.points.every((point) => point.recordsPerSecond >= 0));
    }
    assert.notDeepEqual(builtinTrace('flat-with-noise', 2), builtinTrace('flat-with-noise', 1));
    assert.equal(rateAt(builtinTrace('step'), 599), 2400);
    assert.equal(rateAt(builtinTrace('step'), 600), 7000);
    assert.equal(resolveTrace('builtin:ramp', () => '').name, 'builtin:ramp');
    assert.throws(
      () => resolveTrace('builtin:nope', () => ''),
      /unknown built-in trace "nope"; expected one of builtin:step/,
    );
    assert.equal(resolveTrace('mine.csv', () => '0,1\n10,2\n').durationSeconds, 10);
    assert.throws(
      () =>
        resolveTrace('missing.csv', () => {
          throw new Error('ENOENT');
        }),
      /^SimulateInputError: missing\.csv: cannot read the trace: ENOENT$|missing\.csv: cannot read the trace: ENOENT/,
    );
  });
});
