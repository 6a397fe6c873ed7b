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
import { eventually } from './helpers.js';

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

async function waitEntries(election: string, n: number): Promise<void> {
  let last = -1;
  await eventually(
    async () => (last = await entries(election)) === n,
    10_000,
    `${n} entries in ${election} (last count ${last})`,
  );
}

describe('ballot command on PostgreSQL', () => {
  before(async () => {
    [server] = await Promise.all([startPostgres(), buildCli()]);
    dsn = server.url('app');
  });

  after(async () => {
    await server?.stop();
  });

  test('campaign, observe, leader, list and resign', async () => {
    const e = 'pg-cli-flow';
    let observer: Proc | undefined;
    let a: Proc | undefined;
    let b: Proc | undefined;
    try {
      observer = start(['observe', e, '--json']);
      stamped(await observer.json('stdout', { event: 'leader', kind: 'none', election: e, value: null }));

      a = start(['campaign', e, 'alpha', '--json', '--ttl', '5']);
      const elected = stamped(await a.json('stdout', { event: 'elected', election: e, value: 'alpha' }));
      assert.match(String(elected['token']), /^\d+$/, 'tokens are decimal strings');
      assert.match(String(elected['key']), new RegExp(`^${e}/\\d+$`));
      await observer.json('stdout', {
        event: 'leader',
        kind: 'leader',
        value: 'alpha',
        token: elected['token'],
      });

      b = start(['campaign', e, 'beta', '--json']);
      await waitEntries(e, 2);
      const leader = await exec(['leader', e, '--json']);
      assert.equal(leader.code, 0, leader.stderr);
      assert.deepEqual(stamped(leader.stdout), {
        event: 'leader',
        kind: 'leader',
        election: e,
        value: 'alpha',
        key: elected['key'],
        token: elected['token'],
      });
      assert.match((await exec(['leader', e])).stdout, /^leader pg-cli-flow: alpha \(token \d+, key /);

      const listed = await exec(['list', 'pg-cli-fl', '--json']);
      assert.equal(listed.code, 0, listed.stderr);
      const election = stamped(listed.stdout) as {
        election: string;
        leader: { value: string; token: string; key: string; lease: string; ttl: number };
        queue: { value: string }[];
      };
      assert.equal(election.election, e);
      assert.equal(election.leader.value, 'alpha');
      assert.equal(election.leader.token, elected['token']);
      // The lease is the session's id, as the key and the sessions table show it.
      assert.equal(`${e}/${election.leader.lease}`, election.leader.key);
      assert.ok(election.leader.ttl > 0 && election.leader.ttl <= 5, `ttl ${election.leader.ttl}`);
      assert.deepEqual(
        election.queue.map((q) => q.value),
        ['beta'],
      );
      const table = await exec(['list']);
      assert.match(table.stdout, /^ELECTION\s+ROLE\s+VALUE\s+TOKEN\s+KEY\s+TTL$/m);
      assert.match(table.stdout, new RegExp(`${e}\\s+leader\\s+alpha`));
      assert.match(table.stdout, new RegExp(`${e}\\s+#1\\s+beta`));
      assert.match((await exec(['list', 'nothing-here'])).stdout, /no elections under "nothing-here"/);

      // SIGINT: the leader resigns and exits 0; the next candidate takes over with a larger token.
      a.kill('SIGINT');
      await a.json('stdout', { event: 'deposed', election: e, reason: 'resigned' });
      assert.equal(await a.exited, 0);
      const next = await b.json('stdout', { event: 'elected', value: 'beta' });
      assert.ok(BigInt(String(next['token'])) > BigInt(String(elected['token'])), 'tokens increase');
      await observer.json('stdout', { event: 'leader', value: 'beta', token: next['token'] });

      // Operator resign: the leader's row goes, its process sees the term end and exits 4.
      const resigned = await exec(['resign', e, '--json']);
      assert.equal(resigned.code, 0, resigned.stderr);
      assert.deepEqual(stamped(resigned.stdout), {
        event: 'resigned',
        election: e,
        value: 'beta',
        key: next['key'],
        token: next['token'],
      });
      await b.json('stdout', { event: 'deposed', election: e, reason: 'key-deleted' });
      assert.equal(await b.exited, 4);
      await observer.json('stdout', { event: 'leader', kind: 'none', value: null, token: null }, 10_000, 2);

      const none = await exec(['leader', e, '--json']);
      assert.equal(none.code, 3);
      assert.equal(stamped(none.stdout)['kind'], 'none');
      const nothing = await exec(['resign', e]);
      assert.equal(nothing.code, 3);
      assert.match(nothing.stderr, /no leader/);

      observer.kill('SIGINT');
      assert.equal(await observer.exited, 0);
      assert.equal(await entries(e), 0, 'nothing left behind');
      for (const p of [observer, a, b])
        assert.equal(
          p.events('stdout').length,
          p.stdout.filter((l) => l !== '').length,
          'every line is JSON',
        );
    } finally {
      await reap(observer, a, b);
    }
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
    const first = start(['lock', name, '--', 'sh', '-c', 'echo "held $BALLOT_LOCK $BALLOT_TOKEN"; sleep 1']);
    try {
      const firstLine = await first.line('stdout', (l) => l.startsWith('held '), 10_000);
      const second = exec(['lock', name, '--', 'sh', '-c', 'echo "held $BALLOT_LOCK $BALLOT_TOKEN"']);
      assert.equal(await first.exited, 0, first.output());
      const done = await second;
      assert.equal(done.code, 0, done.stderr);
      const secondToken = /^held \S+ (\d+)$/m.exec(done.stdout)?.[1];
      const firstToken = firstLine.split(' ')[2] ?? '';
      assert.equal(firstLine.split(' ')[1], name);
      assert.ok(secondToken && BigInt(secondToken) > BigInt(firstToken), `${secondToken} > ${firstToken}`);
      assert.equal(await entries(name), 0, 'nothing left behind');
    } finally {
      await reap(first);
    }
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
    const results = await Promise.all(usage.map(([args]) => runCli(args, undefined, CLEAN_ENV)));
    results.forEach((r, i) => {
      const [args, message] = usage[i]!;
      assert.equal(r.code, 2, `ballot ${args.join(' ')} should exit 2:\n${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, NO_STACK);
    });
    for (const r of [down, password, reader, migrateAsReader, noGrant])
      assert.doesNotMatch(r.stderr, NO_STACK);
  });

  test('help names the postgres flags and migrate, within 80 columns', async () => {
    const helps = await Promise.all(
      [[], ['migrate'], ['campaign']].map((c) => runCli([...c, '--help'], undefined, { COLUMNS: '80' })),
    );
    for (const help of helps) {
      assert.equal(help.code, 0, help.stderr);
      assert.deepEqual(
        help.stdout.split('\n').filter((l) => l.length > 80),
        [],
        'no line over 80 columns',
      );
      assert.match(help.stdout, /--dsn <url>/);
      assert.match(help.stdout, /--schema <name>/);
    }
    assert.match(helps[0]!.stdout, /migrate\s+PostgreSQL: create ballot's tables/);
    assert.match(helps[1]!.stdout, /--print-sql/);
    assert.match(helps[1]!.stdout, /--grant <role>/);
  });

  test('demo --backend postgres runs a process per candidate and exits 0 with its summary', async () => {
    const demo = await exec(['demo', '--json']);
    assert.equal(demo.code, 0, demo.stdout + demo.stderr);
    const lines = demo.stdout.trim().split('\n');
    for (const line of lines) stamped(line);
    const summary = JSON.parse(lines.at(-1)!) as {
      event: string;
      ok: boolean;
      handovers: { fault: string }[];
      checks: { held: boolean }[];
    };
    assert.equal(summary.event, 'summary');
    assert.equal(summary.ok, true);
    assert.deepEqual(
      summary.handovers.map((h) => h.fault),
      ['resign', 'crash', 'pause', 'concede'],
    );
    assert.ok(summary.checks.every((c) => c.held));
    assert.match(demo.stdout, /"event":"deposed"[^\n]*"reason":"killed"/, 'the crash was a real SIGKILL');
    const { rows } = await server.query(`SELECT key FROM ballot.kv WHERE key LIKE 'ballot-demo/%'`);
    assert.deepEqual(rows, [], 'the data key is removed');
    const left = await server.query(
      `SELECT election FROM ballot.entries WHERE election LIKE 'ballot-demo/%'`,
    );
    assert.deepEqual(left.rows, [], 'no candidate left behind');
  });
});
