import { InvalidArgumentError } from './errors.js';

/** Structured fields of one log record: election, session, token, reason, delayMs, error... */
export type LogFields = Record<string, unknown>;

/** One level of a Logger: pino's `(obj, msg)` signature, so a pino logger fits as it is. */
export type LogMethod = (fields: LogFields, message: string) => void;

/**
 * Where ballot writes what it does: any object with debug/info/warn/error taking `(fields, msg)`,
 * e.g. a pino logger or `console`-like adapter. Calls are synchronous and must not throw.
 */
export interface Logger {
  /** Routine steps: renewals, campaigns started, observers restarted. */
  debug: LogMethod;
  /** State changes: elected, deposed, session opened, stopped. */
  info: LogMethod;
  /** Trouble ballot handles itself: renewals failing, retries. */
  warn: LogMethod;
  /** Trouble it cannot: the session lost, the elector stopped by an error. */
  error: LogMethod;
}

const nothing: LogMethod = () => undefined;

/** The default: logs nothing. */
export const silentLogger: Logger = Object.freeze({
  debug: nothing,
  info: nothing,
  warn: nothing,
  error: nothing,
});

/** Returns `logger` (or the silent one) after checking it has the four methods. */
export function checkLogger(logger: unknown, what = 'logger'): Logger {
  if (logger === undefined) return silentLogger;
  const l = logger as Partial<Record<keyof Logger, unknown>> | null;
  if (typeof l !== 'object' || l === null)
    throw new InvalidArgumentError(
      `${what} must be an object with debug, info, warn and error methods (e.g. pino())`,
    );
  for (const level of ['debug', 'info', 'warn', 'error'] as const)
    if (typeof l[level] !== 'function')
      throw new InvalidArgumentError(
        `${what} has no ${level}() method: pass an object with debug, info, warn and error (e.g. pino())`,
      );
  return logger as Logger;
}

/** Error fields for a log record: code and message, without the stack. */
export function errorFields(error: unknown): LogFields {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return code === undefined ? { err: error.message } : { err: error.message, code };
  }
  return { err: String(error) };
}
