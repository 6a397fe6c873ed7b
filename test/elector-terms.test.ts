import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { etcd, LeaderElector, ManualClock, memory, type Backend, type Term } from '../src/index.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { eventually, within } from './helpers.js';

// terms() yields every term won, in order, ended ones included; a consumer that falls further
// behind than its buffer learns how many it missed through `skipped`.

/** Ends `count` terms in a row behind the elector's back, each once the elector holds the next. */
async function loseTerms(
  elector: LeaderElector<unknown>,
  count: number,
  deleteKey: (key: string) => Promise<unknown>,
  settle: () => Promise<void>,
): Promise<Term<unknown>[]> {
  const won: Term<unknown>[] = [];
  elector.on('elected', (term) => won.push(term));
  const already = elector.term;
  if (already) won.push(already);
  for (let i = 0; i < count; i++) {
    const term = won.at(-1);
    assert.ok(term, 'a term to end');
    await deleteKey(term.key);
    await eventually(
      async () => {
        await settle();
        return won.length > i + 1 && elector.isLeader();
      },
      10_000,
      `term ${i + 2} to begin`,
    );
  }
  return won;
}

describe('LeaderElector.terms() (memory, virtual time)', () => {
  test('a busy consumer gets every term in order, the ended ones with their end reason', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const elector = new LeaderElector({ backend, election: 'busy', value: 'x', ttl: 5, flapGuard: false });
    const stream = elector.terms();
    const first = (await within(stream.next(), 5000, 'the first term')).value;
    assert.ok(first);
    // The consumer is busy with the first term while three more are won and two of them lost.
    const won = await loseTerms(
      elector,
      3,
      (key) => backend.deleteKey(key),
      () => clock.advance(1),
    );
    assert.equal(won.length, 4);
    const seen: Term<unknown>[] = [first];
    for (let i = 1; i < 4; i++) seen.push((await stream.next()).value as Term<unknown>);
    assert.deepEqual(
      seen.map((t) => t.token),
      won.map((t) => t.token),
      'every term, in the order won',
    );
    for (const ended of seen.slice(0, 3)) {
      assert.equal(ended.active, false);
      assert.equal(ended.ended?.reason, 'key-deleted');
    }
    assert.equal(seen[3]?.active, true, 'the last one is held');
    assert.equal(stream.skipped, 0);
    await elector.stop();
    assert.equal((await stream.next()).done, true);
    await backend.close();
  });

  test('past its buffer the oldest waiting term is dropped and counted in skipped', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const elector = new LeaderElector({ backend, election: 'behind', value: 'x', ttl: 5, flapGuard: false });
    const stream = elector.terms({ buffer: 2 });
    const first = (await within(stream.next(), 5000, 'the first term')).value;
    assert.ok(first);
    const won = await loseTerms(
      elector,
      4,
      (key) => backend.deleteKey(key),
      () => clock.advance(1),
    );
    assert.equal(won.length, 5);
    // Terms 2 to 5 were won while the consumer was away; the buffer kept the last two.
    assert.equal(stream.skipped, 2);
    const next = (await stream.next()).value;
    const last = (await stream.next()).value;
    assert.equal(next?.token, won[3]?.token);
    assert.equal(next?.active, false);
    assert.equal(last?.token, won[4]?.token);
    assert.equal(last?.active, true);
    assert.throws(() => elector.terms({ buffer: 0 }), { code: 'INVALID_ARGUMENT' });
    await elector.stop();
    assert.equal((await stream.next()).done, true);
    await backend.close();
  });

  test('a stream opened while leading starts with the held term; one opened later does not see earlier ones', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const elector = new LeaderElector({ backend, election: 'late', value: 'x', ttl: 5, flapGuard: false });
    const early = elector.terms();
    const held = (await within(early.next(), 5000, 'the first term')).value;
    const late = elector.terms();
    assert.equal((await late.next()).value, held);
    await elector.stop();
    assert.equal((await late.next()).done, true);
    assert.equal((await early.next()).done, true);
    await backend.close();
  });
});

describe('LeaderElector.terms() (etcd)', () => {
  let node: EtcdNode;
  let backend: Backend<unknown>;
  before(async () => {
    node = await startEtcd();
    backend = etcd({ endpoints: [node.endpoint] }) as Backend<unknown>;
  });
  after(async () => {
    await backend?.close();
    await node?.stop();
  });

  test('terms won and lost while the consumer was busy are all yielded, in order', async () => {
    const elector = new LeaderElector({ backend, election: 'busy', value: 'x', ttl: 5, flapGuard: false });
    try {
      const stream = elector.terms();
      const first = (await within(stream.next(), 10_000, 'the first term')).value;
      assert.ok(first);
      const won = await loseTerms(
        elector,
        2,
        (key) => node.etcdctl(['del', key]),
        async () => undefined,
      );
      const seen = [first, (await stream.next()).value, (await stream.next()).value];
      assert.deepEqual(
        seen.map((t) => t?.token),
        won.map((t) => t.token),
      );
      assert.deepEqual(
        seen.map((t) => t?.ended?.reason),
        ['key-deleted', 'key-deleted', undefined],
      );
      assert.equal(stream.skipped, 0);
    } finally {
      await elector.stop();
    }
  });
});
