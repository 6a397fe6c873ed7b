/**
 * Self-tests of the invariant checker (src/check/checker.ts), which the chaos harness and the demo
 * share: a checker that cannot see a violation proves nothing. The chaos harness's history replay
 * (test/chaos/checker.ts) is tested with it, on synthetic etcd histories and PostgreSQL log rows.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KvEvent } from './fixtures/etcd-history.js';
import { check as checkHistory, type History, type WriteRecord } from '../src/check/checker.js';
import { KILLED, Ledger } from '../src/cli/demo/ledger.js';
import type { ScenarioResult } from '../src/cli/demo/scenario.js';
import { exitCode, judge } from '../src/cli/demo/summary.js';
import { ExitCode } from '../src/cli/exit-codes.js';
import { check, type Check, type TermRecord, type TrialRecord } from './chaos/checker.js';
import { PgLogEvents, type PgLogRow } from './chaos/pg-store.js';

describe('chaos checker catches each kind of violation (synthetic histories)', () => {
  const prefix = 'chaos/x/t/e/';
  const writeKey = 'chaos/x/t/fenced';
  const put = (key: string, value: string, create: number, mod = create): KvEvent => ({
    type: 'PUT',
    key,
    value,
    createRevision: BigInt(create),
    modRevision: BigInt(mod),
    lease: '1',
  });
  const del = (key: string, mod: number): KvEvent => ({
    type: 'DELETE',
    key,
    value: '',
    createRevision: 0n,
    modRevision: BigInt(mod),
    lease: '0',
  });
  const write = (t: number, c: string, s: number, mod: number): KvEvent =>
    put(writeKey, JSON.stringify({ t: String(t), c, s }), 12, mod);
  const term = (cand: string, key: string, token: number, start: number, end: number): TermRecord => ({
    cand,
    token: BigInt(token),
    key: `${prefix}${key}`,
    startedAt: start,
    announced: true,
    reason: 'resigned',
    endedAt: end,
    lastActive: end - 1,
    killedAt: null,
  });
  /** Two clean terms: c0 (token 10) hands over to c1 (token 11); each writes once. */
  const base = (): TrialRecord => ({
    scenario: 'synthetic',
    ttlMs: 2_000,
    livenessBoundMs: 4_000,
    entryPrefix: prefix,
    writeKey,
    terms: [term('c0', 'a', 10, 1_000, 1_500), term('c1', 'b', 11, 1_510, 2_000)],
    writes: [
      { cand: 'c0', token: 10n, seq: 0, committed: true, stale: false, sentAt: 1_100 },
      { cand: 'c1', token: 11n, seq: 0, committed: true, stale: false, sentAt: 1_600 },
      { cand: 'c0', token: 10n, seq: 1, committed: false, stale: true, sentAt: 1_520 },
    ],
    history: [
      put(`${prefix}a`, 'c0', 10),
      put(`${prefix}b`, 'c1', 11),
      write(10, 'c0', 0, 12),
      del(`${prefix}a`, 13),
      write(11, 'c1', 0, 14),
      del(`${prefix}b`, 15),
    ],
    heals: [{ at: 900, label: 'start', exclude: [] }],
    triggers: [{ at: 1_500, label: 'resign', from: 'c0' }],
    settle: { ok: true, detail: '' },
    orphans: [],
    failures: [],
  });
  /** The kinds of violation found, each once, in the order first found. */
  const checksOf = (record: TrialRecord): Check[] => [
    ...new Set(check(record).violations.map((v) => v.check)),
  ];

  test('a clean history passes, with its handover measured', () => {
    const verdict = check(base());
    assert.deepEqual(verdict.violations, []);
    assert.deepEqual(verdict.leads, [10]);
    assert.deepEqual(verdict.handovers, [{ label: 'resign', ms: 10 }]);
  });

  test('overlapping terms', () => {
    const r = base();
    (r.terms[1] as TermRecord).startedAt = 1_400;
    assert.ok(checksOf(r).includes('overlap'));
  });

  /**
   * c1 begins at 1_450 while c0 believes until `c0End`; a raft leader resumed at `resume`. c1 is on
   * the service mode, c0 on the client recipe (`service` changes who is).
   */
  const early = (opts: { c0End?: number; resume?: number | null; service?: string[] } = {}): TrialRecord => {
    const r = base();
    const c0End = opts.c0End ?? 1_500;
    Object.assign(r.terms[0] as TermRecord, { endedAt: c0End, lastActive: c0End - 1, reason: 'key-deleted' });
    (r.terms[1] as TermRecord).startedAt = 1_450;
    r.service = opts.service ?? ['c1'];
    r.resumes = opts.resume === null ? [] : [opts.resume ?? 1_400];
    return r;
  };

  test('an early-revocation window: allowed on the service mode just after a raft leader resumed, and measured', () => {
    const verdict = check(early());
    assert.deepEqual(verdict.violations, []);
    assert.deepEqual(verdict.windows, [
      { earlier: 'c0#10', later: 'c1#11', mode: 'mixed', ms: 50, afterResumeMs: 50, allowed: true },
    ]);
    // The window is not a step-down lead (leads are positive by definition).
    assert.deepEqual(verdict.leads, []);
    // c0 lost its entry 100 ms after the resume: an early revocation, 50 ms into its successor's term.
    assert.deepEqual(verdict.revocations, [{ term: 'c0#10', mode: 'client', leadMs: -50 }]);
    assert.deepEqual(check(early({ resume: 900 })).revocations, []);
  });

  test('an overlap too long for its modes, or not after a resume, is a violation', () => {
    const tooLong = check(early({ c0End: 1_700 }));
    assert.deepEqual([...new Set(tooLong.violations.map((v) => v.check))], ['overlap']);
    assert.equal(tooLong.windows[0]?.allowed, false);
    assert.equal(tooLong.windows[0]?.ms, 250);
    const noResume = check(early({ resume: null }));
    assert.deepEqual([...new Set(noResume.violations.map((v) => v.check))], ['overlap']);
    assert.deepEqual(noResume.windows, []);
    // A resume long before the successor began does not count either.
    assert.ok(checksOf(early({ resume: 800 })).includes('overlap'));
    // Both on the service mode, or only the old leader: the same window.
    assert.deepEqual(check(early({ service: ['c0', 'c1'] })).windows[0]?.mode, 'service');
    assert.deepEqual(check(early({ service: ['c0'] })).violations, []);
    // Two client-mode terms: the same window, with a tighter bound (50 ms is allowed, 51 ms is not).
    const client = check(early({ service: [] }));
    assert.deepEqual(client.violations, []);
    assert.deepEqual(
      client.windows.map((w) => [w.mode, w.allowed]),
      [['client', true]],
    );
    const clientLong = check(early({ service: [], c0End: 1_501 }));
    assert.deepEqual([...new Set(clientLong.violations.map((v) => v.check))], ['overlap']);
    assert.deepEqual(
      clientLong.windows.map((w) => [w.mode, w.ms, w.allowed]),
      [['client', 51, false]],
    );
  });

  test('the early-revocation window gives fencing no allowance', () => {
    const r = early();
    // c0 still believes it leads and writes after c1 began: etcd must refuse it.
    r.writes.push({ cand: 'c0', token: 10n, seq: 2, committed: true, stale: false, sentAt: 1_460 });
    r.history.splice(4, 0, write(10, 'c0', 2, 13));
    r.history = r.history.map((e, i) => (i > 4 ? { ...e, modRevision: e.modRevision + 1n } : e));
    assert.deepEqual(checksOf(r), ['fencing']);
  });

  test('recovery after a member fault: 0 without a lapse, else to the term that ended the last gap; the gap alone too', () => {
    const r = base();
    r.memberFaults = [{ at: 1_200, label: 'etcd raft leader paused', healedAt: 1_300 }];
    r.leftAt = 2_000;
    assert.deepEqual(check(r).recoveries, [{ label: 'etcd raft leader paused', ms: 310, gapMs: 10 }]);
    const noLapse = base();
    (noLapse.terms[1] as TermRecord).startedAt = 1_500;
    noLapse.memberFaults = [{ at: 1_200, label: 'etcd follower paused', healedAt: 1_300 }];
    noLapse.leftAt = 2_000;
    assert.deepEqual(check(noLapse).recoveries, [{ label: 'etcd follower paused', ms: 0, gapMs: 0 }]);
    // Nobody led again before everyone stopped.
    const never = base();
    never.terms.pop();
    never.memberFaults = [{ at: 1_200, label: 'etcd member killed', healedAt: 1_300 }];
    never.leftAt = 3_000;
    assert.deepEqual(check(never).recoveries, [{ label: 'etcd member killed', ms: null, gapMs: null }]);
  });

  test('belief after the announced end', () => {
    const r = base();
    (r.terms[0] as TermRecord).lastActive = 1_505;
    assert.ok(checksOf(r).includes('overlap'));
  });

  test('a killed leader whose successor began before the kill', () => {
    const r = base();
    Object.assign(r.terms[0] as TermRecord, {
      announced: false,
      endedAt: null,
      lastActive: null,
      killedAt: 1_600,
    });
    assert.ok(checksOf(r).includes('overlap'));
  });

  test('tokens that do not increase', () => {
    const r = base();
    (r.terms[1] as TermRecord).token = 10n;
    assert.ok(checksOf(r).includes('tokens'));
  });

  test('a term whose entry etcd never had as the oldest', () => {
    const r = base();
    (r.terms[1] as TermRecord).token = 12n;
    assert.ok(checksOf(r).includes('tokens'));
  });

  test("a term holding a token that is another entry's create revision", () => {
    const r = base();
    (r.terms[1] as TermRecord).key = `${prefix}a`;
    assert.deepEqual(checksOf(r), ['tokens']);
  });

  test('a stale guarded write that etcd applied', () => {
    const r = base();
    // c0's entry is gone at revision 13; its write at 14 must have been refused.
    r.history = [
      put(`${prefix}a`, 'c0', 10),
      put(`${prefix}b`, 'c1', 11),
      write(10, 'c0', 0, 12),
      del(`${prefix}a`, 13),
      write(10, 'c0', 1, 14),
      write(11, 'c1', 0, 15),
      del(`${prefix}b`, 16),
    ];
    (r.writes[2] as { committed: boolean | null }).committed = true;
    assert.deepEqual(checksOf(r), ['fencing']);
  });

  test('a write reported refused that etcd applied, or reported committed that it never applied', () => {
    const refused = base();
    (refused.writes[0] as { committed: boolean | null }).committed = false;
    assert.ok(checksOf(refused).includes('fencing'));
    const phantom = base();
    phantom.writes.push({ cand: 'c1', token: 11n, seq: 7, committed: true, stale: false, sentAt: 1_700 });
    assert.ok(checksOf(phantom).includes('fencing'));
  });

  test('an end never announced, or announced without a reason', () => {
    const silent = base();
    Object.assign(silent.terms[1] as TermRecord, { announced: false, endedAt: null, reason: null });
    assert.ok(checksOf(silent).includes('announced'));
    const noReason = base();
    (noReason.terms[1] as TermRecord).reason = null;
    assert.ok(checksOf(noReason).includes('announced'));
  });

  test('no leader within TTL + 2 s of a heal; an excluded candidate counts only once its fault ends', () => {
    const late = base();
    late.heals.push({ at: 2_100, label: 'late', exclude: [] });
    assert.ok(checksOf(late).includes('liveness'));
    const excluded = base();
    excluded.heals = [{ at: 1_200, label: 'c0 frozen', exclude: ['c0', 'c1'] }];
    assert.ok(checksOf(excluded).includes('liveness'));
    const resumed = base();
    resumed.heals = [{ at: 1_200, label: 'c0 frozen', exclude: ['c0'], until: 1_300 }];
    assert.deepEqual(checksOf(resumed), []);
  });

  test('stuck candidates, orphan keys and crashes', () => {
    const r = base();
    r.settle = { ok: false, detail: 'c1 holds the oldest entry but does not lead' };
    r.orphans = ['chaos/x/t/e/b=c1'];
    r.failures.push({ check: 'crash', message: 'unhandledRejection' });
    assert.deepEqual(checksOf(r).sort(), ['crash', 'orphan', 'stuck']);
  });
});

describe('the shared checker on backend-neutral records (no backend history)', () => {
  const term = (cand: string, token: number, start: number, end: number | null): TermRecord => ({
    cand,
    token: BigInt(token),
    key: `e/${cand}`,
    startedAt: start,
    announced: end !== null,
    reason: end === null ? null : 'resigned',
    endedAt: end,
    lastActive: null,
    killedAt: null,
  });
  const history = (terms: TermRecord[], writes: WriteRecord[] = []): History => ({
    terms,
    writes,
    livenessBoundMs: 4_000,
    heals: [],
    triggers: [],
    settle: { ok: true, detail: '' },
    orphans: [],
    failures: [],
  });
  const checksOf = (h: History, partial = false): Check[] =>
    checkHistory(h, { partial }).violations.map((v) => v.check);

  test('a write committed though it was sent after a newer term began breaks fencing', () => {
    const terms = [term('c0', 10, 1_000, 1_500), term('c1', 11, 1_510, 2_000)];
    const stale = { cand: 'c0', token: 10n, seq: 3, stale: true, sentAt: 1_600 };
    assert.deepEqual(checksOf(history(terms, [{ ...stale, committed: false }])), []);
    assert.deepEqual(checksOf(history(terms, [{ ...stale, committed: true }])), ['fencing']);
    // Sent while c0 still led: it may commit (the backend had not let c0's entry go yet).
    assert.deepEqual(checksOf(history(terms, [{ ...stale, sentAt: 1_400, committed: true }])), []);
  });

  test('a write committed with a token no candidate held breaks fencing', () => {
    const terms = [term('c0', 10, 1_000, 1_500)];
    const write = { cand: 'c9', token: 99n, seq: 0, stale: false, sentAt: 1_100, committed: true };
    assert.deepEqual(checksOf(history(terms, [write])), ['fencing']);
  });

  test('partial records: an end not reported yet proves nothing, but a reported one does', () => {
    // On etcd a paused leader reports its end only once it runs again, after its successor began.
    const pending = [term('c0', 10, 1_000, null), term('c1', 11, 1_510, null)];
    assert.deepEqual(checksOf(history(pending), true), []);
    assert.deepEqual(checksOf(history(pending)), ['announced', 'announced', 'overlap']);
    const late = [term('c0', 10, 1_000, 1_600), term('c1', 11, 1_510, null)];
    assert.deepEqual(checksOf(history(late), true), ['overlap']);
  });
});

describe("the demo's ledger judges with the shared checker", () => {
  const result = (): ScenarioResult => ({
    handovers: (['resign', 'crash', 'pause', 'concede'] as const).map((fault, i) => ({
      fault,
      from: `c${i}`,
      fromToken: BigInt(i + 1),
      faultAt: 1_000 * (i + 1),
      boundMs: 1_000,
      to: `c${i + 1}`,
      toToken: BigInt(i + 2),
      electedAt: 1_000 * (i + 1) + 10,
    })),
    observed: [1n, 2n, null],
    interrupted: false,
    durationMs: 5_000,
  });
  const run = (plant: (ledger: Ledger) => void): { live: string[]; code: number; failed: string[] } => {
    const live: string[] = [];
    const ledger = new Ledger((v) => live.push(v.invariant));
    ledger.opened('c1', 1n, 'e/c1', 100);
    ledger.wrote({ cand: 'c1', token: 1n, seq: 0, committed: true, stale: false, sentAt: 150 });
    ledger.closed(1n, 200, 'resigned', true);
    plant(ledger);
    // What the live check reported while the demo ran, before the final judgement.
    const during = [...live];
    const summary = judge(ledger, result());
    return {
      live: during,
      code: exitCode(summary, result()),
      failed: summary.checks.filter((c) => !c.held).map((c) => c.invariant),
    };
  };

  test('a clean record exits 0', () => {
    const clean = run((ledger) => {
      ledger.opened('c2', 2n, 'e/c2', 210);
      ledger.closed(2n, 300, 'resigned', true);
    });
    assert.deepEqual(clean, { live: [], code: 0, failed: [] });
  });

  test('a planted overlapping term is caught as it is reported, and the demo exits 8', () => {
    const overlap = run((ledger) => {
      ledger.opened('c2', 2n, 'e/c2', 190);
      ledger.closed(2n, 300, 'resigned', true);
    });
    assert.deepEqual(overlap.live, ['overlap']);
    assert.deepEqual(overlap.failed, ['overlap']);
    assert.equal(overlap.code, ExitCode.INVARIANT);
    assert.equal(overlap.code, 8);
  });

  test('a planted stale write that committed after the next term began fails fencing (exit 8)', () => {
    const stale = run((ledger) => {
      ledger.opened('c2', 2n, 'e/c2', 210);
      ledger.wrote({ cand: 'c1', token: 1n, seq: 1, committed: true, stale: true, sentAt: 250 });
      ledger.closed(2n, 300, 'resigned', true);
    });
    assert.deepEqual(stale.failed, ['fencing']);
    assert.equal(stale.code, 8);
  });

  test('a term whose end nobody reported fails "announced"; a killed one is inferred', () => {
    const silent = run((ledger) => ledger.opened('c2', 2n, 'e/c2', 210));
    assert.deepEqual(silent.live, [], 'an open term is not flagged while the demo runs');
    assert.deepEqual(silent.failed, ['announced']);
    const killed = run((ledger) => {
      ledger.opened('c2', 2n, 'e/c2', 210);
      ledger.closed(2n, 300, KILLED, false);
    });
    assert.equal(killed.code, 0);
  });
});

describe("chaos checker on PostgreSQL's commit-ordered log (synthetic rows)", () => {
  const prefix = 'chaos/x/t/e/';
  const writeKey = 'chaos/x/t/fenced';
  type Row = PgLogRow;
  const put = (n: number, xid: number, session: number, seq: number): Row => ({
    n: String(n),
    xid: String(xid),
    kind: 'put',
    session_id: String(session),
    token: String(seq),
    candidate: null,
    seq: null,
  });
  const del = (n: number, xid: number, session: number, seq: number): Row => ({
    ...put(n, xid, session, seq),
    kind: 'del',
  });
  const write = (n: number, xid: number, token: number, cand: string, seq: number): Row => ({
    n: String(n),
    xid: String(xid),
    kind: 'write',
    session_id: null,
    token: String(token),
    candidate: cand,
    seq,
  });
  const term = (cand: string, session: number, token: number, start: number, end: number): TermRecord => ({
    cand,
    token: BigInt(token),
    key: `${prefix}${session}`,
    startedAt: start,
    announced: true,
    reason: 'resigned',
    endedAt: end,
    lastActive: end - 1,
    killedAt: null,
  });
  /** c0 (session 7, seq 40) hands over to c1 (session 8, seq 41); the log numbers are not the seqs. */
  const record = (rows: Row[]): TrialRecord => {
    const log = new PgLogEvents(prefix, writeKey);
    log.add(rows);
    return {
      scenario: 'synthetic-pg',
      ttlMs: 2_000,
      livenessBoundMs: 4_000,
      entryPrefix: prefix,
      writeKey,
      store: 'postgres',
      terms: [term('c0', 7, 40, 1_000, 1_500), term('c1', 8, 41, 1_510, 2_000)],
      writes: [
        { cand: 'c0', token: 40n, seq: 0, committed: true, stale: false, sentAt: 1_100 },
        { cand: 'c1', token: 41n, seq: 0, committed: true, stale: false, sentAt: 1_600 },
      ],
      history: log.events,
      heals: [{ at: 900, label: 'start', exclude: [] }],
      triggers: [],
      settle: { ok: true, detail: '' },
      orphans: [],
      failures: [],
    };
  };
  const checksOf = (r: TrialRecord): Check[] => [...new Set(check(r).violations.map((v) => v.check))];

  test('a clean log passes, the rows of one transaction judged together', () => {
    // The resign deletes entry 40 (xid 4); 41 then leads.
    const rows = [put(1, 1, 7, 40), put(2, 2, 8, 41), write(3, 3, 40, 'c0', 0), del(4, 4, 7, 40)];
    rows.push(write(5, 5, 41, 'c1', 0), del(6, 6, 8, 41));
    assert.deepEqual(check(record(rows)).violations, []);
  });

  test("a write committed after its entry's delete fails fencing", () => {
    const rows = [put(1, 1, 7, 40), put(2, 2, 8, 41), del(3, 3, 7, 40), write(4, 4, 40, 'c0', 0)];
    rows.push(write(5, 5, 41, 'c1', 0));
    const r = record(rows);
    assert.deepEqual(checksOf(r), ['fencing']);
    assert.match(check(r).violations[0]?.message ?? '', /leader's token was 41/);
  });

  test('a write reported committed that the log lacks fails fencing, naming PostgreSQL', () => {
    const rows = [put(1, 1, 7, 40), put(2, 2, 8, 41), del(3, 3, 7, 40), write(4, 4, 41, 'c1', 0)];
    const r = record(rows);
    assert.deepEqual(checksOf(r), ['fencing']);
    assert.match(check(r).violations[0]?.message ?? '', /postgres never applied it/);
  });

  test('a term on an entry of another session fails tokens', () => {
    const rows = [put(1, 1, 9, 40), put(2, 2, 8, 41), write(3, 3, 40, 'c0', 0), del(4, 4, 9, 40)];
    rows.push(write(5, 5, 41, 'c1', 0));
    assert.deepEqual(checksOf(record(rows)), ['tokens']);
  });

  test('a term whose entry never was the oldest fails tokens', () => {
    // Entry 39 of another session stays ahead of 40 the whole time, yet c0 believed it led.
    const rows = [put(1, 1, 5, 39), put(2, 2, 7, 40), del(3, 3, 7, 40), put(4, 4, 8, 41), del(5, 5, 5, 39)];
    const r = record(rows);
    r.writes = [];
    assert.ok(checksOf(r).includes('tokens'));
  });
});
