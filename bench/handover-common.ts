/**
 * What the handover benches share, whatever server they run on: two candidates taking turns to lead,
 * the floor of one timed round trip, and the installed version of a peer package for the table.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Session } from '../src/index.js';
import { ms, type Result } from './report.js';
import { percentile, summarize, type Summary } from './stats.js';

/** Unmeasured handovers first, as for the floor: the first rounds pay for JIT and fresh connections. */
export const HANDOVER_WARMUP = 5;
/** A handover that takes this long is broken, not slow; fail instead of hanging the run. */
export const ROUND_TIMEOUT_MS = 10_000;

/** One side of a two-candidate election, whichever library it runs on. */
export interface Candidate {
  /** Starts campaigning; resolves with performance.now() taken when this candidate became leader. */
  campaign(): Promise<number>;
  /** Gives up leadership (or the entry); resolves once the library says it is done. */
  resign(): Promise<void>;
}

/** A ballot candidate in election `name` of `session`, campaigning with `value`. */
export function ballotCandidate(session: Session, name: string, value: string): Candidate {
  const election = session.election(name);
  return {
    campaign: () => election.campaign(value).then(() => performance.now()),
    resign: () => election.resign(),
  };
}

/** Two candidates in one election, and everything that must be closed after them. */
export interface Contest {
  candidates: [Candidate, Candidate];
  close(): Promise<void>;
}

/**
 * Alternates leadership: the waiter joins behind the leader (`queued` resolves once the server shows
 * both) and waits `waitMs`, and the time from just before the leader's resign() to the waiter becoming
 * leader is one sample.
 */
export async function handovers<C extends Contest>(
  open: () => Promise<C>,
  queued: (contest: C) => Promise<void>,
  rounds: number,
  waitMs: number,
): Promise<number[]> {
  const contest = await open();
  try {
    let [leader, waiter] = contest.candidates;
    await withTimeout(leader.campaign(), 'first campaign');
    const durations: number[] = [];
    for (let i = 0; i < HANDOVER_WARMUP + rounds; i++) {
      const elected = waiter.campaign();
      // Keeps a failed campaign from being an unhandled rejection while we poll; awaited below.
      elected.catch(() => undefined);
      await queued(contest);
      await sleep(waitMs);
      const start = performance.now();
      // Both at once, so a failed resign() fails the round now instead of leaving the waiter to time out.
      const [at] = await withTimeout(Promise.all([elected, leader.resign()]), `handover round ${i}`);
      if (i >= HANDOVER_WARMUP) durations.push(at - start);
      [leader, waiter] = [waiter, leader];
    }
    await leader.resign();
    return durations;
  } finally {
    await contest.close();
  }
}

/** Durations (ms) of `samples` sequential calls of `op`, `idleMs` apart, after `warmup` unmeasured ones. */
export async function roundTrips(
  op: (i: number) => Promise<unknown>,
  warmup: number,
  samples: number,
  idleMs: number,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await op(i);
  const durations: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (idleMs > 0) await sleep(idleMs);
    const start = performance.now();
    await op(i);
    durations.push(performance.now() - start);
  }
  return durations;
}

/** Rejects if `promise` takes over ROUND_TIMEOUT_MS. */
export function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ROUND_TIMEOUT_MS} ms`)), ROUND_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The installed version of `pkg`, not the range in package.json, so an upgrade shows in the table. */
export function installedVersion(pkg: string): string {
  try {
    // The packages benched have no "exports" map, so package.json sits next to lib/ where main resolves.
    const main = createRequire(import.meta.url).resolve(pkg);
    const manifest: unknown = JSON.parse(readFileSync(join(dirname(main), '..', 'package.json'), 'utf8'));
    const version =
      typeof manifest === 'object' && manifest !== null && 'version' in manifest
        ? manifest.version
        : undefined;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The two floor rows of a handover table: one round trip back to back, and after the waiter's idle gap. */
export function floorRows(
  scenario: string,
  what: string,
  put: Summary,
  idle: Summary,
  idleMs: number,
): Result[] {
  return [
    { scenario, name: `${what}, back to back (floor)`, ...put },
    {
      scenario,
      name: `${what}, each after ${idleMs} ms idle (floor)`,
      ...idle,
      ratioToPut: idle.p50 / put.p50,
    },
  ];
}

/** One handover series as a row: its summary, its ratios to both floors, p90, and any extra columns. */
export function seriesRow(
  scenario: string,
  name: string,
  durations: readonly number[],
  floors: { put: Summary; idle: Summary },
  extra: Record<string, string> = {},
): Result {
  const summary = summarize(durations);
  const sorted = [...durations].sort((a, b) => a - b);
  return {
    scenario,
    name,
    ...summary,
    ratioToPut: summary.p50 / floors.put.p50,
    ratioToIdlePut: summary.p50 / floors.idle.p50,
    extra: { 'p90 (ms)': ms(percentile(sorted, 0.9)), ...extra },
  };
}
