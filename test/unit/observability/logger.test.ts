import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { callbackLogger, logLine } from '../../../src/observability/logger.js';
import type { LogLevel } from '../../../src/observability/logger.js';

describe('callbackLogger', () => {
  it('hands on the levels it lets through, with the child bindings merged into the fields', () => {
    const records: [LogLevel, string, Record<string, unknown>][] = [];
    const logger = callbackLogger(
      (level, msg, fields) => records.push([level, msg, fields]),
      (level) => level !== 'debug',
    );
    const child = logger.child({ target: 'ns/a' });
    child.debug({ n: 1 }, 'dropped');
    child.info({ n: 2 }, 'kept');
    child.child({ kind: 'x' }).error({ target: 'ns/b' }, 'failed');
    logger.warn({}, 'bare');
    assert.deepEqual(records, [
      ['info', 'kept', { target: 'ns/a', n: 2 }],
      ['error', 'failed', { target: 'ns/b', kind: 'x' }],
      ['warn', 'bare', {}],
    ]);
  });

  it('logLine: the message, then the fields as JSON, an error by its message', () => {
    assert.equal(logLine('failed', { err: new Error('boom'), n: 1 }), 'failed {"err":"boom","n":1}');
  });
});
