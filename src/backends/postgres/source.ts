import pg from 'pg';
import type { SqlAdapter } from '../../postgres/adapter.js';
import { PgAdapter, poolSource, type Borrowed, type PgSource } from '../../postgres/pg-adapter.js';
import { PostgresJsAdapter } from '../../postgres/porsager-adapter.js';
import type { CheckedOptions, PostgresOptions } from './options.js';

type Environment = Readonly<Record<string, string | undefined>>;

/** host:port/database of a config, for messages (never the password). */
function describe(config: pg.ClientConfig): string {
  if (config.connectionString) {
    try {
      const url = new URL(config.connectionString);
      return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname || ''}`;
    } catch {
      return 'the connection string given';
    }
  }
  return `${config.host ?? 'localhost'}:${config.port ?? 5432}/${config.database ?? config.user ?? ''}`;
}

/** Connection settings from the options, else $DATABASE_URL, else the PG* variables psql reads. */
function configFrom(options: PostgresOptions, env: Environment): pg.ClientConfig {
  const connectionString = options.connectionString ?? env['DATABASE_URL'];
  if (connectionString) return { connectionString };
  const port = env['PGPORT'] ? Number(env['PGPORT']) : undefined;
  return {
    host: env['PGHOST'],
    port,
    user: env['PGUSER'],
    password: env['PGPASSWORD'],
    database: env['PGDATABASE'],
  };
}

/** Lends the user's one client to one call at a time; it is theirs, so it is never ended here. */
function singleClientSource(client: pg.Client, listenConfig: pg.ClientConfig): PgSource {
  let queue = Promise.resolve();
  // A call that times out drops the connection, and pg then emits 'error' on the client: with no
  // listener Node would end the process. The call in progress reports the failure itself.
  client.on('error', () => undefined);
  return {
    checkout(): Promise<Borrowed> {
      let release!: () => void;
      const turn = new Promise<void>((resolve) => (release = resolve));
      const ready = queue.then(() => ({ client, release: () => release() }));
      queue = queue.then(() => turn);
      return ready;
    },
    listenConfig,
  };
}

/** The driver adapter for the options: the user's own pool, client or sql, or a pool of ballot's. */
export function adapterFor(options: PostgresOptions, checked: CheckedOptions): SqlAdapter {
  if (options.sql) return new PostgresJsAdapter(options.sql, 'the sql instance given');
  if (options.pool) {
    const config = options.pool.options;
    return new PgAdapter(poolSource(options.pool, { ...config }, false), describe(config));
  }
  if (options.client) {
    const c = options.client;
    const config: pg.ClientConfig = {
      host: c.host,
      port: c.port,
      user: c.user,
      password: c.password,
      database: c.database,
    };
    return new PgAdapter(singleClientSource(c, config), describe(config));
  }
  const config: pg.ClientConfig = {
    ...configFrom(options, options.env ?? process.env),
    application_name: checked.applicationName,
    keepAlive: true,
    connectionTimeoutMillis: checked.callTimeout,
  };
  const pool = new pg.Pool({ ...config, max: checked.poolSize, idleTimeoutMillis: 30_000 });
  // The server ends idle connections on restart or pg_terminate_backend (57P01): the pool drops them
  // itself, but emits 'error', and with no listener Node would end the process.
  pool.on('error', () => undefined);
  return new PgAdapter(poolSource(pool, config, true), describe(config));
}
