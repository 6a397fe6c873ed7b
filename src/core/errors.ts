/** Stable machine-readable error codes; each BallotError carries one. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'UNAVAILABLE'
  | 'AUTH'
  | 'BACKEND'
  | 'SESSION_LOST'
  | 'CANCELLED'
  | 'NOT_LEADER'
  | 'ENTRY_DELETED'
  | 'CLOSED'
  | 'BUSY'
  /** A backend's history no longer reaches what a watcher needed (etcd: CompactedError). */
  | 'COMPACTED'
  | 'FLAPPING'
  /** A leadership transfer did not happen, or did not complete in time (see TransferError.reason). */
  | 'TRANSFER_FAILED'
  | 'INTERNAL';

/** Base class of every error ballot throws; switch on `code`, not on the message. */
export class BallotError extends Error {
  /** Stable code for programmatic handling. */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad input: the message says what to change. */
export class InvalidArgumentError extends BallotError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** The backend could not be reached, or did not answer in time. */
export class BackendUnavailableError extends BallotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
  }
}

/** The backend refused our credentials (or their absence), or TLS verification between us failed. */
export class AuthError extends BallotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('AUTH', message, options);
  }
}

/** The backend answered with an error that retrying will not fix. */
export class BackendError extends BallotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BACKEND', message, options);
  }
}

/** Why a session ended: the server dropped its liveness, its deadline passed unacknowledged, or it was closed. */
export type SessionLossCause = 'expired' | 'unreachable' | 'closed';

/** The session's liveness is gone (or may be gone): nothing on it holds any longer. */
export class SessionLostError extends BallotError {
  /** What ended the session. */
  readonly why: SessionLossCause;
  constructor(cause: SessionLossCause, detail: string) {
    super(
      cause === 'closed' ? 'CLOSED' : 'SESSION_LOST',
      `session ${cause === 'closed' ? 'closed' : 'lost'}: ${detail}`,
    );
    this.why = cause;
  }
}

/** A campaign was cancelled through its AbortSignal (or by resign); its entry was removed. */
export class CampaignCancelledError extends BallotError {
  constructor(message = 'campaign cancelled') {
    super('CANCELLED', message);
  }
}

/** The operation needs leadership that this candidate does not hold. */
export class NotLeaderError extends BallotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_LEADER', message, options);
  }
}

/** Someone else deleted this candidate's entry while it was waiting. */
export class EntryDeletedError extends BallotError {
  constructor(key: string) {
    super('ENTRY_DELETED', `entry ${key} was deleted by someone else while campaigning`);
  }
}

/** The object was closed; create a new one. */
export class ClosedError extends BallotError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/** Another call of the same kind is already running on this object. */
export class BusyError extends BallotError {
  constructor(message: string) {
    super('BUSY', message);
  }
}

/**
 * An invariant of ballot itself failed (a bug, not a misuse or an outage). It still carries a code
 * so a program can tell it from the others and a user can quote it in a report; the CLI exits 1.
 */
export class InternalError extends BallotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INTERNAL', message, options);
  }
}

/** The elector won too many terms in too short a window and stopped campaigning. */
export class FlappingError extends BallotError {
  constructor(message: string) {
    super('FLAPPING', message);
  }
}

/**
 * Why a transfer failed. 'candidate-not-found': no waiting candidate has that value (or several
 * do, or it left before the step); nothing changed. 'not-leader': the caller does not lead (or
 * the leader changed before the step); nothing changed. 'timeout': the step committed but the
 * target did not lead within the timeout (e.g. it died): the old leader is back in line.
 */
export type TransferFailure = 'candidate-not-found' | 'not-leader' | 'timeout';

/** A leadership transfer failed; `reason` says whether anything changed. */
export class TransferError extends BallotError {
  /** What went wrong (see TransferFailure). */
  readonly reason: TransferFailure;
  constructor(reason: TransferFailure, message: string, options?: { cause?: unknown }) {
    super('TRANSFER_FAILED', message, options);
    this.reason = reason;
  }
}
