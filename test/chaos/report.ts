/** Aggregates trial results per scenario and renders docs/reliability.md. */
import { environment } from '../../bench/report.js';
import { formatSeed, parseSeed, type Seed } from '../fixtures/rng.js';
import { REGRESSION_SCHEDULES } from './regressions.js';
import { describeApis, replayCommand, termsByApi, type TrialResult } from './runner.js';
import type { Backend } from './protocol.js';
import { backendOf, type Scenario } from './scenarios.js';
import {
  CLIENT_EARLY_REVOCATION_BOUND_MS,
  EARLY_REVOCATION_BOUND_MS,
  RESUME_GRACE_MS,
  type ChaosVerdict,
  type PairMode,
} from './checker.js';
import { fixedInText, verdict as revokeVerdict } from '../../src/backends/etcd/known-bugs.js';

/** Per-scenario totals. */
export interface ScenarioStats {
  scenario: string;
  trials: number;
  violations: number;
  terms: number;
  committed: number;
  refused: number;
  staleCommitted: number;
  leads: number[];
  handovers: number[];
}

/** Nearest-rank quantile of values in any order (NaN when empty). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1] as number;
}

/** Totals per scenario, in the order given. */
export function aggregate(scenarios: readonly Scenario[], results: readonly TrialResult[]): ScenarioStats[] {
  return scenarios.map((s) => {
    const mine = results.filter((r) => r.scenario === s.name);
    return {
      scenario: s.name,
      trials: mine.length,
      violations: mine.reduce((n, r) => n + r.verdict.violations.length, 0),
      terms: mine.reduce((n, r) => n + r.verdict.terms, 0),
      committed: mine.reduce((n, r) => n + r.verdict.writes.committed, 0),
      refused: mine.reduce((n, r) => n + r.verdict.writes.refused, 0),
      staleCommitted: mine.reduce((n, r) => n + r.verdict.writes.staleCommitted, 0),
      leads: mine.flatMap((r) => r.verdict.leads),
      handovers: mine.flatMap((r) => r.verdict.handovers.map((h) => h.ms)),
    };
  });
}

/** The measured early-revocation windows of a run, by the successor's mode. */
export interface WindowStats {
  mode: PairMode;
  count: number;
  /** Windows over the bound for their modes: each is also a violation. */
  violations: number;
  p50: number;
  max: number;
}

/** Early-revocation windows across `results`, one row per mode that saw any. */
export function windowStats(results: readonly TrialResult[]): WindowStats[] {
  const all = results.flatMap((r) => r.verdict.windows);
  return (['service', 'mixed', 'client'] as const).flatMap((mode) => {
    const mine = all.filter((w) => w.mode === mode);
    if (mine.length === 0) return [];
    const v = mine.map((w) => w.ms);
    return [
      {
        mode,
        count: mine.length,
        violations: mine.filter((w) => !w.allowed).length,
        p50: quantile(v, 0.5),
        max: quantile(v, 1),
      },
    ];
  });
}

/** Terms lost right after a paused raft leader ran again, by the lost term's mode. */
export interface RevocationStats {
  mode: 'service' | 'client';
  count: number;
  /** The smallest step-down lead to the next term (negative: an overlap). */
  minLead: number;
}

/** Early revocations across `results` (see ChaosVerdict.revocations), one row per mode that saw any. */
export function revocationStats(results: readonly TrialResult[]): RevocationStats[] {
  const all = results.flatMap((r) => r.verdict.revocations);
  return (['service', 'client'] as const).flatMap((mode) => {
    const mine = all.filter((x) => x.mode === mode);
    if (mine.length === 0) return [];
    const leads = mine.flatMap((x) => (x.leadMs === null ? [] : [x.leadMs]));
    return [{ mode, count: mine.length, minLead: quantile(leads, 0) }];
  });
}

/** Recovery after member faults, by kind of fault. */
export interface RecoveryStats {
  label: string;
  samples: number;
  /** Faults after which no term began again before everyone stopped. */
  none: number;
  /** Recoveries that took longer than the target (TTL + 1 s). */
  overTarget: number;
  p50: number;
  p99: number;
  max: number;
  /** The longest leaderless gap after each fault (ChaosVerdict.recoveries' gapMs): p50, p99, over target. */
  gapP50: number;
  gapP99: number;
  gapOverTarget: number;
}

/** Recovery times across `results`, one row per kind of member fault; `targetMs` is TTL + 1 s. */
export function recoveryStats(results: readonly TrialResult[], targetMs: number): RecoveryStats[] {
  const byLabel = new Map<string, ChaosVerdict['recoveries']>();
  for (const r of results)
    for (const x of r.verdict.recoveries) byLabel.set(x.label, [...(byLabel.get(x.label) ?? []), x]);
  return [...byLabel.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([label, all]) => {
      const v = all.flatMap((x) => (x.ms === null ? [] : [x.ms]));
      const gaps = all.flatMap((x) => (x.gapMs === null ? [] : [x.gapMs]));
      return {
        label,
        samples: all.length,
        none: all.length - v.length,
        overTarget: v.filter((x) => x > targetMs).length,
        p50: quantile(v, 0.5),
        p99: quantile(v, 0.99),
        max: quantile(v, 1),
        gapP50: quantile(gaps, 0.5),
        gapP99: quantile(gaps, 0.99),
        gapOverTarget: gaps.filter((x) => x > targetMs).length,
      };
    });
}

const ms = (v: number): string =>
  Number.isNaN(v) ? '–' : v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(0)} ms`;

/** What the run was, for the report's header. */
export interface RunInfo {
  command: string;
  masterSeed: Seed;
  minutes: number;
  ttl: number;
  callTimeout: number;
  writeEveryMs: number;
  /** Share of candidates cast on the service mode. */
  serviceShare: number;
  /** Which store the candidates elected on. */
  backend: Backend;
  /** The PostgreSQL server's version, when the backend is PostgreSQL. */
  postgresVersion?: string;
  /** The ZooKeeper servers' version, when the backend is ZooKeeper. */
  zookeeperVersion?: string;
}

/** What the report says differently for each store. */
interface StoreText {
  title: string;
  store: string;
  /** The store's line of the environment list. */
  setup: string;
  /** How a guarded write is made, after "a guarded write" (may be empty). */
  write: string;
  /** How candidates reach the store (a sentence), in the candidates line. */
  backends: string;
  /** The fencing bullet of "What is checked". */
  fencing: string;
}

function storeText(info: RunInfo, env: ReturnType<typeof environment>): StoreText {
  switch (info.backend) {
    case 'postgres':
      return {
        title: '# Reliability under faults: PostgreSQL',
        store: 'PostgreSQL',
        setup:
          `- PostgreSQL: ${info.postgresVersion ?? 'unknown'}; one server on loopback (a throwaway cluster from ` +
          '`test/fixtures/postgres.ts`) with `synchronous_commit = on`, so an immediate shutdown loses no ' +
          'acknowledged commit (`fsync` stays off: the lab crashes processes, not the machine); the candidates ' +
          'connect as a non-superuser role',
        write: ' (an `INSERT` into a table of its own, through `tx.query` in the guard)',
        backends:
          'Each candidate has its own `postgres()` backend (pool and LISTEN connection) named after it. ',
        fencing:
          "- **fencing**: PostgreSQL's own history of the trial is replayed: deferred triggers (installed by the " +
          'harness, not by ballot) log every insert and delete of an entry row and every guarded write in commit ' +
          "order; at every write, the write's token is the seq of the oldest entry; writes reported committed " +
          'are in the log and writes reported refused are not. The checker is the one etcd trials use, with no ' +
          'allowance of any kind.',
      };
    case 'zookeeper':
      return {
        title: '# Reliability under faults: ZooKeeper',
        store: 'ZooKeeper',
        setup:
          `- ZooKeeper: ${info.zookeeperVersion ?? 'unknown'}; a 3-server ensemble on loopback ` +
          '(`test/fixtures/zookeeper.ts`: tickTime 500 ms, sessions granted from 1 s to 30 s)',
        write:
          ' (a multi of `check(leader node)` and the `create` of a persistent node of its own, ' +
          '`/chaos/<run>/<trial>/w/<token>-<candidate>-<seq>`, through `ZkTxn` in the guard)',
        backends:
          'Each candidate has its own `zookeeper()` backend, given every server (through its proxies) in a ' +
          "random order. On ZooKeeper lock nodes and latch nodes under one path form two lines (as Curator's " +
          'InterProcessMutex and LeaderLatch do), so a quarter of the trials cast every candidate as a Mutex and ' +
          'the others cast none (LeaderElector and `Election` share the latch line). ',
        fencing:
          "- **fencing**: ZooKeeper's own history of the trial is replayed: the harness reads the servers' " +
          'transaction logs (every create, delete and session close, in zxid order; a transaction counts once a ' +
          "majority of the servers logged it); at every write, the write's token is the czxid of the oldest " +
          'candidate node; writes reported committed are in the log and writes reported refused are not. The ' +
          'checker is the one etcd trials use, with no allowance of any kind. Besides, every write reported ' +
          'committed must still be readable at the end of the trial, from its own node, with the token that made it.',
      };
    case 'etcd':
      return {
        title: '# Reliability under faults',
        store: 'etcd',
        setup:
          `- etcd: ${env.etcd}, ${revokeFixText(env.etcd)}; 3 members on loopback (heartbeat 50 ms, election ` +
          'timeout 500 ms)',
        write: '',
        backends: `Share cast on etcd's v3election/v3lock services (\`mode: "service"\`): ${info.serviceShare}. `,
        fencing:
          "- **fencing**: etcd's history of the trial (read over its JSON gateway, not through ballot) is replayed; at " +
          "every applied guarded write, the write's token is the create revision of the oldest entry; writes reported " +
          'committed are in the history and writes reported refused are not.',
      };
  }
}

function revokeFixText(version: string): string {
  const verdict = revokeVerdict(version);
  if (verdict === 'unknown') return 'unknown whether it has the fix of etcd bug #15247';
  return verdict === 'fixed'
    ? 'has the fix of etcd bug #15247: a stale raft leader cannot revoke live leases'
    : `without the fix of etcd bug #15247 (fixed in ${fixedInText()}): a raft leader resumed after a pause may revoke live leases`;
}

/** The early-revocation and recovery sections of an etcd report (empty on other stores). */
function etcdSections(info: RunInfo, results: readonly TrialResult[]): string[] {
  if (info.backend !== 'etcd') return [];
  const windows = windowStats(results);
  const revocations = revocationStats(results);
  const targetMs = info.ttl * 1000 + 1_000;
  const recoveries = recoveryStats(results, targetMs);
  const resumes = results.filter((r) => r.scenario === 'raft-leader-paused').length;
  return [
    '## Early-revocation windows',
    '',
    `Service share: ${info.serviceShare} of the candidates drive etcd's v3election/v3lock services. On etcd ` +
      'without the fix of bug #15247 a raft leader that was paused and runs again may revoke leases that are ' +
      "live (it still counts down their TTL; the new raft leader's renewals never reached it): a leader's key " +
      'is deleted early, a successor begins, and the old leader believes until its own-key watch reports the ' +
      `delete. The checker accepts such an overlap of believed leadership only when it begins within ` +
      `${RESUME_GRACE_MS} ms of a paused raft leader's SIGCONT and lasts at most ${CLIENT_EARLY_REVOCATION_BOUND_MS} ms ` +
      `between two client-mode terms (both learn of the delete from a watch), ${EARLY_REVOCATION_BOUND_MS} ms when ` +
      "the service mode is involved (either term's candidate is on it); it is then measured here, not counted " +
      'as a violation. Every other overlap is a violation. ' +
      'Fencing has no allowance: every guarded ' +
      `write is checked against etcd's history as everywhere else. Raft leader pauses in this run: ${resumes} ` +
      '(raft-leader-paused trials).',
    '',
    ...(windows.length === 0
      ? ['No window in this run.']
      : [
          '| modes of the two terms | windows | of them violations | p50 | max |',
          '| --- | --: | --: | --: | --: |',
          ...windows.map((w) => `| ${w.mode} | ${w.count} | ${w.violations} | ${ms(w.p50)} | ${ms(w.max)} |`),
        ]),
    '',
    `Terms lost (entry deleted or session lost) within ${RESUME_GRACE_MS} ms of a paused raft leader's SIGCONT, ` +
      'overlap or not, with the smallest step-down lead to the next term (negative: an overlap):',
    '',
    ...(revocations.length === 0
      ? ['None in this run.']
      : [
          '| mode of the lost term | terms | smallest lead to the next term |',
          '| --- | --: | --: |',
          ...revocations.map((x) => `| ${x.mode} | ${x.count} | ${ms(x.minLead)} |`),
        ]),
    '',
    '## Recovery after a single-member fault',
    '',
    'For every pause or kill of one etcd member (raft leader or follower): from the fault to the start of ' +
      'the term that ended the last leaderless gap beginning before the member had been back for TTL + 2 s ' +
      `(or before the next fault); 0 when leadership never lapsed. Target: p99 ≤ TTL + 1 s = ${ms(targetMs)}. Not a CI assertion (CI asserts ` +
      'liveness: a leader within TTL + 2 s of every heal point). "Longest gap" is the longest of those ' +
      'leaderless gaps alone, from when nobody led to the next term: it leaves out a pause during which ' +
      'the old leader still led (a paused raft leader revokes leases only when it resumes).',
    '',
    ...(recoveries.length === 0
      ? ['No member fault in this run.']
      : [
          '| fault | samples | p50 | p99 | max | over target | no term after | longest gap p50 | longest gap p99 | gaps over target |',
          '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
          ...recoveries.map(
            (r) =>
              `| ${r.label} | ${r.samples} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${r.overTarget} | ${r.none} | ` +
              `${ms(r.gapP50)} | ${ms(r.gapP99)} | ${r.gapOverTarget} |`,
          ),
        ]),
    '',
  ];
}

/** The markdown of docs/reliability.md. */
export function renderReport(
  info: RunInfo,
  scenarios: readonly Scenario[],
  results: readonly TrialResult[],
): string {
  const env = environment();
  const stats = aggregate(scenarios, results);
  const violations = results.reduce((n, r) => n + r.verdict.violations.length, 0);
  const failed = results.filter((r) => r.verdict.violations.length > 0);
  const byTrigger = new Map<string, number[]>();
  for (const r of results)
    for (const h of r.verdict.handovers) byTrigger.set(h.label, [...(byTrigger.get(h.label) ?? []), h.ms]);

  const text = storeText(info, env);
  const regressions = REGRESSION_SCHEDULES.filter((r) => backendOf(r.scenario) === info.backend);
  const store = text.store;
  const lines = [
    text.title,
    '',
    `Generated by \`${info.command}\` on ${env.date}. Do not edit by hand: the next soak overwrites this file.`,
    '',
    `**${results.length} trials, ${violations} violations** in ${info.minutes.toFixed(1)} minutes ` +
      `(master seed ${formatSeed(info.masterSeed)}).`,
    '',
    text.setup,
    `- Node.js: ${env.node}`,
    `- Machine: ${env.cpus} cores, ${env.cpuModel}`,
    `- ballot: ${env.commit}`,
    `- Candidates: one process each${info.backend === 'postgres' ? '' : ' (the burst shares the workers)'}, each behind ` +
      `its own TCP fault proxies; session TTL ${info.ttl} s, call timeout ${info.callTimeout} ms; a leader makes a guarded write ` +
      `every ${info.writeEveryMs} ms and one more with its term after it ends` +
      text.write +
      '. About 70% drive LeaderElector; ' +
      'the rest run their own loop over `Election` (campaign/resign) or over `session.mutex()` (lock/unlock), ' +
      (info.backend === 'zookeeper'
        ? ''
        : 'queued in the same line, so mutex holders and leaders are judged as one sequence. ') +
      text.backends +
      `Terms by API: ${describeApis(termsByApi(results))}`,
    '',
    '## Per scenario',
    '',
    "Step-down lead: how long before the new leader's term began the old leader's believed term had ended " +
      '(end = the later of `term.ended.at` and the last moment the old leader still found itself leading; ' +
      'for a killed process, the kill). It must be positive. Handover: from the fault or resign to the ' +
      'next term of another candidate.',
    '',
    '| scenario | trials | violations | terms | guarded writes applied / refused | stale writes applied | step-down lead min | p50 | handover p50 | max |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
    ...stats.map(
      (s) =>
        `| ${s.scenario} | ${s.trials} | ${s.violations} | ${s.terms} | ${s.committed} / ${s.refused} | ${s.staleCommitted} | ` +
        `${ms(quantile(s.leads, 0))} | ${ms(quantile(s.leads, 0.5))} | ${ms(quantile(s.handovers, 0.5))} | ${ms(quantile(s.handovers, 1))} |`,
    ),
    '',
    `"Stale writes applied" are writes made with a term after it ended that ${store} still applied: only ` +
      'possible while the entry was still the oldest (its lease not yet expired, e.g. a resign racing its own ' +
      `write), which the fencing check verifies against ${store}'s history.`,
    '',
    '## Handover by trigger',
    '',
    '| trigger | samples | p50 | p90 | max |',
    '| --- | --: | --: | --: | --: |',
    ...[...byTrigger.entries()]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(
        ([label, v]) =>
          `| ${label} | ${v.length} | ${ms(quantile(v, 0.5))} | ${ms(quantile(v, 0.9))} | ${ms(quantile(v, 1))} |`,
      ),
    '',
    ...etcdSections(info, results),
    '## What is checked',
    '',
    '- **overlap**: believed leadership intervals `[term.startedAt, end]` of one election never overlap, on the ' +
      'CLOCK_MONOTONIC every process shares; a candidate never finds itself leading after its own `term.ended.at`' +
      (info.backend === 'etcd' ? ' (the one allowance: the early-revocation window above).' : '.'),
    `- **tokens**: tokens strictly increase in the order terms began; each term's token is an entry that ${store} ` +
      "really had as the oldest, under the key the candidate's term holds.",
    text.fencing,
    '- **announced**: every term of a process that was not killed reports its end, with a `TermEndReason`.',
    "- **liveness**: after each heal (or a leader's kill, freeze or partition), some other candidate leads within " +
      'TTL + 2 s.',
    '- **stuck**: within TTL + 2 s of the last heal every live candidate has exactly one entry, the oldest ' +
      "entry's candidate leads with its token, nobody else believes it leads, and every observer reports it.",
    '- **orphan**: once every candidate has stopped (all at once), no entry is left after TTL + 2 s.',
    '- **crash**: no unhandled rejection or uncaught exception in any candidate process; every `stop()` returns.',
    '',
    '## Scenarios',
    '',
    ...scenarios.map((s) => `- **${s.name}**: ${s.summary}`),
    '',
    '## Bugs this harness found',
    '',
    'Each schedule below found a bug; CI (`test/chaos.test.ts`) replays it on every run, and ' +
      '`test/chaos-regressions.test.ts` holds its smallest deterministic reproduction.',
    '',
    ...(regressions.length === 0
      ? ['None so far.']
      : regressions.map(
          (r) => `- ${r.bug}. Fix: ${r.fix}. Schedule: \`${replayCommand(r.scenario, parseSeed(r.seed))}\``,
        )),
    '',
    '## Violations in this run',
    '',
    ...(failed.length === 0
      ? ['None.']
      : failed.flatMap((r) => [
          `- ${r.trial} (\`${replayCommand(r.scenario, r.seed, r.serviceShare)}\`):`,
          ...r.verdict.violations.map((v) => `  - [${v.check}] ${v.message}`),
        ])),
    '',
  ];
  return lines.join('\n');
}
