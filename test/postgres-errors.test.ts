import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { postgres, type Backend } from '../src/index.js';
import { freePort } from './fixtures/ports.js';
import { startPostgres, type PostgresServer } from './fixtures/postgres.js';
import { within } from './helpers.js';

const CALL_TIMEOUT = 1000;

/** Opens a session on `backend` (the first call that reaches the server) and closes the backend either way. */
async function firstCall(backend: Backend): Promise<void> {
  try {
    await (await backend.session({ ttl: 2 })).close();
  } finally {
    await backend.close();
  }
}

describe('postgres: bad input is refused up front, in words that say what to change', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      'a schema name with a dash',
      { schema: 'Bad-Name' },
      /schema must be a lower-case SQL identifier.*"Bad-Name"/,
    ],
    ['a schema name with a quote', { schema: 'x"; drop' }, /schema must be a lower-case SQL identifier/],
    ['a schema name in upper case', { schema: 'Ballot' }, /lower-case/],
    [
      'connectionString and pool together',
      { connectionString: 'postgres://app@127.0.0.1:5432/db', pool: {} },
      /takes one of connectionString, pool, client and sql, got connectionString and pool/,
    ],
    ['a callTimeout of 0', { callTimeout: 0 }, /callTimeout must be a positive number of milliseconds/],
    ['a poolSize of 1', { poolSize: 1 }, /poolSize must be an integer of at least 2/],
  ];
  for (const [name, options, message] of cases)
    test(`postgres() rejects ${name} with INVALID_ARGUMENT`, () => {
      assert.throws(() => postgres({ env: {}, ...options } as never), { code: 'INVALID_ARGUMENT', message });
    });
});

describe('postgres: a server that refuses us fails the first call with a typed error', () => {
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres();
  });
  after(() => server?.stop());

  test('nothing listening: UNAVAILABLE, within the call timeout', async () => {
    const port = await freePort();
    const backend = postgres({
      connectionString: `postgres://app:x@127.0.0.1:${port}/ballot_test`,
      callTimeout: CALL_TIMEOUT,
      env: {},
    });
    const started = Date.now();
    await assert.rejects(within(firstCall(backend), CALL_TIMEOUT * 3, 'the first call to fail'), {
      code: 'UNAVAILABLE',
      message: new RegExp(`postgres at 127\\.0\\.0\\.1:${port}.*ECONNREFUSED.*check the host and port`),
    });
    assert.ok(Date.now() - started <= CALL_TIMEOUT + 500, `took ${Date.now() - started} ms`);
  });

  test('a wrong password: AUTH, naming the user and password to check', async () => {
    const backend = postgres({ connectionString: server.url('app', 'ballot_test', 'wrong'), env: {} });
    await assert.rejects(firstCall(backend), {
      code: 'AUTH',
      message: /password authentication failed.*check the user and password/,
    });
  });

  test('a database that does not exist: BACKEND, saying to create it or fix the name', async () => {
    const backend = postgres({ connectionString: server.url('app', 'no_such_db'), env: {} });
    await assert.rejects(firstCall(backend), {
      code: 'BACKEND',
      message: /"no_such_db" does not exist.*create the database, or fix the name/,
    });
  });

  test('a role without DDL rights on a database without the tables: AUTH, naming ballot migrate --print-sql', async () => {
    const backend = postgres({ connectionString: server.url('reader'), schema: 'not_migrated', env: {} });
    await assert.rejects(firstCall(backend), {
      code: 'AUTH',
      message:
        /may not create ballot's tables in schema "not_migrated".*`ballot migrate --print-sql --schema not_migrated`/,
    });
    const left = await server.query(`SELECT to_regnamespace('not_migrated') IS NOT NULL AS present`);
    assert.equal(left.rows[0]!['present'], false, 'nothing was created');
  });

  test('migrate: false with the tables missing: BACKEND, naming ballot migrate', async () => {
    const backend = postgres({
      connectionString: server.url('app'),
      schema: 'unmigrated',
      migrate: false,
      env: {},
    });
    await assert.rejects(firstCall(backend), {
      code: 'BACKEND',
      message:
        /tables are missing in schema "unmigrated" and migrate is off: create them with `ballot migrate --schema unmigrated`/,
    });
  });

  test('a pool of your own together with a connectionString: INVALID_ARGUMENT, the pool untouched', async () => {
    const pool = new pg.Pool({ connectionString: server.url('app') });
    try {
      assert.throws(() => postgres({ connectionString: server.url('app'), pool }), {
        code: 'INVALID_ARGUMENT',
        message: /one of connectionString, pool, client and sql/,
      });
      assert.equal(pool.totalCount, 0, 'no connection was opened');
    } finally {
      await pool.end();
    }
  });
});
