/**
 * The contract every backend implements. core drives these primitives and owns the semantics
 * (deadlines, terms, resign-keeps-state, cancellation cleanup); a backend only has to say how
 * each primitive maps onto its store. A new backend is a new folder that implements this file.
 */
import type { Clock } from './clock.js';
import type { GuardOp, GuardResult } from './guard.js';

/** What the server granted for a new lease. */
export interface LeaseGrant {
  /** Lease id as a decimal string (etcd ids are int64). */
  id: string;
  /** TTL in seconds as granted, which may exceed the one asked for. */
  ttl: number;
}

/** Liveness primitives of one backend connection. */
export interface LeaseDriver {
  /** Creates a lease. */
  grant(ttlSeconds: number): Promise<LeaseGrant>;
  /** Renews a lease; resolves to the TTL the server now grants, or 0 when the lease no longer exists. */
  keepAlive(id: string): Promise<number>;
  /** Deletes a lease and everything attached to it. */
  revoke(id: string): Promise<void>;
}

/** One candidate's entry in one election, as stored by the backend. */
export interface Candidacy {
  /** Backend key of the entry. */
  key: string;
  /**
   * Fencing token of a term won with this entry (etcd: the key's create revision). A backend
   * whose server creates the entry during lead() (etcd's election service) fills it in then.
   */
  token: bigint;
  /** Lease id that keeps the entry alive. */
  lease: string;
}

/** The current leader as the backend reports it. */
export interface LeaderRecord {
  key: string;
  value: string;
  token: bigint;
  lease: string;
}

/** One entry in an election's line as the backend reports it (participants()). */
export interface ParticipantRecord {
  key: string;
  value: string;
  /** Fencing token the entry's term has or will have; the line is in token order. */
  token: bigint;
  /** Liveness (lease, session) id that keeps the entry alive; null for an entry tied to none. */
  lease: string | null;
  /**
   * Whole seconds of liveness left as the backend reports it, -1 when the liveness is already gone
   * (the entry is about to go too), null when the entry has none or the backend cannot tell.
   */
  ttl: number | null;
}

/** What depose() did: removed the leader it read, found none, or found the leader changed. */
export type DeposeRecord =
  | { outcome: 'deposed'; leader: LeaderRecord }
  | { outcome: 'none' }
  | { outcome: 'changed'; leader: LeaderRecord };

/** A leader read that proves contact with the backend. */
export interface Confirmation {
  /** The leader the read found, or null. */
  record: LeaderRecord | null;
  /** When the read started, on the backend's clock: the view is confirmed as of then. */
  at: number;
}

/** Stops a watch started by the driver. */
export type Unwatch = () => void;

/** Election primitives for one (election name, lease) pair. */
export interface ElectionDriver {
  /** Creates this lease's entry with `value`, or finds the existing one (then sets its value). */
  join(value: string): Promise<Candidacy>;
  /**
   * Resolves once `c` is the oldest entry. Waits only on its predecessor (no herd).
   * Rejects with EntryDeletedError if `c` vanished, or with the signal's reason when aborted.
   * After it resolves, `onGone` is called once if the entry is later deleted; call the
   * returned function to stop watching.
   */
  lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Unwatch>;
  /**
   * Like lead(), but never waits: resolves to null at once if an older entry exists (the caller
   * then removes `c`). Used by tryLock().
   */
  tryLead(c: Candidacy, onGone: () => void): Promise<Unwatch | null>;
  /** Replaces the entry's value only while it still has its token; false if it does not. */
  proclaim(c: Candidacy, value: string): Promise<boolean>;
  /** Deletes the entry if it still has its token; a missing entry is not an error. */
  remove(c: Candidacy): Promise<void>;
  /** Reads the current leader, or null. */
  leader(): Promise<LeaderRecord | null>;
  /** Streams the leader each time it changes (null for none); ends when signal aborts. */
  observe(signal: AbortSignal): AsyncIterable<LeaderRecord | null>;
  /**
   * Reads the leader to prove that observe()'s stream is still in contact. Observers sharing one
   * stream must share this read too: a read started less than `maxAgeMs` ago may be returned
   * instead of a new one (see SharedRead), so the probe rate does not grow with observers.
   */
  confirm(maxAgeMs: number): Promise<Confirmation>;
  /** Runs ops atomically, committing only while `c` still exists with its token. */
  guard(c: Candidacy, ops: readonly GuardOp[]): Promise<GuardResult>;
  /**
   * Every entry in line order (the leader first), with the liveness each has left. etcd: a range of
   * the prefix sorted by create revision, plus LeaseTimeToLive once per lease; ZooKeeper: the
   * children by sequence number (another client's session time left is not visible: ttl null);
   * PostgreSQL: the rows by sequence with `expires_at - now()`.
   */
  participants(): Promise<ParticipantRecord[]>;
  /**
   * Deletes the leader's entry only while it still has the token read (and that token is
   * `expectedToken`, when given): 'changed' when the leader changed first, never removing a newer one.
   * etcd: a txn comparing the create revision; ZooKeeper: a multi of check(czxid) and delete;
   * PostgreSQL: DELETE ... WHERE seq = token.
   */
  depose(expectedToken?: bigint): Promise<DeposeRecord>;
}

/** Counters a backend keeps so that herd behaviour can be measured. */
export interface BackendStats {
  /** Backend events (watch events, wake-ups) delivered to this client since it started. */
  events: number;
}

/** Everything core needs from a backend. */
export interface BackendDriver {
  /** Short name for messages: "etcd", "memory". */
  readonly kind: string;
  /** Time source for deadlines and keepalive timers. */
  readonly clock: Clock;
  /** How long one call may take, in ms; session-less observers turn 'unknown' after this long without contact. */
  readonly callTimeout: number;
  /** Lease primitives. */
  readonly lease: LeaseDriver;
  /** Checks that the backend is reachable, failing fast with a message that names it. */
  connect(): Promise<void>;
  /** Election primitives for one name on one lease. */
  election(name: string, leaseId: string): ElectionDriver;
  /** Mutex primitives for one name on one lease: an election whose leader holds the lock. */
  mutex(name: string, leaseId: string): ElectionDriver;
  /** Reads a plain key, e.g. data written under a guard. */
  get(key: string): Promise<string | undefined>;
  /**
   * Names of the elections (and mutexes) whose name starts with `namePrefix` and that hold at least
   * one candidate's entry, in no particular order, each once. etcd: a keys-only scan of the escaped
   * prefix; ZooKeeper: the children of the elections' root; PostgreSQL: SELECT DISTINCT name.
   */
  elections(namePrefix: string): AsyncIterable<string>;
  /** Counters for herd measurements. */
  stats(): BackendStats;
  /** Releases connections and timers. */
  close(): Promise<void>;
}
