import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { Backend } from '../src/core/backend.js';
import { EtcdDriver } from '../src/backends/etcd/driver.js';
import type { EtcdTxn } from '../src/backends/etcd/txn.js';
import { startEtcd, startEtcdCluster, type EtcdCluster, type EtcdNode } from './fixtures/etcd.js';
import { startFaultProxy, type FaultProxy } from './fixtures/fault-proxy.js';

const CALL_TIMEOUT = 5000;

/** A backend whose driver the test can ask which endpoint is active. */
function open(
  endpoints: string[],
  callTimeout = CALL_TIMEOUT,
): { backend: Backend<EtcdTxn>; driver: EtcdDriver } {
  const driver = new EtcdDriver({ endpoints, callTimeout, dialTimeout: callTimeout });
  return { backend: new Backend(driver), driver };
}

describe('a paused etcd member (SIGSTOP: connection open, nothing answers)', () => {
  let cluster: EtcdCluster;
  /** A follower to pause, so that the cluster keeps its raft leader and answers at once elsewhere. */
  let paused: number;
  let order: string[];

  before(async () => {
    cluster = await startEtcdCluster(3);
    const leader = await cluster.leaderIndex();
    paused = (leader + 1) % 3;
    order = [paused, (paused + 1) % 3, (paused + 2) % 3].map((i) => cluster.endpoints[i] as string);
  });
  after(async () => {
    cluster.nodes[paused]?.resume();
    await cluster.stop();
  });

  test('opening a session and campaigning fail over before the call timeout', async () => {
    const { backend, driver } = open(order);
    // Connected to the member first, while it answers: its TCP connection stays open once paused.
    const warm = await backend.session({ ttl: 5 });
    assert.equal(driver.client.connection.activeEndpoint, order[0]);
    await cluster.nodes[paused]!.pause();
    try {
      let started = Date.now();
      const session = await backend.session({ ttl: 5 });
      const openMs = Date.now() - started;
      assert.ok(
        openMs < CALL_TIMEOUT,
        `LeaseGrant answered after ${openMs} ms, before the ${CALL_TIMEOUT} ms call timeout`,
      );
      assert.notEqual(
        driver.client.connection.activeEndpoint,
        order[0],
        'the silent member is no longer active',
      );

      started = Date.now();
      const term = await session.election(`pause-${process.pid}`).campaign('v');
      const campaignMs = Date.now() - started;
      assert.ok(campaignMs < CALL_TIMEOUT, `campaign won after ${campaignMs} ms`);
      assert.equal(term.active, true);
      await session.close();
    } finally {
      cluster.nodes[paused]!.resume();
    }
    await warm.close();
    await backend.close();
  });

  test('a guarded write (retry: false) is not resent to another member: its outcome stays unknown', async () => {
    const { backend, driver } = open(order, 1500);
    const session = await backend.session({ ttl: 10 });
    const term = await session.election(`guard-${process.pid}`).campaign('v');
    assert.equal(driver.client.connection.activeEndpoint, order[0]);
    const key = `pause-guard-${process.pid}`;
    await cluster.nodes[paused]!.pause();
    try {
      await assert.rejects(
        term.guard((tx) => tx.put(key, 'x')),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'UNAVAILABLE');
          assert.match(err.message, /outcome unknown/);
          return true;
        },
      );
      // Read through a member that answers, while the paused one still holds the request unread.
      const healthy = cluster.nodes[(paused + 1) % 3]!;
      const read = await healthy.etcdctl(['get', key, '--print-value-only']);
      assert.equal(read.stdout.trim(), '', 'no other member applied the write: it was not resent');
    } finally {
      cluster.nodes[paused]!.resume();
    }
    await session.close();
    await backend.close();
  });
});

describe('term start on a session whose renewals stopped being answered (fault proxy)', () => {
  let node: EtcdNode;
  let proxy: FaultProxy;

  before(async () => {
    node = await startEtcd();
    proxy = await startFaultProxy(node.endpoint);
  });
  after(async () => {
    await proxy.close();
    await node.stop();
  });

  test('a candidate whose keepalives go unanswered learns it won but begins no term', async () => {
    const election = `stale-${process.pid}`;
    const direct = open([node.endpoint]);
    const behind = open([proxy.endpoint]);
    const a = await direct.backend.session({ ttl: 10 });
    await a.election(election).campaign('a');
    const b = await behind.backend.session({ ttl: 3 });
    const waiting = b.election(election).campaign('b');
    waiting.catch(() => undefined);
    await once(b, 'renewed');
    // From now on every byte through b's proxy takes 500 ms each way: b's keepalives (which wait
    // TTL/4 = 750 ms for a reply) all time out, while the watch event telling b it won still arrives.
    proxy.delay(500);
    const delayedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await a.election(election).resign();
    await assert.rejects(waiting, (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SESSION_LOST', `campaign failed with ${err.code}: ${err.message}`);
      return true;
    });
    assert.ok(Date.now() - delayedAt > 1500, 'the win arrived after the last renewal was TTL/2 old');
    assert.equal(b.election(election).isLeader(), false);
    proxy.delay(0);
    await b.close();
    await a.close();
    await behind.backend.close();
    await direct.backend.close();
  });
});
