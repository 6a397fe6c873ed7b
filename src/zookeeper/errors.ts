import zk from 'node-zookeeper-client';
import {
  AuthError,
  BackendError,
  BackendUnavailableError,
  BallotError,
  InvalidArgumentError,
} from '../core/errors.js';

/** The ZooKeeper error code of a client error, or undefined for anything else. */
export function zkCode(err: unknown): number | undefined {
  if (err instanceof zk.Exception) return err.getCode();
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A call that got no reply within the call timeout (the connection may be half-open). */
export class ZkTimeoutError extends Error {
  constructor(
    readonly where: string,
    readonly ms: number,
  ) {
    super(`no reply from ZooKeeper at ${where} within ${ms} ms`);
    this.name = 'ZkTimeoutError';
  }
}

const UNAVAILABLE = new Set([
  zk.Exception.CONNECTION_LOSS,
  zk.Exception.OPERATION_TIMEOUT,
  zk.Exception.SESSION_EXPIRED,
  zk.Exception.SYSTEM_ERROR,
]);

/**
 * Turns a client error into a BallotError that says what to change: the single place that knows
 * ZooKeeper's error codes. A path the client refuses (it asserts) is bad input.
 */
export function translate(err: unknown, where: string, doing: string): BallotError {
  if (err instanceof BallotError) return err;
  const at = `ZooKeeper at ${where}: ${doing}`;
  const detail = err instanceof Error ? err.message : String(err);
  if (err instanceof ZkTimeoutError) return new BackendUnavailableError(`${at}: ${detail}`, { cause: err });
  const code = zkCode(err);
  if (code === undefined) {
    if (err instanceof Error && err.name === 'AssertionError')
      return new InvalidArgumentError(`${at}: ${detail}`);
    return new BackendError(`${at}: ${detail}`, { cause: err });
  }
  if (UNAVAILABLE.has(code)) return new BackendUnavailableError(`${at}: ${detail}`, { cause: err });
  if (code === zk.Exception.NO_AUTH || code === zk.Exception.AUTH_FAILED)
    return new AuthError(`${at}: ${detail} (check the ACL of the path, or the credentials)`, { cause: err });
  if (code === zk.Exception.BAD_ARGUMENTS) return new InvalidArgumentError(`${at}: ${detail}`);
  return new BackendError(`${at}: ${detail}`, { cause: err });
}
