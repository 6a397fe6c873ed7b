import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import {
  DEFAULT_ENDPOINT,
  envAuth,
  envDialTimeout,
  envFile,
  splitEndpoints,
  variable,
  type Environment,
} from '../backends/etcd/env.js';
import { checkSchemaName } from '../backends/postgres/schema.js';
import { checkOptions as checkZookeeperOptions } from '../backends/zookeeper/options.js';
import {
  InvalidArgumentError,
  type EtcdMode,
  type EtcdOptions,
  type PostgresOptions,
  type ZookeeperOptions,
} from '../index.js';
import { isPort } from '../etcd/connection.js';
import { parseDuration, parseTtl } from './duration.js';
import { UsageError } from './errors.js';
import { parseLogLevel, type LogLevel } from './logger.js';

/** Which coordination service a command talks to. */
export type BackendKind = 'etcd' | 'memory' | 'postgres' | 'zookeeper';

/** The global flags, validated and with their defaults applied. */
export interface GlobalOptions {
  backend: BackendKind;
  /** etcd endpoints ("host:port"), from --endpoints, BALLOT_ENDPOINTS, ETCDCTL_ENDPOINTS or 127.0.0.1:2379. */
  endpoints: string[];
  /** Session TTL in whole seconds. */
  ttl: number;
  /** How long to wait for the backend, in ms. */
  dialTimeout: number;
  /** TLS material read from --cacert/--cert/--key, else ETCDCTL_CACERT/ETCDCTL_CERT/ETCDCTL_KEY. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** etcd credentials from --user name[:password] and --password, else ETCDCTL_USER/ETCDCTL_PASSWORD. */
  auth?: { username: string; password: string };
  /** One JSON object per line instead of human output. */
  json: boolean;
  /** etcd: who runs the election and lock recipes (ballot, or etcd's v3election/v3lock services). */
  mode: EtcdMode;
  /** postgres: the connection string from --dsn; without it the backend reads $DATABASE_URL, else PG*. */
  dsn?: string;
  /** postgres: the schema of ballot's tables (--schema, default "ballot"); unset for other backends. */
  schema?: string;
  /** zookeeper: the connect string from --zk; without it the backend reads $ZOOKEEPER_CONNECT, else 127.0.0.1:2181. */
  zk?: string;
  /** Where JSON log lines go to stderr from: --log-level, else $BALLOT_LOG, else silent. */
  logLevel?: LogLevel;
}

/** The flags as commander hands them over, before validation. */
interface RawGlobals {
  backend?: BackendKind;
  endpoints?: string;
  ttl?: string;
  dialTimeout?: string;
  cacert?: string;
  cert?: string;
  key?: string;
  user?: string;
  password?: string;
  json?: boolean;
  mode?: EtcdMode;
  dsn?: string;
  schema?: string;
  zk?: string;
  logLevel?: string;
}

/** Per-command defaults: the demo runs on the embedded backend with a short TTL, the rest on etcd. */
export interface GlobalDefaults {
  backend: BackendKind;
  ttl: number;
}

/** Declares the global flags on the program; commander accepts them before or after the subcommand. */
export function addGlobalOptions(program: Command): Command {
  return program
    .addOption(
      new Option(
        '--backend <kind>',
        'coordination service (default: etcd; demo: memory; migrate: postgres)',
      ).choices(['etcd', 'memory', 'postgres', 'zookeeper']),
    )
    .option(
      '--endpoints <list>',
      'comma-separated etcd endpoints (default: $BALLOT_ENDPOINTS, $ETCDCTL_ENDPOINTS, 127.0.0.1:2379)',
    )
    .option('--ttl <seconds>', 'session TTL in whole seconds, e.g. 10 or 10s (default: 10; demo: 2)')
    .option(
      '--dial-timeout <duration>',
      'how long to wait for the backend, e.g. 2s or 500ms (default: $ETCDCTL_DIAL_TIMEOUT or 5s)',
    )
    .option('--cacert <file>', 'verify the etcd server with this CA bundle (PEM; default: $ETCDCTL_CACERT)')
    .option('--cert <file>', 'client certificate for mutual TLS (PEM; default: $ETCDCTL_CERT)')
    .option('--key <file>', 'private key of the client certificate (PEM; default: $ETCDCTL_KEY)')
    .option(
      '--user <name[:password]>',
      'etcd username, optionally with the password after a colon (default: $ETCDCTL_USER)',
    )
    .option('--password <password>', 'etcd password when --user has none (default: $ETCDCTL_PASSWORD)')
    .option('--json', 'print one JSON object per line')
    .addOption(
      new Option(
        '--mode <mode>',
        "etcd: who runs the recipe, ballot or etcd's election/lock services",
      ).choices(['client', 'service']),
    )
    .option(
      '--dsn <url>',
      'postgres connection string, postgres://user:password@host:port/db (default: ' +
        '$DATABASE_URL, else $PGHOST, $PGPORT, $PGUSER, $PGPASSWORD, $PGDATABASE)',
    )
    .option('--schema <name>', "postgres: schema of ballot's tables (default: ballot)")
    .option(
      '--zk <connect>',
      'zookeeper connect string, host:port[,host:port...][/chroot] (default: ' +
        '$ZOOKEEPER_CONNECT, else 127.0.0.1:2181); on it an election named /a/b is ' +
        "that znode path (a Curator LeaderLatch's), other names live under /ballot",
    )
    .option(
      '--log-level <level>',
      'write JSON log lines to stderr from this level: debug, info, warn, error, silent ' +
        '(default: $BALLOT_LOG, else silent)',
    );
}

/** Flags that only etcd reads: given with another backend, they are a mistake worth naming. */
const ETCD_FLAGS = [
  ['endpoints', '--endpoints'],
  ['cacert', '--cacert'],
  ['cert', '--cert'],
  ['key', '--key'],
  ['user', '--user'],
  ['password', '--password'],
  ['mode', '--mode'],
] as const;

/** Flags that only PostgreSQL reads. */
const POSTGRES_FLAGS = [
  ['dsn', '--dsn'],
  ['schema', '--schema'],
] as const;

/**
 * Validates the global flags of `command` (wherever they were written) and applies defaults. Each
 * flag wins over its ETCDCTL_* variable, as in etcdctl; the memory backend reads none of them.
 */
export function resolveGlobals(command: Command, defaults: GlobalDefaults): GlobalOptions {
  const raw = command.optsWithGlobals<RawGlobals>();
  const logLevel =
    raw.logLevel !== undefined
      ? parseLogLevel(raw.logLevel, '--log-level')
      : process.env['BALLOT_LOG']
        ? parseLogLevel(process.env['BALLOT_LOG'], '$BALLOT_LOG')
        : 'silent';
  return { ...resolveBackendGlobals(raw, defaults), logLevel };
}

function resolveBackendGlobals(raw: RawGlobals, defaults: GlobalDefaults): GlobalOptions {
  const backend = raw.backend ?? defaults.backend;
  if (backend !== 'zookeeper' && raw.zk !== undefined)
    throw new UsageError('--zk is for ZooKeeper: add --backend zookeeper, or leave --zk out');
  if (backend === 'postgres') return resolvePostgres(raw, defaults);
  for (const [name, flag] of POSTGRES_FLAGS)
    if (raw[name] !== undefined)
      throw new UsageError(`${flag} is for PostgreSQL: add --backend postgres, or leave ${flag} out`);
  if (backend === 'zookeeper') return resolveZookeeper(raw, defaults);
  const env: Environment = backend === 'etcd' ? process.env : {};
  const options: GlobalOptions = {
    backend,
    // Read even for the memory backend, as before: a malformed list is a usage error either way.
    endpoints: resolveEndpoints(raw.endpoints, process.env),
    ttl: raw.ttl === undefined ? defaults.ttl : parseTtl(raw.ttl),
    dialTimeout:
      raw.dialTimeout === undefined
        ? (envDialTimeout(env) ?? 5000)
        : parseDuration(raw.dialTimeout, '--dial-timeout'),
    json: raw.json ?? false,
    mode: raw.mode ?? 'client',
  };
  if (options.dialTimeout <= 0) throw new UsageError('--dial-timeout must be more than 0');
  const tls = readTls(raw, env);
  if (tls) options.tls = tls;
  const auth = resolveAuth(raw, env);
  if (auth) options.auth = auth;
  return options;
}

/** The connection options of the etcd backend (and of ballot's own etcd client) for these flags. */
export function etcdOptions(options: GlobalOptions): EtcdOptions & { endpoints: string[] } {
  const result: EtcdOptions & { endpoints: string[] } = {
    endpoints: options.endpoints,
    dialTimeout: options.dialTimeout,
    mode: options.mode,
    // The environment is already applied above, where the flags could win over it.
    env: {},
  };
  if (options.tls) result.tls = options.tls;
  if (options.auth) result.auth = options.auth;
  return result;
}

/**
 * The flags of --backend postgres. The connection comes from --dsn, else from the environment as
 * psql reads it ($DATABASE_URL, then PG*), which the backend itself applies; etcd's flags and
 * ETCDCTL_* variables play no part.
 */
function resolvePostgres(raw: RawGlobals, defaults: GlobalDefaults): GlobalOptions {
  for (const [name, flag] of ETCD_FLAGS)
    if (raw[name] !== undefined)
      throw new UsageError(
        `${flag} is for etcd: with --backend postgres give the server with --dsn postgres://user:password@host:port/db`,
      );
  if (raw.dsn !== undefined && raw.dsn.trim() === '')
    throw new UsageError('--dsn is empty: give postgres://user:password@host:port/db');
  const options: GlobalOptions = {
    backend: 'postgres',
    endpoints: [],
    ttl: raw.ttl === undefined ? defaults.ttl : parseTtl(raw.ttl),
    dialTimeout: raw.dialTimeout === undefined ? 5000 : parseDuration(raw.dialTimeout, '--dial-timeout'),
    json: raw.json ?? false,
    mode: 'client',
    schema: checkSchema(raw.schema ?? 'ballot'),
  };
  if (options.dialTimeout <= 0) throw new UsageError('--dial-timeout must be more than 0');
  if (raw.dsn !== undefined) options.dsn = raw.dsn;
  return options;
}

function checkSchema(schema: string): string {
  try {
    return checkSchemaName(schema);
  } catch (err) {
    if (err instanceof InvalidArgumentError)
      throw new UsageError(`--schema: ${err.message.replace(/^postgres schema/, 'the schema')}`);
    throw err;
  }
}

/**
 * The options of the postgres backend for these flags (the command's, or those the demo hands its
 * workers). --dial-timeout bounds each call (connecting included). Without --dsn the backend reads
 * $DATABASE_URL, else the PG* variables, from this process's environment (a demo worker inherits it).
 */
export function postgresOptions(
  options: Pick<GlobalOptions, 'schema' | 'dialTimeout' | 'dsn'>,
): PostgresOptions {
  const result: PostgresOptions = {
    schema: options.schema ?? 'ballot',
    callTimeout: options.dialTimeout,
    env: process.env,
  };
  if (options.dsn !== undefined) result.connectionString = options.dsn;
  return result;
}

/**
 * The flags of --backend zookeeper. The servers come from --zk, else from $ZOOKEEPER_CONNECT (else
 * 127.0.0.1:2181), which the backend itself reads; etcd's and PostgreSQL's flags play no part.
 * --zk is checked here so that a malformed one is a usage error before anything connects.
 */
function resolveZookeeper(raw: RawGlobals, defaults: GlobalDefaults): GlobalOptions {
  for (const [name, flag] of ETCD_FLAGS)
    if (raw[name] !== undefined)
      throw new UsageError(
        `${flag} is for etcd: with --backend zookeeper give the servers with --zk host:port[,host:port...][/chroot]`,
      );
  if (raw.zk !== undefined && raw.zk.trim() === '')
    throw new UsageError('--zk is empty: give host:port[,host:port...][/chroot], e.g. 127.0.0.1:2181');
  const options: GlobalOptions = {
    backend: 'zookeeper',
    endpoints: [],
    ttl: raw.ttl === undefined ? defaults.ttl : parseTtl(raw.ttl),
    dialTimeout: raw.dialTimeout === undefined ? 5000 : parseDuration(raw.dialTimeout, '--dial-timeout'),
    json: raw.json ?? false,
    mode: 'client',
  };
  if (options.dialTimeout <= 0) throw new UsageError('--dial-timeout must be more than 0');
  if (raw.zk !== undefined) options.zk = raw.zk.trim();
  // The backend reads $ZOOKEEPER_CONNECT itself; checked here too, so the message names the source.
  try {
    checkZookeeperOptions(zookeeperOptions(options));
  } catch (err) {
    if (!(err instanceof InvalidArgumentError)) throw err;
    const source = raw.zk !== undefined ? '--zk' : '$ZOOKEEPER_CONNECT';
    throw new UsageError(`${source}: ${err.message.replace(/^zookeeper connect/, 'the connect string')}`);
  }
  return options;
}

/**
 * The options of the zookeeper backend for these flags (the command's, or those the demo hands its
 * workers). --dial-timeout bounds each call (connecting included). Without --zk the backend reads
 * $ZOOKEEPER_CONNECT from this process's environment (a demo worker inherits it).
 */
export function zookeeperOptions(options: Pick<GlobalOptions, 'zk' | 'dialTimeout'>): ZookeeperOptions {
  const result: ZookeeperOptions = { callTimeout: options.dialTimeout, env: process.env };
  if (options.zk !== undefined) result.connect = options.zk;
  return result;
}

function resolveEndpoints(flag: string | undefined, env: Environment): string[] {
  const text =
    flag ?? variable(env, 'BALLOT_ENDPOINTS') ?? variable(env, 'ETCDCTL_ENDPOINTS') ?? DEFAULT_ENDPOINT;
  const endpoints = splitEndpoints(text);
  if (endpoints.length === 0) throw new UsageError('--endpoints is empty: give host:port[,host:port...]');
  for (const endpoint of endpoints) {
    const port = /^(?:(?:https?|unix):\/\/)?[^/\s]+:(\d+)\/?$/.exec(endpoint)?.[1];
    if (port === undefined)
      throw new UsageError(`invalid endpoint "${endpoint}": use host:port, e.g. 127.0.0.1:2379`);
    if (!isPort(port))
      throw new UsageError(
        `invalid endpoint "${endpoint}": the port must be from 1 to 65535, e.g. 127.0.0.1:2379`,
      );
  }
  return endpoints;
}

function readTls(raw: RawGlobals, env: Environment): GlobalOptions['tls'] {
  const ca = raw.cacert !== undefined ? readPem(raw.cacert, '--cacert') : envFile(env, 'ETCDCTL_CACERT');
  const cert = raw.cert !== undefined ? readPem(raw.cert, '--cert') : envFile(env, 'ETCDCTL_CERT');
  const key = raw.key !== undefined ? readPem(raw.key, '--key') : envFile(env, 'ETCDCTL_KEY');
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError(
      '--cert and --key go together (or ETCDCTL_CERT and ETCDCTL_KEY): give both or neither',
    );
  if (!ca && !cert) return undefined;
  const tls: NonNullable<GlobalOptions['tls']> = {};
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  return tls;
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function resolveAuth(raw: RawGlobals, env: Environment): GlobalOptions['auth'] {
  if (raw.user === undefined && raw.password === undefined) return envAuth(env);
  const user = raw.user ?? variable(env, 'ETCDCTL_USER');
  if (user === undefined) throw new UsageError('--password needs --user (or ETCDCTL_USER)');
  // etcdctl accepts "name:password" in --user; so do we, so the same flags work for both.
  const colon = user.indexOf(':');
  const username = colon < 0 ? user : user.slice(0, colon);
  const password = raw.password ?? (colon < 0 ? variable(env, 'ETCDCTL_PASSWORD') : user.slice(colon + 1));
  if (!username) throw new UsageError('--user needs a name');
  if (password === undefined)
    throw new UsageError(`--user ${username} needs a password: --user name:password or --password`);
  return { username, password };
}
