import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { etcd, type Backend, type EtcdMode, type LeaderChange } from '../src/index.js';
import { entryKeys, startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { eventually, isPending, within } from './helpers.js';

/** `etcdctl elect` (Go's concurrency.Election) as a long-running process whose stdout we read. */
function etcdctlElect(
  endpoint: string,
  args: string[],
): { child: ChildProcessWithoutNullStreams; out: () => string } {
  const child = spawn('etcdctl', [`--endpoints=${endpoint}`, 'elect', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', () => undefined);
  return { child, out: () => out };
}

function exited(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('interop with etcdctl elect (Go concurrency.Election)', () => {
  let node: EtcdNode;
  let backend: Backend;
  const children: ChildProcessWithoutNullStreams[] = [];

  before(async () => {
    node = await startEtcd();
    backend = etcd({ endpoints: [node.endpoint] });
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await backend.close();
    await node.stop();
  });

  test('ballot observes an etcdctl leader, queues behind it and takes over when it is interrupted', async () => {
    const name = 'interop-a';
    const go = etcdctlElect(node.endpoint, [name, 'from-etcdctl']);
    children.push(go.child);
    await eventually(() => go.out().includes('from-etcdctl'), 10_000, 'etcdctl to be elected');

    const session = await backend.session({ ttl: 5 });
    const election = session.election(name);
    const leader = await election.leader();
    assert.equal(leader?.value, 'from-etcdctl');
    assert.equal(leader?.key, go.out().split('\n')[0], 'same key as etcdctl printed');

    const seen: LeaderChange[] = [];
    const controller = new AbortController();
    const observing = (async () => {
      for await (const change of election.observe({ signal: controller.signal })) seen.push(change);
    })();
    const campaign = election.campaign('from-ballot');
    await eventually(async () => (await entryKeys(node, name)).length === 2, 10_000, 'ballot to queue');
    go.child.kill('SIGINT');
    const term = await within(campaign, 10_000, 'ballot to take over');
    assert.ok(term.token > (leader?.token ?? 0n));
    await eventually(() => seen.some((c) => c.value === 'from-ballot'), 5000, 'observer to see ballot');
    assert.equal(seen[0]?.value, 'from-etcdctl');
    controller.abort();
    await observing;
    await session.close();
    await exited(go.child);
  });

  test('etcdctl elect -l sees ballot as leader and its proclaimed value', async () => {
    const name = 'interop-b';
    const session = await backend.session({ ttl: 5 });
    const election = session.election(name);
    const term = await election.campaign('ballot-v1');
    const listener = etcdctlElect(node.endpoint, ['-l', name]);
    children.push(listener.child);
    await eventually(() => listener.out().includes('ballot-v1'), 10_000, 'etcdctl -l to see ballot');
    assert.ok(listener.out().includes(term.key), 'etcdctl reports ballot’s key');
    await election.proclaim('ballot-v2');
    await eventually(() => listener.out().includes('ballot-v2'), 10_000, 'etcdctl -l to see the proclaim');
    listener.child.kill('SIGINT');
    await exited(listener.child);
    await session.close();
  });

  test('etcdctl elect -l reads an advertising leader as one line, value first; ballot parses it back', async () => {
    const name = 'interop-advertise';
    const session = await backend.session({ ttl: 5 });
    const election = session.election(name);
    await election.campaign('node-1', { advertise: { http: 'http://127.0.0.1:8081' }, priority: 2 });
    const listener = etcdctlElect(node.endpoint, ['-l', name]);
    children.push(listener.child);
    const line = 'node-1 ballot/v1{"advertise":{"http":"http://127.0.0.1:8081"},"priority":2}';
    await eventually(() => listener.out().includes(line), 10_000, 'etcdctl -l to print the stored line');
    const leader = await election.leader();
    assert.equal(leader?.value, 'node-1');
    assert.deepEqual(leader?.advertise, { http: 'http://127.0.0.1:8081' });
    assert.equal(leader?.priority, 2);
    await election.proclaim('node-1b');
    await eventually(
      () => listener.out().includes(line.replace('node-1', 'node-1b')),
      10_000,
      'the proclaim to keep the advertised address',
    );
    listener.child.kill('SIGINT');
    await exited(listener.child);
    await session.close();
  });

  test('an etcdctl candidate queued behind ballot takes over when ballot resigns', async () => {
    const name = 'interop-c';
    const session = await backend.session({ ttl: 5 });
    const election = session.election(name);
    await election.campaign('ballot');
    const go = etcdctlElect(node.endpoint, [name, 'go-next']);
    children.push(go.child);
    await eventually(async () => (await entryKeys(node, name)).length === 2, 10_000, 'etcdctl to queue');
    assert.equal(go.out(), '', 'etcdctl waits while ballot leads');
    await election.resign();
    await eventually(() => go.out().includes('go-next'), 10_000, 'etcdctl to be elected');
    assert.equal((await election.leader())?.value, 'go-next');
    go.child.kill('SIGINT');
    await exited(go.child);
    await session.close();
  });
  test('a ballot mutex and `etcdctl lock` exclude each other', async () => {
    const session = await backend.session({ ttl: 5 });
    const held = await session.mutex('shared-lock').lock();
    const child = spawn(
      'etcdctl',
      [`--endpoints=${node.endpoint}`, 'lock', 'shared-lock', 'echo', 'got-it'],
      {
        env: { ...process.env, ETCDCTL_API: '3' },
      },
    );
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const done = exited(child);
    await eventually(
      async () => (await entryKeys(node, 'shared-lock')).length === 2,
      10_000,
      'etcdctl to queue',
    );
    assert.equal(out, '', 'etcdctl waits while ballot holds the lock');
    await session.mutex('shared-lock').unlock();
    assert.equal(await within(done, 10_000, 'etcdctl lock to run'), 0);
    assert.match(out, /got-it/);
    assert.equal(held.active, false);
    await session.close();
  });

  for (const mode of ['client', 'service'] as EtcdMode[]) {
    test(`${mode} mode: an entry deleted with \`etcdctl del\` ends the term with "key-deleted"`, async () => {
      const name = `interop-del-${mode}`;
      const moded = etcd({ endpoints: [node.endpoint], mode });
      try {
        const [a, b] = await Promise.all([moded.session({ ttl: 5 }), moded.session({ ttl: 5 })]);
        const ta = await a.election(name).campaign('a');
        const pb = b.election(name).campaign('b');
        await eventually(async () => (await entryKeys(node, name)).length === 2, 10_000, 'b to queue');
        assert.ok(await isPending(pb), 'b waits behind a');
        await node.etcdctl(['del', ta.key]);
        const ended = await within(ta.whenEnded(), 5000, "a's term to end");
        assert.equal(ended.reason, 'key-deleted');
        const tb = await within(pb, 5000, 'b to lead');
        assert.ok(tb.token > ta.token);
        assert.deepEqual(await entryKeys(node, name), [tb.key]);
        await b.election(name).resign();
      } finally {
        await moded.close();
      }
    });
  }
});
