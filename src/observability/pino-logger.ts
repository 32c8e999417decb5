/**
 * The process logger: pino JSON on stdout, object first then message, errors under `err`, tokens
 * and keys redacted wherever they appear in a logged object.
 */
import { pino } from 'pino';

import type { Logger } from './logger.js';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { app: 'slotscaler' },
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
  });
}
