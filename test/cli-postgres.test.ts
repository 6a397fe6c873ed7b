/**
 * End-to-end tests of the built `ballot` command on PostgreSQL (a real throwaway cluster): every
 * command with --backend postgres, the connection from --dsn or from $DATABASE_URL / PG*, `ballot
 * migrate` with and without --print-sql, the exit codes of bad input, and the demo with a process
 * per candidate. test/cli.test.ts covers the same commands on etcd.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildCli, NO_STACK, reap, runCli, stampedSince, startCli, type Proc } from './cli-process.js';
import { PASSWORDS, startPostgres, type PostgresServer } from './fixtures/postgres.js';
import { freePort } from './fixtures/ports.js';
import {
  campaignFlow,
  demoRuns,
  helpsWithin80,
  lockInTurn,
  refusedAsUsage,
  type CliServer,
  untilEntries,
} from './cli-server-flows.js';

const stamped = stampedSince(Date.now());

/** No connection settings from the environment the tests run in: each test names its own. */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  DATABASE_URL: '',
  PGHOST: '',
  PGPORT: '',
  PGUSER: '',
  PGPASSWORD: '',
  PGDATABASE: '',
};

let server: PostgresServer;
let dsn: string;

/** `ballot ...args --backend postgres --dsn <app's url>`, environment cleared of PG settings. */
function pgArgs(args: readonly string[], url = dsn): string[] {
  // Before the command's own arguments: whatever follows `--` is the command `run` and `lock` start.
  return ['--backend', 'postgres', '--dsn', url, ...args];
}

function start(args: readonly string[], url = dsn): Proc {
  return startCli(pgArgs(args, url), undefined, CLEAN_ENV);
}

function exec(args: readonly string[], url = dsn, env: NodeJS.ProcessEnv = {}) {
  return runCli(pgArgs(args, url), undefined, { ...CLEAN_ENV, ...env });
}

/** Entries of `election` in the schema right now. */
async function entries(election: string, schema = 'ballot'): Promise<number> {
  const { rows } = await server.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${schema}".entries WHERE election = $1`,
    [election],
  );
  return Number(rows[0]?.n ?? 0);
}

function waitEntries(election: string, n: number): Promise<void> {
  return untilEntries(entries, election, n, 10_000);
}

/** The shared flows' way to this file's server. */
const cli: CliServer = { start, exec, entries, waitEntries, stamped };

describe('ballot command on PostgreSQL', () => {
  before(async () => {
    [server] = await Promise.all([startPostgres(), buildCli()]);
    dsn = server.url('app');
  });

  after(async () => {
    await server?.stop();
  });

  test('campaign, observe, leader, list and resign', async () => {
    await campaignFlow(cli, 'pg-cli-flow', {
      elected(elected, e) {
        assert.match(String(elected['token']), /^\d+$/, 'tokens are decimal strings');
        assert.match(String(elected['key']), new RegExp(`^${e}/\\d+$`));
      },
      leaderLine: /^leader pg-cli-flow: alpha \(token \d+, key /,
      listed(leader, e) {
        // The lease is the session's id, as the key and the sessions table show it.
        assert.equal(`${e}/${leader.lease}`, leader.key);
        assert.ok(leader.ttl !== null && leader.ttl > 0 && leader.ttl <= 5, `ttl ${leader.ttl}`);
      },
      tableLeader: /pg-cli-flow\s+leader\s+alpha/,
    });
  });

  test('run and lock: the command runs while held, gets its token, and its exit code is ballot’s', async () => {
    const ran = await exec([
      'run',
      'pg-cli-run',
      '--',
      'sh',
      '-c',
      'echo "run $BALLOT_ELECTION $BALLOT_TOKEN"; exit 7',
    ]);
    assert.equal(ran.code, 7, ran.stderr);
    assert.match(ran.stdout, /^run pg-cli-run \d+$/m);
    assert.match(ran.stderr, /^elected pg-cli-run: /m);
    assert.equal(await entries('pg-cli-run'), 0, 'resigned after the command exited');

    const name = 'pg-cli-lock';
    const firstLine = await lockInTurn(cli, name, 'echo "held $BALLOT_LOCK $BALLOT_TOKEN"; sleep 1');
    assert.equal(firstLine.split(' ')[1], name);
  });

  test('without --dsn, $DATABASE_URL and then the PG* variables pick the server', async () => {
    const args = ['leader', 'pg-cli-env', '--backend', 'postgres'];
    const viaUrl = await runCli(args, undefined, { ...CLEAN_ENV, DATABASE_URL: dsn });
    assert.equal(viaUrl.code, 3, viaUrl.stderr);
    assert.match(viaUrl.stdout, /^leader pg-cli-env: none$/);

    const pgVars = {
      ...CLEAN_ENV,
      PGHOST: server.host,
      PGPORT: String(server.port),
      PGUSER: 'app',
      PGDATABASE: 'ballot_test',
    };
    const viaPg = await runCli(args, undefined, { ...pgVars, PGPASSWORD: PASSWORDS.app });
    assert.equal(viaPg.code, 3, viaPg.stderr);
    // The variables are read, not ignored: a wrong PGPASSWORD is refused.
    const wrong = await runCli(args, undefined, { ...pgVars, PGPASSWORD: 'not-the-password' });
    assert.equal(wrong.code, 6, wrong.stderr);
    assert.match(wrong.stderr, /password/);

    // --dsn wins over $DATABASE_URL.
    const port = await freePort();
    const flagWins = await runCli([...args, '--dsn', dsn], undefined, {
      ...CLEAN_ENV,
      DATABASE_URL: `postgres://app@127.0.0.1:${port}/ballot_test`,
    });
    assert.equal(flagWins.code, 3, flagWins.stderr);
  });

  test('migrate creates the tables once and grants their use; --print-sql touches nothing', async () => {
    const first = await exec(['migrate', '--schema', 'cli_m', '--grant', 'reader', '--json']);
    assert.equal(first.code, 0, first.stderr);
    const fields = stamped(first.stdout);
    assert.deepEqual(fields, {
      event: 'migrated',
      schema: 'cli_m',
      where: `${server.host}:${server.port}/ballot_test`,
      version: 1,
      created: true,
      granted: 'reader',
    });
    const again = await exec(['migrate', '--schema', 'cli_m']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already holds ballot's tables \(version 1\): nothing to create/);
    const human = await exec(['migrate', '--schema', 'cli_m2']);
    assert.match(human.stdout, /^created ballot's tables \(version 1\) in schema "cli_m2" at /);
    // The grant took: the reader, who may not create tables, campaigns in that schema.
    const asReader = await exec(
      ['run', 'pg-cli-granted', '--schema', 'cli_m', '--', 'true'],
      server.url('reader'),
    );
    assert.equal(asReader.code, 0, asReader.stderr);

    // --print-sql needs no server: the only one named is a port where nothing listens.
    const port = await freePort();
    const printed = await runCli(
      ['migrate', '--print-sql', '--schema', 'cli_printed', '--grant', 'reader'],
      undefined,
      {
        ...CLEAN_ENV,
        DATABASE_URL: `postgres://app@127.0.0.1:${port}/ballot_test`,
      },
    );
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /^-- ballot schema version 1 in "cli_printed"/);
    assert.match(printed.stdout, /GRANT USAGE ON SCHEMA "cli_printed" TO "reader";/);
    const { rows } = await server.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'cli_printed'`);
    assert.equal(rows.length, 0, '--print-sql created nothing');
  });

  test('the printed SQL, applied by the superuser, lets a role without DDL rights campaign', async () => {
    const schema = 'cli_dba';
    const reader = server.url('reader');
    const before = await exec(['campaign', 'pg-cli-dba', 'r', '--schema', schema], reader);
    assert.equal(before.code, 6, before.stderr);
    assert.match(
      before.stderr,
      /may not create ballot's tables.*ballot migrate --print-sql --schema cli_dba/,
    );
    assert.doesNotMatch(before.stderr, NO_STACK);

    const printed = await runCli(['migrate', '--print-sql', '--schema', schema, '--grant', 'reader']);
    assert.equal(printed.code, 0, printed.stderr);
    await server.query(printed.stdout);

    const candidate = start(['campaign', 'pg-cli-dba', 'r', '--json', '--schema', schema], reader);
    try {
      const elected = await candidate.json('stdout', { event: 'elected', value: 'r' });
      const leader = await exec(['leader', 'pg-cli-dba', '--json', '--schema', schema], reader);
      assert.equal(stamped(leader.stdout)['token'], elected['token']);
      candidate.kill('SIGTERM');
      assert.equal(await candidate.exited, 0, candidate.output());
    } finally {
      await reap(candidate);
    }
    assert.equal(await entries('pg-cli-dba', schema), 0);
  });

  test('bad input: each a clear message and the exit code etcd would give', async () => {
    const port = await freePort();
    const down = await exec(['leader', 'e'], `postgres://app@127.0.0.1:${port}/ballot_test`);
    assert.equal(down.code, 5, down.stderr);
    assert.match(down.stderr, new RegExp(`127\\.0\\.0\\.1:${port}/ballot_test.*check --dsn`));

    const password = await exec(['campaign', 'e', 'v'], server.url('app', 'ballot_test', 'wrong'));
    assert.equal(password.code, 6, password.stderr);
    assert.match(password.stderr, /password authentication failed.*check the user and password/);

    const reader = await exec(['leader', 'e', '--schema', 'cli_none'], server.url('reader'));
    assert.equal(reader.code, 6, reader.stderr);
    assert.match(reader.stderr, /--print-sql/);
    const migrateAsReader = await exec(['migrate', '--schema', 'cli_none'], server.url('reader'));
    assert.equal(migrateAsReader.code, 6, migrateAsReader.stderr);
    assert.match(migrateAsReader.stderr, /--print-sql/);
    // Tables there, but no rights granted on them.
    await exec(['migrate', '--schema', 'cli_owned']);
    const noGrant = await exec(['migrate', '--schema', 'cli_owned'], server.url('reader'));
    assert.equal(noGrant.code, 6, noGrant.stderr);
    assert.match(noGrant.stderr, /permission denied.*ballot migrate --print-sql --schema cli_owned --grant/);

    const usage: [string[], RegExp][] = [
      [
        pgArgs(['leader', 'e', '--schema', 'Bad-Name']),
        /--schema: the schema must be a lower-case SQL identifier/,
      ],
      [pgArgs(['migrate', '--print-sql', '--schema', 'Bad-Name']), /--schema: .*got "Bad-Name"/],
      // PostgreSQL reserves pg_*: refused up front, not by CREATE SCHEMA later.
      [
        pgArgs(['campaign', 'e', 'v', '--schema', 'pg_ballot']),
        /not starting with a digit or pg_.*got "pg_ballot"/,
      ],
      [pgArgs(['leader', 'e', '--endpoints', '127.0.0.1:2379']), /--endpoints is for etcd: .*--dsn/],
      [['leader', 'e', '--dsn', dsn], /--dsn is for PostgreSQL: add --backend postgres/],
      [
        ['migrate', '--backend', 'etcd'],
        /`ballot migrate` creates PostgreSQL tables: use --backend postgres/,
      ],
      [pgArgs(['leader', 'e', '--backend', 'nope']), /argument 'nope' is invalid/],
    ];
    await refusedAsUsage(usage, CLEAN_ENV);
    for (const r of [down, password, reader, migrateAsReader, noGrant])
      assert.doesNotMatch(r.stderr, NO_STACK);
  });

  test('help names the postgres flags and migrate, within 80 columns', async () => {
    const helps = await helpsWithin80([[], ['migrate'], ['campaign']]);
    for (const help of helps) {
      assert.match(help.stdout, /--dsn <url>/);
      assert.match(help.stdout, /--schema <name>/);
    }
    assert.match(helps[0]!.stdout, /migrate\s+PostgreSQL: create ballot's tables/);
    assert.match(helps[1]!.stdout, /--print-sql/);
    assert.match(helps[1]!.stdout, /--grant <role>/);
  });

  test('demo --backend postgres runs a process per candidate and exits 0 with its summary', async () => {
    await demoRuns(cli);
    const { rows } = await server.query(`SELECT key FROM ballot.kv WHERE key LIKE 'ballot-demo/%'`);
    assert.deepEqual(rows, [], 'the data key is removed');
    const left = await server.query(
      `SELECT election FROM ballot.entries WHERE election LIKE 'ballot-demo/%'`,
    );
    assert.deepEqual(left.rows, [], 'no candidate left behind');
  });
});
