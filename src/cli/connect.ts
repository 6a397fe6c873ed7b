import { BackendUnavailableError, etcd, postgres, zookeeper, type Backend } from '../index.js';
import { EtcdClient } from '../etcd/client.js';
import type { CommandContext } from './context.js';
import { UsageError } from './errors.js';
import { cliLogger } from './logger.js';
import { etcdOptions, postgresOptions, zookeeperOptions, type GlobalOptions } from './options.js';
import { Output } from './output.js';

/**
 * The backend for a command that campaigns or observes across processes. The embedded backend
 * lives inside one process, so only the demo can use it.
 */
export function openBackend(options: GlobalOptions, command: string): Backend {
  if (options.backend === 'postgres') return logWarnings(postgres(postgresOptions(options)), options);
  if (options.backend === 'zookeeper') return logWarnings(zookeeper(zookeeperOptions(options)), options);
  if (options.backend !== 'etcd')
    throw new UsageError(
      `\`ballot ${command}\` needs --backend etcd, postgres or zookeeper: the memory backend lives inside one process (only \`ballot demo\` uses it)`,
    );
  return logWarnings(etcd(etcdOptions(options)), options);
}

/**
 * Sends the backend's warnings to the --log-level logger (level warn), and nowhere without one: a
 * listener keeps them from becoming process warnings on stderr, which scripts read for the
 * command's own messages. `ballot doctor` reports a server version with a known bug.
 */
export function logWarnings(backend: Backend, options: Pick<GlobalOptions, 'logLevel'>): Backend {
  const logger = cliLogger(options.logLevel);
  backend.on('warning', (warning) =>
    logger?.warn(
      {
        backend: backend.kind,
        code: warning.code,
        ...(warning.election === undefined ? {} : { election: warning.election }),
      },
      warning.message,
    ),
  );
  return backend;
}

/** Where PostgreSQL's connection settings come from, for messages that say what to change. */
const PG_SOURCES = '--dsn (default: $DATABASE_URL, else $PGHOST, $PGPORT, $PGDATABASE)';
/** Where ZooKeeper's connect string comes from. */
const ZK_SOURCES = '--zk (default: $ZOOKEEPER_CONNECT, else 127.0.0.1:2181)';

/**
 * A postgres or zookeeper backend that could not be reached says which settings to check; the
 * backend's own message names the servers it tried. Other errors, and etcd's, pass unchanged.
 */
export function explainUnavailable(err: unknown, options: GlobalOptions): unknown {
  if (!(err instanceof BackendUnavailableError)) return err;
  if (options.backend === 'postgres')
    return new BackendUnavailableError(
      `${err.message}: check ${PG_SOURCES} and that PostgreSQL is running there`,
      { cause: err },
    );
  if (options.backend === 'zookeeper')
    return new BackendUnavailableError(`${err.message} (the servers come from ${ZK_SOURCES})`, {
      cause: err,
    });
  return err;
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
