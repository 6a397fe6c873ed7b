/**
 * Campaigns issued together on one etcd client share txns (src/etcd/txn-batch.ts): fewer calls,
 * and each campaign still sees exactly what its own txn would have.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { entryKey } from '../src/backends/etcd/keys.js';
import { BackendUnavailableError, etcd } from '../src/index.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { startFaultProxy } from './fixtures/fault-proxy.js';

/** etcd's own count of Txn calls it has handled. */
async function txnCalls(node: EtcdNode): Promise<number> {
  const text = await (await fetch(`${node.clientUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('grpc_server_handled_total{') && line.includes('grpc_method="Txn"'))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

describe('etcd: campaigns batched into shared txns (real etcd)', () => {
  let node: EtcdNode;
  before(async () => {
    node = await startEtcd();
  });
  after(async () => {
    await node.stop();
  });

  test('200 uncontested campaigns at once all win, in far fewer txns than two each', async () => {
    const backend = etcd({ endpoints: [node.endpoint], env: {} });
    try {
      const session = await backend.session({ ttl: 10 });
      const before = await txnCalls(node);
      const names = Array.from({ length: 200 }, (_, i) => `batch-${process.pid}-${i}`);
      const terms = await Promise.all(names.map((n) => session.election(n).campaign(n)));
      const calls = (await txnCalls(node)) - before;
      assert.equal(terms.filter((t) => t.active).length, 200);
      // Unbatched, each campaign is one join txn and one check txn: 400.
      assert.ok(calls < 100, `${calls} Txn calls for 200 campaigns`);
      for (const [i, n] of names.entries()) {
        const line = await session.election(n).participants();
        assert.deepEqual(
          line.map((p) => p.token),
          [terms[i]?.token],
        );
      }
      await session.close();
    } finally {
      await backend.close();
    }
  });

  test('two sessions joining one election in the same turn get distinct tokens, and one waits', async () => {
    const backend = etcd({ endpoints: [node.endpoint], env: {} });
    try {
      const [a, b] = await Promise.all([backend.session({ ttl: 10 }), backend.session({ ttl: 10 })]);
      const name = `batch-same-${process.pid}`;
      const first = a.election(name).campaign('a');
      const second = b.election(name).campaign('b');
      const winner = await Promise.race([first, second]);
      const line = await a.election(name).participants();
      assert.equal(line.length, 2);
      assert.notEqual(line[0]?.token, line[1]?.token);
      assert.equal(line[0]?.token, winner.token);
      // The other candidate still waits: exactly one term is current.
      assert.equal(a.election(name).isLeader() !== b.election(name).isLeader(), true);
      const loser = winner.value === 'a' ? second : first;
      await (winner.value === 'a' ? a : b).election(name).resign();
      const next = await loser;
      assert.ok(next.token > winner.token);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await backend.close();
    }
  });

  test('a batch etcd never answers fails each of its campaigns as its own call would', async () => {
    const proxy = await startFaultProxy(node.endpoint);
    const backend = etcd({ endpoints: [proxy.endpoint], callTimeout: 500, env: {} });
    try {
      const session = await backend.session({ ttl: 10 });
      proxy.blackhole();
      const names = Array.from({ length: 5 }, (_, i) => `batch-unanswered-${process.pid}-${i}`);
      const outcomes = await Promise.allSettled(names.map((n) => session.election(n).campaign('v')));
      for (const o of outcomes) {
        assert.equal(o.status, 'rejected');
        assert.ok(o.reason instanceof BackendUnavailableError, String(o.reason));
      }
      proxy.heal();
      const term = await session.election(names[0] as string).campaign('v');
      assert.equal(term.active, true);
      await session.close();
    } finally {
      await backend.close();
      await proxy.close();
    }
  });

  test('an entry left over in one election of a batch is resumed; the others join anew', async () => {
    const backend = etcd({ endpoints: [node.endpoint], env: {} });
    try {
      const session = await backend.session({ ttl: 10 });
      const names = ['left', 'b', 'c'].map((n) => `batch-leftover-${process.pid}-${n}`);
      const key = entryKey(names[0] as string, session.id);
      const lease = BigInt(session.id).toString(16);
      const put = await node.etcdctl(['put', key, 'old', `--lease=${lease}`]);
      assert.equal(put.code, 0, put.stderr);
      const got = await node.etcdctl(['get', key, '-w', 'json']);
      const created = BigInt(
        String((JSON.parse(got.stdout) as { kvs: { create_revision: number }[] }).kvs[0]?.create_revision),
      );
      const terms = await Promise.all(names.map((n) => session.election(n).campaign('new')));
      assert.equal(terms[0]?.token, created);
      assert.equal(terms[0]?.value, 'new');
      for (const t of terms.slice(1)) assert.ok(t.active && t.token > created);
      const leader = await session.election(names[0] as string).leader();
      assert.equal(leader?.value, 'new');
      await session.close();
    } finally {
      await backend.close();
    }
  });

  test('an etcd allowing fewer txn ops than a batch still elects every campaign', async () => {
    const small = await startEtcd({ extraArgs: ['--max-txn-ops=8'] });
    const backend = etcd({ endpoints: [small.endpoint], env: {} });
    try {
      const session = await backend.session({ ttl: 10 });
      const names = Array.from({ length: 40 }, (_, i) => `batch-ops-${process.pid}-${i}`);
      const terms = await Promise.all(names.map((n) => session.election(n).campaign('v')));
      assert.equal(terms.filter((t) => t.active).length, 40);
      await session.close();
    } finally {
      await backend.close();
      await small.stop();
    }
  });
});
