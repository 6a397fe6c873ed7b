/**
 * Regressions found by the chaos harness (test/chaos), each reduced to its smallest deterministic
 * reproduction. The chaos schedule that first found each bug is replayed by test/chaos.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BackendUnavailableError,
  BusyError,
  etcd,
  memory,
  SessionLostError,
  zookeeper,
  type Backend,
  type Election,
  type Term,
} from '../src/index.js';
import { KeySpaces } from '../src/backends/shared/key-spaces.js';
import { ZkView } from '../src/backends/zookeeper/view.js';
import { ZkConnection } from '../src/zookeeper/connection.js';
import { startZookeeper, type ZookeeperServer } from './fixtures/zookeeper.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { EtcdHttp } from './fixtures/etcd-history.js';
import { startFaultProxy, type FaultProxy } from './fixtures/fault-proxy.js';

/** Rejects if `promise` has not settled within `ms`, so a hang fails the test instead of stalling it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Campaigns, retrying while the backend is briefly unreachable (a proxy reconnecting after a heal). */
async function campaignRetrying(election: Election, value: string): Promise<Term> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await election.campaign(value);
    } catch (err) {
      if (!(err instanceof BackendUnavailableError) || attempt >= 20) throw err;
      await sleep(100);
    }
  }
}

describe('regressions found by the chaos harness', () => {
  let node: EtcdNode;
  let http: EtcdHttp;
  const proxies: FaultProxy[] = [];
  const backends: Backend[] = [];
  const proxy = async (): Promise<FaultProxy> => {
    const p = await startFaultProxy(node.endpoint);
    proxies.push(p);
    return p;
  };
  const backend = (endpoints: string[], callTimeout: number): Backend => {
    const b = etcd({ endpoints, callTimeout });
    backends.push(b);
    return b;
  };

  before(async () => {
    node = await startEtcd();
    http = new EtcdHttp([node.endpoint]);
  });
  after(async () => {
    await Promise.all(
      backends.map((b) => within(b.close(), 5_000, 'backend.close()').catch(() => undefined)),
    );
    await Promise.all(proxies.map((p) => p.close()));
    await node.stop();
  });

  // Found by follower-partition-resign, raft-leader-killed-during-handover and cluster-restart:
  // Session.lose() -> Election.sessionEnded() read session.lost, whose getter calls checkDeadline(),
  // which (the signal not being aborted yet) called lose() again, until the stack overflowed.
  test('a candidate waiting in line whose session deadline passes is told so, without a stack overflow', async () => {
    const name = `regress-deadline-${process.pid}`;
    const cut = await proxy();
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown): void => {
      uncaught.push(err);
    };
    process.on('uncaughtException', onUncaught);
    try {
      const leader = await backend([node.endpoint], 1_000).session({ ttl: 2 });
      await leader.election(name).campaign('leader');
      const follower = await backend([cut.endpoint], 1_000).session({ ttl: 2 });
      const waiting = follower.election(name).campaign('follower');
      waiting.catch(() => undefined);
      await sleep(200);
      cut.blackhole();
      // The follower's deadline passes about 1.9 s later; its campaign must end with the session.
      const err = await within(
        waiting.then(
          () => 'won',
          (e: unknown) => e,
        ),
        5_000,
        'the campaign',
      );
      assert.deepEqual(uncaught, [], 'no uncaught exception (stack overflow) while the session was lost');
      assert.ok(err instanceof SessionLostError, `campaign rejected with ${String(err)}`);
      assert.equal(follower.isAlive(), false);
      await within(follower.close(), 5_000, 'close() of the lost session');
    } finally {
      process.off('uncaughtException', onUncaught);
      cut.heal();
    }
  });

  // Found by raft-leader-killed-during-handover (seed 0x86e34d08) and cluster-restart: a resign whose
  // delete failed kept the entry (as designed), and the next campaign resumed that same entry, so a
  // new term began with the token of the term just resigned.
  test('after a failed resign, the next term gets a new token (memory backend)', async () => {
    const mem = memory();
    const session = await mem.session({ ttl: 10 });
    try {
      const election = session.election('regress-resign');
      const first = await election.campaign('a');
      mem.partition(session);
      await assert.rejects(election.resign(), BackendUnavailableError);
      assert.equal(first.active, false, 'the resigned term ended although the delete failed');
      mem.heal(session);
      const second = await within(election.campaign('a'), 5_000, 'the next campaign');
      assert.ok(
        second.token > first.token,
        `the term after the resign reused token ${first.token} (got ${second.token})`,
      );
    } finally {
      await session.close();
    }
  });

  // Found reviewing the fix above (958c569): the resigned entry is dropped before the BUSY check
  // takes effect, so two concurrent campaigns both got through and both won, with two Term objects
  // for one entry; resign() then ended only one of them and the other believed it led on.
  test('after a failed resign, a second concurrent campaign is still rejected BUSY', async () => {
    const mem = memory();
    const session = await mem.session({ ttl: 10 });
    try {
      const election = session.election('regress-busy');
      await election.campaign('a');
      mem.partition(session);
      await assert.rejects(election.resign(), BackendUnavailableError);
      mem.heal(session);
      const results = await within(
        Promise.allSettled([election.campaign('a'), election.campaign('a')]),
        5_000,
        'two campaigns',
      );
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const busy = results.filter((r) => r.status === 'rejected' && r.reason instanceof BusyError);
      assert.equal(
        won.length,
        1,
        `one campaign wins (${won.length} did, tokens ${won.map((t) => t.token).join(', ')})`,
      );
      assert.equal(busy.length, 1, 'the other is rejected with BUSY');
      await election.resign();
      assert.deepEqual(
        won.filter((t) => t.active).map((t) => t.token),
        [],
        'no term is still active after resign()',
      );
    } finally {
      await session.close();
    }
  });

  // Found the same way: tryCampaign() (Mutex.tryLock) never marks a campaign as running, so
  // concurrent calls each build their own Term for the one entry; unlock() ends only the last, and
  // the others stay active for as long as the session lives, while another process takes the lock.
  test('concurrent tryLock() calls never leave a lock that unlock() does not end', async () => {
    const mem = memory();
    const session = await mem.session({ ttl: 10 });
    try {
      const mutex = session.mutex('regress-trylock');
      const results = await within(
        Promise.allSettled([mutex.tryLock(), mutex.tryLock(), mutex.lock()]),
        5_000,
        'three lock attempts',
      );
      const locks = results.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
      assert.ok(locks.length >= 1, 'the free lock was taken');
      await mutex.unlock();
      assert.deepEqual(
        locks.filter((l) => l.active).map((l) => l.token),
        [],
        `every lock handed out ended with unlock() (${new Set(locks).size} distinct lock objects were handed out)`,
      );
    } finally {
      await session.close();
    }
  });

  test('after a failed resign, the next term gets a new token (etcd)', async () => {
    const name = `regress-resign-${process.pid}`;
    const cut = await proxy();
    const session = await backend([cut.endpoint], 500).session({ ttl: 10 });
    const election = session.election(name);
    const first = await election.campaign('a');
    cut.blackhole();
    await assert.rejects(within(election.resign(), 5_000, 'resign()'), BackendUnavailableError);
    cut.heal();
    const second = await within(campaignRetrying(election, 'a'), 10_000, 'the next campaign');
    assert.ok(
      second.token > first.token,
      `the term after the resign reused token ${first.token} (got ${second.token})`,
    );
    await election.resign();
  });

  // Found by raft-leader-killed-during-handover (seed 0x86e34d08): the guard's txn was applied, its
  // reply was lost with the connection, the client sent the txn again to the next endpoint, and by
  // then the entry was gone, so the second attempt failed its compare and guard() reported the
  // applied write as refused.
  test('a guarded write etcd applied is never reported refused after the call is retried', async () => {
    const name = `regress-guard-${process.pid}`;
    const dataKey = `${name}-data`;
    const slow = await proxy();
    const spare = await proxy();
    const session = await backend([slow.endpoint, spare.endpoint], 8_000).session({ ttl: 10 });
    const term = await session.election(name).campaign('a');
    await term.guard((tx) => tx.put(dataKey, 'warm-up'));
    // Every byte through the first endpoint now takes a second, in both directions.
    slow.delay(1_000);
    const writing = term.guard((tx) => tx.put(dataKey, 'applied'));
    const outcome = writing.then(
      (r) => r,
      (e: unknown) => e,
    );
    // Wait until etcd has applied the write; its reply is still held in the proxy.
    for (let i = 0; ; i++) {
      const { kvs } = await http.range(dataKey);
      if (kvs[0]?.value === 'applied') break;
      assert.ok(i < 150, 'precondition: etcd applied the guarded write');
      await sleep(10);
    }
    // The entry goes (as after a resign or an expiry elsewhere), then the connection drops before the reply arrives.
    await http.deletePrefix(term.key);
    slow.reset();
    slow.delay(0);
    const result = await within(outcome, 10_000, 'guard()');
    assert.ok(
      !(typeof result === 'object' && result !== null && 'committed' in result && result.committed === false),
      'guard() reported committed: false for a write etcd applied (it should report committed: true, or fail as unknown)',
    );
  });
});

describe('regressions found by the chaos harness on ZooKeeper', () => {
  let server: ZookeeperServer;
  before(async () => {
    server = await startZookeeper();
  });
  after(async () => {
    await server.stop();
  });

  // Found by zk-leader-sigkill (seed 0x3588cb2f): an observer that found no election node set an
  // exists watch on it; when the node appeared between that listing and the exists call (the first
  // candidate's mkdirp), exists answered true and left a watch that fires only when the node
  // changes or goes, so the observer reported no leader while one led, for up to a minute.
  test('an observer started as the election node is created still sees the first leader', async () => {
    const path = `/regress-observe-${process.pid}`;
    const reader = await ZkConnection.open(server.connect, 10_000, 5_000);
    const maker = await ZkConnection.open(server.connect, 10_000, 5_000);
    const backend = zookeeper({ connect: server.connect, env: {} });
    const controller = new AbortController();
    let changes: AsyncIterator<unknown> | undefined;
    try {
      // The reader, at its exists call, finds the node just created: the race, made certain.
      let raced = false;
      const racing = new Proxy(reader, {
        get(target, prop, receiver) {
          if (prop !== 'exists') return Reflect.get(target, prop, receiver) as unknown;
          return async (p: string, watch?: (type: number) => void) => {
            if (!raced) {
              raced = true;
              await maker.mkdirp(p);
            }
            return target.exists(p, watch);
          };
        },
      });
      const ctx = {
        where: server.connect,
        reader: () => Promise.resolve(racing),
        keySpaces: new KeySpaces(),
        observers: new Map(),
        probes: new Map(),
      };
      const view = new ZkView(ctx, path, 'latch');
      const stream = view.observe(controller.signal)[Symbol.asyncIterator]();
      changes = stream;
      const first = await within(stream.next(), 5_000, 'the first observation');
      assert.equal(first.value, null, 'no candidate yet');
      assert.ok(raced, 'precondition: the node was created between the listing and the exists call');
      const session = await backend.session({ ttl: 4 });
      const term = await session.election(path).campaign('first');
      const next = await within(stream.next(), 5_000, 'the observation of the first leader');
      assert.equal(next.value?.token, term.token, 'the observer reports the leader that joined');
      await session.close();
    } finally {
      controller.abort();
      // An iterator left unfinished would keep the shared watch (and its retries) running.
      await changes?.return?.();
      await backend.close();
      reader.close();
      maker.close();
    }
  });
});
