import { postgres, type Backend, type PgTxn } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startPostgres, type PostgresServer } from '../fixtures/postgres.js';
import type { BackendHarness, Candidate } from './harness.js';

/** A real PostgreSQL; each candidate talks to it through its own fault proxy (statements and LISTEN alike). */
export function postgresHarness(): BackendHarness {
  let server: PostgresServer | undefined;
  let shared: Backend<PgTxn> | undefined;
  const proxies = new Set<FaultProxy>();
  const running = () => {
    if (!server) throw new Error('postgres harness not set up');
    return server;
  };
  return {
    name: 'postgres',
    async setup() {
      server = await startPostgres();
    },
    async teardown() {
      await shared?.close();
      await Promise.all([...proxies].map((p) => p.close()));
      await server?.stop();
    },
    async candidate(ttl): Promise<Candidate> {
      const db = running();
      const proxy = await startFaultProxy(`${db.host}:${db.port}`);
      proxies.add(proxy);
      const url = new URL(db.url());
      url.port = String(proxy.port);
      // A short call timeout so that calls into a partition fail well within the TTL.
      const backend = postgres({ connectionString: url.toString(), callTimeout: 1000, env: {} });
      const session = await backend.session({ ttl });
      return {
        backend,
        session,
        election: (name) => session.election(name),
        partition: () => proxy.blackhole(),
        heal: () => proxy.heal(),
        async close() {
          proxy.heal();
          await backend.close();
          await proxy.close();
          proxies.delete(proxy);
        },
      };
    },
    sharedBackend() {
      shared ??= postgres({ connectionString: running().url(), env: {}, poolSize: 20 });
      return shared;
    },
  };
}
