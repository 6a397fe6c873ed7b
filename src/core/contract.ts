/**
 * The contract every backend implements. core drives these primitives and owns the semantics
 * (deadlines, terms, resign-keeps-state, cancellation cleanup); a backend only has to say how
 * each primitive maps onto its store. A new backend is a new folder that implements this file.
 *
 * What each backend does for each primitive. "etcd" is the client-side recipe over KV, lease and
 * watch; "etcd-svc" is etcd's v3election/v3lock services; PostgreSQL runs on ballot's own tables
 * (src/backends/postgres), ZooKeeper in Curator's LeaderLatch layout (src/backends/zookeeper). Both
 * columns were written here first, so that the contract does not lean on any one store.
 *
 * LIVENESS: an opaque id, a granted TTL in ms, renew -> TTL left (0 = gone), end.
 *   etcd      a lease: LeaseGrant (whole seconds), one LeaseKeepAlive per renewal on a stream
 *             shared by the client; a TTL of 0 in the reply means gone; LeaseRevoke ends it.
 *   etcd-svc  the same lease: the services never keep it alive, ballot does.
 *   memory    a lease in the in-process store, expiring on the injected clock.
 *   ZooKeeper the session: open = connect, TTL = the negotiated session timeout, renew = a ping
 *             (or any request) that got a reply, SESSION_EXPIRED = gone, end = close session.
 *   Postgres  a row in `sessions`: expires_at = clock_timestamp() + ttl (the DB's clock, never
 *             ours); renew = UPDATE ... WHERE id = $1 AND expires_at > clock_timestamp()
 *             RETURNING, 0 rows = gone; end = DELETE (entries go with it, ON DELETE CASCADE).
 *   core      schedules renewals every TTL/3; deadline = send time of the last acknowledged
 *             renewal + TTL - margin, on the monotonic clock; past it, every term ends.
 *
 * ENTRY: one per (election, liveness id); join() creates it or finds it again after a lost reply.
 *   etcd      key `<escaped name>/<lease hex>` attached to the lease, put by a txn guarded by
 *             create_revision = 0 (else read back): the key is derived from the lease, so found.
 *   etcd-svc  same key, created by the server inside Campaign/Lock; the token is known only then.
 *   memory    the same key layout in the store, attached to the lease.
 *   ZooKeeper EPHEMERAL_SEQUENTIAL znode `<path>/_c_<uuid>-latch-<seq>` of the session; after a
 *             lost reply, getChildren finds it again by its uuid (Curator's protected mode).
 *   Postgres  a row in `entries` (election, session_id, value, seq) unique on (election,
 *             session_id): INSERT ... ON CONFLICT DO UPDATE SET value ... RETURNING seq.
 *
 * ORDER and TOKEN: entries are totally ordered; the oldest leads; the token of a term is its
 * entry's order, so tokens strictly increase across the terms of one election.
 *   etcd      create revision of the key (order and token).
 *   etcd-svc  the same: Campaign's reply carries it; Lock's does not, so one read fetches it.
 *   memory    the store's create revision.
 *   ZooKeeper order = the sequence suffix; token = the leader znode's czxid (zxids only grow,
 *             even across ZooKeeper leader changes; a recreated parent restarts the suffix but
 *             not the czxid).
 *   Postgres  a bigint from a sequence, taken while holding a per-election lock (a row lock on
 *             `elections` or pg_advisory_xact_lock) so that commit order is sequence order:
 *             without it a smaller seq could commit after a larger one already led.
 *
 * WAIT FOR THE PREDECESSOR (no herd: a change wakes at most the next candidate, <= 2 events).
 *   etcd      watch deletion of the newest older key from the read's revision + 1; if nobody
 *             is older than it, its deletion alone makes us leader (one round trip).
 *   etcd-svc  on the server, inside the blocking Campaign/Lock call.
 *   memory    a per-key callback on the predecessor.
 *   ZooKeeper a getData watch on the next-lower znode, as Curator (a node already gone answers
 *             NoNode and leaves no watch behind), then getChildren again.
 *   Postgres  LISTEN on a channel named after the predecessor's seq, NOTIFY from a delete
 *             trigger, plus a timer at the predecessor's expires_at: expiry sends nothing, so
 *             the successor reaps the expired session itself (DELETE ... WHERE expires_at <=
 *             clock_timestamp(), its entries going with it) in the statement that looks again.
 *
 * FENCE (guard): the user's body, given the backend's transaction type (ElectionDriver<Tx>),
 * commits only while the entry still holds its token. Outcome everywhere: GuardResult (committed
 * or not; `result` = what the body returned). A body that throws commits nothing.
 *   etcd      Tx = EtcdTxn (put/delete/get): the body runs first and collects ops, then one txn:
 *             compare create_revision(entry) = token, then those ops; sent once, never resent.
 *   etcd-svc  the same txn (the lease and the key are the same).
 *   memory    Tx = MemoryTxn (the same methods): check and apply in one synchronous step.
 *   ZooKeeper Tx collects multi ops: multi(check(entry path, version -1), ...the user's ops); the
 *             uuid in the path means it exists only while this entry does.
 *   Postgres  Tx = PgTxn: a transaction: SELECT the entry row FOR SHARE, checking that its
 *             session has not expired and that no older entry exists, then the body (the user's
 *             SQL through tx.query; its return value becomes `result`), then its put/delete/get
 *             on ballot's kv table, then COMMIT, under statement, lock and idle-in-transaction
 *             timeouts. Leadership passes only by deleting the row, and that DELETE waits for
 *             the share lock, so a successor cannot lead mid-transaction.
 *
 * LEADER READ and OBSERVE: the leader now, and a stream of changes; confirm() proves contact.
 *   etcd      Range of the prefix sorted by create revision, limit 1; observe = that read plus
 *             a watch on the leader's key only (a prefix watch while there is none), one stream
 *             per election shared by every observer on the client.
 *   etcd-svc  Leader RPC; observe = the Observe stream, plus a deletion watch on the leader key
 *             (Observe never reports "no leader"), shared per election like client mode.
 *   memory    store reads and per-prefix callbacks.
 *   ZooKeeper getChildren (sorted by suffix) + getData of the lowest, retried if it vanished
 *             in between; observe = a getChildren watch and a data watch on the lowest.
 *   Postgres  SELECT the live entry with the smallest seq; observe = LISTEN on a per-election
 *             channel, then read again.
 *   core      a read started at most maxAge ago is shared by every observer (SharedRead);
 *             session-less reads and observers use view(name), which needs no liveness.
 *
 * PARTICIPANTS and DEPOSE: the leader then the queue with values and TTL left; an operator's
 * delete of the leader entry that only succeeds if it still holds the token it was read with.
 *   etcd      Range of the prefix sorted by create revision + LeaseTimeToLive per lease; depose =
 *             txn delete guarded by the create revision.
 *   etcd-svc  the same (same keys).
 *   memory    store listing; a delete guarded by the create revision.
 *   ZooKeeper getChildren + getData; depose = delete of the leader's path as read (the path holds
 *             a uuid and a sequence, so it names that one entry), any version.
 *   Postgres  SELECT joined with sessions ordered by seq; depose = DELETE ... WHERE seq = token.
 *
 * TRANSFER: one atomic step that deletes the leader's entry and every entry older than a named
 * target's, only while the leader still holds its token and the target's entry still exists with
 * its token. Afterwards the target is the oldest entry and leads through its ordinary predecessor
 * wait; its token (its order) is greater than the leader's, and the old term ends first (its
 * entry's deletion). Candidates between the two lose their entries and queue again at the back.
 *   etcd      read the keys older than the target's (a key created later is newer, so none is
 *             missed), then txns comparing create_revision(leader) and create_revision(target):
 *             one deleting the keys between them (if any) and writing the leader's key (value
 *             and lease unchanged), then one (never resent) deleting the leader's key. Two, not
 *             one, because a candidate right behind the leader treats the leader's deletion alone
 *             as its win: it watches the leader's key, so it sees the write before the deletion,
 *             in revision order on that one watch, and reads again, finding its own key gone
 *             (see etcd/transfer.ts; its own-key watch may lag up to etcd's 100 ms sync).
 *             The failure branch reads the leader's key to tell 'not-leader' from
 *             'target-gone'. Bounded by etcd's --max-txn-ops (128 by default) entries between.
 *   etcd-svc  the same txn (same keys).
 *   memory    check and delete in one synchronous step.
 *   ZooKeeper one multi: check(target znode), check(leader znode) + delete(leader znode), then a
 *             delete of every znode with a lower sequence than the target's (read just before;
 *             a lower one cannot appear later). Curator LeaderLatch waiters that lose their
 *             znode create a new one at the back, like ballot's candidates.
 *   Postgres  DELETE ... WHERE election = $1 AND seq < targetSeq, guarded in the same statement
 *             by the leader row (seq = token, session live, locked FOR UPDATE) and the target row
 *             (locked FOR SHARE); run twice, first sparing the leader's row, for the reason etcd
 *             uses two txns (the trigger's 'led' NOTIFY wakes the one right behind the leader).
 *   etcd, Postgres: the leader's entry always goes in one atomic step guarded by both tokens; only a
 *             target gone between the two steps leaves the passed-over candidates re-queued while
 *             the leader keeps leading.
 *
 * LIMITS: each backend declares them (BackendLimits); core validates against them and names the
 * backend in the message.
 *   etcd      values up to 1 MiB (requests are capped at 1.5 MiB), TTL whole seconds 1..86400
 *             (etcd raises TTLs below its minimum, about 2 s by default).
 *   memory    the same as etcd, so that code tested on memory runs on etcd unchanged.
 *   ZooKeeper values up to 1 MiB (jute.maxbuffer); TTL in ms, negotiated within 2..20 x tickTime.
 *   Postgres  TTL in ms (interval resolution is 1 us); value size chosen by ballot (1 MiB).
 */
import type { Clock } from './clock.js';
import type { GuardBody, GuardResult } from './guard.js';

/** What the backend granted for a new liveness (see LIVENESS above). */
export interface LivenessGrant {
  /** Opaque id, defined by the backend; core only stores and compares it. */
  id: string;
  /** TTL in ms as granted, which may exceed the one asked for. */
  ttlMs: number;
}

/**
 * Liveness primitives of one backend connection: something the backend drops, with every entry
 * attached to it, unless it is renewed in time.
 */
export interface Liveness {
  /** Creates a liveness that lasts `ttlMs` unless renewed (ttlMs is within the backend's limits). */
  open(ttlMs: number): Promise<LivenessGrant>;
  /** Renews it; resolves to the TTL in ms the backend now grants, or 0 when it no longer exists. */
  renew(id: string): Promise<number>;
  /** Ends it and everything attached to it; one that is already gone is not an error. */
  end(id: string): Promise<void>;
}

/** What a backend accepts; core validates against these and names the backend in its messages. */
export interface BackendLimits {
  /** Largest value (campaign or proclaim), in UTF-8 bytes. */
  maxValueBytes: number;
  /** TTLs the backend grants: from minMs to maxMs, in steps of granularityMs. */
  ttl: { minMs: number; maxMs: number; granularityMs: number };
}

/** One candidate's entry in one election as join() left it. Never changed afterwards. */
export interface Candidacy {
  /** Backend key (or path, or row id) of the entry. */
  readonly key: string;
  /** The value the entry was joined with. */
  readonly value: string;
  /** Liveness id that keeps the entry alive. */
  readonly liveness: string;
  /**
   * The entry's order (its token if it wins), when join() created the entry. Undefined when the
   * backend creates the entry only while waiting (etcd's election service): lead() reports it.
   */
  readonly token?: bigint;
}

/** An entry that leads: what terms, proclaims and guards are bound to. */
export interface Entry {
  /** Backend key of the entry. */
  readonly key: string;
  /** Fencing token of the term won with this entry (see ORDER and TOKEN above). */
  readonly token: bigint;
  /** Liveness id that keeps the entry alive. */
  readonly liveness: string;
}

/** Stops a watch started by the driver. */
export type Unwatch = () => void;

/** What a won lead() or tryLead() reports: the leading entry, and how to stop watching it. */
export interface Won extends Entry {
  /** Stops the deletion watch that calls `onGone`. */
  readonly unwatch: Unwatch;
}

/** The current leader as the backend reports it. */
export interface LeaderRecord {
  key: string;
  value: string;
  token: bigint;
  /** Liveness id of the session holding the entry; '' for a key no liveness keeps (written by another tool). */
  liveness: string;
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

/** An entry named by its key and token, as transfer() checks it. */
export interface EntryRef {
  readonly key: string;
  readonly token: bigint;
}

/**
 * What transfer() did: 'transferred' when the step committed; 'not-leader' when `leader` no longer
 * held its token (nothing changed); 'target-gone' when the target's entry was gone (nothing changed).
 */
export type TransferRecord = 'transferred' | 'not-leader' | 'target-gone';

/** A leader read that proves contact with the backend. */
export interface Confirmation {
  /** The leader the read found, or null. */
  record: LeaderRecord | null;
  /** When the read started, on the backend's clock: the view is confirmed as of then. */
  at: number;
}

/** Read-only primitives of one election: needs no liveness, creates nothing. */
export interface ElectionView {
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
  /**
   * Hands leadership from `leader` to `target` in one atomic step (see TRANSFER above): deletes the
   * leader's entry and every entry older than the target's, only while both still hold their
   * tokens. Needs no liveness, so sessions and operators use the same step. `line` is the line as
   * the caller read it (with the target in it): every entry older than the target was in it, since
   * later ones are newer, so etcd and ZooKeeper take the entries to delete from it instead of
   * reading again.
   */
  transfer(leader: EntryRef, target: EntryRef, line?: readonly EntryRef[]): Promise<TransferRecord>;
}

/** Election primitives for one (election name, liveness id) pair; `Tx` is the backend's guard transaction. */
export interface ElectionDriver<Tx = unknown> extends ElectionView {
  /** Creates this liveness's entry with `value`, or finds the existing one (then sets its value). */
  join(value: string): Promise<Candidacy>;
  /**
   * Resolves once `c` is the oldest entry, with that entry and its token. Waits only on its
   * predecessor (no herd). Rejects with EntryDeletedError if `c` vanished, or with the signal's
   * reason when aborted. After it resolves, `onGone` is called once if the entry is later
   * deleted, until `unwatch` is called.
   */
  lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Won>;
  /**
   * Like lead(), but never waits: resolves to null at once if an older entry exists (the caller
   * then removes `c`). Used by tryLock().
   */
  tryLead(c: Candidacy, onGone: () => void): Promise<Won | null>;
  /** Replaces the entry's value only while it still has its token; false if it does not. */
  proclaim(e: Entry, value: string): Promise<boolean>;
  /**
   * Deletes the entry if it still has its token, or, when the token is not known (lead() never
   * returned), by its key, which belongs to this liveness. A missing entry is not an error.
   */
  remove(e: Candidacy | Entry): Promise<void>;
  /**
   * Runs the user's body as one guarded operation that commits only while `e` still exists with its
   * token (see FENCE above): the backend decides what `Tx` is and when the body runs (etcd, memory:
   * before sending, to collect ops; SQL: inside the fenced transaction). If the body throws, nothing
   * commits and guard() rejects with that error.
   */
  guard(e: Entry, body: GuardBody<Tx>): Promise<GuardResult>;
}

/** Counters a backend keeps so that herd behaviour can be measured. */
export interface BackendStats {
  /** Backend events (watch events, wake-ups) delivered to this client since it started. */
  events: number;
}

/** Everything core needs from a backend; `Tx` is what its guards hand the user's body. */
export interface BackendDriver<Tx = unknown> {
  /** Short name for messages: "etcd", "memory". */
  readonly kind: string;
  /** Time source for deadlines and renewal timers. */
  readonly clock: Clock;
  /** How long one call may take, in ms; session-less observers turn 'unknown' after this long without contact. */
  readonly callTimeout: number;
  /** What values and TTLs this backend accepts. */
  readonly limits: BackendLimits;
  /** Liveness primitives. */
  readonly liveness: Liveness;
  /** Checks that the backend is reachable, failing fast with a message that names it. */
  connect(): Promise<void>;
  /** Election primitives for one name on one liveness. */
  election(name: string, liveness: string): ElectionDriver<Tx>;
  /** Mutex primitives for one name on one liveness: an election whose leader holds the lock. */
  mutex(name: string, liveness: string): ElectionDriver<Tx>;
  /** Read-only view of one election, for reads and observers without a session. */
  view(name: string): ElectionView;
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
  /**
   * Where the driver reports conditions a user should act on that are not errors of any one call
   * (e.g. etcd: a server version with a known bug, a recipe fallback). Backend installs it once.
   */
  onWarning?(sink: (warning: BackendWarning) => void): void;
}

/** Something about the backend a user should know, reported by the 'warning' event of Backend. */
export interface BackendWarning {
  /** Stable kebab-case code, e.g. 'etcd-early-revocation' or 'service-fallback'. */
  code: string;
  /** One sentence saying what happened and what to change, if anything. */
  message: string;
  /** The election it concerns, when it concerns one. */
  election?: string;
  /**
   * With no 'warning' listener, do not raise it as a process warning either: for conditions only an
   * operator can change, that a program cannot act on, and that `ballot doctor` reports.
   */
  quiet?: boolean;
}
