import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as promClient from 'prom-client';
import {
  ballotMetrics,
  etcd,
  LeaderElector,
  ManualClock,
  memory,
  NotLeaderError,
  serveHandler,
} from '../src/index.js';
import { listenLocal } from './fixtures/local-http.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { eventually } from './helpers.js';
import { parseMetrics, sample, type Sample } from './metrics-text.js';

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return parseMetrics(await res.text());
}

describe('metrics (memory, virtual time)', () => {
  test('terms by reason, durations, campaigns, guards, renewals and leadership match what happened', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const e = 'm';
    const a = new LeaderElector({ backend, election: e, value: 'a', ttl: 3, backoff: { initial: 10 } });
    a.on('retrying', () => undefined);
    const seenByA: string[] = [];
    a.on('leader', (c) => seenByA.push(c.kind === 'leader' ? c.value : c.kind));
    const regA = new promClient.Registry();
    const regB = new promClient.Registry();
    await ballotMetrics(a, { register: regA, backend });
    await clock.advance(10);
    assert.equal(a.isLeader(), true, 'a leads first');
    const b = new LeaderElector({ backend, election: e, value: 'b', ttl: 3, backoff: { initial: 10 } });
    b.on('retrying', () => undefined);
    await ballotMetrics(b, { register: regB });
    const sa = await listenLocal(serveHandler(a, { metrics: regA }));
    const sb = await listenLocal(serveHandler(b, { metrics: regB }));
    try {
      await clock.advance(10);
      assert.equal(a.isLeader(), true);
      const first = a.term!;
      await first.guard((tx) => tx.put('k', '1'));
      await first.guard((tx) => tx.put('k', '2'));
      await clock.advance(2000); // renewals at 1000 and 2000 ms

      const conceding = a.concede();
      await clock.advance(10);
      await conceding;
      assert.equal(b.isLeader(), true);
      await assert.rejects(
        first.guard((tx) => tx.put('k', '3')),
        NotLeaderError,
      );

      await clock.advance(500);
      await backend.deleteKey(b.term!.key); // b's term ends: key-deleted; a (next in line) leads
      await clock.advance(10);
      assert.equal(a.isLeader(), true);
      const second = a.term!;
      await clock.advance(1000);
      await backend.deleteKey(second.key);
      await clock.advance(10);
      assert.equal(b.isLeader(), true);
      assert.equal(a.isLeader(), false);

      let m = await scrape(sa.url);
      const l = { election: e };
      assert.equal(sample(m, 'ballot_terms_total', { ...l, reason: 'resigned' }), 1);
      assert.equal(sample(m, 'ballot_terms_total', { ...l, reason: 'key-deleted' }), 1);
      assert.equal(
        m.filter((s) => s.name === 'ballot_terms_total').reduce((sum, s) => sum + s.value, 0),
        2,
        'two terms ended',
      );
      assert.equal(sample(m, 'ballot_term_duration_seconds_count', l), 2);
      const expectedSeconds =
        (first.ended!.at - first.startedAt + (second.ended!.at - second.startedAt)) / 1000;
      assert.ok(Math.abs((sample(m, 'ballot_term_duration_seconds_sum', l) ?? 0) - expectedSeconds) < 1e-9);
      assert.equal(sample(m, 'ballot_campaign_duration_seconds_count', l), 2, 'two campaigns won');
      assert.equal(sample(m, 'ballot_handover_seconds_count', l), 1, 'one term taken over from b');
      assert.equal(sample(m, 'ballot_guards_total', { ...l, outcome: 'committed' }), 2);
      assert.equal(
        sample(m, 'ballot_guards_total', { ...l, outcome: 'failed' }),
        1,
        'the guard after the term',
      );
      assert.equal(sample(m, 'ballot_guards_total', { ...l, outcome: 'refused' }), undefined);
      assert.equal(sample(m, 'ballot_is_leader', l), 0);
      assert.ok((sample(m, 'ballot_session_renewal_duration_seconds_count', l) ?? 0) >= 3);
      assert.equal(sample(m, 'ballot_session_renewal_failures_total', l), undefined);
      assert.equal(sample(m, 'ballot_sessions_total', l), 1);
      const changes = seenByA.filter((v, i) => i > 0 && v !== 'unknown' && v !== seenByA[i - 1]).length;
      assert.ok(changes >= 3, `a → b → a → b at least: ${seenByA.join(' → ')}`);
      assert.equal(sample(m, 'ballot_leader_changes_total', l), changes, seenByA.join(' → '));
      assert.equal(sample(m, 'ballot_backend_events_total', { backend: 'memory' }), backend.stats().events);
      assert.equal(
        sample(m, 'ballot_session_deadline_headroom_seconds', l),
        (a.currentSession!.deadline - clock.now()) / 1000,
      );

      m = await scrape(sb.url);
      assert.equal(sample(m, 'ballot_is_leader', l), 1);
      assert.equal(sample(m, 'ballot_terms_total', { ...l, reason: 'key-deleted' }), 1);
      assert.equal(sample(m, 'ballot_campaign_duration_seconds_count', l), 2);
      assert.equal(sample(m, 'ballot_handover_seconds_count', l), 2, 'both terms taken over from a');

      backend.partition(b.currentSession!);
      await clock.advance(1000);
      m = await scrape(sb.url);
      assert.ok((sample(m, 'ballot_session_renewal_failures_total', l) ?? 0) >= 1);
      assert.equal(sample(m, 'ballot_session_suspensions_total', l), 1);
      backend.heal(b.currentSession!);
    } finally {
      await sa.close();
      await sb.close();
      const stopping = Promise.all([a.stop(), b.stop()]);
      await clock.advance(100);
      await stopping;
      await backend.close();
    }
  });

  test('several electors share one registry by their election label; detach() stops recording', async () => {
    const backend = memory();
    const register = new promClient.Registry();
    const x = new LeaderElector({ backend, election: 'x', value: '1', ttl: 2 });
    const y = new LeaderElector({ backend, election: 'y', value: '1', ttl: 2 });
    await ballotMetrics(x, { register });
    const my = await ballotMetrics(y, { register });
    try {
      await eventually(() => x.isLeader() && y.isLeader(), 5000, 'both lead');
      let m = parseMetrics(await register.metrics());
      assert.equal(sample(m, 'ballot_is_leader', { election: 'x' }), 1);
      assert.equal(sample(m, 'ballot_is_leader', { election: 'y' }), 1);
      my.detach();
      await y.concede();
      await eventually(() => y.isLeader(), 5000, 'y leads again');
      m = parseMetrics(await register.metrics());
      assert.equal(sample(m, 'ballot_terms_total', { election: 'y' }), undefined, 'detached: not recorded');
      assert.equal(sample(m, 'ballot_is_leader', { election: 'y' }), undefined);
      await assert.rejects(ballotMetrics(x, { promClient: {} }), /promClient must be the prom-client module/);
    } finally {
      await x.stop();
      await y.stop();
      await backend.close();
    }
  });
});

describe('metrics on real etcd', () => {
  let node: EtcdNode;
  before(async () => {
    node = await startEtcd();
  });
  after(async () => {
    await node.stop();
  });

  test('two handovers by concede: terms, leadership, campaigns, renewals and watch events', async () => {
    const backend = etcd({ endpoints: [node.endpoint], env: {} });
    const election = `metrics-${process.pid}`;
    const a = new LeaderElector({ backend, election, value: 'a', ttl: 1 });
    const register = new promClient.Registry();
    await ballotMetrics(a, { register, backend });
    const server = await listenLocal(serveHandler(a, { metrics: register }));
    await eventually(() => a.isLeader(), 10_000, 'a leads');
    const b = new LeaderElector({ backend, election, value: 'b', ttl: 1 });
    try {
      await eventually(async () => (await backend.participants(election)).length === 2, 10_000, 'b queued');
      const committed = await a.term!.guard((tx) => tx.put(`${election}-data`, 'x'));
      assert.equal(committed.committed, true);
      const seenByA: string[] = [];
      a.on('leader', (c) => seenByA.push(c.kind === 'leader' ? c.value : c.kind));
      await a.concede();
      await eventually(() => b.isLeader(), 10_000, 'b leads');
      await eventually(async () => (await backend.participants(election)).length === 2, 10_000, 'a queued');
      // Observers may skip a short term; let a see b's, so that a's next term is a handover from b.
      await eventually(() => seenByA.includes('b'), 10_000, 'a to observe b leading');
      await b.concede();
      await eventually(() => a.isLeader(), 10_000, 'a leads again');
      await new Promise((resolve) => setTimeout(resolve, 800)); // at least one renewal (every 333 ms)
      const m = await scrape(server.url);
      const l = { election };
      assert.equal(sample(m, 'ballot_is_leader', l), 1);
      assert.equal(sample(m, 'ballot_terms_total', { ...l, reason: 'resigned' }), 1);
      assert.equal(sample(m, 'ballot_campaign_duration_seconds_count', l), 2);
      assert.equal(sample(m, 'ballot_handover_seconds_count', l), 1, 'the second term, taken over from b');
      assert.ok((sample(m, 'ballot_handover_seconds_sum', l) ?? -1) >= 0);
      assert.equal(sample(m, 'ballot_guards_total', { ...l, outcome: 'committed' }), 1);
      assert.ok((sample(m, 'ballot_session_renewal_duration_seconds_count', l) ?? 0) >= 1);
      const headroom = sample(m, 'ballot_session_deadline_headroom_seconds', l) ?? 0;
      assert.ok(headroom > 0 && headroom <= 1, `headroom ${headroom} s within the 1 s TTL`);
      assert.ok((sample(m, 'ballot_backend_events_total', { backend: 'etcd' }) ?? 0) > 0);
      assert.ok((sample(m, 'ballot_leader_changes_total', l) ?? 0) >= 2);
    } finally {
      await server.close();
      await a.stop();
      await b.stop();
      await backend.close();
    }
  });
});
