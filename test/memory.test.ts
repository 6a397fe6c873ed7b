import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { etcd, ManualClock, memory, TermEndedError } from '../src/index.js';

describe('memory backend on virtual time', () => {
  test('TTL expiry, deadlines and handover run on a ManualClock, deterministically', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const a = await backend.session({ ttl: 10 });
    const b = await backend.session({ ttl: 10 });
    const ta = await a.election('e').campaign('a');
    const pb = b.election('e').campaign('b');
    await clock.advance(1);
    assert.equal(a.deadline, 10_000 - 100, 'deadline = sendTime + TTL - margin');

    await clock.advance(60_000);
    assert.equal(ta.active, true, 'keepalives hold the term while connected');

    // Renewals are jittered: cut right after one, so that the deadline is a whole TTL away.
    const renewed = a.lastRenewalAt;
    while (a.lastRenewalAt === renewed) await clock.advance(1);
    backend.partition(a);
    const cut = clock.now();
    await clock.advance(9_000);
    assert.equal(ta.active, true, 'still within the deadline');
    await clock.advance(1_000);
    assert.equal(ta.active, false, 'ended at the deadline, before the server expires the lease');
    assert.equal((ta.signal.reason as TermEndedError).reason, 'unreachable');
    assert.ok(ta.ended!.at <= cut + 10_000);

    await clock.advance(1_000);
    const tb = await pb;
    assert.ok(ta.ended!.at < tb.startedAt, 'no overlap');
    assert.ok(tb.token > ta.token);
    backend.heal(a);
    await backend.close();
  });
});

describe('input validation', () => {
  test('bad TTLs, names and endpoints are rejected with clear messages', async () => {
    const backend = memory();
    await assert.rejects(backend.session({ ttl: 0 }), /ttl must be a whole number of seconds from 1/);
    await assert.rejects(backend.session({ ttl: 1.5 }), { code: 'INVALID_ARGUMENT' });
    const session = await backend.session({ ttl: 5 });
    assert.throws(() => session.election('jobs/'), /must not end with "\/"/);
    await assert.rejects(session.election('ok').proclaim('v'), { code: 'NOT_LEADER' });
    await backend.close();
    assert.throws(() => etcd({ endpoints: [] }), /at least one endpoint/);
    assert.throws(() => etcd({ endpoints: ['no-port'] }), /use "host:port"/);
  });

  test('an unreachable etcd fails within the dial timeout and names the endpoints', async () => {
    const backend = etcd({ endpoints: ['127.0.0.1:1'], dialTimeout: 500 });
    const started = Date.now();
    await assert.rejects(backend.session({ ttl: 5 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'UNAVAILABLE');
      assert.match(err.message, /127\.0\.0\.1:1/);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
    await backend.close();
  });
});

describe('session-less reads', () => {
  test('backend.leader() and backend.observe() read an election without creating a lease', async () => {
    const backend = memory();
    assert.equal(await backend.leader('reads'), null);
    const controller = new AbortController();
    const seen: (string | null)[] = [];
    const observing = (async () => {
      for await (const change of backend.observe('reads', { signal: controller.signal }))
        seen.push(change.value);
    })();
    const session = await backend.session({ ttl: 5 });
    await session.election('reads').campaign('v');
    assert.equal((await backend.leader('reads'))?.value, 'v');
    await session.close();
    for (let i = 0; i < 50 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    await observing;
    assert.deepEqual(seen, [null, 'v', null]);
    await backend.close();
  });
});
