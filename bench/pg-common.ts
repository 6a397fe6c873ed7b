/**
 * What the PostgreSQL scenarios share: a probe connection to the fixture server (to see when
 * candidates have joined, and to count connections), and the server's version for the page.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../test/fixtures/postgres.js';

/** A superuser connection of its own, so the candidates' connections see only their own traffic. */
export interface PgProbe {
  /** The first column of the first row of `sql`, as a number. */
  number(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Polls `sql` (a count) every 10 ms until it is at least `count`. */
  atLeast(sql: string, params: readonly unknown[], count: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens a probe on `server`. */
export function openProbe(server: PostgresServer): Promise<PgProbe> {
  // A small pool: chains of trials poll at the same time, and one client runs one query at a time.
  const pool = new pg.Pool({
    connectionString: server.superuserUrl,
    application_name: 'bench-probe',
    max: 4,
  });
  // The bench may terminate backends; an error on an idle probe connection must not end the process.
  pool.on('error', () => undefined);
  const number = async (sql: string, params: readonly unknown[] = []) => {
    const result = await pool.query<Record<string, unknown>>(sql, [...params]);
    const row = result.rows[0];
    return Number(row ? Object.values(row)[0] : Number.NaN);
  };
  return Promise.resolve({
    number,
    async atLeast(sql, params, count, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const found = await number(sql, params);
        if (found >= count) return;
        if (performance.now() > deadline)
          throw new Error(`${found} < ${count} after ${timeoutMs} ms: ${sql}`);
        await sleep(10);
      }
    },
    close: () => pool.end(),
  });
}

/** SQL counting ballot's entries in election $1 (default schema). */
export const BALLOT_ENTRIES = 'SELECT count(*) FROM ballot.entries WHERE election = $1';

/** The PostgreSQL version the fixture runs (the newest under /usr/lib/postgresql, or PG_BIN's). */
export function postgresVersion(): string {
  try {
    const root = '/usr/lib/postgresql';
    const bin =
      process.env['PG_BIN'] ??
      join(
        root,
        readdirSync(root)
          .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
          .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))[0] ?? '',
        'bin',
      );
    const out = execFileSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8' });
    return out.match(/(\d+(\.\d+)+)/)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The fixture's settings that matter for reading the numbers, stated on the page. */
export const FIXTURE_NOTE =
  'one throwaway cluster per scenario on loopback (test/fixtures/postgres.ts), with fsync, full_page_writes and synchronous_commit off';

/** Runs `body` on a fresh server with a probe of its own; both are closed afterwards. */
export async function withPgServer<T>(
  body: (server: PostgresServer, probe: PgProbe) => Promise<T>,
): Promise<T> {
  const server = await startPostgres();
  try {
    const probe = await openProbe(server);
    try {
      return await body(server, probe);
    } finally {
      await probe.close();
    }
  } finally {
    await server.stop();
  }
}
