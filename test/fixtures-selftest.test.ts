/** Self-test for the etcd, PostgreSQL, fault-proxy and worker fixtures the real tests are built on. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import pg from 'pg';
import { etcdctl, startEtcd, startEtcdCluster } from './fixtures/etcd.js';
import { startFaultProxy } from './fixtures/fault-proxy.js';
import { startPostgres, type PostgresServer } from './fixtures/postgres.js';
import { childPids, isAlive } from './fixtures/proc.js';
import { spawnWorker } from './fixtures/processes.js';

// Short client timeouts keep "this must fail" checks to about a second each.
const FAST_FAIL = ['--dial-timeout=1s', '--command-timeout=1s'];

/** A connected pg client whose 'error' events (the server ending the session) are recorded instead of crashing. */
async function pgClient(
  url: string,
  extra: pg.ClientConfig = {},
): Promise<{ client: pg.Client; errors: Error[] }> {
  const errors: Error[] = [];
  const client = new pg.Client({ connectionString: url, ...extra });
  client.on('error', (err) => errors.push(err));
  await client.connect();
  return { client, errors };
}

/** The SQLSTATE a pg call failed with, or 'none' if it succeeded. */
async function sqlState(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
    return 'none';
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
}

async function selectOne(url: string): Promise<number> {
  const { client } = await pgClient(url);
  try {
    return (await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one;
  } finally {
    await client.end();
  }
}

/** The postmaster and its children right now (to check later that none survived). */
function clusterPids(server: PostgresServer): number[] {
  return [server.pid, ...childPids(server.pid)];
}

test('single node: put/get, pause/resume, restart keeps data, stop removes data dir', async (t) => {
  const node = await startEtcd({ name: 'solo' });
  t.after(() => node.stop());

  assert.match(node.endpoint, /^127\.0\.0\.1:\d+$/);
  assert.equal(node.clientUrl, `http://${node.endpoint}`);
  assert.ok(node.pid > 0);

  const put = await node.etcdctl(['put', 'fixture/key', 'value-1']);
  assert.equal(put.code, 0, put.stderr);
  const got = await node.etcdctl(['get', 'fixture/key', '--print-value-only']);
  assert.equal(got.stdout.trim(), 'value-1');

  await node.pause();
  try {
    const frozen = await node.etcdctl(['get', 'fixture/key', ...FAST_FAIL]);
    assert.notEqual(frozen.code, 0, 'a SIGSTOPped etcd must not answer');
  } finally {
    node.resume();
  }
  const thawed = await node.etcdctl(['get', 'fixture/key', '--print-value-only']);
  assert.equal(thawed.stdout.trim(), 'value-1');

  const oldPid = node.pid;
  await node.restart();
  assert.notEqual(node.pid, oldPid);
  const afterRestart = await node.etcdctl(['get', 'fixture/key', '--print-value-only']);
  assert.equal(afterRestart.stdout.trim(), 'value-1');

  // Values may be fed on stdin when omitted from the command line.
  const viaStdin = await node.etcdctl(['put', 'fixture/stdin'], { input: 'from-stdin' });
  assert.equal(viaStdin.code, 0, viaStdin.stderr);
  assert.equal(
    (await node.etcdctl(['get', 'fixture/stdin', '--print-value-only'])).stdout.trim(),
    'from-stdin',
  );

  await node.stop();
  assert.equal(node.running, false);
  assert.equal(existsSync(node.dataDir), false);
  await node.stop(); // idempotent
});

test('3-node cluster: leader found, killed, survivors still accept writes', async (t) => {
  const cluster = await startEtcdCluster(3);
  t.after(() => cluster.stop());

  assert.equal(cluster.nodes.length, 3);
  assert.deepEqual(
    cluster.endpoints,
    cluster.nodes.map((n) => n.endpoint),
  );

  const leader = await cluster.leaderIndex();
  assert.ok(leader >= 0 && leader < 3);

  await cluster.nodes[leader]!.kill();
  assert.equal(cluster.nodes[leader]!.running, false);

  const newLeader = await cluster.leaderIndex(10_000);
  assert.notEqual(newLeader, leader);

  const survivors = cluster.nodes.filter((_, i) => i !== leader);
  for (const [i, node] of survivors.entries()) {
    const res = await node.etcdctl(['put', `survivor/${i}`, node.name]);
    assert.equal(res.code, 0, res.stderr);
  }
  const read = await survivors[0]!.etcdctl(['get', 'survivor/1', '--print-value-only']);
  assert.equal(read.stdout.trim(), survivors[1]!.name);
});

test('postgres: roles and their rights, wrong password, terminate', async (t) => {
  const server = await startPostgres();
  t.after(() => server.stop());

  assert.equal(server.host, '127.0.0.1');
  assert.ok(server.port > 0);
  assert.ok(server.pid > 0);
  assert.ok(existsSync(`${server.socketDir}/.s.PGSQL.${server.port}`), 'unix socket in socketDir');
  assert.ok(existsSync(`${server.dataDir}/PG_VERSION`));

  const app = await pgClient(server.url());
  t.after(() => app.client.end().catch(() => {}));
  const who = await app.client.query<{ u: string; d: string }>(
    'SELECT current_user AS u, current_database() AS d',
  );
  assert.deepEqual(who.rows[0], { u: 'app', d: 'ballot_test' });
  // app owns ballot_test, so it may create schemas and tables there.
  await app.client.query('CREATE SCHEMA app_owned');
  await app.client.query('CREATE TABLE app_owned.t (x int)');

  const reader = await pgClient(server.url('reader'));
  t.after(() => reader.client.end().catch(() => {}));
  assert.equal(await sqlState(() => reader.client.query('CREATE SCHEMA x')), '42501');
  assert.equal(await sqlState(() => reader.client.query('CREATE TABLE public.y (x int)')), '42501');

  assert.equal(await sqlState(() => pgClient(server.url('app', 'ballot_test', 'wrong-password'))), '28P01');

  const victim = await pgClient(server.url(), { application_name: 'victim' });
  assert.equal((await victim.client.query('SELECT 1 AS one')).rows.length, 1);
  assert.equal(await server.terminate(`application_name = 'victim'`), 1);
  await assert.rejects(victim.client.query('SELECT 1'));
  assert.ok(victim.errors.length > 0, "the terminated client emits 'error'");
  await victim.client.end().catch(() => {});
  // The fixture's own session is never a match, and the app session survives.
  assert.equal(await server.terminate(`application_name = 'victim'`), 0);
  assert.equal((await app.client.query('SELECT 1 AS one')).rows[0]?.one, 1);
});

test('postgres: pause/resume, fast and immediate restart keep data, stop leaves nothing', async (t) => {
  const server = await startPostgres();
  t.after(() => server.stop());
  await server.query('CREATE TABLE kept (v text)');
  await server.query('INSERT INTO kept VALUES ($1)', ['before-restart']);

  // A backend exists before the pause, so a child process is frozen too, not only the postmaster.
  const held = await pgClient(server.url());
  t.after(() => held.client.end().catch(() => {}));
  await server.pause();
  let pending: Promise<pg.QueryResult<{ one: number }>> | undefined;
  try {
    pending = held.client.query<{ one: number }>('SELECT 1 AS one');
    const answer = await Promise.race([pending.then(() => 'answered'), sleep(500).then(() => 'timeout')]);
    assert.equal(answer, 'timeout', 'a paused server must not answer');
    await assert.rejects(
      pgClient(server.url(), { connectionTimeoutMillis: 500 }),
      /timeout/i,
      'a paused server must not accept a new connection either',
    );
  } finally {
    server.resume();
  }
  // The very query that hung is answered once the server runs again.
  assert.deepEqual((await pending)?.rows, [{ one: 1 }]);
  assert.equal(await selectOne(server.url()), 1);
  await held.client.end().catch(() => {});

  for (const mode of ['fast', 'immediate'] as const) {
    const before = server.pid;
    const port = server.port;
    await server.restart(mode);
    assert.notEqual(server.pid, before, `${mode}: a new postmaster`);
    assert.equal(server.port, port);
    assert.equal(isAlive(before), false, `${mode}: the old postmaster is gone`);
    const rows = await server.query<{ v: string }>('SELECT v FROM kept');
    assert.deepEqual(
      rows.rows.map((r) => r.v),
      ['before-restart'],
      mode,
    );
  }

  await server.kill();
  assert.equal(server.running, false);
  assert.ok(existsSync(server.dataDir), 'kill() keeps the data dir');
  await server.restart('fast');
  assert.equal((await server.query<{ n: number }>('SELECT count(*)::int AS n FROM kept')).rows[0]?.n, 1);

  await selectOne(server.url()); // leave a backend around for stop() to take down
  const pids = clusterPids(server);
  assert.ok(pids.length > 1, 'the postmaster has children');
  await server.stop();
  assert.deepEqual(pids.filter(isAlive), []);
  assert.equal(existsSync(server.dataDir), false);
  assert.equal(existsSync(server.socketDir), false);
  await server.stop(); // idempotent
});

test('fault proxy: forwards, blackholes, heals, resets, delays', async (t) => {
  const node = await startEtcd();
  const proxy = await startFaultProxy(node.endpoint);
  t.after(async () => {
    await proxy.close();
    await node.stop();
  });

  const ok = await etcdctl([proxy.endpoint], ['put', 'proxied', '1']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(proxy.connections >= 1);

  proxy.blackhole();
  const partitioned = await etcdctl([proxy.endpoint], ['put', 'proxied', '2', ...FAST_FAIL]);
  assert.notEqual(partitioned.code, 0, 'a put through a blackholed proxy must fail');

  proxy.heal();
  const healed = await etcdctl([proxy.endpoint], ['put', 'proxied', '3']);
  assert.equal(healed.code, 0, healed.stderr);
  assert.equal((await node.etcdctl(['get', 'proxied', '--print-value-only'])).stdout.trim(), '3');

  proxy.delay(150);
  const started = Date.now();
  const slow = await etcdctl([proxy.endpoint], ['get', 'proxied', '--print-value-only']);
  assert.equal(slow.stdout.trim(), '3');
  assert.ok(Date.now() - started >= 150, 'delay must slow the round trip');
  proxy.delay(0);

  // A raw socket shows what reset() looks like on the wire: ECONNRESET, not a clean close.
  const before = proxy.connections;
  const raw = connect({ host: '127.0.0.1', port: proxy.port });
  t.after(() => raw.destroy());
  await once(raw, 'connect');
  while (proxy.connections === before) await new Promise((r) => setTimeout(r, 10));
  const failure = once(raw, 'error');
  proxy.reset();
  const [err] = (await failure) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
});

test('worker: JSON lines, waitFor, send, kill, exit code', async (t) => {
  const file = fileURLToPath(new URL('./fixtures/echo-worker.ts', import.meta.url));
  const worker = spawnWorker(file, ['--flag'], { FIXTURE_TEST: '1' });
  t.after(() => worker.kill('SIGKILL'));

  const ready = await worker.waitFor((m) => m['event'] === 'ready', 10_000);
  assert.equal(ready['pid'], worker.pid);
  assert.deepEqual(ready['args'], ['--flag']);
  assert.match(worker.output(), /not json/);

  const since = worker.messages.length;
  worker.send('hello');
  const echo = await worker.waitFor((m) => m['event'] === 'echo', 5_000, { since });
  assert.equal(echo['value'], 'hello');

  worker.kill('SIGTERM');
  assert.equal(await worker.exited, 0);
  const seen: string[] = [];
  for await (const msg of worker.lines) seen.push(String(msg['event']));
  assert.deepEqual(seen, ['ready', 'echo', 'bye']);
  await assert.rejects(
    worker.waitFor((m) => m['event'] === 'never', 5_000),
    /exited/,
  );
});
