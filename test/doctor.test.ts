/**
 * `ballot doctor` and the startup warning for etcd versions with bug #15247 (a paused raft leader
 * revokes live leases when it resumes), against a real etcd (Debian's 3.4.23 has the bug).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { verdict } from '../src/backends/etcd/known-bugs.js';
import { etcd, type BackendWarning } from '../src/index.js';
import { buildCli, NO_STACK, runCli } from './cli-process.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { startPostgres, type PostgresServer } from './fixtures/postgres.js';
import { startZookeeper, type ZookeeperServer } from './fixtures/zookeeper.js';

let node: EtcdNode;
/** The server's version as etcdctl reads it from the Status RPC. */
let serverVersion: string;

const FIXED_IN = '3.4.31, 3.5.13, 3.6.0';

describe('the etcd versions with bug #15247', () => {
  test('each line is affected up to its first fixed release; later lines fixed, earlier affected', () => {
    const cases: [string, ReturnType<typeof verdict>][] = [
      ['3.4.23', 'affected'],
      ['3.4.30', 'affected'],
      ['3.4.31', 'fixed'],
      ['v3.4.39', 'fixed'],
      ['3.5.12', 'affected'],
      ['3.5.13', 'fixed'],
      ['3.6.0-alpha.0', 'affected'],
      ['3.6.0-rc.0', 'fixed'],
      ['3.6.0', 'fixed'],
      ['3.7.1', 'fixed'],
      ['4.0.0', 'fixed'],
      ['3.3.27', 'affected'],
      ['', 'unknown'],
      ['not-a-version', 'unknown'],
    ];
    for (const [version, expected] of cases) assert.equal(verdict(version), expected, version);
  });
});

describe('ballot doctor and the startup warning on a real etcd', () => {
  before(async () => {
    [node] = await Promise.all([startEtcd({ name: 'doctor' }), buildCli()]);
    const status = await node.etcdctl(['endpoint', 'status', '-w', 'json']);
    const match = /"version":"([^"]+)"/.exec(status.stdout);
    assert.ok(match, status.stdout);
    serverVersion = match[1]!;
  });

  after(async () => {
    await node?.stop();
  });

  test('reports the endpoint, its version and whether it has the fix; exit 0 even with the bug', async () => {
    const affected = verdict(serverVersion) === 'affected';
    const human = await runCli(['doctor'], node.endpoint);
    assert.equal(human.code, 0, human.stderr);
    assert.equal(human.stderr, '');
    const words = affected ? `present \\(fixed in ${FIXED_IN}\\)` : 'fixed';
    assert.match(
      human.stdout,
      new RegExp(
        `^endpoint ${node.endpoint}: etcd ${serverVersion.replace(/\./g, '\\.')} \\(raft leader\\), bug #15247 ${words}$`,
        'm',
      ),
    );
    assert.match(human.stdout, /^backend etcd \(mode client\): 1 of 1 endpoint\(s\) reached$/m);
    if (affected)
      assert.match(
        human.stdout,
        /no-overlap of believed leadership holds only while the raft leader is not paused; fencing holds always/,
      );

    const json = await runCli(['doctor', '--json', '--mode', 'service'], node.endpoint);
    assert.equal(json.code, 0, json.stderr);
    const events = json.stdout.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      events.map((e) => [e['event'], e['version'] ?? e['mode'], e['early_revocation']]),
      [
        ['endpoint', serverVersion, verdict(serverVersion)],
        ['doctor', 'service', verdict(serverVersion)],
      ],
    );
  });

  test('Debian 12 etcd 3.4.23 is reported as affected', async (t) => {
    if (serverVersion !== '3.4.23') return t.skip(`etcd is ${serverVersion}`);
    const res = await runCli(['doctor', '--json'], node.endpoint);
    const summary = res.stdout
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e['event'] === 'doctor');
    assert.equal(summary?.['early_revocation'], 'affected');
    assert.equal(summary?.['fixed_in'], FIXED_IN);
  });

  test('an endpoint that does not answer is listed; none answering exits 5 with a clear message', async () => {
    const partly = await runCli([
      'doctor',
      '--dial-timeout',
      '500ms',
      '--endpoints',
      `127.0.0.1:1,${node.endpoint}`,
    ]);
    assert.equal(partly.code, 0, partly.stderr);
    assert.match(partly.stdout, /^endpoint 127\.0\.0\.1:1: not reached \(.+\)$/m);
    assert.match(partly.stdout, /^backend etcd \(mode client\): 1 of 2 endpoint\(s\) reached$/m);

    const down = await runCli(['doctor', '--dial-timeout', '500ms'], '127.0.0.1:1');
    assert.equal(down.code, 5, down.stderr);
    assert.match(
      down.stderr,
      /^ballot: cannot reach etcd within 500 ms at 127\.0\.0\.1:1: check the endpoints/m,
    );
    assert.doesNotMatch(down.stderr, NO_STACK);
    assert.match(down.stdout, /^endpoint 127\.0\.0\.1:1: not reached/m);
  });

  test('memory: reported as embedded and reachable', async () => {
    const res = await runCli(['doctor', '--backend', 'memory']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^backend memory: embedded in this process, always reachable/);
  });

  test("connect reports the bug as a quiet 'warning' event, never as a process warning", async () => {
    const affected = verdict(serverVersion) === 'affected';
    const processWarnings: Error[] = [];
    const onProcessWarning = (w: Error) => processWarnings.push(w);
    process.on('warning', onProcessWarning);
    try {
      const listened = etcd({ endpoints: [node.endpoint] });
      const warnings: BackendWarning[] = [];
      listened.on('warning', (w) => warnings.push(w));
      const session = await listened.session({ ttl: 5 });
      await session.close();
      await listened.close();
      assert.deepEqual(
        warnings.map((w) => w.code),
        affected ? ['etcd-early-revocation'] : [],
        'one warning per backend, on connect',
      );
      if (affected) {
        assert.equal(warnings[0]?.quiet, true);
        assert.match(
          warnings[0]?.message ?? '',
          new RegExp(`etcd ${serverVersion.replace(/\./g, '\\.')} at ${node.endpoint} has etcd bug #15247`),
        );
        assert.match(warnings[0]?.message ?? '', /fencing holds always/);
      }

      // Nobody listening: no process warning (Debian's etcd would put one on every program's stderr).
      const unheard = etcd({ endpoints: [node.endpoint] });
      await (await unheard.session({ ttl: 5 })).close();
      await unheard.close();
      await tick();
      assert.deepEqual(
        processWarnings.map((w) => w.message),
        [],
        'no process warning for a quiet backend warning',
      );
    } finally {
      process.off('warning', onProcessWarning);
    }
  });

  test('the CLI logs the warning only at --log-level warn or lower; stderr is otherwise untouched', async () => {
    const affected = verdict(serverVersion) === 'affected';
    const quiet = await runCli(['leader', 'doctor-quiet'], node.endpoint);
    assert.equal(quiet.code, 3, quiet.stderr);
    assert.equal(quiet.stderr, '', 'no warning on stderr without --log-level');

    const logged = await runCli(['leader', 'doctor-quiet', '--log-level', 'warn'], node.endpoint);
    assert.equal(logged.code, 3, logged.stderr);
    const lines = logged.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.map((l) => [l['level'], l['code'], l['backend']]),
      affected ? [['warn', 'etcd-early-revocation', 'etcd']] : [],
    );
  });
});

describe('ballot doctor on PostgreSQL and ZooKeeper', () => {
  let pg: PostgresServer | undefined;
  let zkServer: ZookeeperServer | undefined;
  const clean: NodeJS.ProcessEnv = {
    DATABASE_URL: '',
    PGHOST: '',
    PGPORT: '',
    PGUSER: '',
    PGPASSWORD: '',
    PGDATABASE: '',
    ZOOKEEPER_CONNECT: '',
  };

  before(async () => {
    [pg, zkServer] = await Promise.all([startPostgres(), startZookeeper(), buildCli()]);
  });

  after(async () => {
    await Promise.all([pg?.stop(), zkServer?.stop()]);
  });

  test('PostgreSQL: reachability and the server version; unreachable exits 5', async () => {
    const url = pg!.url('app');
    const res = await runCli(['doctor', '--backend', 'postgres', '--dsn', url, '--json'], undefined, clean);
    assert.equal(res.code, 0, res.stderr);
    const [event] = res.stdout.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(event?.['event'], 'doctor');
    assert.equal(event?.['reachable'], true);
    assert.match(String(event?.['version']), /^\d+(\.\d+)+/);
    const human = await runCli(['doctor', '--backend', 'postgres', '--dsn', url], undefined, clean);
    assert.match(human.stdout, /^backend postgres at .+: reached, PostgreSQL \d+/);

    const down = await runCli(
      [
        'doctor',
        '--backend',
        'postgres',
        '--dsn',
        'postgres://app@127.0.0.1:1/app',
        '--dial-timeout',
        '500ms',
      ],
      undefined,
      clean,
    );
    assert.equal(down.code, 5, down.stderr);
    assert.match(down.stderr, /check --dsn/);
    assert.doesNotMatch(down.stderr, NO_STACK);
  });

  test('ZooKeeper: reachability only; unreachable exits 5', async () => {
    const res = await runCli(
      ['doctor', '--backend', 'zookeeper', '--zk', zkServer!.connect],
      undefined,
      clean,
    );
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `backend zookeeper at ${zkServer!.connect}: reached`);

    const down = await runCli(
      ['doctor', '--backend', 'zookeeper', '--zk', '127.0.0.1:1', '--dial-timeout', '500ms'],
      undefined,
      clean,
    );
    assert.equal(down.code, 5, down.stderr);
    assert.doesNotMatch(down.stderr, NO_STACK);
  });
});
