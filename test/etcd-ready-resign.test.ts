import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Backend, type EtcdTxn } from '../src/index.js';
import { EtcdDriver } from '../src/backends/etcd/driver.js';
import { Connection } from '../src/etcd/connection.js';
import { startEtcd, type EtcdNode, enableAuth, disableAuth } from './fixtures/etcd.js';
import { eventually, sleep } from './helpers.js';

/** A guarded delete of `key` created at `revision`, as resign() sends it. */
function removal(key: string, revision: string) {
  return {
    compare: [
      {
        result: 'EQUAL' as const,
        target: 'CREATE' as const,
        key: Buffer.from(key),
        create_revision: revision,
      },
    ],
    success: [{ request_delete_range: { key: Buffer.from(key) } }],
    failure: [],
  };
}

async function createRevision(node: EtcdNode, key: string, ...flags: string[]): Promise<string> {
  const out = await node.etcdctl([...flags, 'get', key, '-w', 'json']);
  const kv = (JSON.parse(out.stdout) as { kvs?: { create_revision: number }[] }).kvs?.[0];
  assert.ok(kv, `${key} exists`);
  return String(kv.create_revision);
}

const tcpSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

describe('etcd readyResign: the held term’s delete sent ahead but for its message', () => {
  let node: EtcdNode;
  before(async () => {
    node = await startEtcd({ extraArgs: ['--auth-token-ttl=1'] });
  });
  after(() => node.stop());

  test('a prepared call is answered when fired, and does nothing when cancelled', async () => {
    const connection = new Connection({ endpoints: [node.endpoint] });
    try {
      await node.etcdctl(['put', 'ready/a', '1']);
      await node.etcdctl(['put', 'ready/b', '1']);
      const a = connection.prepare(
        '/etcdserverpb.KV/Txn',
        removal('ready/a', await createRevision(node, 'ready/a')),
      );
      const b = connection.prepare(
        '/etcdserverpb.KV/Txn',
        removal('ready/b', await createRevision(node, 'ready/b')),
      );
      assert.ok(a && b);
      assert.deepEqual(connection.preparedStats(), { held: 2, answered: 0 });
      b.cancel();
      const answer = await a.fire(1000);
      assert.equal(answer?.succeeded, true);
      assert.deepEqual(connection.preparedStats(), { held: 0, answered: 1 });
      assert.equal((await node.etcdctl(['get', 'ready/a', '--print-value-only'])).stdout.trim(), '');
      assert.equal((await node.etcdctl(['get', 'ready/b', '--print-value-only'])).stdout.trim(), '1');
      assert.equal(await b.fire(1000), undefined, 'a cancelled call is never sent');
      // Fired twice, the same guarded delete finds the key gone: a second answer, nothing applied.
      const again = connection.prepare('/etcdserverpb.KV/Txn', removal('ready/a', '1'));
      assert.equal((await again?.fire(1000))?.succeeded, false);
    } finally {
      connection.close();
    }
  });

  test('resign() sends the prepared delete; the waiting candidate leads; close() leaves no socket', async () => {
    const before = tcpSockets();
    const driver = new EtcdDriver({ endpoints: [node.endpoint] });
    const backend = new Backend<EtcdTxn>(driver);
    const other = new Backend<EtcdTxn>(
      new EtcdDriver({ endpoints: [node.endpoint] }, 'client', { readyResign: false }),
    );
    try {
      const leader = (await backend.session({ ttl: 5 })).election('ready-handover');
      const waiter = (await other.session({ ttl: 5 })).election('ready-handover');
      const term = await leader.campaign('first');
      const next = waiter.campaign('second');
      await eventually(
        () => driver.client.connection.preparedStats().held === 1,
        2000,
        'the delete to be prepared',
      );
      await leader.resign();
      assert.equal(term.ended?.reason, 'resigned');
      assert.deepEqual(driver.client.connection.preparedStats(), { held: 0, answered: 1 });
      assert.equal((await next).value, 'second');
    } finally {
      await backend.close();
      await other.close();
    }
    await eventually(() => tcpSockets() <= before, 2000, 'every socket of both backends to close');
  });

  test('a term that ends otherwise gives its prepared call up; a broken line falls back to the regular delete', async () => {
    const driver = new EtcdDriver({ endpoints: [node.endpoint] });
    const backend = new Backend<EtcdTxn>(driver);
    try {
      const session = await backend.session({ ttl: 5 });
      const election = session.election('ready-lost');
      const term = await election.campaign('one');
      await eventually(
        () => driver.client.connection.preparedStats().held === 1,
        2000,
        'the delete to be prepared',
      );
      await node.etcdctl(['del', term.key]);
      await eventually(() => term.ended?.reason === 'key-deleted', 2000, 'the term to end');
      await eventually(
        () => driver.client.connection.preparedStats().held === 0,
        2000,
        'the call to be given up',
      );

      // The member restarts under a held term: the prepared line is gone, resign() still deletes.
      const second = await election.campaign('two');
      await eventually(
        () => driver.client.connection.preparedStats().held === 1,
        2000,
        'the delete to be prepared',
      );
      await node.restart();
      await eventually(() => driver.client.connection.preparedStats().held === 0, 5000, 'the line to drop');
      await sleep(100);
      await election.resign();
      assert.equal(second.ended?.reason, 'resigned');
      assert.equal((await node.etcdctl(['get', second.key, '--print-value-only'])).stdout.trim(), '');
      assert.equal(driver.client.connection.preparedStats().answered, 0);
    } finally {
      await backend.close();
    }
  });

  test('forty terms on one session: the first 32 are prepared, and every resign deletes its key', async () => {
    const driver = new EtcdDriver({ endpoints: [node.endpoint] });
    const backend = new Backend<EtcdTxn>(driver);
    const plain = new Backend<EtcdTxn>(
      new EtcdDriver({ endpoints: [node.endpoint] }, 'client', { readyResign: false }),
    );
    try {
      const session = await backend.session({ ttl: 5 });
      const elections = Array.from({ length: 40 }, (_, i) => session.election(`ready-many-${i}`));
      await Promise.all(elections.map((e) => e.campaign('v')));
      await eventually(
        () => driver.client.connection.preparedStats().held === 32,
        2000,
        '32 deletes to be prepared',
      );
      await Promise.all(elections.map((e) => e.resign()));
      assert.deepEqual(driver.client.connection.preparedStats(), { held: 0, answered: 32 });
      const left = await Promise.all(elections.map((_, i) => plain.leader(`ready-many-${i}`)));
      assert.deepEqual(
        left,
        elections.map(() => null),
      );
    } finally {
      await backend.close();
      await plain.close();
    }
  });

  test('with auth on, a prepared call carries the token the connection logged in with', async () => {
    const run = (args: string[], input?: string) => node.etcdctl(args, input === undefined ? {} : { input });
    await enableAuth(node);
    const connection = new Connection({
      endpoints: [node.endpoint],
      auth: { username: 'root', password: 'rootpw' },
    });
    try {
      await run(['--user=root:rootpw', 'put', 'ready/auth', '1']);
      const request = removal('ready/auth', await createRevision(node, 'ready/auth', '--user=root:rootpw'));
      assert.equal(connection.prepare('/etcdserverpb.KV/Txn', request), undefined, 'no token known yet');
      await connection.call('/etcdserverpb.KV/Range', { key: Buffer.from('ready/auth') });
      const call = connection.prepare('/etcdserverpb.KV/Txn', request);
      assert.equal((await call?.fire(1000))?.succeeded, true);
    } finally {
      connection.close();
      await disableAuth(node);
    }
  });
});
