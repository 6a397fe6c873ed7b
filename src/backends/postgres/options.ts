import type pg from 'pg';
import { InvalidArgumentError } from '../../core/errors.js';
import type { PostgresJsSql } from '../../postgres/porsager-adapter.js';
import { checkSchemaName } from './schema.js';

/** Options of the PostgreSQL backend. Give at most one of connectionString, pool, client and sql. */
export interface PostgresOptions {
  /** `postgres://user:password@host:port/database`; default $DATABASE_URL, else the PG* variables. */
  connectionString?: string;
  /** Your own node-postgres Pool; ballot runs its statements on it and never ends it. */
  pool?: pg.Pool;
  /**
   * Your own connected node-postgres Client; ballot runs one statement or transaction on it at a
   * time and drops its connection if a call times out. A pool (or connectionString) is better.
   */
  client?: pg.Client;
  /** Your own porsager `postgres` instance (`sql`); ballot never ends it. */
  sql?: PostgresJsSql;
  /** Schema of ballot's tables (default "ballot"): a lower-case SQL identifier. */
  schema?: string;
  /** Create the tables on first use if missing (default true); false: fail with what to run instead. */
  migrate?: boolean;
  /** How long one statement may take, in ms (default 5000). */
  callTimeout?: number;
  /** Server-side limit of a guard's transaction, in ms (default: the session's TTL). */
  guardTimeout?: number;
  /**
   * Use LISTEN/NOTIFY (default true). false: poll every `pollInterval` ms instead, for poolers in
   * transaction mode (PgBouncer) where LISTEN does not work.
   */
  notify?: boolean;
  /** With notify: false, how often waiters and observers read again, in ms (default 1000). */
  pollInterval?: number;
  /** Connections in the pool ballot creates for a connectionString (default 10). */
  poolSize?: number;
  /** application_name of ballot's connections (default "ballot"), as shown in pg_stat_activity. */
  applicationName?: string;
  /** Where DATABASE_URL and PG* are read from (default process.env); `{}` ignores the environment. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Options with defaults applied, checked up front. */
export interface CheckedOptions {
  schema: string;
  migrate: boolean;
  callTimeout: number;
  guardTimeout: number | undefined;
  pollMs: number | undefined;
  poolSize: number;
  applicationName: string;
}

function positive(value: unknown, what: string, example: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  throw new InvalidArgumentError(
    `postgres ${what} must be a positive number of milliseconds (e.g. ${example}), got ${String(value)}`,
  );
}

/** Validates the options in plain words; says which to change. */
export function checkOptions(options: PostgresOptions): CheckedOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(
      'postgres() takes an options object, e.g. { connectionString: "postgres://..." }',
    );
  const given = (['connectionString', 'pool', 'client', 'sql'] as const).filter(
    (k) => options[k] !== undefined,
  );
  if (given.length > 1)
    throw new InvalidArgumentError(
      `postgres() takes one of connectionString, pool, client and sql, got ${given.join(' and ')}`,
    );
  if (options.connectionString !== undefined && typeof options.connectionString !== 'string')
    throw new InvalidArgumentError(
      'postgres connectionString must be a string like "postgres://user@127.0.0.1:5432/db"',
    );
  if (options.migrate !== undefined && typeof options.migrate !== 'boolean')
    throw new InvalidArgumentError(`postgres migrate must be true or false, got ${String(options.migrate)}`);
  const notify = options.notify ?? true;
  if (typeof notify !== 'boolean')
    throw new InvalidArgumentError(`postgres notify must be true or false, got ${String(notify)}`);
  const poolSize = options.poolSize ?? 10;
  if (!Number.isInteger(poolSize) || poolSize < 2)
    throw new InvalidArgumentError(
      `postgres poolSize must be an integer of at least 2, got ${String(poolSize)}`,
    );
  return {
    schema: checkSchemaName(options.schema ?? 'ballot'),
    migrate: options.migrate ?? true,
    callTimeout: positive(options.callTimeout ?? 5000, 'callTimeout', '5000'),
    guardTimeout:
      options.guardTimeout === undefined
        ? undefined
        : positive(options.guardTimeout, 'guardTimeout', '10000'),
    pollMs: notify ? undefined : positive(options.pollInterval ?? 1000, 'pollInterval', '1000'),
    poolSize,
    applicationName: options.applicationName ?? 'ballot',
  };
}
