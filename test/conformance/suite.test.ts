import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CampaignCancelledError,
  InvalidArgumentError,
  NotLeaderError,
  TermEndedError,
  type LeaderChange,
  type Term,
} from '../../src/index.js';
import { eventually, isPending, sleep, within } from '../helpers.js';
import { backends } from './backends.js';
import type { Candidate } from './harness.js';

for (const makeHarness of backends) {
  const harness = makeHarness();
  describe(`conformance: ${harness.name}`, () => {
    const open: Candidate[] = [];
    let n = 0;
    const fresh = () => `conf-${harness.name}-${process.pid}-${++n}`;
    /** An election's entry keys, the leader's first: read through the public API, as an operator would. */
    const entries = async (name: string) =>
      (await harness.sharedBackend().participants(name)).map((p) => p.key);
    const candidate = async (ttl = 5) => {
      const c = await harness.candidate(ttl);
      open.push(c);
      return c;
    };

    /** Candidates a, b, c in line for `name`, joined in that order: a leads, b and c wait. */
    const lineOfThree = async (name: string) => {
      const [a, b, c] = await Promise.all([candidate(), candidate(), candidate()]);
      const ta = await a!.election(name).campaign('a');
      const pb = b!.election(name).campaign('b');
      await eventually(async () => (await entries(name)).length === 2, 5000, 'b to join');
      const pc = c!.election(name).campaign('c');
      await eventually(async () => (await entries(name)).length === 3, 5000, 'c to join');
      return { a: a!, b: b!, c: c!, ta, pb, pc };
    };

    before(() => harness.setup());
    after(async () => {
      await Promise.all(open.map((c) => c.close()));
      await harness.teardown();
    });

    test('candidates lead in the order they joined (FIFO)', async () => {
      const name = fresh();
      const { a, b, c, ta, pb, pc } = await lineOfThree(name);
      assert.equal(ta.value, 'a');
      await a!.election(name).resign();
      const tb = await within(pb, 5000, 'b to lead');
      assert.ok(await isPending(pc), 'c must still wait behind b');
      await b!.election(name).resign();
      const tc = await within(pc, 5000, 'c to lead');
      assert.ok(ta.token < tb.token && tb.token < tc.token, 'tokens strictly increase');
      await c!.election(name).resign();
      assert.deepEqual(await entries(name), []);
    });

    test('mutex: FIFO, tryLock, fencing and loss', async () => {
      const name = fresh();
      const [a, b, c] = await Promise.all([candidate(), candidate(), candidate()]);
      const la = await a!.session.mutex(name).lock();
      assert.equal(await b!.session.mutex(name).tryLock(), null, 'tryLock does not wait while held');
      const pb = b!.session.mutex(name).lock();
      await eventually(async () => (await entries(name)).length === 2, 5000, 'b to queue');
      const pc = c!.session.mutex(name).lock();
      await eventually(async () => (await entries(name)).length === 3, 5000, 'c to queue');
      assert.equal((await la.guard((tx) => tx.put(`${name}-data`, 'a'))).committed, true);
      await a!.session.mutex(name).unlock();
      assert.equal(la.active, false);
      const lb = await within(pb, 5000, 'b to get the lock');
      assert.ok(await isPending(pc), 'c still waits behind b');
      assert.ok(lb.token > la.token);
      await assert.rejects(
        la.guard((tx) => tx.put(`${name}-data`, 'stale')),
        { code: 'NOT_LEADER' },
      );
      assert.equal(b!.session.mutex(name).isLocked(), true);
      await b!.session.mutex(name).unlock();
      const lc = await within(pc, 5000, 'c to get the lock');
      await c!.session.close();
      assert.equal(lc.active, false, 'closing the session releases the lock and ends it');
      assert.deepEqual(await entries(name), []);
    });

    test('an election and a mutex of the same name on one session are refused, not merged', async () => {
      const name = fresh();
      const a = await candidate();
      const term = await a.session.election(name).campaign('v');
      // They would share this session's one entry: the lock would return the election's term,
      // blank its value, and unlock() would end it.
      assert.throws(
        () => a.session.mutex(name),
        (err: Error) =>
          err instanceof InvalidArgumentError &&
          err.message.startsWith(`"${name}" is already used as an election on this session; a mutex`),
      );
      assert.equal(term.active, true, 'the election term is untouched');
      assert.equal((await a.session.election(name).leader())?.value, 'v', 'its value is untouched');
      const other = fresh();
      await a.session.mutex(other).lock();
      assert.throws(() => a.session.election(other), InvalidArgumentError);
      await a.session.mutex(other).unlock();
      await a.session.election(name).resign();
    });

    test('resign hands over, and the old term ends before the new one begins', async () => {
      const name = fresh();
      const [a, b] = await Promise.all([candidate(), candidate()]);
      const ta = await a!.election(name).campaign('a');
      const pb = b!.election(name).campaign('b');
      await eventually(async () => (await entries(name)).length === 2, 5000, 'b to join');
      await a!.election(name).resign();
      assert.equal(ta.active, false);
      assert.equal((ta.signal.reason as TermEndedError).reason, 'resigned');
      const tb = await within(pb, 5000, 'b to lead');
      assert.ok(ta.ended!.at <= tb.startedAt, 'no overlap');
      assert.equal(b!.election(name).isLeader(), true);
      assert.equal(a!.election(name).isLeader(), false);
      await b!.election(name).resign();
    });

    test('a crashed leader (no revoke) is replaced after its TTL, and knew first', async () => {
      const name = fresh();
      const a = await candidate(2);
      const b = await candidate(2);
      const ta = await a.election(name).campaign('a');
      const pb = b.election(name).campaign('b');
      await eventually(async () => (await entries(name)).length === 2, 5000, 'b to join');
      a.partition();
      const tb = await within(pb, 10_000, 'b to lead after a crash');
      assert.equal(ta.active, false, 'the crashed leader sees its term ended');
      assert.equal((ta.signal.reason as TermEndedError).reason, 'unreachable');
      assert.ok(ta.ended!.at < tb.startedAt, `a ended at ${ta.ended!.at}, b began at ${tb.startedAt}`);
      assert.equal(a.session.isAlive(), false);
      a.heal();
      await b.election(name).resign();
    });

    test('a cancelled campaign removes its entry', async () => {
      const name = fresh();
      const [a, b] = await Promise.all([candidate(), candidate()]);
      const ta = await a!.election(name).campaign('a');
      const controller = new AbortController();
      const pb = b!.election(name).campaign('b', { signal: controller.signal });
      await eventually(async () => (await entries(name)).length === 2, 5000, 'b to join');
      controller.abort();
      await assert.rejects(pb, CampaignCancelledError);
      assert.deepEqual(await entries(name), [ta.key]);
      await a!.election(name).resign();
    });

    test('observe sees the leader, proclaim and "no leader"', async () => {
      const name = fresh();
      const [a, watcher] = await Promise.all([candidate(), candidate()]);
      const seen: LeaderChange[] = [];
      const controller = new AbortController();
      const observing = (async () => {
        for await (const change of watcher!.election(name).observe({ signal: controller.signal }))
          seen.push(change);
      })();
      await eventually(() => seen.length === 1, 5000, 'the first observation');
      await a!.election(name).campaign('v1');
      await eventually(() => seen.length === 2, 5000, 'the leader');
      await a!.election(name).proclaim('v2');
      await eventually(() => seen.length === 3, 5000, 'the proclaim');
      await a!.election(name).resign();
      await eventually(() => seen.length === 4, 5000, 'no leader');
      controller.abort();
      await within(observing, 5000, 'observe to end on abort');
      assert.deepEqual(
        seen.map((c) => [c.kind, c.value]),
        [
          ['none', null],
          ['leader', 'v1'],
          ['leader', 'v2'],
          ['none', null],
        ],
      );
      assert.equal(seen[1]!.token, seen[2]!.token);
      assert.equal(await a!.election(name).leader(), null);
    });

    test('resign keeps its state when the backend call fails, and can be retried', async () => {
      const name = fresh();
      const a = await candidate(10);
      const ta = await a.election(name).campaign('a');
      a.partition();
      await assert.rejects(a.election(name).resign(), { code: 'UNAVAILABLE' });
      assert.equal(ta.active, false, 'the term ended before the backend was asked');
      assert.deepEqual(await entries(name), [ta.key], 'the entry is still there');
      a.heal();
      await within(a.election(name).resign(), 5000, 'the retried resign');
      assert.deepEqual(await entries(name), []);
    });

    test('a guarded write with a stale token is rejected by the backend', async () => {
      const name = fresh();
      const dataKey = `${name}-data`;
      const [a, b] = await Promise.all([candidate(), candidate()]);
      const ta = await a!.election(name).campaign('a');
      assert.equal((await ta.guard((tx) => tx.put(dataKey, 'from-a'))).committed, true);
      const pb = b!.election(name).campaign('b');
      await eventually(async () => (await entries(name)).length === 2, 5000, 'b to join');
      await a!.election(name).resign();
      const tb = await within(pb, 5000, 'b to lead');
      // The term is known to have ended here, so the guard is not even sent.
      await assert.rejects(
        ta.guard((tx) => tx.put(dataKey, 'stale')),
        { code: 'NOT_LEADER' },
      );
      const fresh2 = await tb.guard((tx) => tx.put(dataKey, 'from-b').get(dataKey));
      assert.deepEqual(fresh2, { committed: true, values: ['from-b'] });
      assert.equal(await b!.backend.get(dataKey), 'from-b');
      // An entry deleted behind b's back: a guard sent before b hears of it is refused by the
      // backend (committed: false), one after is not sent (NOT_LEADER); neither may commit.
      const deposed = await harness.sharedBackend().depose(name, { token: tb.token });
      assert.equal(deposed.outcome, 'deposed');
      const outcome = await tb
        .guard((tx) => tx.put(dataKey, 'after-delete'))
        .then(
          (r) => r,
          (err: unknown) => err,
        );
      if (outcome instanceof Error) assert.equal((outcome as { code?: string }).code, 'NOT_LEADER');
      else assert.deepEqual(outcome, { committed: false, values: [] });
      assert.equal(await b!.backend.get(dataKey), 'from-b');
      await within(tb.whenEnded(), 5000, "b's term to end");
    });

    test('a guard body may be async; one that throws sends nothing and rejects with its error', async () => {
      const name = fresh();
      const dataKey = `${name}-data`;
      const a = await candidate();
      const ta = await a.election(name).campaign('a');
      // An async body: its ops count once it resolves, and what it returns comes back as `result`.
      let held: { put(key: string, value: string): unknown } | undefined;
      const done = await ta.guard(async (tx) => {
        held = tx;
        await sleep(10);
        tx.put(dataKey, 'async').get(dataKey);
        return 42;
      });
      assert.deepEqual(done, { committed: true, values: ['async'], result: 42 });
      assert.equal(await a.backend.get(dataKey), 'async');
      // An op added after the body returned would be lost: refused instead.
      assert.throws(() => held?.put(dataKey, 'late'), { code: 'INVALID_ARGUMENT' });
      // A body that throws, before or after adding ops, synchronously or not: nothing is sent.
      const boom = new Error('body failed');
      await assert.rejects(
        ta.guard((tx) => {
          tx.put(dataKey, 'thrown-sync');
          throw boom;
        }),
        (err) => err === boom,
      );
      await assert.rejects(
        ta.guard(async (tx) => {
          tx.put(dataKey, 'thrown-async');
          await sleep(10);
          throw boom;
        }),
        (err) => err === boom,
      );
      assert.equal(await a.backend.get(dataKey), 'async', 'no op of a throwing body was applied');
      // The term ends while an async body runs: nothing is sent (NOT_LEADER), on every backend.
      await assert.rejects(
        ta.guard(async (tx) => {
          await a.election(name).resign();
          tx.put(dataKey, 'after-its-term');
        }),
        (err: unknown) =>
          err instanceof NotLeaderError && /not committed: .* already ended \(resigned\)/.test(err.message),
      );
      assert.equal(await a.backend.get(dataKey), 'async');
      assert.equal(ta.active, false);
    });

    test('a nested name is an election of its own: "x" and "x/sub" never share entries', async () => {
      const team = fresh();
      const sub = `${team}/sub`;
      const [a, b, c] = await Promise.all([candidate(), candidate(), candidate()]);
      // a leads the nested election first: its entry must not stand in line for the outer one.
      const ta = await a!.election(sub).campaign('a');
      const tb = await within(b!.election(team).campaign('b'), 5000, 'b to lead the outer election');
      assert.equal((await b!.election(team).leader())?.value, 'b');
      assert.equal((await a!.election(sub).leader())?.value, 'a');
      assert.equal((await c!.election(team).leader())?.key, tb.key);
      assert.equal((await c!.election(sub).leader())?.key, ta.key);
      assert.deepEqual(await entries(team), [tb.key]);
      assert.deepEqual(await entries(sub), [ta.key]);
      // A waiter in one is not blocked by, nor woken by, the other.
      const pc = c!.election(sub).campaign('c');
      await eventually(async () => (await entries(sub)).length === 2, 5000, 'c to join');
      await b!.election(team).resign();
      assert.ok(await isPending(pc, 200), 'c waits for a, not for b');
      await a!.election(sub).resign();
      const tc = await within(pc, 5000, 'c to lead the nested election');
      assert.equal((await b!.election(sub).leader())?.value, 'c');
      assert.equal(await b!.election(team).leader(), null);
      await c!.election(sub).resign();
      assert.ok(tc.token > ta.token);
    });

    test("a guarded write into an election's key space is refused before it is sent", async () => {
      const name = fresh();
      const other = fresh();
      const a = await candidate();
      const ta = await a.election(name).campaign('a');
      a.election(other); // opening an election makes its key space known to this backend
      const mutexName = fresh();
      const lock = a.session.mutex(mutexName);
      await lock.lock();
      const refused = [`${name}/last-run`, `${name}/sub/last-run`, `${other}/x`, `${mutexName}/x`];
      for (const key of refused) {
        const error = await ta
          .guard((tx) => tx.put(key, 'v'))
          .then(
            () => assert.fail(`a guarded put of ${key} was accepted`),
            (err: unknown) => err,
          );
        assert.ok(error instanceof InvalidArgumentError, `put ${key}: ${String(error)}`);
        assert.equal(error.code, 'INVALID_ARGUMENT');
        assert.match(error.message, /key space of (election|mutex) ".+".*use a key outside it/);
        assert.equal(await a.backend.get(key), undefined, `${key} was written`);
      }
      // Deleting one's own entry through a guard would end the term behind ballot's back.
      await assert.rejects(
        ta.guard((tx) => tx.delete(ta.key)),
        { code: 'INVALID_ARGUMENT' },
      );
      await assert.rejects(
        ta.guard((tx) => tx.put(`${name}-data/ok`, 'v').put(`${name}/x`, 'v')),
        { code: 'INVALID_ARGUMENT' },
        'a txn with one bad op sends none of them',
      );
      assert.equal(await a.backend.get(`${name}-data/ok`), undefined);
      assert.deepEqual(await entries(name), [ta.key]);
      assert.equal(ta.active, true);
      // A key outside every key space commits, and reads anywhere are allowed.
      const ok = await ta.guard((tx) => tx.put(`${name}-data/last-run`, 'v').get(ta.key));
      assert.deepEqual(ok, { committed: true, values: ['a'] });
      await lock.unlock();
      await a.election(name).resign();
      assert.equal(await a.election(name).leader(), null, 'nothing was left to lead the election');
    });

    test('a guard called after its term ended is not sent: NOT_LEADER', async () => {
      const name = fresh();
      const dataKey = `${name}-data`;
      const [a, b] = await Promise.all([candidate(2), candidate()]);
      // While resign() runs (not awaited): the term has already ended.
      const ta = await a!.election(name).campaign('a');
      const resigning = a!.election(name).resign();
      await assert.rejects(
        ta.guard((tx) => tx.put(dataKey, 'during-resign')),
        (err: unknown) => {
          assert.ok(err instanceof NotLeaderError, String(err));
          assert.equal(err.code, 'NOT_LEADER');
          assert.match(err.message, /already ended \(resigned\)/);
          return true;
        },
      );
      await resigning;
      await assert.rejects(
        ta.guard((tx) => tx.put(dataKey, 'after-resign')),
        { code: 'NOT_LEADER' },
      );
      assert.equal(await b!.backend.get(dataKey), undefined, 'neither guard was applied');
      // After the session is lost.
      const t2 = await a!.election(name).campaign('a2');
      a!.partition();
      await within(t2.whenEnded(), 10_000, 'the term to end');
      // Still partitioned: a guard that was sent would fail UNAVAILABLE, not NOT_LEADER.
      await assert.rejects(
        t2.guard((tx) => tx.put(dataKey, 'after-loss')),
        { code: 'NOT_LEADER' },
      );
      a!.heal();
      assert.equal(await b!.backend.get(dataKey), undefined);
    });

    test('losing the session ends every term on it at once', async () => {
      const [one, two] = [fresh(), fresh()];
      const a = await candidate(2);
      const b = await candidate(2);
      const t1 = await a.election(one).campaign('a1');
      const t2 = await a.election(two).campaign('a2');
      const pb = b.election(one).campaign('b');
      await eventually(async () => (await entries(one)).length === 2, 5000, 'b to join');
      a.partition();
      await within(t1.whenEnded(), 5000, 'term 1 to end');
      assert.equal(t2.active, false);
      assert.equal(a.session.lost.aborted, true);
      for (const t of [t1, t2]) assert.equal((t.signal.reason as TermEndedError).reason, 'unreachable');
      const tb = await within(pb, 10_000, 'b to lead');
      assert.ok(t1.ended!.at < tb.startedAt);
      await assert.rejects(a.election(one).campaign('again'), { code: 'SESSION_LOST' });
      a.heal();
      await b.election(one).resign();
    });

    test('a leader entry deleted by an operator ends the term with "key-deleted"', async () => {
      const name = fresh();
      const a = await candidate();
      const ta = await a.election(name).campaign('a');
      assert.equal((await harness.sharedBackend().depose(name, { token: ta.token })).outcome, 'deposed');
      const ended = await within(ta.whenEnded(), 5000, 'the term to end');
      assert.equal(ended.reason, 'key-deleted');
      assert.equal(a.election(name).isLeader(), false);
    });

    test('participants: the leader first, then the queue in join order, with values and lease left', async () => {
      const name = fresh();
      const operator = harness.sharedBackend();
      const { a, b, c, ta, pb, pc } = await lineOfThree(name);
      const line = await operator.participants(name);
      assert.deepEqual(
        line.map((p) => [p.election, p.value, p.lease]),
        [a, b, c].map((x, i) => [name, 'abc'[i], x!.session.id]),
      );
      assert.deepEqual([line[0]!.key, line[0]!.token], [ta.key, ta.token]);
      assert.deepEqual(
        line.map((p) => p.key),
        await entries(name),
      );
      assert.ok(line[0]!.token < line[1]!.token && line[1]!.token < line[2]!.token, 'line in token order');
      for (const p of line)
        if (harness.seesSessionTime === false) assert.equal(p.ttl, null, `${p.value}: ttl ${p.ttl}`);
        else assert.ok(p.ttl !== null && p.ttl > 0 && p.ttl <= a!.session.ttl, `${p.value}: ttl ${p.ttl}`);
      // A session's own view reads the same line.
      assert.deepEqual(
        (await c!.election(name).participants()).map((p) => [p.key, p.value, p.token]),
        line.map((p) => [p.key, p.value, p.token]),
      );
      await a!.election(name).resign();
      const tb = await within(pb, 5000, 'b to lead');
      assert.deepEqual(
        (await operator.participants(name)).map((p) => [p.value, p.token]),
        [
          ['b', tb.token],
          ['c', line[2]!.token],
        ],
      );
      await b!.election(name).resign();
      await within(pc, 5000, 'c to lead');
      await c!.election(name).resign();
      assert.deepEqual(await operator.participants(name), []);
    });

    test('depose hands over to the next candidate; the old term ends with "key-deleted"', async () => {
      const name = fresh();
      const operator = harness.sharedBackend();
      const [a, b] = await Promise.all([candidate(), candidate()]);
      const ta = await a!.election(name).campaign('a');
      const pb = b!.election(name).campaign('b');
      await eventually(async () => (await entries(name)).length === 2, 5000, 'b to join');
      const result = await operator.depose(name);
      assert.equal(result.outcome, 'deposed');
      assert.deepEqual(
        result.outcome === 'deposed' && [result.leader.value, result.leader.key, result.leader.token],
        ['a', ta.key, ta.token],
      );
      const ended = await within(ta.whenEnded(), 5000, "a's term to end");
      assert.equal(ended.reason, 'key-deleted');
      const tb = await within(pb, 5000, 'b to lead');
      assert.ok(tb.token > ta.token);
      // The deposed leader may hear of it after b is elected (a different client's watch); its
      // token is what keeps it out: a guard is refused, by the backend or before it is sent.
      const late = await ta
        .guard((tx) => tx.put(`${name}-data`, 'from-a'))
        .then(
          (r) => r,
          (err: unknown) => err,
        );
      if (late instanceof Error) assert.equal((late as { code?: string }).code, 'NOT_LEADER');
      else assert.deepEqual(late, { committed: false, values: [] });
      assert.equal(await operator.get(`${name}-data`), undefined);
      assert.deepEqual(
        (await operator.participants(name)).map((p) => p.value),
        ['b'],
      );
      await b!.election(name).resign();
    });

    test('depose with a stale token removes nothing ("changed"); with no leader it is "none"', async () => {
      const name = fresh();
      const operator = harness.sharedBackend();
      const [a, b] = await Promise.all([candidate(), candidate()]);
      const ta = await a!.election(name).campaign('a');
      await a!.election(name).resign();
      const tb = await b!.election(name).campaign('b');
      const stale = await operator.depose(name, { token: ta.token });
      assert.equal(stale.outcome, 'changed');
      assert.deepEqual(stale.outcome === 'changed' && [stale.leader.value, stale.leader.token], [
        'b',
        tb.token,
      ]);
      assert.equal(tb.active, true, "b's term goes on");
      assert.deepEqual(await entries(name), [tb.key], 'nothing was deleted');
      await b!.election(name).resign();
      assert.deepEqual(await operator.depose(name), { outcome: 'none' });
      assert.deepEqual(await operator.depose(name, { token: tb.token }), { outcome: 'none' });
    });

    test('elections(prefix) lists names with "/" and "%" by name, only while they have candidates', async () => {
      const team = fresh();
      const names = [team, `${team}/sub`, `${team}/sub/deeper`, `${team}-x`, `${team}%2F`];
      const operator = harness.sharedBackend();
      const a = await candidate();
      for (const name of names) await a.election(name).campaign(name);
      assert.deepEqual(await operator.elections(team), [...names].sort());
      assert.deepEqual(await operator.elections(`${team}/`), [`${team}/sub`, `${team}/sub/deeper`]);
      assert.deepEqual(await operator.elections(`${team}/sub/`), [`${team}/sub/deeper`]);
      assert.deepEqual(await operator.elections(`${team}%`), [`${team}%2F`]);
      assert.deepEqual(await operator.elections(fresh()), []);
      assert.ok((await operator.elections()).includes(`${team}/sub`), 'no prefix lists every election');
      for (const name of names) await a.election(name).resign();
      assert.deepEqual(await operator.elections(team), []);
    });

    test('200 candidates: a handover wakes only the next one', async () => {
      const name = fresh();
      const backend = harness.sharedBackend();
      const sessions = await Promise.all(Array.from({ length: 200 }, () => backend.session({ ttl: 10 })));
      try {
        await sessions[0]!.election(name).campaign('c0');
        const pending = new Map<string, Promise<Term>>();
        for (const session of sessions.slice(1)) {
          const campaign = session.election(name).campaign(session.id);
          campaign.catch(() => undefined); // the ones still waiting are cancelled by close() below
          pending.set(session.id, campaign);
        }
        await eventually(async () => (await entries(name)).length === 200, 20_000, 'all to join');
        // Campaigns started together join in whatever order the backend applied them: read that order.
        const bySession = new Map(sessions.map((s) => [s.id, s]));
        const queue = (await backend.participants(name)).map((p) => bySession.get(p.lease!)!);
        assert.equal(queue.length, 200);
        assert.equal(queue[0], sessions[0]);
        await sleep(200);
        for (let i = 0; i < 3; i++) {
          const before = backend.stats().events;
          await queue[i]!.election(name).resign();
          const next = await within(pending.get(queue[i + 1]!.id)!, 5000, `candidate ${i + 1} to lead`);
          assert.equal(next.value, queue[i + 1]!.id);
          await sleep(200);
          const delta = backend.stats().events - before;
          assert.ok(delta <= 2, `handover ${i} delivered ${delta} events; at most 2 allowed`);
          for (const waiting of queue.slice(i + 2))
            assert.ok(await isPending(pending.get(waiting.id)!, 0), `${waiting.id} woke out of turn`);
        }
      } finally {
        await Promise.all(sessions.map((s) => s.close()));
      }
      assert.deepEqual(await entries(name), []);
    });
  });
}
