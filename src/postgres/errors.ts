import {
  AuthError,
  BackendError,
  BackendUnavailableError,
  BallotError,
  InvalidArgumentError,
} from '../core/errors.js';
import { CommitUnknownError, RolledBackError, TimeoutError, sqlState } from './adapter.js';

/** Network-level failures: nothing answered, or the connection broke. */
const UNREACHABLE =
  /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EPIPE|terminated|timeout|closed|ended/i;

/**
 * Turns a driver error into a BallotError whose message says what to change. The single place that
 * knows PostgreSQL's error codes: 28xxx credentials, 42501 rights, 3D000 database, 08xxx and 57Pxx
 * the connection, 57014 a statement timeout.
 */
export function translate(err: unknown, where: string, doing: string): BallotError {
  if (err instanceof BallotError) return err;
  const state = sqlState(err);
  const detail = err instanceof Error ? err.message : String(err);
  const at = `postgres at ${where}: ${doing}`;
  if (err instanceof TimeoutError) return new BackendUnavailableError(`${at}: ${detail}`, { cause: err });
  if (err instanceof CommitUnknownError)
    return new BackendUnavailableError(`${at}: ${err.message}; check before retrying`, { cause: err.cause });
  if (err instanceof RolledBackError) return new BackendError(`${at}: ${detail}`, { cause: err });
  if (state === '28P01' || state === '28000')
    return new AuthError(
      `${at}: ${detail} (check the user and password in the connection string, or PGUSER/PGPASSWORD)`,
      { cause: err },
    );
  if (state === '42501')
    return new AuthError(`${at}: ${detail} (grant the rights, or use a role that has them)`, { cause: err });
  if (state === '3D000')
    return new BackendError(
      `${at}: ${detail} (create the database, or fix the name in the connection string)`,
      {
        cause: err,
      },
    );
  if (state === '57014')
    return new BackendUnavailableError(`${at}: the statement ran past its time limit (${detail})`, {
      cause: err,
    });
  if (state === '25P03')
    return new BackendUnavailableError(
      `${at}: the transaction sat idle past its time limit, so the server rolled it back (${detail})`,
      { cause: err },
    );
  if (state === '55P03') return new BackendUnavailableError(`${at}: ${detail}`, { cause: err });
  // A deadlock or serialization failure rolled the statement back: trying again is the cure.
  if (state === '40P01' || state === '40001')
    return new BackendUnavailableError(`${at}: ${detail} (rolled back; try again)`, { cause: err });
  if (state?.startsWith('08') || state?.startsWith('57P') || state === '53300')
    return new BackendUnavailableError(`${at}: ${detail}`, { cause: err });
  if (state === undefined && /ECONNREFUSED|ENOTFOUND/.test(detail))
    return new BackendUnavailableError(
      `${at}: ${detail} (is PostgreSQL running and accepting TCP connections there? check the host and port ` +
        `in the connection string, or PGHOST/PGPORT)`,
      { cause: err },
    );
  if (state === undefined && UNREACHABLE.test(detail))
    return new BackendUnavailableError(`${at}: ${detail}`, { cause: err });
  if (state === '22023' || state === '22P02') return new InvalidArgumentError(`${at}: ${detail}`);
  return new BackendError(`${at}: ${detail}${state ? ` (SQLSTATE ${state})` : ''}`, { cause: err });
}
