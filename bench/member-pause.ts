/**
 * Recovery after a paused etcd member (SIGSTOP: its sockets stay open, nothing answers).
 *
 * A 3-member cluster; N LeaderElector candidates in this process, each with its own client whose
 * endpoint list starts at a different member. Each trial pauses one member (round robin over: the
 * raft leader, a follower nobody leads through, the member the current ballot leader talks to),
 * then measures, on the backend's monotonic clock:
 * - recovery: from the pause to the start of the leadership that then holds without a gap for a
 *   second and past pause + TTL (0 when the leader's term survived the pause);
 * - early ends: terms begun after the pause that ended `unreachable` within 500 ms of starting.
 * The member is then resumed and the cluster left to settle before the next trial.
 *
 * Run: node --import tsx bench/member-pause.ts  (env: TRIALS per scenario, default 20; CANDIDATES,
 * default 5; TTL in seconds, default 2). Prints one JSON line per trial, then a summary.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Backend } from '../src/core/backend.js';
import { LeaderElector } from '../src/core/elector.js';
import type { Term, TermEndReason } from '../src/core/term.js';
import { EtcdDriver } from '../src/backends/etcd/driver.js';
import type { EtcdTxn } from '../src/backends/etcd/txn.js';
import { startEtcdCluster, type EtcdCluster } from '../test/fixtures/etcd.js';
import { summarize } from './stats.js';

const TRIALS = Number(process.env['TRIALS'] ?? 20);
const CANDIDATES = Number(process.env['CANDIDATES'] ?? 5);
const TTL = Number(process.env['TTL'] ?? 2);
const CALL_TIMEOUT = 5000;
/** A trial that has not recovered by then is recorded at this value and flagged. */
const CAP_MS = 20_000;
/** Leadership must hold this long without a gap to count as recovered. */
const HOLD_MS = 1000;
const EARLY_MS = 500;

type Scenario = 'raft-leader' | 'follower' | 'leader-member';
const SCENARIOS: Scenario[] = ['raft-leader', 'follower', 'leader-member'];

interface TermRecord {
  who: number;
  start: number;
  end?: number;
  reason?: TermEndReason;
}

interface Candidate {
  elector: LeaderElector<EtcdTxn>;
  driver: EtcdDriver;
}

const records = new Map<Term<EtcdTxn>, TermRecord>();

function startCandidates(cluster: EtcdCluster): Candidate[] {
  return Array.from({ length: CANDIDATES }, (_, i) => {
    const n = cluster.endpoints.length;
    const endpoints = cluster.endpoints.map((_, k) => cluster.endpoints[(i + k) % n] as string);
    const driver = new EtcdDriver({ endpoints, callTimeout: CALL_TIMEOUT, dialTimeout: CALL_TIMEOUT });
    const elector = new LeaderElector({
      backend: new Backend(driver),
      election: 'member-pause',
      value: `c${i}`,
      ttl: TTL,
      flapGuard: false,
    });
    elector.on('retrying', () => undefined);
    elector.on('elected', (term) => records.set(term, { who: i, start: term.startedAt }));
    elector.on('deposed', (term, reason) => {
      const record = records.get(term);
      if (record) {
        record.end = term.ended?.at ?? driver.clock.now();
        record.reason = reason;
      }
    });
    return { elector, driver };
  });
}

/** The candidate whose term is active now, if any. */
function leading(candidates: Candidate[]): number | undefined {
  const i = candidates.findIndex((c) => c.elector.isLeader());
  return i >= 0 ? i : undefined;
}

/** The start of the leadership that holds now without a gap (merging abutting terms), or undefined. */
function heldSince(now: number): number | undefined {
  const spans = [...records.values()]
    .map((r) => ({ start: r.start, end: r.end ?? Infinity }))
    .sort((a, b) => a.start - b.start);
  let since: number | undefined;
  let reach = -Infinity;
  for (const s of spans) {
    if (s.start > reach) since = s.start;
    reach = Math.max(reach, s.end);
  }
  return reach >= now ? since : undefined;
}

async function settle(cluster: EtcdCluster, candidates: Candidate[], clock: () => number): Promise<void> {
  await cluster.leaderIndex(15_000);
  const until = clock() + 30_000;
  for (;;) {
    const now = clock();
    const since = heldSince(now);
    if (since !== undefined && now - since >= TTL * 1000 + HOLD_MS && leading(candidates) !== undefined)
      return;
    if (now > until) throw new Error('no stable leader 30 s after resuming');
    await sleep(50);
  }
}

async function trial(
  cluster: EtcdCluster,
  candidates: Candidate[],
  scenario: Scenario,
  clock: () => number,
): Promise<{ recovery: number; early: number; started: number; capped: boolean; target: number }> {
  const raft = await cluster.leaderIndex(15_000);
  const who = leading(candidates) ?? 0;
  const talksTo = cluster.endpoints.indexOf(candidates[who]!.driver.client.connection.activeEndpoint);
  let target: number;
  if (scenario === 'raft-leader') target = raft;
  else if (scenario === 'leader-member') target = talksTo;
  else target = [0, 1, 2].find((m) => m !== raft && m !== talksTo) ?? [0, 1, 2].find((m) => m !== raft)!;
  const node = cluster.nodes[target]!;
  const pausedAt = clock();
  await node.pause();
  let recovery = CAP_MS;
  let capped = true;
  try {
    for (;;) {
      await sleep(20);
      const now = clock();
      if (now - pausedAt > CAP_MS) break;
      const since = heldSince(now);
      if (since === undefined || now < pausedAt + TTL * 1000 + HOLD_MS) continue;
      if (now - Math.max(since, pausedAt) < HOLD_MS) continue;
      recovery = Math.max(0, since - pausedAt);
      capped = false;
      break;
    }
  } finally {
    node.resume();
  }
  const resumedAt = clock();
  const window = [...records.values()].filter((r) => r.start >= pausedAt && r.start <= resumedAt);
  const early = window.filter(
    (r) => r.reason === 'unreachable' && r.end !== undefined && r.end - r.start < EARLY_MS,
  ).length;
  return { recovery, early, started: window.length, capped, target };
}

async function main(): Promise<void> {
  const cluster = await startEtcdCluster(3);
  const candidates = startCandidates(cluster);
  const clock = () => candidates[0]!.driver.clock.now();
  const results = new Map<Scenario, { recovery: number[]; early: number; started: number; capped: number }>(
    SCENARIOS.map((s) => [s, { recovery: [], early: 0, started: 0, capped: 0 }]),
  );
  try {
    await settle(cluster, candidates, clock);
    for (let t = 0; t < TRIALS; t++) {
      for (const scenario of SCENARIOS) {
        const r = await trial(cluster, candidates, scenario, clock);
        const agg = results.get(scenario)!;
        agg.recovery.push(r.recovery);
        agg.early += r.early;
        agg.started += r.started;
        if (r.capped) agg.capped++;
        console.log(JSON.stringify({ trial: t, scenario, ...r, recovery: Math.round(r.recovery) }));
        await settle(cluster, candidates, clock);
      }
    }
  } finally {
    await Promise.all(candidates.map((c) => c.elector.stop().catch(() => undefined)));
    await cluster.stop();
  }
  console.log(`\nmember pause, ${CANDIDATES} candidates, TTL ${TTL} s, callTimeout ${CALL_TIMEOUT} ms`);
  console.log('scenario       trials  p50 ms  p99 ms  max ms  capped  terms begun  ended unreachable <500ms');
  for (const [scenario, agg] of results) {
    const s = summarize(agg.recovery);
    console.log(
      `${scenario.padEnd(14)} ${String(s.samples).padStart(6)} ${String(Math.round(s.p50)).padStart(7)} ` +
        `${String(Math.round(s.p99)).padStart(7)} ${String(Math.round(s.max)).padStart(7)} ` +
        `${String(agg.capped).padStart(7)} ${String(agg.started).padStart(12)} ${String(agg.early).padStart(12)}`,
    );
  }
}

await main();
