/**
 * What the herd benches share, whatever server they run on: who leads (reported by the candidates'
 * callbacks), and the rounds in which the leader resigns and rejoins at the back of the line.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Backend, Election, Session } from '../src/index.js';
import { ROUND_TIMEOUT_MS, withTimeout } from './handover-common.js';

/** Herd sizes measured, on etcd and PostgreSQL alike. */
export const HERD_SIZES = [2, 1000] as const;
/** Session TTL of every candidate, in seconds. */
export const HERD_TTL = 10;
/** Unmeasured rounds first. */
export const HERD_WARMUP = 3;
/** As in the handover bench: the next candidate has waited past etcd's 100 ms unsynced-watcher loop. */
export const HERD_WAIT_MS = 200;
/** Events for a change are sent by the time the next leader knows; this catches any straggler. */
export const HERD_SETTLE_MS = 50;
/** How long N candidates may take to join and elect a first leader. */
export const HERD_SETUP_TIMEOUT_MS = 120_000;

/** How candidates report back: who leads since when (performance.now()), or that something failed. */
export interface HerdEvents {
  elected(i: number, at: number): void;
  failed(err: Error): void;
}

/** Tracks the leader of a herd from the candidates' reports. */
export class Leadership implements HerdEvents {
  leader = -1;
  electedAt = 0;
  failure: Error | undefined;
  private wake: (() => void) | undefined;

  elected(i: number, at: number): void {
    this.leader = i;
    this.electedAt = at;
    this.wake?.();
  }

  failed(err: Error): void {
    this.failure ??= err;
    this.wake?.();
  }

  /** Resolves once a first leader is known (all n have joined by then); throws on a failure. */
  async first(n: number, started: number): Promise<void> {
    while (
      this.leader < 0 &&
      this.failure === undefined &&
      performance.now() - started < HERD_SETUP_TIMEOUT_MS
    )
      await sleep(10);
    if (this.failure) throw this.failure;
    if (this.leader < 0) throw new Error(`no leader among ${n} candidates`);
  }

  /** Resolves at the next report. */
  next(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }
}

/** One herd's moves for herdRounds(). */
export interface HerdMoves {
  resign(i: number): Promise<unknown>;
  /** Candidate i campaigns again, at the back of the line. */
  rejoin(i: number): void;
  /** Resolves once all n entries are back. */
  joined(): Promise<void>;
  /**
   * Called just before each resign; what it returns is called after the settle time with the
   * handover's duration and whether the round is measured (not warm-up).
   */
  begin(): Promise<(took: number, measured: boolean) => Promise<void>>;
}

/**
 * HERD_WARMUP + rounds rounds: the leader resigns, the next candidate leads, the old leader rejoins
 * at the back so N stays constant, and the bench waits HERD_WAIT_MS.
 */
export async function herdRounds(
  lead: Leadership,
  n: number,
  rounds: number,
  moves: HerdMoves,
): Promise<void> {
  for (let r = 0; r < HERD_WARMUP + rounds; r++) {
    const record = await moves.begin();
    const previous = lead.leader;
    const next = lead.next();
    const start = performance.now();
    await withTimeout(Promise.all([next, moves.resign(previous)]), `handover ${r} among ${n}`);
    if (lead.failure) throw lead.failure;
    if (lead.leader === previous) throw new Error(`candidate ${previous} was re-elected after resigning`);
    const took = lead.electedAt - start;
    await sleep(HERD_SETTLE_MS);
    await record(took, r >= HERD_WARMUP);
    moves.rejoin(previous);
    await moves.joined();
    await sleep(HERD_WAIT_MS);
  }
}

/** N ballot sessions on one backend in one election, and how to see them on the server. */
export interface BackendHerd {
  backend: Backend;
  /** The election's name. */
  name: string;
  n: number;
  rounds: number;
  /** Sessions opened at once while joining; default all n. */
  inFlight?: number;
  /** Resolves once all n candidates' entries are on the server. */
  joined(timeoutMs: number): Promise<void>;
  /** Resolves once the waiters have subscribed, so that the rounds measure a herd in place. */
  subscribed(): Promise<void>;
  /** A count the server keeps of the wake-ups it sends, if it has one. */
  serverEvents?(): Promise<number>;
}

/** What backendHerdSeries() measured, per measured round. */
export interface BackendHerdSeries {
  handover: number[];
  /** Increase of backend.stats().events: wake-ups delivered to the candidates. */
  events: number[];
  /** Increase of serverEvents(), if the server counts. */
  serverEvents: number[];
  /** From opening the first session to the first leader, ms. */
  joinedMs: number;
}

/**
 * Joins n ballot sessions of one backend to one election and runs herdRounds() on them, counting
 * the wake-ups each change causes. The caller closes the backend.
 */
export async function backendHerdSeries(herd: BackendHerd): Promise<BackendHerdSeries> {
  const { backend, n } = herd;
  const lead = new Leadership();
  const started = performance.now();
  const sessions: Session[] = [];
  for (let i = 0; i < n; i += herd.inFlight ?? n) {
    const batch = Math.min(herd.inFlight ?? n, n - i);
    sessions.push(
      ...(await Promise.all(Array.from({ length: batch }, () => backend.session({ ttl: HERD_TTL })))),
    );
  }
  const elections: Election[] = sessions.map((s) => s.election(herd.name));
  // A campaign cut short by the caller's close() after the series is not the series' failure.
  let done = false;
  const campaign = (i: number) => {
    elections[i]?.campaign(`c${i}`).then(
      () => lead.elected(i, performance.now()),
      (err: Error) => done || lead.failed(err),
    );
  };
  try {
    for (let i = 0; i < n; i++) campaign(i);
    await herd.joined(HERD_SETUP_TIMEOUT_MS);
    await lead.first(n, started);
    const series: BackendHerdSeries = {
      handover: [],
      events: [],
      serverEvents: [],
      joinedMs: performance.now() - started,
    };
    await herd.subscribed();
    await herdRounds(lead, n, herd.rounds, {
      resign: (i) => elections[i]?.resign() ?? Promise.resolve(),
      rejoin: campaign,
      joined: () => herd.joined(ROUND_TIMEOUT_MS),
      async begin() {
        const e0 = backend.stats().events;
        const s0 = await herd.serverEvents?.();
        return async (took: number, measured: boolean) => {
          const s1 = await herd.serverEvents?.();
          if (!measured) return;
          series.handover.push(took);
          series.events.push(backend.stats().events - e0);
          if (s0 !== undefined && s1 !== undefined) series.serverEvents.push(s1 - s0);
        };
      },
    });
    return series;
  } finally {
    done = true;
  }
}
