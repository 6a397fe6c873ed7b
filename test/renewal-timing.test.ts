import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LeaderElector, ManualClock, memory, type Session } from '../src/index.js';

describe('session renewals on virtual time (memory backend)', () => {
  test('sessions opened together drift apart: intervals jittered, never later than TTL/3', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const sessions = await Promise.all(Array.from({ length: 20 }, () => backend.session({ ttl: 3 })));
    const renewals = new Map<Session, number[]>(sessions.map((s) => [s, []]));
    for (const s of sessions) s.on('renewed', () => renewals.get(s)!.push(clock.now()));
    for (let i = 0; i < 50; i++) await clock.advance(100);

    const intervals: number[] = [];
    for (const times of renewals.values()) {
      assert.ok(times.length >= 4, `every session renewed (${times.length} times in 5 s)`);
      let previous = 0;
      for (const at of times) {
        intervals.push(at - previous);
        previous = at;
      }
    }
    // The clock steps by 100 ms, so a renewal is seen up to 100 ms after its timer was due.
    assert.ok(
      intervals.every((ms) => ms <= 1000 + 100),
      `no interval longer than TTL/3: ${Math.max(...intervals)} ms`,
    );
    // The first renewal comes TTL/3 after opening for all; every later interval is jittered.
    const seconds = new Set([...renewals.values()].map((times) => times[1]));
    assert.ok(seconds.size > 1, `second renewals spread over ${seconds.size} distinct times, not one`);
    const spread = new Set(intervals.map((ms) => Math.round(ms / 100)));
    assert.ok(spread.size > 1, 'renewal intervals vary');
    await Promise.all(sessions.map((s) => s.close()));
    await backend.close();
  });

  test('a term won after renewals stalled begins only once a fresh renewal is acknowledged', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const a = await backend.session({ ttl: 10 });
    const b = await backend.session({ ttl: 10 });
    await a.election('e').campaign('a');
    const pending = b.election('e').campaign('b');
    await clock.advance(1000);

    // b's renewals fail for 6 s (more than TTL/2); a resigns meanwhile, and b hears of it on healing.
    backend.partition(b);
    const cutAt = clock.now();
    await clock.advance(3000);
    await a.election('e').resign();
    await clock.advance(3000);
    assert.ok(b.lastRenewalAt <= cutAt, 'no renewal acknowledged while partitioned');
    const healedAt = clock.now();
    backend.heal(b);
    await clock.advance(1);
    const term = await pending;
    assert.ok(b.lastRenewalAt >= healedAt, 'a renewal was acknowledged after healing');
    assert.ok(
      term.startedAt >= b.lastRenewalAt,
      `the term began (${term.startedAt}) after that renewal (${b.lastRenewalAt}), not on the stale session`,
    );
    assert.equal(term.active, true);
    await b.close();
    await a.close();
    await backend.close();
  });

  test('a failure after a long wait is retried after the initial backoff, not the old streak', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const holder = await backend.session({ ttl: 10 });
    await holder.election('e').campaign('holder');
    const elector = new LeaderElector({
      backend,
      election: 'e',
      value: 'x',
      ttl: 2,
      backoff: { initial: 100, max: 5000 },
    });
    const delays: number[] = [];
    // Only failed campaigns: the leader observer reports its own retries through the same event.
    elector.on('retrying', (err, delay) => {
      if ((err as { code?: string }).code === 'SESSION_LOST') delays.push(delay);
    });
    await clock.advance(1);
    // Cut off repeatedly so the backoff climbs, then let it campaign (wait) for a long time.
    for (let i = 0; i < 6; i++) {
      const session = elector.currentSession;
      if (session) backend.partition(session);
      await clock.advance(2500);
      if (session) backend.heal(session);
      await clock.advance(200);
    }
    await clock.advance(30_000);
    assert.ok(elector.currentSession?.isAlive(), 'waiting behind the holder on a live session');
    const before = delays.length;
    backend.partition(elector.currentSession!);
    await clock.advance(2500);
    const session = elector.currentSession!;
    backend.heal(session);
    await clock.advance(10);
    assert.ok(delays.length > before, 'the lost session was reported as a retry');
    assert.ok(Math.max(...delays.slice(0, before)) > 100, 'the earlier streak had backed off');
    assert.equal(
      delays[before],
      100,
      `a new fault is retried after the initial 100 ms, not ${delays[before]} ms`,
    );
    await elector.stop();
    await holder.close();
    await backend.close();
  });
});
