import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after, before, describe, test } from 'node:test';
import {
  BackendUnavailableError,
  etcd,
  LeaderElector,
  ManualClock,
  memory,
  type Session,
} from '../src/index.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { startFaultProxy } from './fixtures/fault-proxy.js';
import { eventually } from './helpers.js';

/** Records a session's suspended/recovered/lost/renewed events in order, with their arguments. */
function record(session: Session): { log: string[]; left: number[] } {
  const log: string[] = [];
  const left: number[] = [];
  session.on('suspended', (err, ms) => {
    log.push(`suspended:${err instanceof BackendUnavailableError ? 'UNAVAILABLE' : err.name}`);
    left.push(ms);
  });
  session.on('recovered', (ms) => {
    log.push('recovered');
    left.push(ms);
  });
  session.on('lost', (err) => log.push(`lost:${err.why}`));
  return { log, left };
}

describe('session events (memory, virtual time)', () => {
  test('a partition suspends the session, healing recovers it, a longer one loses it', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const session = await backend.session({ ttl: 3 });
    const { log, left } = record(session);
    await clock.advance(1);
    assert.equal(session.suspended, false);

    backend.partition(session);
    await clock.advance(1000); // the renewal due at 1000 ms fails
    assert.deepEqual(log, ['suspended:UNAVAILABLE']);
    assert.equal(session.suspended, true);
    assert.ok(session.renewalFailures >= 1);
    assert.equal(left[0], 2900 - 1000, 'the deadline left when suspended: 3000 - 100 margin - 1000');
    await clock.advance(500); // retries every 250 ms keep failing: still one event
    assert.deepEqual(log, ['suspended:UNAVAILABLE']);

    backend.heal(session);
    await clock.advance(300);
    assert.deepEqual(log, ['suspended:UNAVAILABLE', 'recovered']);
    assert.equal(session.suspended, false);
    assert.equal(session.renewalFailures, 0);
    assert.ok((left[1] ?? 0) > 2000, `recovered with a fresh deadline (${left[1]} ms left)`);
    assert.ok(
      session.lastRenewalAt > 1500 && session.lastRenewalAt <= clock.now(),
      'acknowledged after healing',
    );

    backend.partition(session);
    await clock.advance(5000);
    assert.deepEqual(log, [
      'suspended:UNAVAILABLE',
      'recovered',
      'suspended:UNAVAILABLE',
      'lost:unreachable',
    ]);
    assert.equal(session.suspended, false, 'a lost session is no longer suspended');
    backend.heal(session);
    await backend.close();
  });

  test('an unanswered renewal suspends the session at half the renewal interval', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const session = await backend.session({ ttl: 3 });
    const { log } = record(session);
    // Hang every renewal instead of failing it: only the overdue timer can notice.
    const driver = (backend as unknown as { driver: { liveness: { renew: () => Promise<number> } } }).driver;
    const renew = driver.liveness.renew;
    driver.liveness.renew = () => new Promise<number>(() => undefined);
    await clock.advance(1000);
    assert.deepEqual(log, [], 'sent at 1000 ms, not yet overdue');
    await clock.advance(499);
    assert.deepEqual(log, []);
    await clock.advance(1);
    assert.deepEqual(log, ['suspended:UNAVAILABLE'], 'overdue 500 ms (TTL/6) after it was sent');
    driver.liveness.renew = renew;
    await clock.advance(1000);
    assert.deepEqual(log, ['suspended:UNAVAILABLE', 'recovered']);
    await backend.close();
  });
});

describe('elector events (memory)', () => {
  test('session names each new session; stopped comes once, last, after stop()', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const elector = new LeaderElector({
      backend,
      election: 'ev',
      value: 'a',
      ttl: 2,
      backoff: { initial: 10 },
    });
    const events: string[] = [];
    const sessions: string[] = [];
    elector.on('session', (id) => {
      sessions.push(id);
      events.push('session');
    });
    elector.on('elected', () => events.push('elected'));
    elector.on('deposed', (_t, reason) => events.push(`deposed:${reason}`));
    elector.on('retrying', () => undefined);
    elector.on('stopped', (err) => events.push(`stopped:${err ? err.name : 'none'}`));
    await clock.advance(10);
    assert.equal(elector.isLeader(), true);
    assert.equal(sessions[0], elector.currentSession?.id);

    backend.partition(elector.currentSession!);
    await clock.advance(2500);
    backend.heal(elector.currentSession!);
    await clock.advance(3000);
    await eventually(() => elector.isLeader(), 5000, 'leading again on a new session');
    assert.equal(sessions.length, 2);
    assert.notEqual(sessions[0], sessions[1], 'a new session id after the loss');
    assert.equal(sessions[1], elector.currentSession?.id);

    const stopping = elector.stop();
    await clock.advance(10);
    await stopping;
    await elector.stop();
    assert.deepEqual(events, [
      'session',
      'elected',
      'deposed:unreachable',
      'session',
      'elected',
      'deposed:resigned',
      'stopped:none',
    ]);
    assert.equal(elector.stopped, true);
    await backend.close();
  });

  test('a fatal error ends with error, then stopped carrying it', async () => {
    const backend = memory();
    const elector = new LeaderElector({ backend, election: 'fatal', value: 'a', ttl: 2 });
    const events: string[] = [];
    elector.on('elected', () => events.push('elected'));
    elector.on('deposed', (_t, reason) => events.push(`deposed:${reason}`));
    elector.on('error', (err) => events.push(`error:${(err as { code?: string }).code}`));
    const stopped = new Promise<Error | undefined>((resolve) => elector.once('stopped', resolve));
    elector.on('stopped', () => events.push('stopped'));
    await eventually(() => elector.isLeader(), 5000, 'leading');
    await backend.close(); // closes the session under the elector; the next campaign gets CLOSED
    const error = await stopped;
    assert.equal((error as { code?: string } | undefined)?.code, 'CLOSED');
    assert.deepEqual(events, ['elected', 'deposed:closed', 'error:CLOSED', 'stopped']);
    await elector.stop();
    assert.equal(events.filter((e) => e === 'stopped').length, 1, 'exactly once');
  });
});

describe('elector listeners', () => {
  test('many terms leave no abort listener behind on the elector (no MaxListenersExceededWarning)', async () => {
    const backend = memory();
    const elector = new LeaderElector({ backend, election: 'many', value: 'a', ttl: 2, flapGuard: false });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      let terms = 0;
      elector.on('elected', () => terms++);
      for (let i = 0; i < 15; i++) {
        await eventually(() => elector.isLeader() && terms === i + 1, 5000, `term ${i + 1}`);
        await elector.concede();
      }
      await eventually(() => elector.isLeader(), 5000, 'the last term');
      const stop = (elector as unknown as { stopController: AbortController }).stopController.signal;
      assert.ok(
        getEventListeners(stop, 'abort').length <= 3,
        `${getEventListeners(stop, 'abort').length} listeners`,
      );
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((w) => w === 'MaxListenersExceededWarning'),
        [],
      );
    } finally {
      process.off('warning', onWarning);
      await elector.stop();
      await backend.close();
    }
  });
});

describe('session and elector events (real etcd)', () => {
  let node: EtcdNode;
  before(async () => {
    node = await startEtcd();
  });
  after(async () => {
    await node.stop();
  });

  test('a blackholed connection suspends the session, healing it in time recovers it', async () => {
    const proxy = await startFaultProxy(node.endpoint);
    const backend = etcd({ endpoints: [proxy.endpoint], callTimeout: 1000, env: {} });
    try {
      const session = await backend.session({ ttl: 3 });
      const { log, left } = record(session);
      proxy.blackhole();
      await eventually(() => session.suspended, 5000, 'suspended');
      assert.equal(log[0], 'suspended:UNAVAILABLE');
      assert.ok((left[0] ?? -1) >= 0 && (left[0] ?? 0) < 3000, `deadline left ${left[0]} ms`);
      proxy.heal({ deliverStalled: true });
      await eventually(() => log.includes('recovered'), 5000, 'recovered');
      assert.equal(session.isAlive(), true);
      assert.deepEqual(log.slice(0, 2), ['suspended:UNAVAILABLE', 'recovered']);
      await session.close();
    } finally {
      await backend.close();
      await proxy.close();
    }
  });

  test('the elector reports a new session (lease) after a partition past the TTL, and stops last', async () => {
    const proxy = await startFaultProxy(node.endpoint);
    const backend = etcd({ endpoints: [proxy.endpoint], callTimeout: 1000, env: {} });
    const elector = new LeaderElector({
      backend,
      election: `ev-${process.pid}`,
      value: 'a',
      ttl: 2,
      backoff: { initial: 50, max: 200 },
    });
    const events: string[] = [];
    const sessions: string[] = [];
    elector.on('session', (id) => {
      sessions.push(id);
      events.push('session');
    });
    elector.on('elected', () => events.push('elected'));
    elector.on('deposed', (_t, reason) => events.push(`deposed:${reason}`));
    elector.on('retrying', () => undefined);
    elector.on('leader', () => undefined);
    elector.on('stopped', () => events.push('stopped'));
    try {
      await eventually(() => elector.isLeader(), 10_000, 'leading');
      const first = sessions[0];
      assert.match(first ?? '', /^[0-9]+$/, 'the lease id (decimal)');
      proxy.blackhole();
      await eventually(() => !elector.isLeader(), 10_000, 'deposed at the deadline');
      proxy.heal();
      await eventually(() => elector.isLeader(), 15_000, 'leading again');
      assert.ok(sessions.length >= 2);
      assert.notEqual(sessions.at(-1), first);
      const leases = await node.etcdctl(['lease', 'list']);
      assert.match(
        leases.stdout,
        new RegExp(BigInt(sessions.at(-1) ?? '0').toString(16)),
        'the reported id is a live lease',
      );
      await elector.stop();
      assert.equal(events.at(-1), 'stopped');
      assert.equal(events.filter((e) => e === 'stopped').length, 1);
      assert.equal(events[0], 'session');
      assert.ok(events.includes('deposed:unreachable'), events.join(','));
    } finally {
      await elector.stop();
      await backend.close();
      await proxy.close();
    }
  });
});
