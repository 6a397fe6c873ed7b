import { BackendUnavailableError, etcd, postgres, type Backend } from '../index.js';
import { EtcdClient } from '../etcd/client.js';
import type { CommandContext } from './context.js';
import { UsageError } from './errors.js';
import { etcdOptions, postgresOptions, type GlobalOptions } from './options.js';
import { Output } from './output.js';

/**
 * The backend for a command that campaigns or observes across processes. The embedded backend
 * lives inside one process, so only the demo can use it.
 */
export function openBackend(options: GlobalOptions, command: string): Backend {
  if (options.backend === 'postgres') return postgres(postgresOptions(options));
  if (options.backend !== 'etcd')
    throw new UsageError(
      `\`ballot ${command}\` needs --backend etcd or --backend postgres: the memory backend lives inside one process (only \`ballot demo\` uses it)`,
    );
  return etcd(etcdOptions(options));
}

/** Where PostgreSQL's connection settings come from, for messages that say what to change. */
const PG_SOURCES = '--dsn (default: $DATABASE_URL, else $PGHOST, $PGPORT, $PGDATABASE)';

/**
 * A postgres backend that could not be reached says which settings to check; the backend's own
 * message names the host, port and database it tried. Other errors, and etcd's, pass unchanged.
 */
export function explainUnavailable(err: unknown, options: GlobalOptions): unknown {
  if (options.backend !== 'postgres' || !(err instanceof BackendUnavailableError)) return err;
  return new BackendUnavailableError(
    `${err.message}: check ${PG_SOURCES} and that PostgreSQL is running there`,
    { cause: err },
  );
}

/**
 * Runs a backend-neutral command on the backend the flags name, writing to this process's stdout
 * and stderr, and closes the backend afterwards.
 */
export async function withBackend(
  options: GlobalOptions,
  command: string,
  body: (context: CommandContext) => Promise<number>,
): Promise<number> {
  const backend = openBackend(options, command);
  try {
    return await body({ backend, out: new Output(options.json), stderr: process.stderr });
  } catch (err) {
    throw explainUnavailable(err, options);
  } finally {
    await backend.close();
  }
}

/**
 * ballot's own etcd client, for operator commands that read or delete election keys directly
 * (`list`, `resign`) and so need no lease. Checks reachability within the dial timeout first.
 */
export async function openEtcdClient(options: GlobalOptions, command: string): Promise<EtcdClient> {
  if (options.backend !== 'etcd')
    throw new UsageError(`\`ballot ${command}\` works on etcd only (--backend etcd)`);
  const client = new EtcdClient(etcdOptions(options));
  try {
    await client.status(options.dialTimeout);
  } catch (err) {
    client.close();
    if (!(err instanceof BackendUnavailableError)) throw err;
    throw new BackendUnavailableError(
      `cannot reach etcd within ${options.dialTimeout} ms at ${options.endpoints.join(', ')}: ` +
        `check the endpoints and that etcd is running (${err.message})`,
      { cause: err },
    );
  }
  return client;
}
