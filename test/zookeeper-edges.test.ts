import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { zookeeper } from '../src/index.js';
import type { ZkContext } from '../src/backends/zookeeper/context.js';
import { ZkEntries } from '../src/backends/zookeeper/entries.js';
import { ZkView } from '../src/backends/zookeeper/view.js';
import { ZkConnection } from '../src/zookeeper/connection.js';
import { ZkTimeoutError } from '../src/zookeeper/errors.js';
import { startFaultProxy, type FaultProxy } from './fixtures/fault-proxy.js';
import { startZookeeper, type ZookeeperServer } from './fixtures/zookeeper.js';
import { eventually, sleep, within } from './helpers.js';

/** Generous bounds on waits, never targets. */
const WITHIN = 10_000;

/**
 * Defects found reviewing the ZooKeeper backend, each shown against a real server. Some drive
 * the entry recipe (ZkEntries) on a real connection whose replies are made to go missing, which
 * is how a lost reply looks to the client; the server's state is always real.
 */
describe('zookeeper edges', () => {
  let server: ZookeeperServer;
  const opened: { close(): unknown }[] = [];

  before(async () => {
    server = await startZookeeper();
  });
  after(async () => {
    for (const o of opened.reverse()) await o.close();
    await server.stop();
  });

  async function admin(): Promise<ZkConnection> {
    const conn = await ZkConnection.open(server.connect, 10_000, 5000);
    opened.push(conn);
    return conn;
  }

  function backend() {
    const b = zookeeper({ connect: server.connect, env: {} });
    opened.push(b);
    return b;
  }

  /** An entry recipe on `conn` for `path`, as the driver builds one. */
  function recipe(conn: ZkConnection, path: string) {
    const ctx: ZkContext = {
      where: server.connect,
      reader: () => Promise.resolve(conn),
      keySpaces: { add: () => undefined, check: () => undefined },
      observers: new Map(),
      probes: new Map(),
    };
    return new ZkEntries(ctx, new ZkView(ctx, path, 'latch'), conn, 'latch');
  }

  test('a leader whose node changes and is deleted in one multi loses its term', async () => {
    const session = await backend().session({ ttl: 10 });
    const term = await session.election('/edges/rearm').campaign('a');
    // The data change fires the term's watch; the deletion lands before it is set again.
    const outcome = await (
      await admin()
    ).multi([
      { op: 'setData', path: term.key, data: Buffer.from('b'), version: -1 },
      { op: 'remove', path: term.key, version: -1 },
    ]);
    assert.deepEqual(outcome, { ok: true });
    const ended = await within(term.whenEnded(), WITHIN, 'the term to end after its node was deleted');
    assert.equal(ended.reason, 'key-deleted');
    await session.close();
  });

  test('a create whose reply is lost, then a lookup without reply: one node of the session, not two', async () => {
    const path = '/edges/lost-create';
    const conn = await admin();
    const create = conn.create.bind(conn);
    const getChildren = conn.getChildren.bind(conn);
    let loseCreate = true;
    let loseLookup = false;
    conn.create = async (p, data, mode) => {
      const made = await create(p, data, mode);
      if (!loseCreate) return made;
      // Applied on the server, but the reply never came.
      loseCreate = false;
      loseLookup = true;
      throw new ZkTimeoutError(server.connect, 5000);
    };
    conn.getChildren = (p, watch) => {
      if (!loseLookup) return getChildren(p, watch);
      loseLookup = false;
      return Promise.reject(new ZkTimeoutError(server.connect, 5000));
    };
    const entries = recipe(conn, path);
    const c = await entries.join('a');
    const mine = (await getChildren(path)) ?? [];
    assert.equal(mine.length, 1, `one node of this session, got ${mine.join(', ')}`);
    assert.equal(`${path}/${mine[0]}`, c.key);
    // Alone in the election, it leads at once (with two nodes it would wait on its own first one).
    const won = await entries.lead(c, AbortSignal.timeout(WITHIN), () => undefined);
    won.unwatch();
  });

  test('tryLead: a deletion whose event comes with the line read ends the term', async () => {
    const path = '/edges/try-missed';
    const conn = await admin();
    const other = await admin();
    const entries = recipe(conn, path);
    const c = await entries.join('a');
    const getChildren = conn.getChildren.bind(conn);
    conn.getChildren = async (p, watch) => {
      const children = await getChildren(p, watch);
      // The node goes right after the server answered the read; its event arrives before the
      // caller resumes (it can come in the same TCP read as the reply).
      const before = conn.onEvent;
      const event = new Promise<void>((resolve) => (conn.onEvent = () => resolve()));
      await other.remove(c.key);
      await within(event, WITHIN, 'the deletion event');
      conn.onEvent = before;
      return children;
    };
    let gone = false;
    const won = await entries.tryLead(c, () => (gone = true));
    assert.ok(won, 'it was alone in line when it read');
    await eventually(() => gone, WITHIN, 'onGone for the deleted node');
    won.unwatch();
  });

  test('a backend on a chroot that does not exist: get() fails naming the chroot', async () => {
    const chroot = `/nope-edges-${process.pid}`;
    const b = zookeeper({ connect: `${server.connect}${chroot}`, env: {} });
    opened.push(b);
    await assert.rejects(b.get('k'), {
      code: 'BACKEND',
      message: new RegExp(`the chroot "${chroot}" does not exist`),
    });
  });

  test('a waiter woken many times keeps one watch on the node ahead (no listener leak)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => {
      if (w.name === 'MaxListenersExceededWarning') warnings.push(w.message);
    };
    process.on('warning', onWarning);
    try {
      const b = backend();
      const leading = (await b.session({ ttl: 10 })).election('/edges/listeners');
      await leading.campaign('a');
      const waiting = await b.session({ ttl: 10 });
      const campaign = waiting.election('/edges/listeners').campaign('b');
      campaign.catch(() => undefined); // awaited below; closing after a failed check rejects it
      let key: string | undefined;
      await eventually(
        async () => ((key = (await b.participants('/edges/listeners'))[1]?.key), key !== undefined),
        WITHIN,
        'the second candidate in line',
      );
      // Each change of its own node wakes the waiter, which reads the line and the node ahead again.
      const conn = await admin();
      for (let i = 0; i < 15; i++) {
        assert.ok(await conn.setData(key!, Buffer.from(`b${i}`)));
        await sleep(30);
      }
      await sleep(300);
      assert.deepEqual(warnings, []);
      await leading.resign();
      await within(campaign, WITHIN, 'the waiter to lead');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('zookeeper edges: the reader session expires', () => {
  let server: ZookeeperServer;
  let proxy: FaultProxy;

  before(async () => {
    // The reader asks for 30 s; this server grants at most 2 s, so a short partition expires it.
    server = await startZookeeper({ maxSessionTimeout: 2000 });
    proxy = await startFaultProxy(server.connect);
  });
  after(async () => {
    await proxy.close();
    await server.stop();
  });

  test('an observer follows leader changes again after its reader session expired', async () => {
    const name = '/edges/reader-expiry';
    const observer = zookeeper({ connect: proxy.endpoint, callTimeout: 500, env: {} });
    const direct = zookeeper({ connect: server.connect, env: {} });
    const stop = new AbortController();
    const seen: string[] = [];
    try {
      const s1 = await direct.session({ ttl: 2 });
      await s1.election(name).campaign('one');
      const watching = (async () => {
        for await (const change of observer.observe(name, { signal: stop.signal }))
          seen.push(change.kind === 'leader' ? change.value : change.kind);
      })();
      await eventually(() => seen.includes('one'), WITHIN, 'the observer to see "one"');
      proxy.blackhole();
      // Past the reader's session timeout: the server expires it.
      await sleep(4000);
      proxy.heal();
      await eventually(
        () => seen.includes('unknown') && seen.lastIndexOf('one') > seen.indexOf('unknown'),
        WITHIN,
        `the observer to see "one" again after the partition (saw ${seen.join(', ')})`,
      );
      // A change after contact is back must reach the observer through its stream.
      const s2 = await direct.session({ ttl: 2 });
      const pending = s2.election(name).campaign('two');
      await s1.election(name).resign();
      await within(pending, WITHIN, '"two" to lead');
      await eventually(
        () => seen.at(-1) === 'two',
        WITHIN,
        `the observer to see "two" (saw ${seen.join(', ')})`,
      );
      stop.abort();
      await watching;
    } finally {
      stop.abort();
      await observer.close();
      await direct.close();
    }
  });

  test('reads racing to replace an expired reader open one connection, and close() ends it', async () => {
    const b = zookeeper({ connect: proxy.endpoint, callTimeout: 500, env: {} });
    try {
      await b.leader('/edges/reader-race');
      proxy.blackhole();
      await sleep(4000);
      proxy.heal();
      // The client reconnects at once and hears that its session expired.
      await sleep(1000);
      const reads = await Promise.allSettled([1, 2, 3, 4].map(() => b.leader('/edges/reader-race')));
      assert.ok(
        reads.some((r) => r.status === 'fulfilled'),
        'a read went through on a new reader',
      );
    } finally {
      await b.close();
    }
    await eventually(
      async () => !(await server.fourLetter('cons')).includes('sid='),
      WITHIN,
      'no session of the closed backend left on the server',
    );
  });
});

describe('zookeeper edges: close()', () => {
  let server: ZookeeperServer;

  before(async () => {
    server = await startZookeeper();
  });
  after(async () => {
    await server.stop();
  });

  /** Sessions the server holds a connection for (the four-letter word's own has none). */
  async function sessionsOnServer(): Promise<string[]> {
    return (await server.fourLetter('cons')).split('\n').filter((line) => line.includes('sid='));
  }

  test('a session opening while the backend closes is refused and leaves no connection', async () => {
    const b = zookeeper({ connect: server.connect, env: {} });
    await b.leader('/edges/close'); // the reader is open: the session's own connect is what is in flight
    const opening = b.session({ ttl: 5 });
    await b.close();
    await assert.rejects(opening, { code: 'CLOSED' });
    await eventually(
      async () => (await sessionsOnServer()).length === 0,
      WITHIN,
      'no session left on the server',
    );
  });

  test('a connect that times out on a paused server does not crash the process when it wakes', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    const b = zookeeper({ connect: server.connect, callTimeout: 500, env: {} });
    try {
      await server.pause();
      // The kernel accepts the connection; the handshake gets no reply within the call timeout.
      await assert.rejects(b.session({ ttl: 5 }), { code: 'UNAVAILABLE' });
      server.resume();
      // The server now answers the abandoned handshake; the reply must not be read as anything else.
      await sleep(2500);
      assert.deepEqual(uncaught.map(String), []);
    } finally {
      server.resume();
      process.off('uncaughtException', onUncaught);
      await b.close();
    }
  });

  test('a session closed while its connection reconnects does not crash the process', async () => {
    const proxy = await startFaultProxy(server.connect);
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    const b = zookeeper({ connect: proxy.endpoint, callTimeout: 1000, env: {} });
    try {
      // A new session: its connection has sent no request of its own yet.
      const session = await b.session({ ttl: 10 });
      await server.pause();
      proxy.reset();
      // The client reconnects; the server, paused, has not answered the handshake.
      await sleep(500);
      await session.close();
      server.resume();
      await sleep(2500);
      assert.deepEqual(uncaught.map(String), []);
    } finally {
      server.resume();
      process.off('uncaughtException', onUncaught);
      await b.close();
      await proxy.close();
    }
  });

  test('a read on a closed backend fails CLOSED, as on the other backends', async () => {
    const b = zookeeper({ connect: server.connect, env: {} });
    await b.leader('/edges/close');
    await b.close();
    await assert.rejects(b.get('k'), { code: 'CLOSED' });
  });
});
