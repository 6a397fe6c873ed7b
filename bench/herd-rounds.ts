/**
 * What the herd benches share, whatever server they run on: who leads (reported by the candidates'
 * callbacks), and the rounds in which the leader resigns and rejoins at the back of the line.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { withTimeout } from './handover-common.js';

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
