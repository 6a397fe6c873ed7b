import postgresJs from 'postgres';
import { postgres, type Backend, type PgTxn, type PostgresOptions } from '../../src/index.js';
import type { FaultProxy } from '../fixtures/fault-proxy.js';
import { startPostgres, type PostgresServer } from '../fixtures/postgres.js';
import type { BackendHarness, Candidate } from './harness.js';
import { proxiedCandidate } from './proxied.js';

/** Which driver the backend runs on: node-postgres from a connection string, or porsager's `postgres`. */
export type PostgresDriver = 'pg' | 'postgres.js';

/**
 * The backend's connection options for `url`: a connection string (node-postgres), or an `sql`
 * instance of porsager's `postgres` created here, whose end() is added to `cleanups`.
 */
function connection(driver: PostgresDriver, url: string, cleanups: (() => Promise<void>)[]): PostgresOptions {
  if (driver === 'pg') return { connectionString: url, env: {} };
  const sql = postgresJs(url, { max: 10, onnotice: () => undefined });
  cleanups.push(() => sql.end({ timeout: 1 }));
  return { sql };
}

/** A real PostgreSQL; each candidate talks to it through its own fault proxy (statements and LISTEN alike). */
export function postgresHarness(driver: PostgresDriver = 'pg'): BackendHarness {
  let server: PostgresServer | undefined;
  let shared: Backend<PgTxn> | undefined;
  const proxies = new Set<FaultProxy>();
  const cleanups: (() => Promise<void>)[] = [];
  const running = () => {
    if (!server) throw new Error('postgres harness not set up');
    return server;
  };
  return {
    name: driver === 'pg' ? 'postgres' : `postgres (${driver})`,
    async setup() {
      server = await startPostgres();
    },
    async teardown() {
      await shared?.close();
      await Promise.all(cleanups.splice(0).map((end) => end()));
      await Promise.all([...proxies].map((p) => p.close()));
      await server?.stop();
    },
    candidate(ttl): Promise<Candidate> {
      const db = running();
      return proxiedCandidate(`${db.host}:${db.port}`, proxies, ttl, (proxy) => {
        const url = new URL(db.url());
        url.port = String(proxy.port);
        // A short call timeout so that calls into a partition fail well within the TTL.
        return postgres({ ...connection(driver, url.toString(), cleanups), callTimeout: 1000 });
      });
    },
    sharedBackend() {
      shared ??= postgres({ ...connection(driver, running().url(), cleanups), poolSize: 20 });
      return shared;
    },
  };
}
