import type { LogFields, Logger } from '../index.js';
import { UsageError } from './errors.js';

/** The levels --log-level and BALLOT_LOG accept, quietest last. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/** One of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Checks a level from `source` (the flag or the variable), for a usage error that names it. */
export function parseLogLevel(text: string, source: string): LogLevel {
  const level = text.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new UsageError(`${source} must be one of ${LOG_LEVELS.join(', ')}, got "${text}"`);
}

/**
 * A Logger writing one JSON object per line to `stream` (stderr in the CLI): time, level, msg and
 * the record's fields, bigints as decimal strings. Records below `level` cost one comparison.
 */
export function jsonLogger(level: LogLevel, stream: NodeJS.WritableStream = process.stderr): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const method = (name: Exclude<LogLevel, 'silent'>) => {
    if (LOG_LEVELS.indexOf(name) < min) return () => undefined;
    return (fields: LogFields, msg: string) => {
      const line = JSON.stringify(
        { time: new Date().toISOString(), level: name, msg, ...fields },
        (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
      );
      stream.write(`${line}\n`);
    };
  };
  return { debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') };
}

/** The JSON-lines logger of --log-level / $BALLOT_LOG (to stderr), or undefined when silent. */
export function cliLogger(level: LogLevel | undefined): Logger | undefined {
  return level && level !== 'silent' ? jsonLogger(level) : undefined;
}
