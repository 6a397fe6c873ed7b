import { BallotError, SessionLostError } from '../index.js';
import { ExitCode } from './exit-codes.js';

/** A mistake in how ballot was called; reported without a stack trace, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An expected failure with a message for the user and a specific exit code. */
export class CliError extends Error {
  /** What the process exits with. */
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The exit code for an error that ended a command. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return ExitCode.USAGE;
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof BallotError) {
    switch (err.code) {
      case 'INVALID_ARGUMENT':
        return ExitCode.USAGE;
      case 'UNAVAILABLE':
        return ExitCode.UNAVAILABLE;
      case 'AUTH':
        return ExitCode.AUTH;
      case 'SESSION_LOST':
      case 'NOT_LEADER':
      case 'ENTRY_DELETED':
        return ExitCode.DEPOSED;
      case 'BACKEND':
      case 'COMPACTED':
        return ExitCode.BACKEND;
      default:
        return ExitCode.INTERNAL;
    }
  }
  return ExitCode.INTERNAL;
}

/** The line printed on stderr for an error: user errors get their message, bugs say so. */
export function describeError(err: unknown): string {
  const expected = err instanceof UsageError || err instanceof CliError || err instanceof BallotError;
  const message = err instanceof Error ? err.message : String(err);
  if (expected && exitCodeFor(err) !== ExitCode.INTERNAL) return `ballot: ${message}`;
  const stack = process.env['BALLOT_DEBUG'] && err instanceof Error ? `\n${err.stack ?? ''}` : '';
  return `ballot: internal error: ${message}${stack || ' (set BALLOT_DEBUG=1 for a stack trace)'}`;
}

/** How messages name each backend's server. */
const SERVICE_NAMES: Record<string, string> = {
  etcd: 'etcd',
  postgres: 'PostgreSQL',
  zookeeper: 'ZooKeeper',
};

/**
 * The error for a campaign (or lock wait) that failed while still queued. A session lost then is
 * no deposition: the candidate never led, so DEPOSED (4) would tell a script a term ended. The
 * session goes only when its keepalives could not reach the backend for a TTL, so it exits
 * UNAVAILABLE (5), and says it was still waiting.
 */
export function whileQueued(name: string, err: unknown, kind = 'etcd'): unknown {
  if (!(err instanceof SessionLostError) || err.why === 'closed') return err;
  return new CliError(
    `lost the session while still waiting in line for ${name} (never elected): ${err.message}; ` +
      `check that ${SERVICE_NAMES[kind] ?? kind} is reachable, or raise --ttl`,
    ExitCode.UNAVAILABLE,
  );
}
