import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  etcd,
  LeaderElector,
  memory,
  postgres,
  TransferError,
  zookeeper,
  type Backend,
  type Term,
  type TermEndReason,
} from '../src/index.js';
import { buildCli, runCli } from './cli-process.js';
import { killCurators, startCurator } from './fixtures/curator.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { startPostgres, type PostgresServer } from './fixtures/postgres.js';
import { startZookeeper, type ZookeeperServer } from './fixtures/zookeeper.js';
import { eventually, within } from './helpers.js';

// Leadership transfer on every backend: the leader hands over to a named waiting candidate in one
// atomic backend step; the successor's term begins after the old one ended, tokens increase.

type AnyBackend = Backend<unknown>;

interface Fixture {
  backend(): AnyBackend;
  ttl: number;
  rounds: number;
}

/** One term as the electors reported it; all electors share one process, so one monotonic clock. */
interface TermRecord {
  who: string;
  token: bigint;
  startedAt: number;
  endedAt?: number;
  reason?: TermEndReason;
}

let counter = 0;
const fresh = (what: string) => `transfer-${what}-${process.pid}-${++counter}`;

/** Three (or more) electors on one backend, recording their terms. */
function electors(backend: AnyBackend, election: string, names: string[], ttl: number, terms: TermRecord[]) {
  const all = new Map<string, LeaderElector<unknown>>();
  for (const name of names) {
    const e = new LeaderElector({
      backend,
      election,
      value: name,
      ttl,
      flapGuard: false,
      backoff: { initial: 10, max: 200 },
    });
    const open = new Map<Term<unknown>, TermRecord>();
    e.on('elected', (term) => {
      const record: TermRecord = { who: name, token: term.token, startedAt: term.startedAt };
      open.set(term, record);
      terms.push(record);
    });
    e.on('deposed', (term, reason) => {
      const record = open.get(term);
      if (!record) return;
      open.delete(term);
      record.endedAt = term.ended?.at;
      record.reason = reason;
    });
    // A candidate the transfer passed over sees its entry deleted and campaigns again (a retry).
    e.on('retrying', () => undefined);
    all.set(name, e);
  }
  return all;
}

/**
 * When each entry key was first seen in line. On etcd a candidate's watch on its own key may still
 * be catching up (etcd syncs a watch that starts in the past every 100 ms) for a moment after it
 * joined: passed over then, it can hear of its predecessor's deletion first and start a term that
 * ends at once (key-deleted; its guards are refused). The rounds wait until every entry has stood
 * in line for SETTLE_MS, so that they test the steady state; see the limit in contract.ts.
 */
const firstSeen = new Map<string, number>();
const SETTLE_MS = 150;

async function leaderOf(
  backend: AnyBackend,
  election: string,
  all: Map<string, LeaderElector<unknown>>,
  size: number,
) {
  let leader: LeaderElector<unknown> | undefined;
  let line: Awaited<ReturnType<AnyBackend['participants']>> = [];
  await eventually(
    async () => {
      line = await backend.participants(election);
      leader = line[0] && all.get(line[0].value);
      const now = performance.now();
      for (const p of line) if (!firstSeen.has(p.key + p.token)) firstSeen.set(p.key + p.token, now);
      const settled = line.every((p) => now - firstSeen.get(p.key + p.token)! >= SETTLE_MS);
      return line.length === size && settled && leader !== undefined && leader.isLeader();
    },
    15_000,
    `${size} candidates in line and the first one leading`,
  );
  return { leader: leader!, line };
}

/** Checks the recorded terms: tokens strictly increase, and each began after the previous ended. */
function assertNoOverlap(terms: TermRecord[]): void {
  const sorted = [...terms].sort((a, b) => (a.token < b.token ? -1 : 1));
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const next = sorted[i]!;
    assert.ok(next.token > prev.token, `tokens strictly increase: ${prev.token} then ${next.token}`);
    assert.ok(
      prev.endedAt !== undefined,
      `term ${prev.token} of ${prev.who} ended before term ${next.token}`,
    );
    assert.ok(
      next.startedAt >= prev.endedAt,
      `term ${next.token} (${next.who}) began at ${next.startedAt}, before term ${prev.token} (${prev.who}) ended at ${prev.endedAt}`,
    );
  }
}

/** BALLOT_TRANSFER_ONLY=memory,postgres runs only those suites (each starts its own server). */
const only = process.env['BALLOT_TRANSFER_ONLY']?.split(',');

function transferSuite(name: string, setup: () => Promise<Fixture>, teardown: () => Promise<void>): void {
  const skip = only !== undefined && !only.some((o) => name.startsWith(o));
  describe(`transfer: ${name}`, { skip }, () => {
    let fx: Fixture;
    before(async () => {
      fx = await setup();
    });
    after(teardown);

    test('transfers between three candidates: each to the named one, no overlap, tokens increase', async () => {
      const election = fresh('rounds');
      const terms: TermRecord[] = [];
      const all = electors(fx.backend(), election, ['a', 'b', 'c'], fx.ttl, terms);
      const expected: string[] = [];
      try {
        for (let i = 0; i < fx.rounds; i++) {
          const { leader, line } = await leaderOf(fx.backend(), election, all, 3);
          if (i === 0) expected.push(line[0]!.value);
          // Alternately the next in line and the last (which passes over the one in between).
          const target = line[i % 2 === 0 ? 2 : 1]!.value;
          const result = await within(leader.transferTo(target, { timeout: 10_000 }), 15_000, 'transfer');
          assert.equal(result.to.value, target);
          assert.ok(result.to.token > result.from);
          expected.push(target);
          await eventually(() => all.get(target)!.isLeader(), 10_000, `${target} to lead`);
        }
      } finally {
        await Promise.all([...all.values()].map((e) => e.stop()));
      }
      const sorted = [...terms].sort((a, b) => (a.token < b.token ? -1 : 1));
      assert.deepEqual(
        sorted.map((t) => t.who),
        expected,
        'every term went to the candidate named (and nobody else led in between)',
      );
      for (const t of sorted.slice(0, -1)) assert.equal(t.reason, 'transferred');
      assertNoOverlap(terms);
    });

    test('to an absent candidate, or one that left: fails, and leadership is kept', async () => {
      const election = fresh('absent');
      const backend = fx.backend();
      const leader = await backend.session({ ttl: fx.ttl });
      const other = await backend.session({ ttl: fx.ttl });
      try {
        const term = await leader.election(election).campaign('leader');
        const waiting = other.election(election).campaign('gone-soon');
        // It ends when its session closes below.
        waiting.catch(() => undefined);
        await eventually(async () => (await backend.participants(election)).length === 2, 10_000, 'queue');
        await assert.rejects(leader.election(election).transfer('nobody', { timeout: 2000 }), (err) => {
          assert.ok(err instanceof TransferError);
          assert.equal(err.code, 'TRANSFER_FAILED');
          assert.equal(err.reason, 'candidate-not-found');
          return true;
        });
        // The candidate dies (its session ends, its entry goes with it): transfer to it fails too.
        await other.close();
        await assert.rejects(waiting, { code: 'CLOSED' });
        await assert.rejects(leader.election(election).transfer('gone-soon', { timeout: 2000 }), {
          code: 'TRANSFER_FAILED',
          reason: 'candidate-not-found',
        });
        assert.ok(term.active, 'the term is still current');
        const now = await backend.leader(election);
        assert.equal(now?.token, term.token, 'same leader, same token');
        // Not leading: 'not-leader'.
        const third = await backend.session({ ttl: fx.ttl });
        try {
          await assert.rejects(third.election(election).transfer('leader'), { reason: 'not-leader' });
        } finally {
          await third.close();
        }
      } finally {
        await other.close();
        await leader.close();
      }
    });

    test('candidates between the leader and the target queue again at the back', async () => {
      const election = fresh('between');
      const backend = fx.backend();
      const terms: TermRecord[] = [];
      const all = electors(backend, election, ['l'], fx.ttl, terms);
      try {
        await eventually(() => all.get('l')!.isLeader(), 10_000, 'l to lead');
        for (const name of ['m', 'n']) {
          for (const [k, v] of electors(backend, election, [name], fx.ttl, terms)) all.set(k, v);
          await eventually(
            async () => (await backend.participants(election)).at(-1)?.value === name,
            10_000,
            `${name} to queue`,
          );
        }
        const { line: before } = await leaderOf(backend, election, all, 3);
        assert.deepEqual(
          before.map((p) => p.value),
          ['l', 'm', 'n'],
        );
        await all.get('l')!.transferTo('n', { timeout: 10_000 });
        const { line } = await leaderOf(backend, election, all, 3);
        assert.equal(line[0]!.value, 'n');
        const m = line.find((p) => p.value === 'm')!;
        assert.ok(m.token > line[0]!.token, 'm lost its place: its new entry is behind the new leader');
        assert.ok(m.token > before[1]!.token);
        assertNoOverlap(terms);
      } finally {
        await Promise.all([...all.values()].map((e) => e.stop()));
      }
    });

    test('the step committed but the timeout passed: rejects with timeout, the old leader re-queued', async () => {
      const election = fresh('timeout');
      const backend = fx.backend();
      const terms: TermRecord[] = [];
      const all = electors(backend, election, ['x', 'y'], fx.ttl, terms);
      try {
        const { leader, line } = await leaderOf(backend, election, all, 2);
        const target = line[1]!.value;
        const term = leader.term!;
        await assert.rejects(leader.transferTo(target, { timeout: 0 }), { reason: 'timeout' });
        assert.equal(term.ended?.reason, 'transferred');
        await eventually(() => all.get(target)!.isLeader(), 10_000, 'the target to lead anyway');
        await eventually(
          async () => (await backend.participants(election)).at(-1)?.value === line[0]!.value,
          10_000,
          'the old leader to queue again',
        );
      } finally {
        await Promise.all([...all.values()].map((e) => e.stop()));
      }
    });

    test("the operator's backend.transfer: the leader's term ends key-deleted, the target leads", async () => {
      const election = fresh('operator');
      const backend = fx.backend();
      const terms: TermRecord[] = [];
      const all = electors(backend, election, ['p', 'q'], fx.ttl, terms);
      try {
        const { line } = await leaderOf(backend, election, all, 2);
        await assert.rejects(
          backend.transfer(election, { to: line[1]!.value, token: line[0]!.token + 1000n }),
          {
            reason: 'not-leader',
          },
        );
        const result = await backend.transfer(election, {
          to: line[1]!.value,
          token: line[0]!.token,
          timeout: 10_000,
        });
        assert.equal(result.from, line[0]!.token);
        assert.equal(result.to.value, line[1]!.value);
        await eventually(() => terms[0]?.reason !== undefined, 10_000, 'the old term to end');
        assert.equal(terms[0]!.reason, 'key-deleted');
        await eventually(() => all.get(line[1]!.value)!.isLeader(), 10_000, 'the target to lead');
      } finally {
        await Promise.all([...all.values()].map((e) => e.stop()));
      }
    });
  });
}

// memory
{
  let backend: AnyBackend;
  transferSuite(
    'memory',
    async () => {
      backend = memory();
      return { backend: () => backend, ttl: 5, rounds: 20 };
    },
    async () => backend?.close(),
  );
}

// etcd, both modes (same keys, same txn)
for (const mode of ['client', 'service'] as const) {
  let node: EtcdNode | undefined;
  let backend: AnyBackend;
  transferSuite(
    `etcd (${mode})`,
    async () => {
      node = await startEtcd();
      backend = etcd({ endpoints: [node.endpoint], mode, env: {} });
      return { backend: () => backend, ttl: 5, rounds: 100 };
    },
    async () => {
      await backend?.close();
      await node?.stop();
    },
  );
}

// PostgreSQL
{
  let server: PostgresServer | undefined;
  let backend: AnyBackend;
  transferSuite(
    'postgres',
    async () => {
      server = await startPostgres();
      backend = postgres({ connectionString: server.url(), env: {} });
      return { backend: () => backend, ttl: 5, rounds: 20 };
    },
    async () => {
      await backend?.close();
      await server?.stop();
    },
  );
}

// ZooKeeper
{
  let server: ZookeeperServer | undefined;
  let backend: AnyBackend;
  transferSuite(
    'zookeeper',
    async () => {
      server = await startZookeeper();
      backend = zookeeper({ connect: server.connect, env: {} });
      return { backend: () => backend, ttl: 4, rounds: 20 };
    },
    async () => {
      await backend?.close();
      await server?.stop();
    },
  );
}

// The operator's command, against etcd: the built `ballot` bin as a child process.
describe('transfer: cli (etcd)', { skip: only !== undefined && !only.includes('cli') }, () => {
  let node: EtcdNode | undefined;
  let backend: AnyBackend;
  before(async () => {
    await buildCli();
    node = await startEtcd();
    backend = etcd({ endpoints: [node.endpoint], env: {} });
  });
  after(async () => {
    await backend?.close();
    await node?.stop();
  });

  test('ballot transfer <election> <candidate>: hands over, exits 0; 9 for no such candidate; 3 for no leader', async () => {
    const election = fresh('cli');
    const terms: TermRecord[] = [];
    const all = electors(backend, election, ['a', 'b', 'c'], 5, terms);
    try {
      const { line } = await leaderOf(backend, election, all, 3);
      const target = line[2]!.value;
      const done = await runCli(['transfer', election, target, '--timeout', '10s', '--json'], node!.endpoint);
      assert.equal(done.code, 0, done.stderr);
      const event = JSON.parse(done.stdout.split('\n')[0]!) as Record<string, unknown>;
      assert.equal(event['event'], 'transferred');
      assert.equal(event['value'], target);
      assert.equal(event['from'], line[0]!.value);
      await eventually(() => all.get(target)!.isLeader(), 10_000, `${target} to lead`);
      await eventually(() => terms[0]?.reason !== undefined, 10_000, 'the old term to end');
      assert.equal(terms[0]!.reason, 'key-deleted');
      const missing = await runCli(['transfer', election, 'nobody'], node!.endpoint);
      assert.equal(missing.code, 9, missing.stderr);
      assert.match(missing.stderr, /no waiting candidate has that value/);
      assert.ok(all.get(target)!.isLeader(), 'leadership kept');
      const none = await runCli(['transfer', fresh('empty'), 'a'], node!.endpoint);
      assert.equal(none.code, 3, none.stderr);
    } finally {
      await Promise.all([...all.values()].map((e) => e.stop()));
    }
  });
});

// The priority policy on top of transfer: a higher-priority candidate that has waited the
// hysteresis time takes over; equal priorities and short-lived higher ones change nothing.
for (const kind of ['memory', 'etcd'] as const) {
  describe(
    `transfer: priority policy (${kind})`,
    { skip: only !== undefined && !only.includes(`priority-${kind}`) && !only.includes(kind) },
    () => {
      let node: EtcdNode | undefined;
      let backend: AnyBackend;
      before(async () => {
        if (kind === 'etcd') {
          node = await startEtcd();
          backend = etcd({ endpoints: [node.endpoint], env: {} });
        } else backend = memory();
      });
      after(async () => {
        await backend?.close();
        await node?.stop();
      });

      function candidate(election: string, value: string, priority: number, terms: TermRecord[]) {
        const e = new LeaderElector({
          backend,
          election,
          value,
          priority,
          ttl: 5,
          flapGuard: false,
          priorityTransfer: { hysteresisMs: 400, intervalMs: 50 },
        });
        e.on('elected', (term) => terms.push({ who: value, token: term.token, startedAt: term.startedAt }));
        e.on('deposed', (term, reason) => {
          const record = terms.find((t) => t.token === term.token);
          if (record) Object.assign(record, { endedAt: term.ended?.at, reason });
        });
        e.on('retrying', () => undefined);
        return e;
      }

      test('a higher priority takes over after the hysteresis, and never hands back', async () => {
        const election = fresh('prio');
        const terms: TermRecord[] = [];
        const low = candidate(election, 'low', 1, terms);
        const electors: LeaderElector<unknown>[] = [low];
        try {
          await eventually(() => low.isLeader(), 10_000, 'low to lead');
          const joined = backend.clock.now();
          const high = candidate(election, 'high', 5, terms);
          electors.push(high);
          await eventually(() => high.isLeader(), 10_000, 'high to take over');
          const took = terms.find((t) => t.who === 'high')!.startedAt;
          assert.ok(took - joined >= 400, `high waited the hysteresis (${took - joined} ms)`);
          assert.equal(terms[0]!.reason, 'transferred');
          // Low is back in line with its lower priority: high keeps leading.
          await eventually(
            async () => (await backend.participants(election)).length === 2,
            10_000,
            'low to queue',
          );
          await new Promise((r) => setTimeout(r, 1000));
          assert.deepEqual(
            terms.map((t) => t.who),
            ['low', 'high'],
            'no transfer back',
          );
          assertNoOverlap(terms);
        } finally {
          await Promise.all(electors.map((e) => e.stop()));
        }
      });

      test('equal priorities never transfer; a higher one that leaves within the hysteresis changes nothing', async () => {
        const election = fresh('equal');
        const terms: TermRecord[] = [];
        const electors = [candidate(election, 'p1', 3, terms)];
        try {
          await eventually(() => electors[0]!.isLeader(), 10_000, 'p1 to lead');
          electors.push(candidate(election, 'p2', 3, terms));
          await eventually(
            async () => (await backend.participants(election)).length === 2,
            10_000,
            'p2 to queue',
          );
          await new Promise((r) => setTimeout(r, 1200));
          assert.deepEqual(
            terms.map((t) => t.who),
            ['p1'],
            'equal priority: no transfer',
          );
          const brief = candidate(election, 'brief', 9, terms);
          await eventually(
            async () => (await backend.participants(election)).length === 3,
            10_000,
            'brief to queue',
          );
          await brief.stop();
          await new Promise((r) => setTimeout(r, 800));
          assert.deepEqual(
            terms.map((t) => t.who),
            ['p1'],
            'a higher one gone before the hysteresis: no transfer',
          );
          assert.ok(electors[0]!.isLeader());
        } finally {
          await Promise.all(electors.map((e) => e.stop()));
        }
      });
    },
  );
}

// Curator's LeaderLatch in line between a ballot leader and a ballot target: its node is deleted
// with the leader's, and the latch, finding its own node gone, creates a new one at the back.
describe(
  'transfer: zookeeper with a Curator LeaderLatch passed over',
  { skip: only !== undefined && !only.includes('curator') },
  () => {
    let server: ZookeeperServer | undefined;
    let backend: AnyBackend;
    before(async () => {
      server = await startZookeeper();
      backend = zookeeper({ connect: server.connect, env: {} });
    });
    after(async () => {
      await killCurators();
      await backend?.close();
      await server?.stop();
    });

    test('the latch queues again behind the new leader', async () => {
      const path = `/transfer/curator-${process.pid}/leader`;
      const leader = await backend.session({ ttl: 4 });
      const target = await backend.session({ ttl: 4 });
      try {
        const term = await leader.election(path).campaign('ballot-leader');
        const latch = await startCurator({
          connect: server!.connect,
          kind: 'latch',
          path,
          id: 'cur-1',
          sessionTimeoutMs: 4000,
        });
        await eventually(
          async () => (await backend.participants(path)).length === 2,
          10_000,
          'Curator to queue',
        );
        const won = target.election(path).campaign('ballot-target');
        await eventually(
          async () => (await backend.participants(path)).length === 3,
          10_000,
          'the target to queue',
        );
        const before = await backend.participants(path);
        assert.deepEqual(
          before.map((p) => p.value),
          ['ballot-leader', 'cur-1', 'ballot-target'],
        );
        await leader.election(path).transfer('ballot-target', { timeout: 10_000 });
        assert.equal(term.ended?.reason, 'transferred');
        await within(won, 10_000, 'the target to lead');
        await eventually(
          async () => (await backend.participants(path)).map((p) => p.value).join() === 'ballot-target,cur-1',
          10_000,
          'the latch to queue again behind the target',
        );
        const after = await backend.participants(path);
        assert.ok(after[1]!.token > before[2]!.token, "the latch's new node is newer than the target's");
        assert.deepEqual(await latch.ask('leader', 'leader').then((e) => [e.id, e.isLeader]), [
          'ballot-target',
          true,
        ]);
      } finally {
        await target.close();
        await leader.close();
      }
    });
  },
);
