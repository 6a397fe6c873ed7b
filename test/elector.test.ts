import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FlappingError, LeaderElector, memory, type LeaderChange, type TermEndReason } from '../src/index.js';
import { eventually, within } from './helpers.js';

describe('LeaderElector (memory backend)', () => {
  test('elects, re-campaigns after concede, reports leader changes and stops cleanly', async () => {
    const backend = memory();
    const a = new LeaderElector({ backend, election: 'jobs', value: 'a', ttl: 5 });
    const elected: string[] = [];
    const deposed: TermEndReason[] = [];
    const leaders: LeaderChange[] = [];
    a.on('elected', (t) => elected.push(t.value));
    a.on('deposed', (_t, reason) => deposed.push(reason));
    a.on('leader', (c) => leaders.push(c));
    await eventually(() => a.isLeader(), 5000, 'a to lead');
    const b = new LeaderElector({ backend, election: 'jobs', value: 'b', ttl: 5 });
    await eventually(async () => (await backend.participants('jobs')).length === 2, 5000, 'b to queue');
    assert.equal(b.isLeader(), false);

    await a.concede();
    await eventually(() => b.isLeader(), 5000, 'b to lead after a conceded');
    await eventually(
      async () => (await backend.participants('jobs')).length === 2,
      5000,
      'a to queue again at the back',
    );
    assert.equal((await backend.participants('jobs'))[0]?.value, 'b');
    assert.equal(a.isLeader(), false);
    assert.deepEqual(deposed, ['resigned']);

    await b.stop();
    await eventually(() => a.isLeader(), 5000, 'a to lead again');
    assert.deepEqual(elected, ['a', 'a']);
    await eventually(() => leaders.some((c) => c.value === 'b'), 5000, 'a to observe b');

    await a.stop();
    assert.equal(a.isLeader(), false);
    assert.deepEqual(await backend.participants('jobs'), [], 'nothing left behind');
    await backend.close();
  });

  test('terms() yields each term, and re-campaigns after a lost session', async () => {
    const backend = memory();
    const elector = new LeaderElector({
      backend,
      election: 'svc',
      value: 'x',
      ttl: 2,
      backoff: { initial: 10 },
    });
    const iterator = elector.terms();
    const first = (await within(iterator.next(), 5000, 'first term')).value;
    assert.ok(first);
    // Drop the leader entry behind the elector's back: its term ends and it campaigns again.
    await backend.deleteKey(first.key);
    const second = (await within(iterator.next(), 5000, 'second term')).value;
    assert.ok(second && second.token > first.token);
    assert.equal((first.signal.reason as { reason: string }).reason, 'key-deleted');
    await elector.stop();
    assert.equal((await iterator.next()).done, true);
    await backend.close();
  });

  test('the flap guard stops an elector that keeps losing its terms', async () => {
    const backend = memory();
    const elector = new LeaderElector({
      backend,
      election: 'flappy',
      value: 'x',
      flapGuard: { maxTerms: 3, windowMs: 60_000 },
    });
    const errors: Error[] = [];
    elector.on('error', (e) => errors.push(e));
    elector.on('elected', (term) => void backend.deleteKey(term.key));
    await eventually(() => errors.length === 1, 5000, 'the flap guard to trip');
    assert.ok(errors[0] instanceof FlappingError);
    await elector.stop();
    assert.equal(elector.isLeader(), false);
    assert.deepEqual(await backend.participants('flappy'), []);
    await backend.close();
  });

  test('bad options fail fast with a message that says what to change', () => {
    const backend = memory();
    assert.throws(
      () => new LeaderElector({ backend, election: '', value: 'x' }),
      /election name must be a non-empty string/,
    );
    assert.throws(() => new LeaderElector({ backend, election: 'e', value: 'x'.repeat(2 * 1024 * 1024) }), {
      code: 'INVALID_ARGUMENT',
    });
  });
});
