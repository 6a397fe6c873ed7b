import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { zookeeper, type Backend, type Term, type ZkTxn } from '../src/index.js';
import { killCurators, startCurator, type CuratorProcess } from './fixtures/curator.js';
import { startZookeeper, type ZookeeperServer } from './fixtures/zookeeper.js';
import { within } from './helpers.js';

// ballot and Apache Curator (the real one: Debian's jars, a Java program per candidate) in one
// election or lock on one ZooKeeper: they take turns in sequence order and name the same leader.

let server: ZookeeperServer;
let backend: Backend<ZkTxn>;
let counter = 0;
const fresh = (kind: string) => `/interop/${kind}-${process.pid}-${++counter}/leader`;
const now = () => process.hrtime.bigint();

before(async () => {
  server = await startZookeeper();
  backend = zookeeper({ connect: server.connect, env: {} });
});
after(async () => {
  await backend?.close();
  await server?.stop();
});
afterEach(killCurators);

function curator(kind: 'latch' | 'mutex', path: string, id: string): Promise<CuratorProcess> {
  return startCurator({ connect: server.connect, kind, path, id, sessionTimeoutMs: 4000 });
}

describe('ballot and Curator LeaderLatch share one election', () => {
  test('in sequence order: Curator first, then ballot; each names the other as leader', async () => {
    const path = fresh('latch');
    const c = await curator('latch', path, 'cur-1');
    await c.waitFor((e) => e.event === 'isLeader');
    const session = await backend.session({ ttl: 4 });
    const campaign = session.election(path).campaign('ballot-1');
    await within(
      (async () => {
        while ((await backend.participants(path)).length < 2) await new Promise((r) => setTimeout(r, 20));
      })(),
      10_000,
      'ballot to queue behind Curator',
    );
    // ballot reads Curator's node as the leader, with the participant id as its value.
    const leader = await backend.leader(path);
    assert.equal(leader?.value, 'cur-1');
    assert.deepEqual(
      (await backend.participants(path)).map((p) => p.value),
      ['cur-1', 'ballot-1'],
    );
    assert.deepEqual((await c.ask('participants', 'participants')).ids, ['cur-1', 'ballot-1']);
    // Curator leaves: ballot leads, after Curator's close, and Curator names it.
    const closedAt = now();
    await c.close();
    const term: Term<ZkTxn> = await within(campaign, 10_000, 'ballot to lead');
    assert.ok(term.startedAt * 1e6 >= Number(closedAt) - 1e6, 'ballot began after Curator left');
    const c2 = await curator('latch', path, 'cur-2');
    assert.deepEqual(await c2.ask('leader', 'leader').then((e) => [e.id, e.isLeader]), ['ballot-1', true]);
    assert.equal((await c2.ask('has', 'has')).hasLeadership, false);
    // ballot resigns: Curator's second candidate leads.
    await session.election(path).resign();
    await c2.waitFor((e) => e.event === 'isLeader', { timeoutMs: 10_000 });
    assert.equal((await backend.leader(path))?.value, 'cur-2');
    await c2.close();
    await session.close();
  });

  test("ballot first: Curator waits; killing ballot's leader hands over to Curator, killing Curator's back to ballot", async () => {
    const path = fresh('latch');
    const a = await backend.session({ ttl: 4 });
    const ta = await a.election(path).campaign('ballot-a');
    const c = await curator('latch', path, 'cur-b');
    assert.deepEqual((await c.ask('leader', 'leader')).id, 'ballot-a');
    assert.equal((await c.ask('has', 'has')).hasLeadership, false);
    // ballot's leader crashes (its ZooKeeper session simply stops: no delete is sent).
    const lost = ta.signal;
    const b = await backend.session({ ttl: 4 });
    const pb = b.election(path).campaign('ballot-c');
    await within(
      (async () => {
        while ((await backend.participants(path)).length < 3) await new Promise((r) => setTimeout(r, 20));
      })(),
      10_000,
      'the second ballot candidate to queue',
    );
    await a.close(); // ends the ZooKeeper session: its node goes at once
    assert.equal(lost.aborted, true);
    await c.waitFor((e) => e.event === 'isLeader', { timeoutMs: 10_000 });
    assert.equal((await backend.leader(path))?.value, 'cur-b');
    // Curator's process is killed: its session expires after its timeout, then ballot leads.
    c.kill('SIGKILL');
    const tb = await within(pb, 15_000, "ballot to lead after Curator's session expired");
    assert.equal(tb.value, 'ballot-c');
    assert.ok(tb.token > ta.token, 'the czxid token grew across both sides');
    await b.close();
  });

  test('a guarded write commits only while ballot leads, whoever else is in line', async () => {
    const path = fresh('latch');
    const s = await backend.session({ ttl: 4 });
    const t = await s.election(path).campaign('ballot');
    const c = await curator('latch', path, 'cur');
    const data = `${path}-data`.replace(/\//g, '_');
    assert.equal((await t.guard((tx) => tx.put(data, 'by ballot'))).committed, true);
    await s.election(path).resign();
    await c.waitFor((e) => e.event === 'isLeader', { timeoutMs: 10_000 });
    await assert.rejects(
      t.guard((tx) => tx.put(data, 'stale')),
      { code: 'NOT_LEADER' },
    );
    assert.equal(await backend.get(data), 'by ballot');
    await c.close();
    await s.close();
  });
});

describe('ballot and Curator InterProcessMutex exclude each other', () => {
  test('a ballot lock holder keeps Curator out; released, Curator acquires; and the other way', async () => {
    const path = fresh('lock');
    const s = await backend.session({ ttl: 4 });
    const mutex = s.mutex(path);
    const lock = await mutex.lock();
    const c = await curator('mutex', path, 'cur');
    assert.equal((await c.ask('acquire 500', 'timeout', 5000)).event, 'timeout');
    await mutex.unlock();
    assert.equal((await c.ask('acquire 5000', 'acquired', 10_000)).event, 'acquired');
    assert.equal(await mutex.tryLock(), null, 'Curator holds it: tryLock fails');
    assert.equal(lock.signal.aborted, true);
    await c.ask('release', 'released');
    const again = await within(mutex.lock(), 5000, 'ballot to lock again');
    assert.ok(again.token > lock.token);
    await mutex.unlock();
    await c.close();
    await s.close();
  });
});
