import { ADVISORY_CLASS } from './schema.js';

/** Milliseconds from the database's now to a timestamp, as float8 (negative once past). */
const msLeft = (column: string) => `(extract(epoch FROM ${column} - clock_timestamp()) * 1000)::float8`;

/**
 * Every statement of the recipe, for one schema. Each is one round trip; times always come from
 * clock_timestamp() (now() is frozen at transaction start), durations leave the server as ms left.
 * Parameters: $1 election, $2 session id, $3 seq (token), unless noted.
 */
export class Statements {
  readonly openSession: string;
  readonly renewSession: string;
  readonly endSession: string;
  readonly join: string;
  readonly step: string;
  readonly entryExists: string;
  readonly proclaim: string;
  readonly remove: string;
  readonly leader: string;
  readonly participants: string;
  readonly depose: string;
  readonly transfer: string;
  readonly elections: string;
  readonly fence: string;
  readonly kvPut: string;
  readonly kvDelete: string;
  readonly kvGet: string;

  constructor(schema: string) {
    const s = `"${schema}"`;
    /** $1 ttl ms. */
    this.openSession = `INSERT INTO ${s}.sessions (ttl_ms, expires_at)
VALUES ($1::integer, clock_timestamp() + $1::integer * interval '1 millisecond') RETURNING id::text AS id`;
    /** $1 session id. Expired means gone, even before anyone deleted the row. */
    this.renewSession = `UPDATE ${s}.sessions SET expires_at = clock_timestamp() + ttl_ms * interval '1 millisecond'
WHERE id = $1 AND expires_at > clock_timestamp() RETURNING ttl_ms`;
    this.endSession = `DELETE FROM ${s}.sessions WHERE id = $1`;
    /**
     * $1 election, $2 session, $3 value, $4 channel. The advisory lock, held until commit, makes
     * commit order the seq order: without it a smaller seq could commit after a larger one led.
     */
    this.join = `WITH serialised AS MATERIALIZED (SELECT pg_advisory_xact_lock(${ADVISORY_CLASS}, hashtext($1)))
INSERT INTO ${s}.entries (election, session_id, seq, value, channel)
SELECT $1, live.id, nextval('${s}.entry_seq'), $3, $4
FROM serialised, ${s}.sessions live WHERE live.id = $2 AND live.expires_at > clock_timestamp()
ON CONFLICT (election, session_id) DO UPDATE SET value = EXCLUDED.value
RETURNING seq::text AS seq`;
    /**
     * One step of waiting to lead: removes expired sessions ahead of this entry (with all their
     * entries; the main query does not see that delete, hence NOT IN gone), then reports whether
     * the entry still exists and which live entry, if any, is just ahead of it. Sessions are
     * locked in id order, skipping any that another step is already removing: two waiters in
     * elections whose lines order the same dead sessions differently would otherwise deadlock.
     */
    this.step = `WITH gone AS (
  DELETE FROM ${s}.sessions x WHERE x.id IN (
    SELECT y.id FROM ${s}.sessions y WHERE y.expires_at <= clock_timestamp()
      AND y.id IN (SELECT o.session_id FROM ${s}.entries o WHERE o.election = $1 AND o.seq < $3)
    ORDER BY y.id FOR UPDATE SKIP LOCKED)
  RETURNING x.id
)
SELECT
  EXISTS (SELECT 1 FROM ${s}.entries m WHERE m.election = $1 AND m.session_id = $2 AND m.seq = $3) AS mine,
  p.seq::text AS pred_seq, ${msLeft('p.expires_at')} AS pred_ms
FROM (SELECT 1) AS one LEFT JOIN LATERAL (
  SELECT o.seq, x.expires_at FROM ${s}.entries o JOIN ${s}.sessions x ON x.id = o.session_id
  WHERE o.election = $1 AND o.seq < $3 AND o.session_id NOT IN (SELECT id FROM gone)
  ORDER BY o.seq DESC LIMIT 1
) AS p ON true`;
    this.entryExists = `SELECT 1 FROM ${s}.entries WHERE election = $1 AND session_id = $2 AND seq = $3`;
    /** $4 value. */
    this.proclaim = `UPDATE ${s}.entries SET value = $4 WHERE election = $1 AND session_id = $2 AND seq = $3`;
    /** $3 may be null: a candidacy whose token is not known is removed by its session. */
    this.remove = `DELETE FROM ${s}.entries WHERE election = $1 AND session_id = $2 AND ($3::bigint IS NULL OR seq = $3::bigint)`;
    const live = `SELECT e.seq, e.session_id, e.value, ${msLeft('x.expires_at')} AS ms_left
FROM ${s}.entries e JOIN ${s}.sessions x ON x.id = e.session_id
WHERE e.election = $1 AND x.expires_at > clock_timestamp() ORDER BY e.seq LIMIT 1`;
    /** $1 election. The oldest entry whose session has not expired. */
    this.leader = `SELECT seq::text AS seq, session_id::text AS session_id, value, ms_left FROM (${live}) AS l`;
    /** $1 election. */
    this.participants = `SELECT e.seq::text AS seq, e.session_id::text AS session_id, e.value, ${msLeft('x.expires_at')} AS ms_left
FROM ${s}.entries e JOIN ${s}.sessions x ON x.id = e.session_id WHERE e.election = $1 ORDER BY e.seq`;
    /** $1 election, $2 expected token or null. Reads the leader and deletes it only if it still has that token. */
    this.depose = `WITH l AS MATERIALIZED (${live}),
d AS (DELETE FROM ${s}.entries e USING l WHERE e.election = $1 AND e.seq = l.seq
  AND ($2::bigint IS NULL OR l.seq = $2::bigint) RETURNING e.seq)
SELECT l.seq::text AS seq, l.session_id::text AS session_id, l.value, (SELECT count(*) FROM d)::int AS deleted FROM l`;
    /**
     * $1 election, $2 the leader's seq, $3 the target's seq, $4 whether the leader's row goes too
     * (false: only the rows between). One statement: locks the leader row
     * (its session live) and the target row, and only when both are there deletes every entry
     * older than the target's, the leader's among them. The row locks make a concurrent delete of
     * either row wait, or make this statement see it gone (READ COMMITTED rechecks locked rows),
     * so the deletes never run on a stale check. A guard's FOR SHARE on the leader row makes
     * this wait for that guard's transaction.
     */
    this.transfer = `WITH l AS MATERIALIZED (
  SELECT e.seq FROM ${s}.entries e JOIN ${s}.sessions x ON x.id = e.session_id
  WHERE e.election = $1 AND e.seq = $2::bigint AND x.expires_at > clock_timestamp() FOR UPDATE OF e
), t AS MATERIALIZED (
  SELECT e.seq FROM ${s}.entries e WHERE e.election = $1 AND e.seq = $3::bigint FOR SHARE
), d AS (
  DELETE FROM ${s}.entries e WHERE e.election = $1 AND e.seq < $3::bigint AND ($4::boolean OR e.seq <> $2::bigint)
    AND EXISTS (SELECT 1 FROM l) AND EXISTS (SELECT 1 FROM t) RETURNING e.seq
)
SELECT (SELECT count(*) FROM l)::int AS leads, (SELECT count(*) FROM t)::int AS target,
  (SELECT count(*) FROM d)::int AS deleted`;
    /** $1 name prefix. */
    this.elections = `SELECT DISTINCT election FROM ${s}.entries WHERE left(election, length($1)) = $1`;
    /**
     * The start of a guard, inside its transaction: bounds the transaction on the server ($4, ms as
     * text), then takes a share lock on the entry row if it still leads with a live session. A
     * takeover deletes that row (directly or through its session), so it waits for this
     * transaction; FOR KEY SHARE would not make it wait. The session row is not locked, so
     * renewals never wait for a guard.
     */
    this.fence = `WITH bounds AS MATERIALIZED (
  SELECT set_config('statement_timeout', $4, true), set_config('lock_timeout', $4, true),
    set_config('idle_in_transaction_session_timeout', $4, true)
), held AS (
  SELECT e.seq FROM bounds, ${s}.entries e JOIN ${s}.sessions x ON x.id = e.session_id
  WHERE e.election = $1 AND e.session_id = $2 AND e.seq = $3 AND x.expires_at > clock_timestamp()
    AND NOT EXISTS (SELECT 1 FROM ${s}.entries o WHERE o.election = $1 AND o.seq < $3)
  FOR SHARE OF e
)
SELECT (SELECT count(*) FROM held)::int AS held`;
    this.kvPut = `INSERT INTO ${s}.kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`;
    this.kvDelete = `DELETE FROM ${s}.kv WHERE key = $1`;
    /** $1 key; $2, $3: the election and session when the key names an entry (it reads as on etcd). */
    this.kvGet = `SELECT value FROM ${s}.kv WHERE key = $1
UNION ALL SELECT value FROM ${s}.entries WHERE election = $2 AND session_id = $3::bigint LIMIT 1`;
  }
}
