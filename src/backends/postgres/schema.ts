import { AuthError, BackendError, InvalidArgumentError } from '../../core/errors.js';
import type { SqlAdapter } from '../../postgres/adapter.js';
import { sqlState } from '../../postgres/adapter.js';
import { translate } from '../../postgres/errors.js';

/** Version of the tables below; a database holding a newer one was set up by a newer ballot. */
export const SCHEMA_VERSION = 1;

/** classid of ballot's advisory locks (the two-key form, so it never meets an application's one-key locks). */
export const ADVISORY_CLASS = 0x62616c6c;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws unless `schema` is a plain lower-case SQL identifier; returns it. */
export function checkSchemaName(schema: unknown): string {
  // PostgreSQL reserves pg_* for system schemas: CREATE SCHEMA refuses them (42939).
  if (typeof schema === 'string' && SCHEMA_NAME.test(schema) && !schema.startsWith('pg_')) return schema;
  throw new InvalidArgumentError(
    `postgres schema must be a lower-case SQL identifier (letters, digits, _; not starting with a digit ` +
      `or pg_; at most 63 characters), e.g. "ballot", got ${JSON.stringify(schema)}`,
  );
}

/**
 * The DDL of ballot's tables in `schema`, idempotent. sessions: one row per session, its expiry on
 * the database's clock. entries: one row per candidate, ordered by seq (the fencing token), gone
 * with its session. kv: the key-value table behind guards' put/delete/get. The trigger sends the
 * NOTIFYs that wake the next candidate (per entry) and observers (per election, leader changes only).
 */
export function migrationStatements(schema: string): string[] {
  const s = `"${checkSchemaName(schema)}"`;
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE IF NOT EXISTS ${s}.sessions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ttl_ms integer NOT NULL CHECK (ttl_ms > 0),
  expires_at timestamptz NOT NULL
)`,
    `CREATE SEQUENCE IF NOT EXISTS ${s}.entry_seq`,
    `CREATE TABLE IF NOT EXISTS ${s}.entries (
  election text NOT NULL,
  session_id bigint NOT NULL REFERENCES ${s}.sessions (id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  value text NOT NULL,
  channel text NOT NULL,
  PRIMARY KEY (election, session_id)
)`,
    `CREATE UNIQUE INDEX IF NOT EXISTS entries_line ON ${s}.entries (election, seq)`,
    `CREATE INDEX IF NOT EXISTS entries_session ON ${s}.entries (session_id)`,
    `CREATE TABLE IF NOT EXISTS ${s}.kv (key text PRIMARY KEY, value text NOT NULL)`,
    `CREATE OR REPLACE FUNCTION ${s}.entries_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  led boolean;
BEGIN
  IF TG_OP = 'DELETE' THEN
    led := NOT EXISTS (SELECT 1 FROM ${s}.entries o WHERE o.election = OLD.election AND o.seq < OLD.seq);
    -- 'led': nothing was ahead of the deleted entry, so the one waiting on it now leads.
    PERFORM pg_notify(OLD.channel || '_' || OLD.seq, CASE WHEN led THEN 'led' ELSE '' END);
    IF led THEN
      PERFORM pg_notify(OLD.channel, '');
    END IF;
  ELSIF TG_OP = 'INSERT' OR NEW.value IS DISTINCT FROM OLD.value THEN
    IF NOT EXISTS (SELECT 1 FROM ${s}.entries o WHERE o.election = NEW.election AND o.seq < NEW.seq) THEN
      PERFORM pg_notify(NEW.channel, '');
    END IF;
  END IF;
  RETURN NULL;
END
$fn$`,
    `DROP TRIGGER IF EXISTS entries_notify ON ${s}.entries`,
    `CREATE TRIGGER entries_notify AFTER INSERT OR UPDATE OR DELETE ON ${s}.entries
  FOR EACH ROW EXECUTE FUNCTION ${s}.entries_notify()`,
    `CREATE TABLE IF NOT EXISTS ${s}.schema_version (version integer NOT NULL)`,
    `DELETE FROM ${s}.schema_version`,
    `INSERT INTO ${s}.schema_version (version) VALUES (${SCHEMA_VERSION})`,
  ];
}

/** The migration as one script, for `ballot migrate --print-sql`: run it as a role with DDL rights. */
export function migrationSql(schema: string, appRole?: string): string {
  const s = `"${checkSchemaName(schema)}"`;
  const lines = [
    `-- ballot schema version ${SCHEMA_VERSION} in ${s}; safe to run again.`,
    'BEGIN;',
    `SELECT pg_advisory_xact_lock(${ADVISORY_CLASS}, 0);`,
    ...migrationStatements(schema).map((statement) => `${statement};`),
    'COMMIT;',
  ];
  lines.push(
    `-- ${appRole ? 'Rights' : 'Then, for an application role without DDL rights (replace app_user)'}:`,
    ...grantStatements(schema, appRole).map((statement) => `${statement};`),
  );
  return lines.join('\n') + '\n';
}

/** The GRANTs that let `appRole` (default: the placeholder app_user) use ballot's tables in `schema`. */
export function grantStatements(schema: string, appRole?: string): string[] {
  const s = `"${checkSchemaName(schema)}"`;
  const grantee = appRole ? `"${appRole.replaceAll('"', '""')}"` : 'app_user';
  return [
    `GRANT USAGE ON SCHEMA ${s} TO ${grantee}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${grantee}`,
    `GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${s} TO ${grantee}`,
  ];
}

/**
 * Makes sure ballot's tables exist: one read when they do; otherwise, when `migrate` allows, the
 * DDL in one transaction under an advisory lock, so processes starting together do not race.
 */
export async function ensureSchema(
  adapter: SqlAdapter,
  schema: string,
  migrate: boolean,
  timeoutMs: number,
): Promise<void> {
  const s = `"${schema}"`;
  try {
    const { rows } = await adapter.query(
      `SELECT max(version) AS version FROM ${s}.schema_version`,
      [],
      timeoutMs,
    );
    const version = Number(rows[0]?.['version'] ?? 0);
    if (version === SCHEMA_VERSION) return;
    if (version > SCHEMA_VERSION)
      throw new BackendError(
        `postgres at ${adapter.where}: schema ${s} holds ballot tables of version ${version}, newer than this ` +
          `ballot's ${SCHEMA_VERSION}: upgrade ballot, or use another schema`,
      );
  } catch (err) {
    // 42P01: no such table; 3F000: no such schema. Anything else (unreachable, auth) is the answer.
    const state = sqlState(err);
    if (state !== '42P01' && state !== '3F000')
      throw translate(err, adapter.where, 'reading the ballot schema');
  }
  if (!migrate)
    throw new BackendError(
      `postgres at ${adapter.where}: ballot's tables are missing in schema ${s} and migrate is off: ` +
        `create them with \`ballot migrate --schema ${schema}\` (or apply \`ballot migrate --print-sql\`) as the owner`,
    );
  try {
    await adapter.transaction(async (run) => {
      await run(`SELECT pg_advisory_xact_lock(${ADVISORY_CLASS}, 0)`);
      // Another process may have migrated while this one waited for the lock.
      const present = await run(`SELECT to_regclass($1) IS NOT NULL AS present`, [`${s}.schema_version`]);
      if (present.rows[0]?.['present'] === true) {
        const done = await run(`SELECT max(version) AS version FROM ${s}.schema_version`);
        if (Number(done.rows[0]?.['version'] ?? 0) >= SCHEMA_VERSION) return;
      }
      for (const statement of migrationStatements(schema)) await run(statement);
    }, timeoutMs * 4);
  } catch (err) {
    if (sqlState(err) === '42501')
      throw new AuthError(
        `postgres at ${adapter.where}: this role may not create ballot's tables in schema ${s} ` +
          `(${err instanceof Error ? err.message : String(err)}): have the database owner run ` +
          `\`ballot migrate --print-sql --schema ${schema}\` through psql, grant this role the rights it prints, ` +
          `and start again`,
        { cause: err },
      );
    throw translate(err, adapter.where, `creating ballot's tables in schema ${s}`);
  }
}
