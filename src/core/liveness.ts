/**
 * Observer liveness: an observer that has heard nothing from its backend for `staleAfter` ms
 * cannot vouch for the leader any more and says so (kind 'unknown'); once contact is back it
 * reports the leader again. Backend-neutral: contact is proven by a change from the driver's
 * stream or by a confirming read (ElectionDriver.confirm), which observers of one shared stream
 * share, so 1,000 observers cost one read per interval, not 1,000.
 */
import { Channel } from './channel.js';
import { sleep, type Clock } from './clock.js';
import type { Confirmation, ElectionView, LeaderRecord } from './contract.js';
import { toLeader, type LeaderChange, type UnknownLeader } from './election.js';
import { BallotError, InvalidArgumentError, type ErrorCode } from './errors.js';

/** Probe errors that end an observation instead of making it 'unknown'. */
const ENDING_CODES: ReadonlySet<ErrorCode> = new Set(['AUTH', 'CLOSED']);

/** Throws unless `ms` can bound an observer's staleness: a positive finite number of milliseconds. */
export function checkStaleAfter(ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0)
    throw new InvalidArgumentError(
      `staleAfter must be a positive number of milliseconds (e.g. 5000), got ${String(ms)}`,
    );
  return ms;
}

/**
 * One read shared by every caller that accepts a result this old: a read started less than
 * `maxAgeMs` ago (finished or still running, succeeded or failed) is reused instead of sending
 * another. This is what keeps the probe rate per shared stream, not per observer.
 */
export class SharedRead {
  private last?: { at: number; result: Promise<Confirmation> };

  constructor(
    private readonly clock: Clock,
    private readonly read: () => Promise<LeaderRecord | null>,
  ) {}

  /** The leader as of a read started at most `maxAgeMs` ago (`at` is when that read started). */
  confirm(maxAgeMs: number): Promise<Confirmation> {
    const now = this.clock.now();
    if (this.last && now - this.last.at < maxAgeMs) return this.last.result;
    const result = this.read().then((record) => ({ record, at: now }));
    result.catch(() => undefined);
    this.last = { at: now, result };
    return result;
  }
}

type Input =
  | { kind: 'change'; record: LeaderRecord | null }
  | { kind: 'confirmed'; confirmation: Confirmation }
  | { kind: 'tick' };

/**
 * Streams leader changes of `name` through `driver`, "none" included, plus 'unknown' once nothing
 * has confirmed the view for `staleAfter` ms, then the leader again (even if unchanged) when
 * contact is back. Quiet streams are confirmed by a read every `staleAfter / 2` ms.
 */
export async function* observeWithLiveness(
  name: string,
  driver: ElectionView,
  clock: Clock,
  staleAfter: number,
  signal?: AbortSignal,
): AsyncGenerator<LeaderChange, void, undefined> {
  const stop = new AbortController();
  const combined = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const inputs = new Channel<Input>();
  const half = staleAfter / 2;
  let confirmedAt = clock.now();
  void (async () => {
    try {
      for await (const record of driver.observe(combined)) inputs.push({ kind: 'change', record });
      inputs.close();
    } catch (err) {
      inputs.close(err);
    } finally {
      // Stop probing now, not when the consumer next pulls: it may never pull again.
      stop.abort();
    }
  })();
  void (async () => {
    let probing = false;
    while (!combined.aborted) {
      const age = clock.now() - confirmedAt;
      if (age >= half && !probing) {
        probing = true;
        driver
          .confirm(half)
          .then(
            (confirmation) => inputs.push({ kind: 'confirmed', confirmation }),
            (err: unknown) => {
              // Refused credentials or a closed backend will not heal: end with the error. Any
              // other failed probe is what 'unknown' reports, and the next one retries.
              if (err instanceof BallotError && ENDING_CODES.has(err.code)) inputs.close(err);
            },
          )
          .finally(() => (probing = false));
      }
      if (age >= staleAfter) inputs.push({ kind: 'tick' });
      // Weak: what keeps a program alive is the stream being watched, not the check on it.
      const wait = age < half ? half - age : age < staleAfter ? staleAfter - age : half;
      await sleep(clock, wait, combined, { weak: true });
    }
  })();

  let stale = false;
  let shown: LeaderChange | undefined;
  // Leader tokens only grow over an election's life: a lower one arriving after a confirming
  // read is history the stream had not delivered yet, not a newer view.
  let newestToken = -1n;
  const view = (record: LeaderRecord | null): LeaderChange | undefined => {
    if (record && record.token < newestToken) return undefined;
    const change: LeaderChange = record ? toLeader(name, record) : none(name);
    if (!stale && shown && same(shown, change)) return undefined;
    if (record) newestToken = record.token;
    stale = false;
    shown = change;
    return change;
  };
  try {
    for await (const input of inputs) {
      if (input.kind === 'tick') {
        if (stale || clock.now() - confirmedAt < staleAfter) continue;
        stale = true;
        shown = unknown(name, confirmedAt);
        yield shown;
      } else if (input.kind === 'change') {
        confirmedAt = clock.now();
        const change = view(input.record);
        if (change) yield change;
      } else {
        confirmedAt = Math.max(confirmedAt, input.confirmation.at);
        // While the view is confirmed, the stream reports changes; a read only proves contact.
        if (!stale || clock.now() - confirmedAt >= staleAfter) continue;
        const change = view(input.confirmation.record);
        if (change) yield change;
      }
    }
  } finally {
    stop.abort();
  }
}

function same(a: LeaderChange, b: LeaderChange): boolean {
  return a.kind === b.kind && a.key === b.key && a.token === b.token && a.value === b.value;
}

function none(election: string): LeaderChange {
  return { kind: 'none', election, value: null, key: null, token: null, lease: null };
}

function unknown(election: string, since: number): UnknownLeader {
  return { kind: 'unknown', election, value: null, key: null, token: null, lease: null, since };
}
