/**
 * The logger shape Slotscaler's components accept: the part of pino they use, so a pino logger fits
 * and a test can pass its own. Log the object first, then the message; errors go under `err`.
 */

/** A pino-compatible structured logger. */
export interface Logger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** A logger that drops everything (the default where none is given). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * A logger that hands each record of the levels `enabled` lets through to `write`, with the
 * bindings of `child` merged into its fields. For the demo's terminal, tests and test helpers; the
 * process itself logs JSON through pino.
 */
export function callbackLogger(
  write: (level: LogLevel, msg: string, fields: Record<string, unknown>) => void,
  enabled: (level: LogLevel) => boolean = () => true,
  bindings: Record<string, unknown> = {},
): Logger {
  const at =
    (level: LogLevel) =>
    (obj: Record<string, unknown>, msg: string): void => {
      if (enabled(level)) write(level, msg, { ...bindings, ...obj });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => callbackLogger(write, enabled, { ...bindings, ...more }),
  };
}

/** One record as one line: `<msg> <fields as JSON>`, an error by its message. */
export function logLine(msg: string, fields: Record<string, unknown>): string {
  return `${msg} ${JSON.stringify(fields, (_key, value: unknown) => (value instanceof Error ? value.message : value))}`;
}
