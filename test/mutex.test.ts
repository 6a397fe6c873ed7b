import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { etcd, memory, type Backend, type EtcdMode } from '../src/index.js';
import { entryKeys, startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { eventually, isPending, within } from './helpers.js';

describe('Mutex', () => {
  let node: EtcdNode;
  before(async () => {
    node = await startEtcd();
  });
  after(() => node.stop());

  const backends: [string, () => Backend][] = [
    ['memory', () => memory()],
    ...(['client', 'service'] as EtcdMode[]).map((mode): [string, () => Backend] => [
      `etcd ${mode} mode`,
      () => etcd({ endpoints: [node.endpoint], mode }),
    ]),
  ];

  for (const [label, makeBackend] of backends) {
    test(`${label}: FIFO, tryLock, fencing and loss`, async () => {
      const backend = makeBackend();
      try {
        const [a, b, c] = await Promise.all([0, 1, 2].map(() => backend.session({ ttl: 5 })));
        const name = `lock-${label.replace(/\W/g, '')}`;
        const la = await a!.mutex(name).lock();
        assert.equal(await b!.mutex(name).tryLock(), null, 'tryLock does not wait while held');
        const pb = b!.mutex(name).lock();
        await eventually(async () => (await keys(backend, name)) === 2, 5000, 'b to queue');
        const pc = c!.mutex(name).lock();
        await eventually(async () => (await keys(backend, name)) === 3, 5000, 'c to queue');
        assert.equal((await la.guard((tx) => tx.put(`${name}-data`, 'a'))).committed, true);
        await a!.mutex(name).unlock();
        assert.equal(la.active, false);
        const lb = await within(pb, 5000, 'b to get the lock');
        assert.ok(await isPending(pc), 'c still waits behind b');
        assert.ok(lb.token > la.token);
        await assert.rejects(
          la.guard((tx) => tx.put(`${name}-data`, 'stale')),
          { code: 'NOT_LEADER' },
        );
        assert.equal(b!.mutex(name).isLocked(), true);
        await b!.mutex(name).unlock();
        const lc = await within(pc, 5000, 'c to get the lock');
        await c!.close();
        assert.equal(lc.active, false, 'closing the session releases the lock and ends it');
        assert.equal(await keys(backend, name), 0);
      } finally {
        await backend.close();
      }
    });
  }

  test('a ballot mutex and `etcdctl lock` exclude each other', async () => {
    const backend = etcd({ endpoints: [node.endpoint] });
    try {
      const session = await backend.session({ ttl: 5 });
      const held = await session.mutex('shared-lock').lock();
      const child = spawn(
        'etcdctl',
        [`--endpoints=${node.endpoint}`, 'lock', 'shared-lock', 'echo', 'got-it'],
        {
          env: { ...process.env, ETCDCTL_API: '3' },
        },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      await eventually(
        async () => (await entryKeys(node, 'shared-lock')).length === 2,
        10_000,
        'etcdctl to queue',
      );
      assert.equal(out, '', 'etcdctl waits while ballot holds the lock');
      await session.mutex('shared-lock').unlock();
      assert.equal(await within(exited, 10_000, 'etcdctl lock to run'), 0);
      assert.match(out, /got-it/);
      assert.equal(held.active, false);
    } finally {
      await backend.close();
    }
  });
});

async function keys(backend: Backend, name: string): Promise<number> {
  return (await backend.participants(name)).length;
}
