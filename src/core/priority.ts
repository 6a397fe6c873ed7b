/**
 * The priority policy of a LeaderElector (option `priorityTransfer`), as PD's members do it: while
 * leading, look at the line now and then; once a waiting candidate with a strictly higher priority
 * has been seen waiting for at least `hysteresisMs`, transfer to the highest one (the oldest among
 * equals). Equal priorities never transfer, and the leader that hands over queues again with its
 * lower priority, so the new leader never hands back: no flapping. A candidate counts from when
 * this leader first saw its entry; one that re-queued (a new entry) starts again.
 */
import { sleep, type Clock } from './clock.js';
import { InvalidArgumentError, TransferError } from './errors.js';
import type { Participant } from './participants.js';
import type { Term } from './term.js';

/** Settings of the priority policy (LeaderElectorOptions.priorityTransfer). */
export interface PriorityTransferOptions {
  /** How long a higher-priority candidate must have been waiting before the leader hands over, ms (default: one TTL). */
  hysteresisMs?: number;
  /** How often the leader reads the line, ms (default: TTL / 3, within 100 ms .. 10 s). */
  intervalMs?: number;
}

/** What the policy needs from the elector for one term. */
export interface PriorityHost {
  readonly clock: Clock;
  /** This candidate's priority. */
  readonly priority: number;
  readonly hysteresisMs: number;
  readonly intervalMs: number;
  /** Reads the line of the election. */
  participants(): Promise<Participant[]>;
  /** Hands leadership to the entry with this key. */
  transfer(key: string): Promise<unknown>;
  /** A read or transfer failed; the policy tries again after `delayMs`. */
  failed(error: Error, delayMs: number): void;
}

/** Throws InvalidArgumentError unless `options` is a valid priorityTransfer setting. */
export function checkPriorityTransfer(options: unknown): void {
  if (options === undefined || options === false || options === true) return;
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('priorityTransfer must be true, false or { hysteresisMs, intervalMs }');
  const { hysteresisMs, intervalMs } = options as { hysteresisMs?: unknown; intervalMs?: unknown };
  if (
    hysteresisMs !== undefined &&
    !(typeof hysteresisMs === 'number' && Number.isFinite(hysteresisMs) && hysteresisMs >= 0)
  )
    throw new InvalidArgumentError(
      `priorityTransfer.hysteresisMs must be a non-negative number of milliseconds, got ${String(hysteresisMs)}`,
    );
  if (
    intervalMs !== undefined &&
    !(typeof intervalMs === 'number' && Number.isFinite(intervalMs) && intervalMs > 0)
  )
    throw new InvalidArgumentError(
      `priorityTransfer.intervalMs must be a positive number of milliseconds, got ${String(intervalMs)}`,
    );
}

/** The settings with their defaults for a session TTL of `ttlSeconds`. */
export function prioritySettings(
  options: PriorityTransferOptions | true,
  ttlSeconds: number,
): { hysteresisMs: number; intervalMs: number } {
  const given = options === true ? {} : options;
  return {
    hysteresisMs: given.hysteresisMs ?? ttlSeconds * 1000,
    intervalMs: given.intervalMs ?? Math.min(10_000, Math.max(100, (ttlSeconds * 1000) / 3)),
  };
}

/** The candidate to hand over to: strictly higher priority, highest first, then oldest in line. */
export function higherCandidates(line: Participant[], leaderKey: string, own: number): Participant[] {
  return line
    .filter((p) => p.key !== leaderKey && (p.priority ?? 0) > own && p.ttl !== -1)
    .sort(
      (a, b) => (b.priority ?? 0) - (a.priority ?? 0) || (a.token < b.token ? -1 : a.token > b.token ? 1 : 0),
    );
}

/** Runs the policy for `term` until the term ends or a transfer was made. Never rejects. */
export async function followPriority(term: Term<unknown>, host: PriorityHost): Promise<void> {
  const seen = new Map<string, number>();
  const signal = term.signal;
  while (!signal.aborted) {
    let delay = host.intervalMs;
    try {
      const line = await host.participants();
      const now = host.clock.now();
      const higher = higherCandidates(line, term.key, host.priority);
      const present = new Set(higher.map((p) => p.key));
      for (const key of seen.keys()) if (!present.has(key)) seen.delete(key);
      for (const p of higher) if (!seen.has(p.key)) seen.set(p.key, now);
      const best = higher[0];
      if (best && !signal.aborted) {
        const waited = now - (seen.get(best.key) ?? now);
        if (waited >= host.hysteresisMs) {
          await host.transfer(best.key);
          return;
        }
        delay = Math.min(delay, host.hysteresisMs - waited);
      }
    } catch (err) {
      if (signal.aborted) return;
      // The candidate left before the step: nothing changed, look again.
      if (!(err instanceof TransferError && err.reason === 'candidate-not-found'))
        host.failed(err instanceof Error ? err : new Error(String(err)), delay);
    }
    await sleep(host.clock, delay, signal);
  }
}
