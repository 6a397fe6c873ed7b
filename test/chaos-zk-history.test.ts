/**
 * The chaos lab's ZooKeeper history (test/chaos/zk-store.ts, zk-txnlog.ts) read from a real
 * server's transaction log: candidate nodes appear with their czxid (the token), guarded writes
 * with the zxid that committed them, and a closed session's nodes go with it. The chaos checker
 * judges fencing on this history, so it must hold what happened, in order.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { zookeeper, type ZkTxn } from '../src/index.js';
import { startZookeeper, type ZookeeperServer } from './fixtures/zookeeper.js';
import { ZkHistory, ZkProbe } from './chaos/zk-store.js';
import { TxnLogs } from './chaos/zk-txnlog.js';

let server: ZookeeperServer;
before(async () => {
  server = await startZookeeper();
});
after(async () => {
  await server.stop();
});

test('the history from the transaction log holds the terms, the writes and the session closes, in zxid order', async () => {
  const root = `/chaos/selftest-${process.pid}`;
  const election = `${root}/e`;
  const writeDir = `${root}/w`;
  const probe = new ZkProbe(server.connect);
  const backend = zookeeper({ connect: server.connect, env: {} });
  try {
    await probe.prepare(writeDir);
    const first = await backend.session({ ttl: 4 });
    const second = await backend.session({ ttl: 4 });
    const term1 = await first.election(election).campaign('one');
    const write = (tx: ZkTxn, t: bigint, s: number): void => {
      tx.create(`${writeDir}/${t}-c-${s}`, JSON.stringify({ t: t.toString(), c: 'c', s }));
    };
    assert.equal((await term1.guard((tx) => write(tx, term1.token, 0))).committed, true);
    const waiting = second.election(election).campaign('two');
    for (let i = 0; (await probe.line(election)).length < 2; i++) {
      assert.ok(i < 200, 'precondition: the second candidate joins the line');
      await new Promise((r) => setTimeout(r, 10));
    }
    await first.election(election).resign();
    const term2 = await waiting;
    assert.equal((await term2.guard((tx) => write(tx, term2.token, 1))).committed, true);
    // Closing the session deletes its node: the log has a closeSession, not a delete.
    await second.close();
    assert.deepEqual(await probe.line(election), [], 'precondition: the line is empty');

    const history = new ZkHistory(new TxnLogs([join(server.dir, 'data')]), election, writeDir);
    let events = history.events;
    for (let i = 0; i < 50 && events.length < 6; i++) {
      await history.sync();
      events = history.events;
      await new Promise((r) => setTimeout(r, 20));
    }
    const summary = events.map((e) => {
      const what = e.key === writeDir ? `write ${JSON.parse(e.value).t}` : `${e.type} ${e.createRevision}`;
      return `${e.modRevision}: ${what}`;
    });
    const expected = [
      `${term1.token}: PUT ${term1.token}`,
      `write ${term1.token}`,
      `${term2.token}: PUT ${term2.token}`,
      `DELETE ${term1.token}`,
      `write ${term2.token}`,
      `DELETE ${term2.token}`,
    ];
    assert.equal(summary.length, expected.length, `events: ${summary.join('; ')}`);
    summary.forEach((line, i) =>
      assert.ok(line.endsWith(expected[i]!), `event ${i}: ${line}, expected ${expected[i]}`),
    );
    // Strictly increasing zxids: the order the checker replays is the order ZooKeeper committed.
    for (let i = 1; i < events.length; i++)
      assert.ok(events[i]!.modRevision > events[i - 1]!.modRevision, `zxids in order: ${summary.join('; ')}`);
    assert.deepEqual(
      [...(await probe.readWrites(writeDir))].sort(),
      [`${term1.token}/c/0`, `${term2.token}/c/1`].sort(),
      'every write is readable back with its token',
    );
    await first.close();
  } finally {
    await probe.removeTree(root).catch(() => undefined);
    await backend.close();
    await probe.close();
  }
});
