/** Self-test for the ZooKeeper server/ensemble fixture and the Curator program the ZooKeeper backend's interop tests use. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { afterEach, test } from 'node:test';
import { killCurators, startCurator } from './fixtures/curator.js';
import { isAlive } from './fixtures/proc.js';
import { startZookeeper, startZookeeperEnsemble } from './fixtures/zookeeper.js';

afterEach(() => killCurators());

test('zookeeper: a standalone server serves, grants the timeouts the options allow, pauses, and stops clean', async (t) => {
  const zk = await startZookeeper({ minSessionTimeout: 1_000, maxSessionTimeout: 30_000 });
  t.after(() => zk.stop());

  assert.match(zk.connect, /^127\.0\.0\.1:\d+$/);
  assert.equal(zk.connect, `127.0.0.1:${zk.port}`);
  assert.ok(isAlive(zk.pid));
  assert.equal(await zk.mode(), 'standalone');
  assert.equal(await zk.fourLetter('ruok'), 'imok');

  // The server clamps what a client asks for into [minSessionTimeout, maxSessionTimeout].
  for (const [asked, granted] of [
    [1_000, 1_000],
    [30_000, 30_000],
    [500, 1_000],
    [45_000, 30_000],
  ] as const) {
    const curator = await startCurator({
      connect: zk.connect,
      kind: 'latch',
      path: '/timeouts',
      id: `asked-${asked}`,
      sessionTimeoutMs: asked,
    });
    const started = await curator.waitFor((e) => e.event === 'started');
    assert.equal(started['sessionTimeoutMs'], granted, `asked ${asked} ms`);
    assert.deepEqual(await curator.close(), { code: 0, signal: null });
  }

  await zk.pause();
  await assert.rejects(zk.fourLetter('ruok', 500), /no reply to ruok/);
  assert.equal(await zk.mode(500), 'unreachable');
  zk.resume();
  assert.equal(await zk.fourLetter('ruok', 5_000), 'imok');

  const before = zk.pid;
  await zk.restart();
  assert.notEqual(zk.pid, before);
  assert.ok(!isAlive(before));
  assert.equal(await zk.mode(), 'standalone');

  const { pid, dir } = zk;
  await zk.stop();
  await zk.stop();
  assert.ok(!isAlive(pid), 'the JVM is gone');
  assert.ok(!existsSync(dir), 'the temp dir is gone');
});

test('zookeeper: a 3-server ensemble elects one leader, elects another when it is killed, and stops clean', async (t) => {
  const ensemble = await startZookeeperEnsemble(3);
  t.after(() => ensemble.stop());

  assert.equal(ensemble.servers.length, 3);
  assert.equal(ensemble.connect, ensemble.servers.map((s) => s.connect).join(','));
  const modes = await Promise.all(ensemble.servers.map((s) => s.mode()));
  assert.deepEqual([...modes].sort(), ['follower', 'follower', 'leader']);

  const first = await ensemble.leader();
  assert.equal(await first.mode(), 'leader');
  await first.kill();
  assert.ok(!isAlive(first.pid));
  const second = await ensemble.leader();
  assert.notEqual(second.id, first.id);
  assert.equal(await first.mode(), 'unreachable');

  // The killed server rejoins as a follower of the new leader.
  await first.restart();
  assert.equal(await first.mode(), 'follower');
  assert.equal((await ensemble.leader()).id, second.id);

  const pids = ensemble.servers.map((s) => s.pid);
  const dirs = ensemble.servers.map((s) => s.dir);
  await ensemble.stop();
  assert.deepEqual(pids.filter(isAlive), [], 'no JVM left');
  assert.deepEqual(
    dirs.filter((d) => existsSync(d)),
    [],
    'no temp dir left',
  );
});

test('curator: two LeaderLatch candidates take turns; the mutex excludes a second holder', async (t) => {
  const zk = await startZookeeper();
  t.after(() => zk.stop());
  const path = '/services/jobs/leader';

  const before = process.hrtime.bigint();
  const a = await startCurator({ connect: zk.connect, kind: 'latch', path, id: 'cur-a' });
  const aLeads = await a.waitFor((e) => e.event === 'isLeader');
  const after = process.hrtime.bigint();
  // System.nanoTime() is CLOCK_MONOTONIC like process.hrtime: the JVM's stamp falls between ours.
  assert.ok(before < aLeads.t && aLeads.t < after, `${before} < ${aLeads.t} < ${after}`);
  assert.match(String(aLeads['path']), new RegExp(`^${path}/_c_[0-9a-f-]{36}-latch-\\d{10}$`));

  const b = await startCurator({ connect: zk.connect, kind: 'latch', path, id: 'cur-b' });
  assert.deepEqual((await b.ask('participants', 'participants'))['ids'], ['cur-a', 'cur-b']);
  assert.equal((await b.ask('leader', 'leader'))['id'], 'cur-a');
  assert.equal((await b.ask('has', 'has'))['hasLeadership'], false);
  assert.equal((await a.ask('has', 'has'))['hasLeadership'], true);

  const children = (await a.ask('children', 'children'))['children'] as { name: string; data: string }[];
  assert.deepEqual(children.map((c) => c.data).sort(), ['cur-a', 'cur-b']);

  const aExit = a.close();
  const bLeads = await b.waitFor((e) => e.event === 'isLeader');
  assert.deepEqual(await aExit, { code: 0, signal: null });
  const aClosed = a.lines.find((e) => e.event === 'closed');
  assert.ok(aClosed && aClosed.t < bLeads.t, 'b leads only after a closed its latch');
  assert.deepEqual((await b.ask('participants', 'participants'))['ids'], ['cur-b']);

  const lockPath = '/services/jobs/lock';
  const m1 = await startCurator({ connect: zk.connect, kind: 'mutex', path: lockPath, id: 'm1' });
  const m2 = await startCurator({ connect: zk.connect, kind: 'mutex', path: lockPath, id: 'm2' });
  await m1.ask('acquire', 'acquired');
  assert.equal((await m2.ask('acquire 500', 'timeout')).event, 'timeout');
  const nodes = (await m1.ask('participants', 'participants'))['nodes'] as string[];
  assert.equal(nodes.length, 1);
  assert.match(nodes[0]!, new RegExp(`^${lockPath}/_c_[0-9a-f-]{36}-lock-\\d{10}$`));
  m2.send('acquire');
  await m1.ask('release', 'released');
  await m2.waitFor((e) => e.event === 'acquired');

  const exits = await Promise.all([b, m1, m2].map((c) => c.close()));
  assert.deepEqual(
    exits,
    [0, 1, 2].map(() => ({ code: 0, signal: null })),
  );
});

test('curator: a paused server makes the latch print SUSPENDED and notLeader, a resumed one RECONNECTED', async (t) => {
  const zk = await startZookeeper();
  t.after(() => zk.stop());
  const c = await startCurator({
    connect: zk.connect,
    kind: 'latch',
    path: '/pause',
    id: 'p',
    sessionTimeoutMs: 2_000,
  });
  await c.waitFor((e) => e.event === 'isLeader');

  const from = c.lines.length;
  await zk.pause();
  await c.waitFor((e) => e.event === 'state' && e['state'] === 'SUSPENDED', { from });
  await c.waitFor((e) => e.event === 'notLeader', { from });
  zk.resume();
  await c.waitFor((e) => e.event === 'state' && e['state'] === 'RECONNECTED', { from });
  assert.equal((await c.close()).code, 0);
});
