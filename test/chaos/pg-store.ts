/**
 * What the chaos lab needs from PostgreSQL besides the server: ballot's tables (created by the
 * app role, as a deployment would), and a commit-ordered log of every entry insert and delete and
 * of every guarded write, so the checker can replay the database's own history as it does etcd's.
 *
 * The log is written by deferred constraint triggers, which run at commit time: each takes the one
 * counter row (held until its commit ends), so log numbers follow commit order, and the rows of one
 * transaction are consecutive. A trigger taking only that one lock, and only at commit, cannot
 * deadlock with the backend's row locks (the guard's FOR SHARE, a takeover's DELETE).
 */
import pg from 'pg';
import { migrationSql } from '../../src/index.js';
import type { KvEvent, Kv } from '../fixtures/etcd-history.js';
import type { PostgresServer } from '../fixtures/postgres.js';

/** ballot's schema in the chaos database. */
export const BALLOT_SCHEMA = 'ballot';

/** The statement a leader's guard runs: $1 trial, $2 token, $3 candidate, $4 seq. */
export const CHAOS_WRITE_SQL =
  'INSERT INTO chaos.writes (trial, token, candidate, seq) VALUES ($1, $2, $3, $4)';

const CHAOS_DDL = `
CREATE SCHEMA IF NOT EXISTS chaos;
CREATE TABLE IF NOT EXISTS chaos.counter (id int PRIMARY KEY, n bigint NOT NULL);
INSERT INTO chaos.counter VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS chaos.writes (trial text NOT NULL, token bigint NOT NULL, candidate text NOT NULL, seq int NOT NULL);
CREATE TABLE IF NOT EXISTS chaos.log (
  n bigint PRIMARY KEY, xid bigint NOT NULL, kind text NOT NULL, election text, session_id bigint,
  token bigint NOT NULL, trial text, candidate text, seq int);
CREATE OR REPLACE FUNCTION chaos.log_entry() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE k bigint; r record;
BEGIN
  UPDATE chaos.counter SET n = n + 1 WHERE id = 1 RETURNING n INTO k;
  IF TG_OP = 'INSERT' THEN r := NEW; ELSE r := OLD; END IF;
  INSERT INTO chaos.log (n, xid, kind, election, session_id, token)
    VALUES (k, txid_current(), CASE TG_OP WHEN 'INSERT' THEN 'put' ELSE 'del' END, r.election, r.session_id, r.seq);
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION chaos.log_write() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE k bigint;
BEGIN
  UPDATE chaos.counter SET n = n + 1 WHERE id = 1 RETURNING n INTO k;
  INSERT INTO chaos.log (n, xid, kind, token, trial, candidate, seq)
    VALUES (k, txid_current(), 'write', NEW.token, NEW.trial, NEW.candidate, NEW.seq);
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS chaos_log_entry ON ${BALLOT_SCHEMA}.entries;
CREATE CONSTRAINT TRIGGER chaos_log_entry AFTER INSERT OR DELETE ON ${BALLOT_SCHEMA}.entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION chaos.log_entry();
DROP TRIGGER IF EXISTS chaos_log_write ON chaos.writes;
CREATE CONSTRAINT TRIGGER chaos_log_write AFTER INSERT ON chaos.writes
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION chaos.log_write();
GRANT USAGE ON SCHEMA chaos TO app;
GRANT INSERT ON chaos.writes TO app;
`;

/** Creates ballot's tables as the app role, then the chaos log and its triggers as superuser. */
export async function preparePostgres(server: PostgresServer): Promise<void> {
  const client = new pg.Client({ connectionString: server.url('app') });
  await client.connect();
  try {
    await client.query(migrationSql(BALLOT_SCHEMA, 'app'));
  } finally {
    await client.end();
  }
  await server.query(CHAOS_DDL);
}

/** One row of chaos.log as the history query returns it (numbers as text). */
export interface PgLogRow {
  n: string;
  xid: string;
  kind: 'put' | 'del' | 'write';
  session_id: string | null;
  token: string;
  candidate: string | null;
  seq: number | null;
}

/** An etcd-style event; `created` marks an entry's insert (its token is not a log position). */
export type PgEvent = KvEvent & { created: boolean };

/**
 * Turns log rows into etcd-style events: an entry is a PUT (insert) or DELETE of
 * `<entryPrefix><session id>` with createRevision = its seq (the token); a guarded write is a PUT
 * of `writeKey` whose value names its term, as the etcd candidates write it. Every event of one
 * transaction shares a modRevision (the log number of its first row), as an etcd txn does.
 */
export class PgLogEvents {
  readonly events: PgEvent[] = [];
  #revision = 0n;
  #lastXid = '';

  constructor(
    private readonly entryPrefix: string,
    private readonly writeKey: string,
  ) {}

  /** Appends rows, which must come in log order. */
  add(rows: readonly PgLogRow[]): void {
    for (const r of rows) {
      if (r.xid !== this.#lastXid) {
        this.#lastXid = r.xid;
        this.#revision = BigInt(r.n);
      }
      const base = { modRevision: this.#revision, lease: '0' };
      if (r.kind === 'write')
        this.events.push({
          ...base,
          type: 'PUT',
          key: this.writeKey,
          value: JSON.stringify({ t: r.token, c: r.candidate, s: r.seq }),
          createRevision: this.#revision,
          created: false,
        });
      else
        this.events.push({
          ...base,
          type: r.kind === 'put' ? 'PUT' : 'DELETE',
          key: `${this.entryPrefix}${r.session_id}`,
          value: '',
          createRevision: BigInt(r.token),
          created: r.kind === 'put',
        });
    }
  }
}

/** One trial's slice of the log, read from the server as it grows. */
export class PgHistory {
  readonly #log: PgLogEvents;
  #after: bigint;

  constructor(
    private readonly server: PostgresServer,
    private readonly trial: string,
    private readonly election: string,
    entryPrefix: string,
    writeKey: string,
    after: bigint,
  ) {
    this.#log = new PgLogEvents(entryPrefix, writeKey);
    this.#after = after;
  }

  /** The log's last number now: a trial's history starts after it. */
  static async position(server: PostgresServer): Promise<bigint> {
    const { rows } = await server.query<{ n: string }>('SELECT n::text AS n FROM chaos.counter WHERE id = 1');
    return BigInt(rows[0]?.n ?? '0');
  }

  /** Everything read so far, as etcd-style events. */
  get events(): PgEvent[] {
    return this.#log.events;
  }

  /** Reads what was logged since the last call; returns the last log number read. */
  async sync(): Promise<bigint> {
    const { rows } = await this.server.query<PgLogRow>(
      // Ordered by the column, not by its text output (which would put 10 before 9).
      `SELECT l.n::text AS n, l.xid::text AS xid, l.kind, l.session_id::text AS session_id,
         l.token::text AS token, l.candidate, l.seq
       FROM chaos.log l WHERE l.n > $1 AND (l.election = $2 OR l.trial = $3) ORDER BY l.n`,
      [this.#after.toString(), this.election, this.trial],
    );
    this.#log.add(rows);
    const last = rows[rows.length - 1];
    if (last) this.#after = BigInt(last.n);
    return this.#after;
  }
}

/** The election's entries, oldest first, as etcd-style key-values (createRevision = token). */
export async function pgLine(server: PostgresServer, election: string, entryPrefix: string): Promise<Kv[]> {
  const { rows } = await server.query<{ seq: string; session_id: string; value: string }>(
    `SELECT e.seq::text AS seq, e.session_id::text AS session_id, e.value FROM ${BALLOT_SCHEMA}.entries e
     WHERE e.election = $1 ORDER BY e.seq`,
    [election],
  );
  return rows.map((r) => ({
    key: `${entryPrefix}${r.session_id}`,
    value: r.value,
    createRevision: BigInt(r.seq),
    modRevision: BigInt(r.seq),
    lease: r.session_id,
  }));
}

/** Removes a trial's rows (its sessions' rows go with its candidates). */
export async function pgCleanup(server: PostgresServer, trial: string, election: string): Promise<void> {
  await server.query('DELETE FROM chaos.writes WHERE trial = $1', [trial]);
  await server.query(`DELETE FROM chaos.log WHERE election = $1 OR trial = $2`, [election, trial]);
}
