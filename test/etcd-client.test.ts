import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  BackendError,
  BackendUnavailableError,
  etcd,
  type Election,
  type LeaderChange,
} from '../src/index.js';
import { Connection } from '../src/etcd/connection.js';
import {
  startEtcd,
  startEtcdCluster,
  type EtcdCluster,
  type EtcdNode,
  enableAuth,
  disableAuth,
} from './fixtures/etcd.js';
import { startFaultProxy } from './fixtures/fault-proxy.js';
import { eventually, sleep, within } from './helpers.js';

/** Starts 50 observers of `election` and waits until each has seen its first value. */
async function fiftyObservers(
  election: Election,
  signal: AbortSignal,
): Promise<{ seen: (string | null)[][]; loops: Promise<void>[] }> {
  const seen = Array.from({ length: 50 }, () => [] as (string | null)[]);
  const loops = seen.map(async (values) => {
    for await (const change of election.observe({ signal })) values.push(change.value);
  });
  await eventually(() => seen.every((v) => v.length === 1), 5000, 'every observer to see v0');
  return { seen, loops };
}

describe('etcd client: watch resume, compaction, failover and auth', () => {
  let node: EtcdNode;
  before(async () => {
    node = await startEtcd({ extraArgs: ['--auth-token-ttl=1'] });
  });
  after(() => node.stop());

  test('observe resumes after a broken stream even when the history it needed was compacted', async () => {
    const proxy = await startFaultProxy(node.endpoint);
    const watcherBackend = etcd({ endpoints: [proxy.endpoint], callTimeout: 1000 });
    const direct = etcd({ endpoints: [node.endpoint] });
    try {
      const observer = await watcherBackend.session({ ttl: 10 });
      const [a, b] = [await direct.session({ ttl: 10 }), await direct.session({ ttl: 10 })];
      const seen: LeaderChange[] = [];
      const controller = new AbortController();
      const observing = (async () => {
        for await (const c of observer.election('compact').observe({ signal: controller.signal }))
          seen.push(c);
      })();
      await a.election('compact').campaign('a');
      await eventually(() => seen.some((c) => c.value === 'a'), 5000, 'the observer to see a');
      proxy.blackhole();
      await a.election('compact').resign();
      await b.election('compact').campaign('b');
      for (let i = 0; i < 5; i++) await direct.session({ ttl: 5 }).then((s) => s.close());
      const rev = (await node.etcdctl(['endpoint', 'status', '-w', 'json'])).stdout.match(
        /"revision":(\d+)/,
      )?.[1];
      assert.ok(rev);
      const compacted = await node.etcdctl(['compact', rev]);
      assert.equal(compacted.code, 0, compacted.stderr);
      proxy.heal();
      await within(
        eventually(() => seen.at(-1)?.value === 'b', 10_000, 'the observer to catch up'),
        12_000,
        'catch-up',
      );
      assert.ok(seen.some((c) => c.value === 'a'));
      controller.abort();
      await observing;
    } finally {
      await watcherBackend.close();
      await direct.close();
      await proxy.close();
    }
  });

  test('in service mode too, observers of one election on one client share one Observe stream', async () => {
    const backend = etcd({ endpoints: [node.endpoint], mode: 'service' });
    const services = (
      backend as unknown as { driver: { client: { services: { observe: (...a: unknown[]) => unknown } } } }
    ).driver.client.services;
    const observe = services.observe.bind(services);
    let opened = 0;
    services.observe = (...args: unknown[]) => {
      opened++;
      return observe(...args);
    };
    const controller = new AbortController();
    try {
      const election = (await backend.session({ ttl: 10 })).election('shared-observe');
      await election.campaign('v0');
      const { seen, loops } = await fiftyObservers(election, controller.signal);
      await election.proclaim('v1');
      await eventually(() => seen.every((v) => v.at(-1) === 'v1'), 5000, 'every observer to see v1');
      assert.equal(opened, 1, 'one Observe stream served all 50 observers');
      controller.abort();
      await Promise.all(loops);
      assert.ok(seen.every((v) => v.join() === 'v0,v1'));
    } finally {
      controller.abort();
      await backend.close();
    }
  });

  test('observers of one election on one client share one watch', async () => {
    const backend = etcd({ endpoints: [node.endpoint] });
    const controller = new AbortController();
    try {
      const election = (await backend.session({ ttl: 10 })).election('shared-watch');
      await election.campaign('v0');
      const { seen, loops } = await fiftyObservers(election, controller.signal);
      const before = backend.stats().events;
      await election.proclaim('v1');
      await eventually(() => seen.every((v) => v.at(-1) === 'v1'), 5000, 'every observer to see v1');
      assert.equal(backend.stats().events - before, 1, 'one watch event served all 50 observers');
      controller.abort();
      await Promise.all(loops);
      assert.ok(seen.every((v) => v.join() === 'v0,v1'));
    } finally {
      controller.abort();
      await backend.close();
    }
  });

  test('auth: a wrong password fails with AUTH; an expired token is refreshed transparently', async () => {
    await enableAuth(node);
    const good = etcd({ endpoints: [node.endpoint], auth: { username: 'root', password: 'rootpw' } });
    const bad = etcd({ endpoints: [node.endpoint], auth: { username: 'root', password: 'nope' } });
    const anonymous = etcd({ endpoints: [node.endpoint] });
    try {
      await assert.rejects(bad.session({ ttl: 5 }), { code: 'AUTH' });
      // No credentials at all: etcd answers "user name is empty", which is AUTH too, and says what to give.
      await assert.rejects(anonymous.get('auth-data'), {
        code: 'AUTH',
        message: /user name is empty: this etcd has authentication enabled; give credentials/,
      });
      // etcd grants leases without a token; the first read or write is what it refuses.
      const anonymousSession = await anonymous.session({ ttl: 5 });
      await assert.rejects(anonymousSession.election('auth').campaign('anonymous'), { code: 'AUTH' });
      const session = await good.session({ ttl: 5 });
      const term = await session.election('auth').campaign('x');
      await sleep(2500); // etcd started with --auth-token-ttl=1: the first token is gone by now
      assert.equal((await term.guard((tx) => tx.put('auth-data', 'y'))).committed, true);
      assert.equal(term.active, true, 'keepalives kept working across token expiry');

      // Service mode: a Campaign that waits longer than the token TTL fails on the server when it
      // wakes (etcd #17623); ballot re-issues it and the candidate keeps its place.
      const service = etcd({
        endpoints: [node.endpoint],
        auth: { username: 'root', password: 'rootpw' },
        mode: 'service',
      });
      try {
        const waiter = (await service.session({ ttl: 10 })).election('auth');
        const waiting = waiter.campaign('service-waiter');
        await sleep(2500);
        await session.election('auth').resign();
        const won = await within(waiting, 10_000, 'the service-mode waiter to lead');
        assert.equal(won.value, 'service-waiter');
        await waiter.resign();
      } finally {
        await service.close();
      }
    } finally {
      await disableAuth(node);
      await anonymous.close();
      await good.close();
      await bad.close();
    }
  });
});

describe('etcd client: error mapping', () => {
  test("etcd's transient errors are UNAVAILABLE even when a concurrency service passes them on as UNKNOWN", () => {
    const connection = new Connection({ endpoints: ['127.0.0.1:2379'] }); // lazy: opens no socket
    const error = (details: string) =>
      Object.assign(new Error(details), {
        code: grpc.status.UNKNOWN,
        details,
        metadata: new grpc.Metadata(),
      });
    for (const details of ['etcdserver: leader changed', 'etcdserver: request timed out'])
      assert.ok(
        connection.translate('/v3electionpb.Election/Leader', error(details)) instanceof
          BackendUnavailableError,
      );
    const other = connection.translate('/v3electionpb.Election/Leader', error('election: not leader'));
    assert.ok(other instanceof BackendError);
    connection.close();
  });

  test('an endpoint port outside 1..65535 is INVALID_ARGUMENT', () => {
    for (const endpoint of ['127.0.0.1:99999', '127.0.0.1:0', 'https://127.0.0.1:65536'])
      assert.throws(() => new Connection({ endpoints: [endpoint] }), {
        code: 'INVALID_ARGUMENT',
        message: /port \d+ is not from 1 to 65535/,
      });
    new Connection({ endpoints: ['127.0.0.1:65535', 'https://127.0.0.1:1'] }).close();
  });
});

describe('etcd client: endpoint failover in a 3-node cluster', () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await startEtcdCluster(3);
  });
  after(() => cluster.stop());

  test('a session survives the death of the member it is connected to', async () => {
    const backend = etcd({ endpoints: cluster.endpoints, callTimeout: 1000 });
    try {
      const session = await backend.session({ ttl: 5 });
      const term = await session.election('failover').campaign('x');
      await cluster.nodes[0]!.kill(); // ballot talks to the first endpoint first
      await sleep(2000);
      assert.equal(term.active, true, 'keepalives moved to another member in time');
      const result = await term.guard((tx) => tx.put('failover-data', 'after'));
      assert.equal(result.committed, true);
      await session.election('failover').resign();
    } finally {
      await backend.close();
    }
  });
  test('a service-mode observer follows the election across the death of its member, with no unhandled rejection', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    await cluster.nodes[0]!.restart(); // the test above killed it
    const watcher = etcd({ endpoints: cluster.endpoints, mode: 'service', callTimeout: 1000 });
    const voters = etcd({ endpoints: cluster.endpoints.slice(1), callTimeout: 1000 });
    const controller = new AbortController();
    const seen: (string | null)[] = [];
    const observing = (async () => {
      for await (const change of watcher.observe('svc-failover', { signal: controller.signal }))
        seen.push(change.value);
    })();
    try {
      const a = (await voters.session({ ttl: 5 })).election('svc-failover');
      const b = (await voters.session({ ttl: 5 })).election('svc-failover');
      await a.campaign('a');
      const bLeads = b.campaign('b');
      await eventually(() => seen.at(-1) === 'a', 5000, 'the observer to see a');
      await cluster.nodes[0]!.kill(); // the observer talks to the first endpoint first
      await a.resign();
      await within(bLeads, 5000, 'b to lead');
      await eventually(() => seen.at(-1) === 'b', 15_000, 'the observer, moved to another member, to see b');
      assert.deepEqual(rejections, []);
    } finally {
      controller.abort();
      await observing;
      process.off('unhandledRejection', onRejection);
      await Promise.all([watcher.close(), voters.close()]);
    }
  });
});
