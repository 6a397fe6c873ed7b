import { checkOptions } from '../../backends/postgres/options.js';
import {
  SCHEMA_VERSION,
  ensureSchema,
  grantStatements,
  migrationSql,
} from '../../backends/postgres/schema.js';
import { adapterFor } from '../../backends/postgres/source.js';
import { AuthError } from '../../index.js';
import { sqlState, type SqlAdapter } from '../../postgres/adapter.js';
import { translate } from '../../postgres/errors.js';
import { explainUnavailable } from '../connect.js';
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { postgresOptions, type GlobalOptions } from '../options.js';
import { Output } from '../output.js';

/** Flags of `ballot migrate`. */
export interface MigrateFlags {
  /** Print the DDL (and GRANTs) instead of running it; needs no connection. */
  printSql: boolean;
  /** A role to grant the use of ballot's tables to. */
  grant?: string;
}

/**
 * `ballot migrate`: creates ballot's tables in the schema on PostgreSQL, as the role of the
 * connection, and grants their use to --grant's role; or, with --print-sql, prints the script for
 * a DBA to apply (the path for an application role without DDL rights). Safe to run again.
 */
export async function migrate(flags: MigrateFlags, options: GlobalOptions): Promise<number> {
  if (options.backend !== 'postgres')
    throw new UsageError(
      `\`ballot migrate\` creates PostgreSQL tables: use --backend postgres (${options.backend} needs no migration)`,
    );
  if (flags.grant !== undefined && flags.grant.trim() === '')
    throw new UsageError('--grant needs a role name, e.g. --grant app_user');
  if (flags.printSql) {
    process.stdout.write(migrationSql(options.schema ?? 'ballot', flags.grant));
    return ExitCode.OK;
  }
  const pgOptions = postgresOptions(options);
  const adapter = adapterFor(pgOptions, checkOptions(pgOptions));
  const schema = options.schema ?? 'ballot';
  try {
    const before = await schemaVersion(adapter, schema, options.dialTimeout);
    await ensureSchema(adapter, schema, true, options.dialTimeout);
    for (const statement of flags.grant === undefined ? [] : grantStatements(schema, flags.grant))
      await adapter
        .query(statement, [], options.dialTimeout)
        .catch((err: unknown) => Promise.reject(translate(err, adapter.where, `granting ${flags.grant}`)));
    const out = new Output(options.json);
    const created = before < SCHEMA_VERSION;
    out.event(
      {
        event: 'migrated',
        schema,
        where: adapter.where,
        version: SCHEMA_VERSION,
        created,
        granted: flags.grant ?? null,
      },
      created
        ? `created ballot's tables (version ${SCHEMA_VERSION}) in schema "${schema}" at ${adapter.where}`
        : `schema "${schema}" at ${adapter.where} already holds ballot's tables (version ${SCHEMA_VERSION}): nothing to create`,
    );
    if (flags.grant !== undefined)
      out.note(`granted the use of schema "${schema}" and its tables and sequences to ${flags.grant}`);
    return ExitCode.OK;
  } catch (err) {
    throw explainRights(explainUnavailable(err, options), schema, flags.grant);
  } finally {
    await adapter.close();
  }
}

/** The version of ballot's tables in `schema`, 0 when there are none. */
async function schemaVersion(adapter: SqlAdapter, schema: string, timeoutMs: number): Promise<number> {
  try {
    const { rows } = await adapter.query(
      `SELECT max(version) AS version FROM "${schema}".schema_version`,
      [],
      timeoutMs,
    );
    return Number(rows[0]?.['version'] ?? 0);
  } catch (err) {
    // 42P01: no such table; 3F000: no such schema: nothing migrated yet.
    const state = sqlState(err);
    if (state === '42P01' || state === '3F000') return 0;
    throw translate(err, adapter.where, 'reading the ballot schema');
  }
}

/** A role without rights (42501) is told the way round it: a DBA applies the printed script. */
function explainRights(err: unknown, schema: string, grant: string | undefined): unknown {
  if (!(err instanceof AuthError) || sqlState(err.cause) !== '42501' || err.message.includes('--print-sql'))
    return err;
  const print = `ballot migrate --print-sql --schema ${schema} --grant ${grant ?? '<role>'}`;
  return new AuthError(
    `${err.message}; a role with these rights (the database owner) can apply \`${print}\` through psql`,
    { cause: err.cause },
  );
}
