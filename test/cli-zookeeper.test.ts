/**
 * End-to-end tests of the built `ballot` command on ZooKeeper (a real throwaway server): every
 * command with --backend zookeeper, the servers from --zk or from $ZOOKEEPER_CONNECT, a chroot,
 * election names that are znode paths (Curator's), `ballot resign` refusing a Curator leader
 * unless --force, the exit codes of bad input, and the demo with a process per candidate.
 * test/cli.test.ts covers the same commands on etcd, test/cli-postgres.test.ts on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import zk from 'node-zookeeper-client';
import { zookeeper, type Backend, type ZkTxn } from '../src/index.js';
import { ZkConnection } from '../src/zookeeper/connection.js';
import { buildCli, NO_STACK, reap, runCli, stampedSince, startCli, type Proc } from './cli-process.js';
import { killCurators, startCurator } from './fixtures/curator.js';
import { freePort } from './fixtures/ports.js';
import { startZookeeper, type ZookeeperServer } from './fixtures/zookeeper.js';
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

/** No connect string from the environment the tests run in: each test names its own. */
const CLEAN_ENV: NodeJS.ProcessEnv = { ZOOKEEPER_CONNECT: '' };

/** A ballot candidate's node: `_c_<version-8 uuid>-latch-<10 digits>`. */
const BALLOT_NODE = /\/_c_[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-b[0-9a-f]{3}-[0-9a-f]{12}-latch-\d{10}$/;

let server: ZookeeperServer;
/** The test's own view of the server, to count entries and create nodes. */
let backend: Backend<ZkTxn>;

/** `ballot --backend zookeeper --zk <connect> ...args`. */
function zkArgs(args: readonly string[], connect = server.connect): string[] {
  // Before the command's own arguments: whatever follows `--` is the command `run` and `lock` start.
  return ['--backend', 'zookeeper', '--zk', connect, ...args];
}

function start(args: readonly string[], connect = server.connect): Proc {
  return startCli(zkArgs(args, connect), undefined, CLEAN_ENV);
}

function exec(args: readonly string[], connect = server.connect, env: NodeJS.ProcessEnv = {}) {
  return runCli(zkArgs(args, connect), undefined, { ...CLEAN_ENV, ...env });
}

async function entries(election: string): Promise<number> {
  return (await backend.participants(election)).length;
}

function waitEntries(election: string, n: number): Promise<void> {
  return untilEntries(entries, election, n, 15_000);
}

/** The shared flows' way to this file's server. */
const cli: CliServer = { start, exec, entries, waitEntries, stamped };

describe('ballot command on ZooKeeper', () => {
  before(async () => {
    [server] = await Promise.all([startZookeeper(), buildCli()]);
    backend = zookeeper({ connect: server.connect, env: {} });
  });

  afterEach(killCurators);

  after(async () => {
    await backend?.close();
    await server?.stop();
  });

  test('campaign, observe, leader, list and resign', async () => {
    await campaignFlow(cli, 'zk-cli-flow', {
      elected(elected, e) {
        assert.match(String(elected['token']), /^\d+$/, 'tokens (czxids) are decimal strings');
        assert.match(String(elected['key']), new RegExp(`^/ballot/${e}/_c_`));
        assert.match(String(elected['key']), BALLOT_NODE);
      },
      leaderLine: /^leader zk-cli-flow: alpha \(token \d+, key \/ballot\//,
      listed(leader) {
        // The lease is the ZooKeeper session id in hex, as zkCli.sh prints ephemeralOwner.
        assert.match(leader.lease, /^[0-9a-f]{16}$/);
        // Another session's time left is not visible in ZooKeeper.
        assert.equal(leader.ttl, null);
      },
      tableLeader: /zk-cli-flow\s+leader\s+alpha\s+\d+\s+\/ballot\/zk-cli-flow\/_c_\S+\s+unknown/,
      // Operator resign of a ballot leader needs no --force.
      resigned: (resigned) => assert.equal(resigned.stderr, '', 'no warning for a ballot leader'),
    });
  });

  test('run and lock: the command runs while held, gets its token, and its exit code is ballot’s', async () => {
    const ran = await exec([
      'run',
      'zk-cli-run',
      '--',
      'sh',
      '-c',
      'echo "run $BALLOT_ELECTION $BALLOT_TOKEN $BALLOT_LEADER_KEY"; exit 7',
    ]);
    assert.equal(ran.code, 7, ran.stderr);
    assert.match(ran.stdout, /^run zk-cli-run \d+ \/ballot\/zk-cli-run\/_c_\S+-latch-\d{10}$/m);
    assert.match(ran.stderr, /^elected zk-cli-run: /m);
    assert.equal(await entries('zk-cli-run'), 0, 'resigned after the command exited');

    // A lock at a znode path: the layout of Curator's InterProcessMutex.
    const name = `/cli-zk/${process.pid}/lock`;
    const firstLine = await lockInTurn(
      cli,
      name,
      'echo "held $BALLOT_LOCK $BALLOT_TOKEN $BALLOT_LOCK_KEY"; sleep 1',
    );
    assert.match(firstLine, new RegExp(`^held ${name} \\d+ ${name}/_c_\\S+-lock-\\d{10}$`));
  });

  test('names starting with "/" are znode paths: list prints them, leader and resign take them', async () => {
    const path = `/cli-zk/${process.pid}/services/jobs/leader`;
    const candidate = start(['campaign', path, 'pod-1', '--json']);
    try {
      const elected = await candidate.json('stdout', { event: 'elected', election: path, value: 'pod-1' });
      assert.match(String(elected['key']), new RegExp(`^${path}/_c_`), 'the node is under the path itself');
      const leader = await exec(['leader', path]);
      assert.equal(leader.code, 0, leader.stderr);
      assert.equal(
        leader.stdout,
        `leader ${path}: pod-1 (token ${String(elected['token'])}, key ${String(elected['key'])})`,
      );
      const listed = await exec(['list', `/cli-zk/${process.pid}/services/`, '--json']);
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(
        listed.stdout.split('\n').map((l) => {
          const fields = stamped(l) as { election: string; leader: { value: string } };
          return [fields.election, fields.leader.value];
        }),
        [[path, 'pod-1']],
      );
      assert.match((await exec(['list'])).stdout, new RegExp(`^${path}\\s+leader\\s+pod-1\\s`, 'm'));
      const resigned = await exec(['resign', path]);
      assert.equal(resigned.code, 0, resigned.stderr);
      assert.match(resigned.stdout, new RegExp(`^resigned ${path}: removed pod-1`));
      await candidate.json('stdout', { event: 'deposed', reason: 'key-deleted' });
      assert.equal(await candidate.exited, 4);
    } finally {
      await reap(candidate);
    }
  });

  test('resign refuses a Curator leader (it would not notice) unless --force, which deletes its node', async () => {
    const path = `/cli-zk/${process.pid}/curator/leader`;
    const curator = await startCurator({ connect: server.connect, kind: 'latch', path, id: 'cur-1' });
    let queued: Proc | undefined;
    try {
      await curator.waitFor((ev) => ev.event === 'isLeader');
      queued = start(['campaign', path, 'ballot-b', '--json']);
      await waitEntries(path, 2);

      const leader = await exec(['leader', path, '--json']);
      assert.equal(leader.code, 0, leader.stderr);
      const current = stamped(leader.stdout);
      assert.equal(current['value'], 'cur-1');
      assert.doesNotMatch(String(current['key']), BALLOT_NODE);
      const listed = await exec(['list', path, '--json']);
      const line = stamped(listed.stdout) as { leader: { value: string }; queue: { value: string }[] };
      assert.deepEqual([line.leader.value, ...line.queue.map((q) => q.value)], ['cur-1', 'ballot-b']);

      const refused = await exec(['resign', path]);
      assert.equal(refused.code, 9, refused.stderr);
      assert.match(
        refused.stderr,
        /^ballot: refusing to resign \S+: its leader cur-1 \(key \S+\) is not a ballot candidate \(a Curator LeaderLatch/,
      );
      assert.match(
        refused.stderr,
        /two leaders at once\. Nothing was deleted: stop or restart .*or add --force/,
      );
      assert.doesNotMatch(refused.stderr, NO_STACK);
      assert.equal(refused.stdout, '');
      assert.equal(await entries(path), 2, 'nothing was deleted');
      assert.equal((await curator.ask('has', 'has')).hasLeadership, true);

      const forced = await exec(['resign', path, '--force', '--json']);
      assert.equal(forced.code, 0, forced.stderr);
      assert.deepEqual(stamped(forced.stdout), {
        event: 'resigned',
        election: path,
        value: 'cur-1',
        key: current['key'],
        token: current['token'],
      });
      assert.match(
        forced.stderr,
        /^ballot: warning: --force deleted the node of cur-1: its owner may go on acting as leader .*stop or restart that process now$/,
      );
      // The ballot candidate leads now, and Curator still says it does: the two leaders --force risks.
      await queued.json('stdout', { event: 'elected', election: path, value: 'ballot-b' });
      assert.equal((await curator.ask('has', 'has')).hasLeadership, true, "Curator's leader did not notice");
      queued.kill('SIGINT');
      assert.equal(await queued.exited, 0, queued.output());
    } finally {
      await reap(queued);
      await curator.close();
    }
  });

  test('a persistent node leading (no session owns it): leader warns, resign needs --force', async () => {
    const path = `/cli-zk/${process.pid}/manual/leader`;
    const conn = await ZkConnection.open(server.connect, 4000, 5000);
    try {
      await conn.mkdirp(path);
      await conn.create(
        `${path}/_c_manual-latch-0000000000`,
        Buffer.from('by-hand'),
        zk.CreateMode.PERSISTENT,
      );
    } finally {
      conn.close();
    }
    const leader = await exec(['leader', path]);
    assert.equal(leader.code, 0, leader.stderr);
    assert.match(leader.stdout, /^leader \S+: by-hand /);
    assert.match(
      leader.stderr,
      /warning: the leading node of \S+, \S+_c_manual-latch-0000000000, is persistent .*ballot resign \S+ --force/,
    );
    const refused = await exec(['resign', path]);
    assert.equal(refused.code, 9, refused.stderr);
    assert.match(
      refused.stderr,
      /is a persistent node \(no session owns it\) .*Nothing was deleted: add --force to delete it$/,
    );
    assert.equal(await entries(path), 1);
    const forced = await exec(['resign', path, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(forced.stderr, '', 'nobody is left believing it leads: no warning');
    assert.equal(await entries(path), 0);
  });

  test('without --zk, $ZOOKEEPER_CONNECT picks the server; --zk wins over it', async () => {
    const args = ['leader', 'zk-cli-env', '--backend', 'zookeeper'];
    const viaEnv = await runCli(args, undefined, { ZOOKEEPER_CONNECT: server.connect });
    assert.equal(viaEnv.code, 3, viaEnv.stderr);
    assert.equal(viaEnv.stdout, 'leader zk-cli-env: none');

    // The variable is read, not ignored: a port where nothing listens is unreachable.
    const port = await freePort();
    const dead = `127.0.0.1:${port}`;
    const viaDead = await runCli([...args, '--dial-timeout', '1s'], undefined, { ZOOKEEPER_CONNECT: dead });
    assert.equal(viaDead.code, 5, viaDead.stderr);
    assert.match(
      viaDead.stderr,
      new RegExp(`cannot reach ZooKeeper at 127\\.0\\.0\\.1:${port} within 1000 ms`),
    );

    const flagWins = await runCli([...args, '--zk', server.connect], undefined, { ZOOKEEPER_CONNECT: dead });
    assert.equal(flagWins.code, 3, flagWins.stderr);

    const malformed = await runCli(args, undefined, { ZOOKEEPER_CONNECT: 'zk1' });
    assert.equal(malformed.code, 2, malformed.stderr);
    assert.match(malformed.stderr, /^ballot: \$ZOOKEEPER_CONNECT: the connect string must be .*got "zk1"$/);
  });

  test('a chroot in --zk: every path is under it', async () => {
    // The chroot must exist: a ballot session creates /apps (and a path under it) on the way.
    const seed = await backend.session({ ttl: 4 });
    await seed.election(`/apps/seed-${process.pid}`).campaign('seed');
    await seed.close();
    const chrooted = `${server.connect}/apps`;
    const e = 'zk-cli-chroot';
    const candidate = start(['campaign', e, 'in-apps', '--json'], chrooted);
    try {
      const elected = await candidate.json('stdout', { event: 'elected', value: 'in-apps' });
      // Keys are as the chrooted client sees them; from the root, the entry is under /apps.
      assert.match(String(elected['key']), new RegExp(`^/ballot/${e}/_c_`));
      assert.deepEqual(
        (await backend.participants(`/apps/ballot/${e}`)).map((p) => p.value),
        ['in-apps'],
      );
      assert.equal(await entries(e), 0, 'nothing at the root');
      const leader = await exec(['leader', e], chrooted);
      assert.equal(leader.code, 0, leader.stderr);
      assert.match(leader.stdout, /^leader zk-cli-chroot: in-apps /);
      assert.match((await exec(['list', e], chrooted)).stdout, /zk-cli-chroot\s+leader\s+in-apps/);
      candidate.kill('SIGTERM');
      assert.equal(await candidate.exited, 0, candidate.output());
    } finally {
      await reap(candidate);
    }
  });

  test('bad input: each a clear message and the exit code etcd would give', async () => {
    const port = await freePort();
    const down = await exec(['leader', 'e', '--dial-timeout', '1s'], `127.0.0.1:${port}`);
    assert.equal(down.code, 5, down.stderr);
    assert.match(
      down.stderr,
      new RegExp(
        `cannot reach ZooKeeper at 127\\.0\\.0\\.1:${port} within 1000 ms.*--zk \\(default: \\$ZOOKEEPER_CONNECT`,
      ),
    );

    const noChroot = await exec(['leader', 'e'], `${server.connect}/no-such-chroot`);
    assert.equal(noChroot.code, 7, noChroot.stderr);
    assert.match(
      noChroot.stderr,
      /the chroot "\/\S+" does not exist: create it .* or fix the connect string/,
    );
    const noChrootCampaign = await exec(['campaign', 'e', 'v'], `${server.connect}/no-such-chroot`);
    assert.equal(noChrootCampaign.code, 7, noChrootCampaign.stderr);

    const usage: [string[], RegExp][] = [
      [zkArgs(['leader', '/a//b']), /election path "\/a\/\/b" is not a ZooKeeper path ballot can use/],
      [zkArgs(['campaign', '/zookeeper/quota', 'v']), /not be under \/zookeeper/],
      [zkArgs(['resign', '/a/./b']), /no empty, "\." or "\.\." segment/],
      [
        zkArgs(['leader', 'e'], 'no-port'),
        /--zk: the connect string must be "host:port\[,host:port...\]\[\/chroot\]"/,
      ],
      [zkArgs(['leader', 'e'], '127.0.0.1:2181//x'), /--zk: the connect string must be/],
      [zkArgs(['leader', 'e'], ' '), /--zk is empty/],
      [zkArgs(['leader', 'e', '--endpoints', '127.0.0.1:2379']), /--endpoints is for etcd: .*--zk host:port/],
      [zkArgs(['leader', 'e', '--mode', 'service']), /--mode is for etcd/],
      [
        zkArgs(['leader', 'e', '--dsn', 'postgres://x@y/z']),
        /--dsn is for PostgreSQL: add --backend postgres/,
      ],
      [zkArgs(['leader', 'e', '--dial-timeout', '0s']), /--dial-timeout must be more than 0/],
      [['leader', 'e', '--zk', server.connect], /--zk is for ZooKeeper: add --backend zookeeper/],
      [['leader', 'e', '--backend', 'postgres', '--zk', server.connect], /--zk is for ZooKeeper/],
      [
        ['migrate', '--backend', 'zookeeper'],
        /`ballot migrate` creates PostgreSQL tables: use --backend postgres \(zookeeper needs no migration\)/,
      ],
    ];
    await refusedAsUsage(usage, CLEAN_ENV);
    for (const r of [down, noChroot, noChrootCampaign]) assert.doesNotMatch(r.stderr, NO_STACK);
  });

  test('help names --zk, znode paths and resign --force, within 80 columns', async () => {
    const helps = await helpsWithin80([[], ['leader'], ['resign'], ['lock']]);
    for (const help of helps) {
      assert.match(help.stdout, /--zk <connect>/);
      assert.match(help.stdout.replace(/\s+/g, ' '), /\$ZOOKEEPER_CONNECT, else 127\.0\.0\.1:2181/);
      assert.match(help.stdout, /zookeeper/);
    }
    assert.match(helps[0]!.stdout, /ballot leader \/services\/jobs\/leader --backend zookeeper/);
    assert.match(helps[1]!.stdout.replace(/\s+/g, ' '), /ZooKeeper: one starting with \/ is that znode path/);
    const resign = helps[2]!.stdout.replace(/\s+/g, ' ');
    assert.match(
      resign,
      /--force ZooKeeper: delete the leader node even if it is not a ballot candidate \(risks two leaders\)/,
    );
    assert.match(resign, /Curator LeaderLatch\) does not watch its own node/);
  });

  test('demo --backend zookeeper runs a process per candidate and exits 0 with its summary', async () => {
    const demo = await demoRuns(cli);
    // Each candidate's lease is its ZooKeeper session id, in hex as the server prints it.
    assert.match(demo, /"key":"\/ballot\/ballot-demo%2F[0-9a-f]{8}\/_c_/);
    const hex = /"key":"\/ballot\/ballot-demo%2F([0-9a-f]{8})\//.exec(demo)?.[1];
    const election = `ballot-demo/${hex ?? ''}`;
    assert.deepEqual(await backend.participants(election), [], 'no candidate left behind');
    assert.equal(await backend.get(`${election}.data`), undefined, 'the data key is removed');
    assert.deepEqual(await backend.elections('ballot-demo/'), []);
  });
});
