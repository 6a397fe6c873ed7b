import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { etcd, type Backend, type BackendWarning } from '../src/index.js';
import { EtcdClient } from '../src/etcd/client.js';
import { entryKeys, startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { abandonHerd, handoverWorks } from './fixtures/service-wedge.js';
import { eventually, within } from './helpers.js';

const PROBE_MS = 2000;

describe('service mode on an etcd member whose server-side watch stream is wedged (etcd #20716)', () => {
  let node: EtcdNode;
  let raw: EtcdClient;
  before(async () => {
    node = await startEtcd();
    raw = new EtcdClient({ endpoints: [node.endpoint] });
  });
  after(async () => {
    raw.close();
    await node.stop();
  });

  test('a herd of 50 waiting Campaigns abandoned at once wedges every later waiting Campaign, on any connection', async () => {
    let wedged = false;
    for (let herd = 0; herd < 4 && !wedged; herd++) {
      await abandonHerd(raw, { election: 'herd', size: 50, abandon: 'cancel' });
      wedged = !(await handoverWorks(raw, `probe-${herd}`, PROBE_MS));
    }
    assert.ok(wedged, 'a handover through Campaign still answered after 200 abandoned campaigns');
    // The wedge is the member's, not our channel's: a brand-new connection is stuck the same way.
    const fresh = new EtcdClient({ endpoints: [node.endpoint] });
    try {
      assert.equal(await handoverWorks(fresh, 'fresh-connection', PROBE_MS), false);
    } finally {
      fresh.close();
    }
  });

  test('ballot still hands over: the first stall is re-issued, the second falls back to the client recipe with a warning', async () => {
    // One backend, two sessions: the stall count belongs to the backend (its driver), per election.
    const backend = etcd({ endpoints: [node.endpoint], mode: 'service', callTimeout: 1000 });
    const warnings: BackendWarning[] = [];
    // Only the fallback: connecting to 3.4.23 also reports its early-revocation bug.
    backend.on('warning', (w) => {
      if (w.code === 'service-fallback') warnings.push(w);
    });
    try {
      const name = 'after-wedge';
      const [a, b] = [
        (await backend.session({ ttl: 10 })).election(name),
        (await backend.session({ ttl: 10 })).election(name),
      ];
      const queued = (n: number) =>
        eventually(async () => (await entryKeys(node, name)).length === n, 5000, `${n} entries`);

      await a.campaign('a');
      const pb = b.campaign('b');
      await queued(2);
      await a.resign();
      const tb = await within(pb, 15_000, 'b to lead through a re-issued Campaign');
      assert.equal(tb.token, BigInt((await raw.range({ key: Buffer.from(tb.key) })).kvs[0]!.create_revision));
      assert.equal(warnings.length, 0, 'one stall re-issues the Campaign without falling back');

      const pa = a.campaign('a');
      await queued(2);
      await b.resign();
      await within(pa, 15_000, 'a to lead after the second stall');
      assert.deepEqual(
        warnings.map((w) => [w.code, w.election]),
        [['service-fallback', name]],
      );
      assert.match(warnings[0]!.message, /client-side recipe/);

      // From now on this backend runs the election client-side: a plain watch wakes b.
      const pb2 = b.campaign('b');
      await queued(2);
      await a.resign();
      await within(pb2, 15_000, 'b to lead again');
      assert.ok(b.isLeader(), 'b holds a term');
    } finally {
      await backend.close();
    }
  });

  test('a mutex through v3lock on the same member: the stalled Lock is re-issued and the waiter gets the lock', async () => {
    const backend = etcd({ endpoints: [node.endpoint], mode: 'service', callTimeout: 1000 });
    const warnings: BackendWarning[] = [];
    // Only the fallback: connecting to 3.4.23 also reports its early-revocation bug.
    backend.on('warning', (w) => {
      if (w.code === 'service-fallback') warnings.push(w);
    });
    try {
      const name = 'lock-after-wedge';
      const [a, b] = [
        (await backend.session({ ttl: 10 })).mutex(name),
        (await backend.session({ ttl: 10 })).mutex(name),
      ];
      await a.lock();
      const pb = b.lock();
      await eventually(async () => (await entryKeys(node, name)).length === 2, 5000, 'b to queue');
      await a.unlock();
      await within(pb, 15_000, 'b to get the lock through a re-issued Lock');
      assert.ok(b.isLocked());
      assert.equal(warnings.length, 0);
    } finally {
      await backend.close();
    }
  });
});

describe('service mode refuses a term etcd did not grant', () => {
  let node: EtcdNode;
  let clientMode: Backend;
  let serviceMode: Backend;
  before(async () => {
    node = await startEtcd();
    clientMode = etcd({ endpoints: [node.endpoint] });
    serviceMode = etcd({ endpoints: [node.endpoint], mode: 'service' });
  });
  after(async () => {
    await clientMode.close();
    await serviceMode.close();
    await node.stop();
  });

  test("a waiting entry deleted behind the leader: etcd's Campaign returns, no term begins (ENTRY_DELETED)", async () => {
    const name = 'deleted-waiter';
    const a = (await clientMode.session({ ttl: 10 })).election(name);
    const b = (await serviceMode.session({ ttl: 10 })).election(name);
    await a.campaign('a');
    const pb = b.campaign('b');
    pb.catch(() => undefined);
    await eventually(async () => (await entryKeys(node, name)).length === 2, 5000, 'b to queue');
    const [, waiting] = await entryKeys(node, name);
    assert.equal((await node.etcdctl(['del', waiting!])).code, 0);
    await a.resign();
    await assert.rejects(within(pb, 5000, 'b to be refused'), { code: 'ENTRY_DELETED' });
    assert.equal(b.currentTerm, undefined);
  });

  test('a waiting entry deleted while the leader holds: the campaign fails (ENTRY_DELETED) without waiting for the leader', async () => {
    // A short call timeout is the watchdog's bound: it reads the line once per bound while Campaign waits.
    const quick = etcd({ endpoints: [node.endpoint], mode: 'service', callTimeout: 500 });
    try {
      const name = 'deleted-waiter-early';
      const a = (await clientMode.session({ ttl: 10 })).election(name);
      const b = (await quick.session({ ttl: 10 })).election(name);
      await a.campaign('a');
      const pb = b.campaign('b');
      pb.catch(() => undefined);
      await eventually(async () => (await entryKeys(node, name)).length === 2, 5000, 'b to queue');
      // Past one bound, so that the watchdog has seen b's entry before it goes.
      await sleep(700);
      const [, waiting] = await entryKeys(node, name);
      assert.equal((await node.etcdctl(['del', waiting!])).code, 0);
      await assert.rejects(within(pb, 5000, 'b to be refused while a leads'), { code: 'ENTRY_DELETED' });
      assert.ok(a.isLeader(), 'a still leads: b was refused before any handover');
      await a.resign();
    } finally {
      await quick.close();
    }
  });

  test('a waiting entry deleted and written again behind a newer candidate: not the oldest, no term', async () => {
    const name = 'overtaken-waiter';
    const a = (await clientMode.session({ ttl: 10 })).election(name);
    const b = (await serviceMode.session({ ttl: 10 })).election(name);
    const c = (await clientMode.session({ ttl: 10 })).election(name);
    await a.campaign('a');
    const pb = b.campaign('b');
    pb.catch(() => undefined);
    await eventually(async () => (await entryKeys(node, name)).length === 2, 5000, 'b to queue');
    const pc = c.campaign('c');
    await eventually(async () => (await entryKeys(node, name)).length === 3, 5000, 'c to queue');
    const [, waiting] = await entryKeys(node, name);
    // Same key, newer create revision: etcd's Campaign only waits for what was older than b's first entry.
    assert.equal((await node.etcdctl(['del', waiting!])).code, 0);
    assert.equal((await node.etcdctl(['put', waiting!, 'b'])).code, 0);
    await a.resign();
    await assert.rejects(within(pb, 5000, 'b to be refused'), { code: 'ENTRY_DELETED' });
    assert.equal(b.currentTerm, undefined);
    await within(pc, 5000, 'c to lead');
    await node.etcdctl(['del', waiting!]);
  });
});
