import * as grpc from '@grpc/grpc-js';
import { AuthError, BackendError, BackendUnavailableError, type BallotError } from '../core/errors.js';

/*
 * The one place that reads etcd's and grpc-js's error texts. etcd reports most conditions only in
 * a status's `details`, and not always under the status code one would expect (the v3election and
 * v3lock services pass their in-process client's errors on as UNKNOWN), so the code decides first
 * and these patterns second. Every pattern is matched against `details` (or, once translated, the
 * cause's `details`), never against our own message, so our wording cannot change a decision.
 * Messages quoted below are etcd 3.4's (api/v3rpc/rpctypes, server/etcdserver/api/v3election).
 *
 * Compaction has no pattern here: it reaches ballot as a watch response's compact_revision
 * (watch.ts, CompactedError), never as text. ballot reads no old revision, so etcd's OUT_OF_RANGE
 * "mvcc: required revision has been compacted" could only come from a bug and stays BACKEND.
 */

/** gRPC status codes that mean "this member cannot serve now; another may". */
export const FAILOVER_CODES: ReadonlySet<grpc.status> = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
]);

/**
 * etcd's transient server errors: "etcdserver: leader changed" (a raft election ran while the
 * request waited), "etcdserver: no leader" (this member is cut off from a quorum), "etcdserver:
 * request timed out" (the proposal was not committed in time), "etcdserver: too many requests"
 * (the apply loop is too far behind). They normally arrive as UNAVAILABLE, but the v3election and
 * v3lock services pass on their in-process client's error with code UNKNOWN, so the text decides.
 */
export const TRANSIENT_DETAILS = /etcdserver: (leader changed|no leader|request timed out|too many requests)/;

/**
 * What a member without a quorum answers a write it could not even propose before etcd's request
 * timeout ran out: Go's "context deadline exceeded", passed on as UNKNOWN (seen from etcd 3.4 with
 * two of three members down). Another member, or a later try, may succeed: an outage, not a refusal.
 */
export const SERVER_DEADLINE_DETAIL = /^context deadline exceeded$/;

/**
 * etcd's answers that mean "who you are (or are not) is the problem": "user name is empty" (no
 * token sent to an auth-enabled etcd; INVALID_ARGUMENT), "user name not found", "authentication
 * failed, invalid user ID or password" (Authenticate with a wrong name or password;
 * INVALID_ARGUMENT), "permission denied" (a user whose roles do not cover the key;
 * PERMISSION_DENIED), "invalid auth token" (an expired or unknown token; UNAUTHENTICATED, or
 * UNKNOWN through the concurrency services), "authentication is not enabled" (credentials sent to
 * an etcd without auth; FAILED_PRECONDITION). Several arrive under codes that say nothing of auth,
 * so the text decides.
 */
export const AUTH_DETAILS =
  /etcdserver: (user name is empty|user name not found|authentication failed|permission denied|invalid auth token|authentication is not enabled)/;

/** etcd's answer when a call carried no token to an etcd with auth enabled (INVALID_ARGUMENT). */
export const NO_CREDENTIALS_DETAIL = /etcdserver: user name is empty/;

/**
 * etcd's answer to a token it no longer knows: simple tokens expire (--auth-token-ttl, 5 min by
 * default) and are forgotten on a restart. UNAUTHENTICATED on KV calls; UNKNOWN when a blocking
 * Campaign or Lock re-reads after waking (etcd #17623, #11381). Authenticating again fixes it.
 */
export const INVALID_AUTH_TOKEN_DETAIL = /etcdserver: invalid auth token/;

/**
 * etcd's answer when a lease id names no live lease: "etcdserver: requested lease not found"
 * (NOT_FOUND from LeaseRevoke and Put; UNKNOWN from Campaign and Lock). The lease expired or was
 * revoked.
 */
export const LEASE_NOT_FOUND_DETAIL = /etcdserver: requested lease not found/;

/**
 * v3election's answer to Leader when the election has no entry: "election: no leader" (UNKNOWN).
 * Not to be confused with the transient "etcdserver: no leader" of a member without a quorum.
 */
export const ELECTION_NO_LEADER_DETAIL = /election: no leader/;

/**
 * v3election's answer to Proclaim (and Resign) when the given leader key no longer holds its
 * revision: "election: not leader" (UNKNOWN). Not etcd's "etcdserver: not leader" (a request that
 * needs the raft leader reached a follower), which says nothing about our term.
 */
export const ELECTION_NOT_LEADER_DETAIL = /election: not leader/;

/**
 * Node's TLS errors for a server certificate we could not verify (grpc-js passes them on inside an
 * UNAVAILABLE "No connection established" detail): the CA did not sign it, it names another host,
 * it expired.
 */
export const TLS_VERIFY_DETAILS =
  /unable to verify the first certificate|unable to get (local )?issuer certificate|self[- ]signed certificate|certificate has expired|certificate is not yet valid|does not match certificate's altnames|certificate signature failure|CERT_[A-Z_]+/i;

/**
 * What grpc-js says when a connection closed before HTTP/2 began with no socket error to name
 * (UNAVAILABLE "No connection established. Last error: Failed to connect"): a plain client talking
 * to a TLS port, among others; the connection then probes for TLS to tell which.
 */
export const BARE_CONNECT_FAILURE = /Last error: Failed to connect/;

/**
 * What grpc-js reports when a call ended at the channel's pick, before any HTTP/2 stream existed:
 * the endpoint's channel had no connection (pick_first in TRANSIENT_FAILURE, a call that does not
 * wait for ready). No byte of the call left the client.
 */
export const NO_CONNECTION_DETAIL = /^No connection established\b/;

/**
 * HTTP/2 REFUSED_STREAM as grpc-js reports it: the server closed the stream before processing any of
 * it (RFC 9113, 8.7), so etcd never saw the request. grpc-js already retries it once on the same
 * channel; this is what is left when that retry was refused too.
 */
export const REFUSED_STREAM_DETAIL = /^Stream refused by server$/;

/** grpc-js ends every connection error with an (often empty) resolution note: noise to the user. */
export const EMPTY_RESOLUTION_NOTE = /\.?\s*Resolution note:\s*$/;

/** Where a failed call was going, for the message: the method and the endpoints tried. */
export interface TranslateContext {
  /** The gRPC method path ("/etcdserverpb.KV/Range") or its last segment. */
  what: string;
  /** The connection's endpoints, named in the message. */
  endpoints: readonly string[];
  /** Whether the connection uses TLS: only then can a certificate error be the cause. */
  secure: boolean;
  /** Whether the connection has credentials: without, "user name is empty" says to give some. */
  credentials: boolean;
}

/** Whether `err` has the shape of a grpc-js ServiceError (a numeric status code). */
export function isServiceError(err: unknown): err is grpc.ServiceError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number';
}

/**
 * What etcd said: a ServiceError's `details`, or for an error already translated here its cause's;
 * the message of any other error. Our own wording never takes part in a decision.
 */
export function detailOf(err: unknown): string {
  if (isServiceError(err)) return err.details ?? err.message ?? '';
  if (err instanceof Error) return isServiceError(err.cause) ? detailOf(err.cause) : err.message;
  return '';
}

/** Whether a stream's error means etcd refused our token (UNAUTHENTICATED): forget it before the next try. */
export function isUnauthenticated(err: unknown): boolean {
  return isServiceError(err) && err.code === grpc.status.UNAUTHENTICATED;
}

/** Whether etcd refused the call's auth token as invalid or expired: authenticate again and retry. */
export function isInvalidAuthToken(err: unknown): boolean {
  return INVALID_AUTH_TOKEN_DETAIL.test(detailOf(err));
}

/** Whether the lease the call named does not exist (any more). */
export function isLeaseNotFound(err: unknown): boolean {
  return LEASE_NOT_FOUND_DETAIL.test(detailOf(err));
}

/** Whether v3election's Leader answered that the election has no leader. */
export function isElectionWithoutLeader(err: unknown): boolean {
  return ELECTION_NO_LEADER_DETAIL.test(detailOf(err));
}

/** Whether v3election refused a Proclaim because the leader key lost its revision. */
export function isNotElectionLeader(err: unknown): boolean {
  return ELECTION_NOT_LEADER_DETAIL.test(detailOf(err));
}

/** Whether a call failed before HTTP/2 began with no socket error to name (see BARE_CONNECT_FAILURE). */
export function isBareConnectFailure(err: unknown): boolean {
  return isServiceError(err) && BARE_CONNECT_FAILURE.test(err.details ?? '');
}

/**
 * Whether `err` (a grpc-js error, or one translated from it) proves the call never reached etcd, so
 * sending it again cannot apply it twice: the test Go's gRPC makes before a transparent retry. A
 * dropped connection, a deadline or anything etcd said proves nothing: the call may have been applied.
 */
export function neverSent(err: unknown): boolean {
  const e = isServiceError(err)
    ? err
    : err instanceof Error && isServiceError(err.cause)
      ? err.cause
      : undefined;
  if (!e || e.code !== grpc.status.UNAVAILABLE) return false;
  const details = e.details ?? '';
  return NO_CONNECTION_DETAIL.test(details) || REFUSED_STREAM_DETAIL.test(details);
}

/**
 * The error of a call sent with `retry: false` whose outcome cannot be known: an UNAVAILABLE that
 * may have been applied says so (`what` names the call, e.g. "proclaim"); one that provably never
 * reached etcd, and every other error, stays as it is.
 */
export function outcomeUnknown(what: string, err: unknown): unknown {
  if (!(err instanceof BackendUnavailableError) || neverSent(err)) return err;
  return new BackendUnavailableError(
    `${what} outcome unknown (it may or may not have been applied): ${err.message}`,
    { cause: err },
  );
}

/**
 * Maps a failed etcd call onto ballot's errors: the status code first, the detail second.
 * UNAVAILABLE for anything another try (or another member) may fix, AUTH for credentials and TLS
 * trust, BACKEND for the rest; the message names the call, the endpoints and what etcd said, and
 * for TLS and missing credentials what to change. `err` undefined means no attempt got an answer.
 */
export function translate(err: grpc.ServiceError | undefined, context: TranslateContext): BallotError {
  const detail = (err?.details || err?.message || 'no response').replace(EMPTY_RESOLUTION_NOTE, '');
  const where = `etcd ${context.what.split('/').pop()} (endpoints: ${context.endpoints.join(', ')})`;
  // Retrying cannot fix a certificate we do not trust: say so instead of "cannot reach".
  if (context.secure && err && TLS_VERIFY_DETAILS.test(detail))
    return new AuthError(
      `${where}: TLS verification of the server failed (${detail}): the server's certificate is not ` +
        'signed by the CA given (tls.ca, --cacert; system roots when none), or does not name this ' +
        'endpoint, or has expired: check --cacert and the endpoint host',
      { cause: err },
    );
  if (
    !err ||
    FAILOVER_CODES.has(err.code) ||
    TRANSIENT_DETAILS.test(detail) ||
    (err.code === grpc.status.UNKNOWN && SERVER_DEADLINE_DETAIL.test(detail))
  )
    return new BackendUnavailableError(`${where}: ${detail}`, { cause: err });
  if (
    err.code === grpc.status.UNAUTHENTICATED ||
    err.code === grpc.status.PERMISSION_DENIED ||
    AUTH_DETAILS.test(detail)
  ) {
    const hint =
      !context.credentials && NO_CREDENTIALS_DETAIL.test(detail)
        ? ': this etcd has authentication enabled; give credentials (--user name:password, or the auth option)'
        : '';
    return new AuthError(`${where}: ${detail}${hint}`, { cause: err });
  }
  return new BackendError(`${where}: ${detail}`, { cause: err });
}
