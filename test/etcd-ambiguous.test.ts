import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Backend } from '../src/core/backend.js';
import { BackendUnavailableError } from '../src/core/errors.js';
import { EtcdDriver, type EtcdMode } from '../src/backends/etcd/driver.js';
import { EtcdClient } from '../src/etcd/client.js';
import { neverSent, outcomeUnknown, translate } from '../src/etcd/errors.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { startFaultProxy } from './fixtures/fault-proxy.js';
import { freePort } from './fixtures/ports.js';
import { eventually } from './helpers.js';

// A write sent with `retry: false` (guards, proclaim, the transfer's last txn) is never resent after
// an ambiguous failure, which is then reported as "outcome unknown"; one that provably never left
// the client (the endpoint had no connection) is sent once more, to the next endpoint.

const context = (endpoint: string) => ({
  what: 'Txn',
  endpoints: [endpoint],
  secure: false,
  credentials: false,
});

/** The raw grpc-js error of a Range on `endpoint`. */
function rawRange(endpoint: string, timeoutMs = 2000): Promise<grpc.ServiceError> {
  const client = new EtcdClient({ endpoints: [endpoint], callTimeout: timeoutMs });
  return client
    .range({ key: Buffer.from('k') })
    .then(
      () => assert.fail('expected the range to fail'),
      (err: unknown) => {
        assert.ok(err instanceof BackendUnavailableError, `UNAVAILABLE expected, got ${String(err)}`);
        return err.cause as grpc.ServiceError;
      },
    )
    .finally(() => client.close());
}

/** An etcd backend whose driver (and so its client's connection) the test can reach. */
function backendOn(endpoints: string[], mode: EtcdMode = 'client') {
  const driver = new EtcdDriver({ endpoints, callTimeout: 2000 }, mode);
  return { driver, backend: new Backend(driver) };
}

describe('etcd: calls that must not be resent', () => {
  let node: EtcdNode;
  let direct: EtcdClient;
  before(async () => {
    node = await startEtcd();
    direct = new EtcdClient({ endpoints: [node.endpoint] });
  });
  after(async () => {
    direct?.close();
    await node?.stop();
  });

  const valueOf = async (key: string) => (await direct.range({ key: Buffer.from(key) })).kvs[0];

  test('neverSent: true for an endpoint with no connection, false for a dropped one and a deadline', async () => {
    const refused = await rawRange(`127.0.0.1:${await freePort()}`);
    assert.equal(refused.code, grpc.status.UNAVAILABLE);
    assert.ok(neverSent(refused), `no connection: ${refused.details}`);
    assert.ok(neverSent(translate(refused, context('x'))), 'still recognised once translated');
    assert.doesNotMatch(
      (outcomeUnknown('proclaim', translate(refused, context('x'))) as Error).message,
      /outcome unknown/,
      'a call that never left has a known outcome: not applied',
    );

    const proxy = await startFaultProxy(node.endpoint);
    try {
      proxy.blackhole();
      const stalled = await rawRange(proxy.endpoint, 300);
      assert.equal(stalled.code, grpc.status.DEADLINE_EXCEEDED);
      assert.equal(neverSent(stalled), false, 'a deadline proves nothing');
      proxy.heal();
      const client = new EtcdClient({ endpoints: [proxy.endpoint], callTimeout: 5000 });
      try {
        await client.range({ key: Buffer.from('warm') }); // the connection is up
        proxy.delay(300);
        const pending = client.txn({ compare: [], success: [], failure: [] }, { retry: false });
        setTimeout(() => proxy.reset(), 100);
        const dropped = await pending.then(
          () => assert.fail('expected the dropped range to fail'),
          (err: unknown) => (err as Error).cause as grpc.ServiceError,
        );
        assert.equal(dropped.code, grpc.status.UNAVAILABLE);
        assert.equal(neverSent(dropped), false, `a dropped connection proves nothing: ${dropped.details}`);
        assert.match(
          (outcomeUnknown('proclaim', translate(dropped, context('x'))) as Error).message,
          /^proclaim outcome unknown \(it may or may not have been applied\)/,
        );
      } finally {
        client.close();
      }
    } finally {
      await proxy.close();
    }
  });

  test('a retry: false txn whose endpoint has no connection is sent once more, to the next endpoint', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const client = new EtcdClient({ endpoints: [dead, node.endpoint], callTimeout: 2000 });
    try {
      const key = Buffer.from('unsent-once');
      const response = await client.txn(
        { compare: [], success: [{ request_put: { key, value: Buffer.from('v') } }], failure: [] },
        { retry: false },
      );
      assert.equal(response.succeeded, true);
      assert.equal(client.connection.activeEndpoint, node.endpoint);
      assert.equal((await valueOf('unsent-once'))?.version, '1', 'applied once');
    } finally {
      client.close();
    }
    // Two endpoints without a connection: one retry only, then a plain UNAVAILABLE (not applied).
    const both = new EtcdClient({ endpoints: [dead, `127.0.0.1:${await freePort()}`], callTimeout: 2000 });
    try {
      await assert.rejects(
        both.txn({ compare: [], success: [], failure: [] }, { retry: false }),
        (err: Error) => err instanceof BackendUnavailableError && neverSent(err),
      );
    } finally {
      both.close();
    }
  });

  for (const mode of ['client', 'service'] as const) {
    test(`${mode} mode: a guard sent while the active endpoint is down succeeds after one retry`, async () => {
      const dead = `127.0.0.1:${await freePort()}`;
      const { driver, backend } = backendOn([node.endpoint, dead], mode);
      try {
        const session = await backend.session({ ttl: 10 });
        const term = await session.election(`unsent-${mode}`).campaign('a');
        // Calls now go to the endpoint with nothing listening (as after a member died); the
        // session's streams stay on the live one.
        driver.client.connection.failover(0);
        assert.equal(driver.client.connection.activeEndpoint, dead);
        const result = await term.guard((tx) => tx.put(`unsent-guard-${mode}`, 'g'));
        assert.equal(result.committed, true);
        assert.equal(driver.client.connection.activeEndpoint, node.endpoint, 'moved on to the live member');
        assert.equal((await valueOf(`unsent-guard-${mode}`))?.version, '1');
        // proclaim takes the same path.
        driver.client.connection.failover(0);
        await session.election(`unsent-${mode}`).proclaim('b');
        assert.equal(term.value, 'b');
        await session.close();
      } finally {
        await backend.close();
      }
    });

    test(`${mode} mode: a guard and a proclaim that reached etcd before the connection died are "outcome unknown", applied once`, async () => {
      const proxy = await startFaultProxy(node.endpoint);
      const { driver, backend } = backendOn([proxy.endpoint, node.endpoint], mode);
      try {
        const session = await backend.session({ ttl: 10 });
        const election = session.election(`reached-${mode}`);
        const term = await election.campaign('a');
        const key = `reached-guard-${mode}`;

        // The request reaches etcd and is applied; the connection dies before the answer is back.
        const cutAfterApplied = async (pending: Promise<unknown>, applied: () => Promise<boolean>) => {
          await eventually(applied, 5000, 'the write to reach etcd');
          proxy.reset();
          return pending.then(
            () => assert.fail('expected an unknown outcome'),
            (err: unknown) => err,
          );
        };

        proxy.delay(400);
        const guardError = await cutAfterApplied(
          term.guard((tx) => tx.put(key, 'g')),
          async () => (await valueOf(key)) !== undefined,
        );
        assert.ok(guardError instanceof BackendUnavailableError, String(guardError));
        assert.match(guardError.message, /outcome unknown/);
        assert.equal((await valueOf(key))?.version, '1', 'applied once, not resent');

        proxy.delay(0);
        await eventually(
          async () => {
            // The session's streams move back through the proxy or to the other endpoint; wait for a
            // guard to commit so the next step starts from a working connection.
            const r = await term.guard((tx) => tx.get(key)).catch(() => undefined);
            return r?.committed === true;
          },
          10_000,
          'a guard to commit again',
        );

        const entry = await valueOf(term.key);
        assert.ok(entry);
        // The reset moved calls to the direct endpoint: send the next one through the proxy again.
        const connection = driver.client.connection;
        if (connection.activeEndpoint !== proxy.endpoint) connection.failover(1);
        assert.equal(connection.activeEndpoint, proxy.endpoint);
        proxy.delay(400);
        const proclaimError = await cutAfterApplied(election.proclaim('b'), async () => {
          const now = await valueOf(term.key);
          return now !== undefined && now.version !== entry.version;
        });
        assert.ok(proclaimError instanceof BackendUnavailableError, String(proclaimError));
        assert.match(proclaimError.message, /^proclaim outcome unknown/);
        assert.equal(
          BigInt((await valueOf(term.key))!.version),
          BigInt(entry.version) + 1n,
          'proclaim applied once, not resent',
        );
        assert.equal(term.active, true, 'an unknown outcome does not end the term');
        proxy.delay(0);
        await session.close();
      } finally {
        await backend.close();
        await proxy.close();
      }
    });
  }
});
