import type { BackendWarning, Candidacy, Won } from '../../core/contract.js';
import { EntryDeletedError } from '../../core/errors.js';
import type { EtcdClient } from '../../etcd/client.js';
import type { KeyValue } from '../../etcd/messages.js';
import type { EntryRecipe } from '../shared/compose.js';
import { electionPrefix } from './keys.js';
import { oldestUnder } from './leader-read.js';

/** Stalls of the server-side call on one election after which this backend runs it client-side. */
export const STALLS_BEFORE_FALLBACK = 2;

/**
 * The oldest entry of an election (or mutex), in one Range: the entry that leads under both
 * recipes. Checks our own entry and that nothing older is left in a single read.
 */
export async function oldestEntry(client: EtcdClient, name: string): Promise<KeyValue | undefined> {
  const response = await client.range(oldestUnder(electionPrefix(name), true));
  return response.kvs[0];
}

/** The oldest entry and whether `key` exists, in one read-only txn. */
async function headAndOwn(
  client: EtcdClient,
  name: string,
  key: string,
): Promise<{ oldest: KeyValue | undefined; present: boolean }> {
  const response = await client.txn({
    compare: [],
    success: [
      { request_range: oldestUnder(electionPrefix(name), true) },
      { request_range: { key: Buffer.from(key), keys_only: true } },
    ],
    failure: [],
  });
  const [head, own] = response.responses;
  return {
    oldest: head?.response_range?.kvs[0],
    present: (own?.response_range?.kvs.length ?? 0) > 0,
  };
}

/**
 * What a driver remembers of stalled server-side campaigns: how many each election had, and which
 * ones now run the client-side recipe instead. A member whose in-process watch stream is wedged
 * (etcd #20716) never wakes a waiting Campaign or Lock again; the client recipe uses our own watch
 * stream, which is not affected, on the same keys.
 */
export class ServiceStalls {
  private readonly counts = new Map<string, number>();

  constructor(
    /** How long a call may go unanswered while our entry is already the oldest. */
    readonly boundMs: number,
    private readonly warn: (warning: BackendWarning) => void,
  ) {}

  /** Whether `name` (an election or mutex, by `kind`) now runs client-side on this backend. */
  fellBack(kind: 'election' | 'mutex', name: string): boolean {
    return (this.counts.get(`${kind}\0${name}`) ?? 0) >= STALLS_BEFORE_FALLBACK;
  }

  /** Counts one stall; the one that reaches the limit switches `name` to the client recipe and says so. */
  record(kind: 'election' | 'mutex', name: string): void {
    const key = `${kind}\0${name}`;
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    if (count !== STALLS_BEFORE_FALLBACK) return;
    const call = kind === 'election' ? 'Campaign' : 'Lock';
    this.warn({
      code: 'service-fallback',
      message:
        `etcd's ${call} for ${kind} "${name}" stalled ${count} times with our entry already the oldest ` +
        `(a member's server-side watch stream is wedged, etcd #20716): this ${kind} now runs the ` +
        'client-side recipe on the same keys; restart the stalled etcd member to clear it',
      election: name,
    });
  }
}

/** How a supervised blocking call ended. */
export type Supervised<T> =
  | { kind: 'answered'; value: T; release: () => void }
  | { kind: 'fell-back'; own: KeyValue; release: () => void };

/** What superviseCampaign needs to know about one candidacy. */
export interface CampaignWatch<T> {
  /** Issues the blocking call (Campaign or Lock); each attempt gets its own signal. */
  call(signal: AbortSignal): Promise<T>;
  /** Our entry's key: it is ours once it is the oldest of the election. */
  key: string;
  /** Election or mutex name, for the oldest-entry read and the stall count. */
  name: string;
  kind: 'election' | 'mutex';
}

/**
 * Runs a blocking server-side call with a watchdog. A Campaign normally answers within one watch
 * event once our entry is the oldest, so a call still pending one bound after a read found our
 * entry oldest has stalled. The first stall re-issues the call: with the same lease it resumes the
 * same entry, and etcd answers without waiting on a watch when nothing older is left. The stall
 * that reaches STALLS_BEFORE_FALLBACK ends supervision with 'fell-back' (the caller takes the term
 * through the client recipe). Stalled calls are not cancelled until `release()`: cancelling a
 * Campaign that is only slow makes etcd resign the entry, which would end the term it is about to
 * start. The caller calls `release()` once the entry is gone or the term is over.
 */
export async function superviseCampaign<T>(
  client: EtcdClient,
  stalls: ServiceStalls,
  watch: CampaignWatch<T>,
  signal: AbortSignal,
): Promise<Supervised<T>> {
  const attempts: AbortController[] = [];
  const release = () => {
    for (const c of attempts.splice(0)) c.abort();
  };
  try {
    for (;;) {
      const attempt = new AbortController();
      // Kept until release(): a call that answered ignores the abort, one still pending is cancelled.
      attempts.push(attempt);
      const cancel = () => attempt.abort(signal.reason);
      signal.addEventListener('abort', cancel, { once: true });
      const answer = watch.call(attempt.signal);
      try {
        const outcome = await Promise.race([
          answer.then((value) => ({ kind: 'answered' as const, value })),
          watchForStall(client, stalls.boundMs, watch, signal, answer),
        ]);
        if (outcome.kind === 'answered') return { kind: 'answered', value: outcome.value, release };
        // A call stuck before its entry existed (its write lost in a raft leader change) is only
        // re-issued; a wedged watch stream is what the fallback is for.
        if (outcome.kind === 'unjoined') continue;
        stalls.record(watch.kind, watch.name);
        if (stalls.fellBack(watch.kind, watch.name)) return { kind: 'fell-back', own: outcome.own, release };
      } finally {
        signal.removeEventListener('abort', cancel);
      }
    }
  } catch (err) {
    release();
    throw err;
  }
}

/**
 * While the call is pending, reads the line once per bound. Resolves with our entry once two reads
 * in a row found it the oldest ('stalled': the wedge). Resolves 'unjoined' once two reads in a row
 * found no entry of ours although none was ever seen: the call's own write never applied (etcd
 * answers such a call only after its request timeout, about 6 s, when a raft leader change drops
 * it), so it is re-issued. Rejects with EntryDeletedError when an entry of ours that was seen is
 * gone: someone deleted it, and as on the client recipe the campaign fails (etcd's Campaign would
 * wait on and "win" without it). Never settles once the call is answered or aborted.
 */
async function watchForStall<T>(
  client: EtcdClient,
  boundMs: number,
  watch: CampaignWatch<T>,
  signal: AbortSignal,
  answer: Promise<T>,
): Promise<{ kind: 'stalled'; own: KeyValue } | { kind: 'unjoined' }> {
  let settled = false;
  const done = () => {
    settled = true;
  };
  answer.then(done, done);
  let oldestBefore = false;
  let absentBefore = false;
  let seen = false;
  for (;;) {
    await pause(boundMs, signal, answer);
    if (settled || signal.aborted) return new Promise(() => undefined);
    const line = await headAndOwn(client, watch.name, watch.key).catch(() => undefined);
    if (settled || signal.aborted) return new Promise(() => undefined);
    if (!line) {
      oldestBefore = absentBefore = false;
      continue;
    }
    const { oldest, present } = line;
    if (!present && seen) throw new EntryDeletedError(watch.key);
    seen ||= present;
    const ours = oldest?.key.toString() === watch.key;
    if (ours && oldestBefore && oldest) return { kind: 'stalled', own: oldest };
    if (!present && absentBefore) return { kind: 'unjoined' };
    oldestBefore = ours;
    absentBefore = !present;
  }
}

/** Waits `ms`, or less when the call settles or the campaign is aborted; leaves no timer behind. */
function pause(ms: number, signal: AbortSignal, answer: Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener('abort', finish, { once: true });
    answer.then(finish, finish);
  });
}

/**
 * After the stall that fell back: our entry is already the oldest, so the client recipe confirms it
 * in one txn and leads at once. The won term's unwatch also lets go of the stalled calls.
 */
export async function leadFellBack(
  recipe: Pick<EntryRecipe, 'lead'>,
  c: Candidacy,
  outcome: Extract<Supervised<unknown>, { kind: 'fell-back' }>,
  signal: AbortSignal,
  onGone: () => void,
): Promise<Won> {
  try {
    const w = await recipe.lead({ ...c, token: BigInt(outcome.own.create_revision) }, signal, onGone);
    return { ...w, unwatch: joinUnwatch(w.unwatch, outcome.release) };
  } catch (err) {
    outcome.release();
    throw err;
  }
}

/** Stops the watch, then lets go of the stalled calls. */
export function joinUnwatch(unwatch: () => void, release: () => void): () => void {
  return () => {
    unwatch();
    release();
  };
}
