import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import pg from 'pg';
import postgresJs from 'postgres';
import { postgres } from '../src/index.js';
import { Statements } from '../src/backends/postgres/statements.js';
import { startPostgres, type PostgresServer } from './fixtures/postgres.js';

// Edge cases a review of the PostgreSQL backend found, each against a real server.

let server: PostgresServer;

before(async () => {
  server = await startPostgres({ settings: { deadlock_timeout: '200ms' } });
  const backend = postgres({ connectionString: server.url(), env: {} });
  await backend.elections(); // creates the tables
  await backend.close();
});
after(() => server?.stop());

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: server.url() });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

test('two waiters reaping the same dead sessions in opposite orders do not deadlock', async () => {
  const setup = await client();
  const dead = await setup.query<{ id: string }>(
    `INSERT INTO ballot.sessions (ttl_ms, expires_at) SELECT 1000, clock_timestamp() - interval '1 s'
     FROM generate_series(1, 2) RETURNING id::text`,
  );
  const [s1, s2] = dead.rows.map((r) => r.id);
  const live = await setup.query<{ id: string }>(
    `INSERT INTO ballot.sessions (ttl_ms, expires_at) VALUES (60000, clock_timestamp() + interval '1 min') RETURNING id::text`,
  );
  const s3 = live.rows[0]!.id;
  // Election A lines up the dead sessions as s1, s2; election B as s2, s1; s3 waits in both.
  await setup.query(
    `INSERT INTO ballot.entries (election, session_id, seq, value, channel) VALUES
     ('edge-a', $1, 1001, '', 'x'), ('edge-a', $2, 1002, '', 'x'), ('edge-a', $3, 1010, '', 'x'),
     ('edge-b', $2, 1003, '', 'x'), ('edge-b', $1, 1004, '', 'x'), ('edge-b', $3, 1011, '', 'x')`,
    [s1, s2, s3],
  );
  const sql = new Statements('ballot');
  const [a, b, holder] = await Promise.all([client(), client(), client()]);
  // Hold s2 so that the two steps overlap, as two waiters woken at once would.
  await holder.query('BEGIN');
  await holder.query('SELECT 1 FROM ballot.sessions WHERE id = $1 FOR UPDATE', [s2]);
  const stepB = b.query(sql.step, ['edge-b', s3, '1011']);
  await sleep(100);
  const stepA = a.query(sql.step, ['edge-a', s3, '1010']);
  await sleep(300);
  await holder.query('COMMIT');
  const outcomes = await Promise.allSettled([stepA, stepB]);
  for (const o of outcomes)
    assert.equal(o.status, 'fulfilled', o.status === 'rejected' ? String((o.reason as Error).message) : '');
  // Once both have run, the dead sessions are gone and s3 leads both elections.
  const left = await setup.query('SELECT count(*)::int AS n FROM ballot.sessions WHERE id = ANY($1)', [
    [s1, s2],
  ]);
  const again = await a.query(sql.step, ['edge-a', s3, '1010']);
  assert.equal(again.rows[0]!['pred_seq'], null, 'nothing left ahead of s3');
  assert.ok(Number(left.rows[0]!['n']) <= 1, 'at least one dead session was reaped');
  await setup.query('DELETE FROM ballot.sessions WHERE id = ANY($1)', [[s1, s2, s3]]);
  await Promise.all([a.end(), b.end(), holder.end(), setup.end()]);
});

test('{ client }: a call that times out drops the connection without an uncaught error', async () => {
  const blocker = await client();
  await blocker.query('BEGIN');
  await blocker.query('LOCK TABLE ballot.kv IN ACCESS EXCLUSIVE MODE');
  const own = new pg.Client({ connectionString: server.url() });
  await own.connect();
  const backend = postgres({ client: own, callTimeout: 300 });
  await assert.rejects(backend.get('edge-key'), { code: 'UNAVAILABLE' });
  // The 'error' pg emits on the dropped client arrives after the rejection: give it time to.
  await sleep(300);
  await blocker.query('ROLLBACK');
  await blocker.end();
  await backend.close();
});

test('porsager: a guard that times out waiting for a connection does not keep it once it comes', async () => {
  const sql = postgresJs(server.url(), { max: 3, onnotice: () => undefined });
  const backend = postgres({ sql, callTimeout: 400, guardTimeout: 300 });
  const session = await backend.session({ ttl: 30 });
  const term = await session.election('edge-reserve').campaign('v');
  const held = await Promise.all([1, 2, 3].map(() => sql.reserve()));
  await assert.rejects(
    term.guard(async (tx) => {
      await tx.query('SELECT 1');
    }),
    { code: 'UNAVAILABLE' },
  );
  for (const h of held) h.release();
  await sleep(200);
  // All three connections can be reserved again: the late one went back to the pool.
  const again = await Promise.all(
    [1, 2, 3].map(() => Promise.race([sql.reserve(), sleep(2000).then(() => undefined)])),
  );
  assert.equal(again.filter(Boolean).length, 3);
  for (const r of again) r?.release();
  await session.close();
  await backend.close();
  await sql.end({ timeout: 1 });
});

test('a guard body that outlives guardTimeout is refused as UNAVAILABLE, not with the raw driver error', async () => {
  const backend = postgres({ connectionString: server.url(), env: {}, guardTimeout: 300 });
  const session = await backend.session({ ttl: 10 });
  const term = await session.election('edge-bound').campaign('v');
  await assert.rejects(
    term.guard(async (tx) => {
      await tx.query('SELECT pg_sleep(1)');
    }),
    (err: unknown) =>
      err instanceof Error &&
      (err as { code?: unknown }).code === 'UNAVAILABLE' &&
      /guardTimeout/.test(err.message),
  );
  // The user's own SQL error is still passed through as it is.
  await assert.rejects(
    term.guard(async (tx) => {
      await tx.query('SELECT 1/0');
    }),
    { code: '22012' },
  );
  assert.equal(term.active, true);
  await session.close();
  await backend.close();
});
