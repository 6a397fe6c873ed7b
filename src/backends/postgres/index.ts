import { Backend } from '../../core/backend.js';
import { PgDriver } from './driver.js';
import { checkOptions, type PostgresOptions } from './options.js';
import { adapterFor } from './source.js';
import type { PgTxn } from './txn.js';

export type { PostgresOptions } from './options.js';
export { PgTxn, type PgRows } from './txn.js';
export { migrationSql } from './schema.js';
export type { PostgresJsSql, PostgresJsQuery, PostgresJsRows } from '../../postgres/porsager-adapter.js';

/**
 * A backend on PostgreSQL tables of ballot's own (schema "ballot", created on first use):
 * `postgres({ connectionString })`, or `{ pool }` / `{ client }` (node-postgres) / `{ sql }`
 * (porsager's postgres) of your own. Guards hand their body a PgTxn: `tx.query()` runs your SQL in
 * the fenced transaction. Limits: the database's clock decides expiry; a failover to an
 * asynchronous replica can lose the latest term (see docs/postgres.md).
 */
export function postgres(options: PostgresOptions = {}): Backend<PgTxn> {
  const checked = checkOptions(options);
  return new Backend(new PgDriver(adapterFor(options, checked), checked));
}
