import { systemClock } from '../../core/clock.js';
import type { Candidacy, Entry, Won } from '../../core/contract.js';
import { EntryDeletedError } from '../../core/errors.js';
import type { EntryRecipe } from '../shared/compose.js';
import type { EtcdClient } from '../../etcd/client.js';
import type { PreparedUnary } from '../../etcd/connection.js';
import { outcomeUnknown } from '../../etcd/errors.js';
import type { KeyValue, RangeRequest, RangeResponse, TxnRequest } from '../../etcd/messages.js';
import { watchDeletion } from './deletion.js';
import { ownedBy } from './fence.js';
import { electionPrefix, entryKey, prefixEnd } from './keys.js';

/**
 * How long a prepared delete may go unanswered before resign() sends the regular, retried call. A
 * healthy member answers in milliseconds; sending both is safe, the delete being guarded by the
 * entry's create revision.
 */
const PREPARED_ANSWER_MS = 1000;

/**
 * How long a new leader's housekeeping waits after the win: unhooking the campaign's abort listener
 * (0.16 ms at p50 in a just-woken `ballot campaign`) and preparing the term's delete (which dials a
 * line: about 0.6 ms) run this long after the term begins, not in the next turn, so the moments
 * right after a handover go to the caller's takeover (the CLI prints `elected`, a service starts
 * serving) instead of competing with it for the CPU. A resign sooner than this sends the regular txn.
 */
const AFTER_TAKEOVER_MS = 20;

/** Runs `task` AFTER_TAKEOVER_MS from now, without keeping the process alive for it. */
function afterTakeover(task: () => void): void {
  systemClock.setTimer(task, AFTER_TAKEOVER_MS, { weak: true });
}

/**
 * The client-side election recipe over KV, lease and watch, laid out like Go's
 * concurrency.Election so that Go services and `etcdctl elect` share elections with ballot:
 * entries are `<escaped name>/<lease hex>` (see keys.ts), the oldest create revision leads, and
 * each candidate watches only its predecessor. Reads, observers and the fence are not here:
 * composeDriver (compose.ts) adds the ones every mode shares.
 */
export class EtcdElection implements EntryRecipe {
  private readonly prefix: string;
  /** The held term's delete, sent ahead but for its message (readyResign). */
  private ready?: { entry: Entry; call: PreparedUnary<'/etcdserverpb.KV/Txn'> };

  /**
   * `readyResign`: while a term is held, keep its delete sent but for its message on a connection
   * of its own, so that resign() puts it on the wire in one socket write (Connection.prepare).
   */
  constructor(
    private readonly client: EtcdClient,
    private readonly name: string,
    private readonly lease: string,
    private readonly readyResign = false,
  ) {
    this.prefix = electionPrefix(name);
  }

  async join(value: string): Promise<Candidacy> {
    const key = entryKey(this.name, this.lease);
    const k = Buffer.from(key);
    const response = await this.client.smallTxn(
      {
        compare: { result: 'EQUAL', target: 'CREATE', key: k, create_revision: '0' },
        success: { request_put: { key: k, value: Buffer.from(value), lease: this.lease } },
        failure: { request_range: { key: k } },
      },
      this.prefix,
    );
    if (response.succeeded)
      return { key, value, liveness: this.lease, token: BigInt(response.header.revision) };
    // This lease already has an entry (an earlier campaign that could not be removed): resume it.
    const existing = response.responses[0]?.response_range?.kvs[0];
    if (!existing) return this.join(value);
    const c = { key, value, liveness: this.lease, token: BigInt(existing.create_revision) };
    if (!existing.value.equals(Buffer.from(value)) && !(await this.proclaim(entryOf(c), value)))
      return this.join(value);
    return c;
  }

  async lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Won> {
    const entry = entryOf(c);
    const own = new OwnDeletion();
    const stopOwn = watchDeletion(this.client, entry.key, entry.token, entry.token + 1n, own.fire.bind(own));
    try {
      for (;;) {
        signal.throwIfAborted();
        if (own.gone) throw new EntryDeletedError(entry.key);
        const { older, revision } = await this.checkAndFindOlder(entry);
        const predecessor = older.kvs[0];
        if (!predecessor) break;
        // etcd prunes by create revision after counting, so `more` (not `count`) tells whether
        // anyone older than the predecessor exists. If not, its deletion alone makes us leader:
        // later entries are younger, so no second read is needed and handover takes one round trip.
        const lastInLine = !older.more;
        const clean = await this.waitForDeletion(predecessor, revision + 1n, signal, own);
        // That win needs the predecessor's deletion alone, delivered by its watch: a transfer that
        // passes us over writes the leader's key in the txn that deletes ours, a revision before
        // the leader's deletion, and that write reaches us first on the same watch (our own-key
        // watch may be catching up, see transfer.ts). Otherwise we read again, confirming our
        // entry in the same txn that finds nobody older.
        if (lastInLine && clean && !own.gone) break;
      }
    } catch (err) {
      stopOwn();
      throw err;
    }
    own.lead(onGone);
    return { ...entry, unwatch: this.holdReady(entry, stopOwn) };
  }

  async tryLead(c: Candidacy, onGone: () => void): Promise<Won | null> {
    const entry = entryOf(c);
    const { older } = await this.checkAndFindOlder(entry);
    if (older.kvs.length) return null;
    const stopOwn = watchDeletion(this.client, entry.key, entry.token, entry.token + 1n, onGone);
    return { ...entry, unwatch: this.holdReady(entry, stopOwn) };
  }

  async proclaim(e: Entry, value: string): Promise<boolean> {
    try {
      // Never resent: after an ambiguous failure the entry may have been deleted meanwhile, and a
      // repeat failing its compare would report an applied value as "entry deleted".
      const response = await this.client.txn(
        {
          compare: [ownedBy(e)],
          success: [
            { request_put: { key: Buffer.from(e.key), value: Buffer.from(value), lease: e.liveness } },
          ],
          failure: [],
        },
        { retry: false },
      );
      return response.succeeded;
    } catch (err) {
      throw outcomeUnknown('proclaim', err);
    }
  }

  async remove(e: Candidacy | Entry): Promise<void> {
    // Without a token (a campaign that never got one) the key is this lease's own: delete it as is.
    if (e.token === undefined) return void (await this.client.deleteRange({ key: Buffer.from(e.key) }));
    const ready = this.takeReady(e.key, e.token);
    if (ready && (await ready.fire(PREPARED_ANSWER_MS).catch(() => undefined)) !== undefined) return;
    await this.client.txn(removal({ key: e.key, token: e.token }));
  }

  /**
   * With readyResign, prepares the delete of the term just begun, after the takeover (see
   * AFTER_TAKEOVER_MS) so that the term's start pays nothing for it, and returns an unwatch that gives
   * it up. resign() unwatches and removes in one synchronous run, so the give-up waits a turn: by
   * then a resign has taken the call, and any other end of the term leaves it to cancel.
   */
  private holdReady(entry: Entry, stopOwn: () => void): () => void {
    if (!this.readyResign) return stopOwn;
    let held = true;
    afterTakeover(() => {
      if (!held) return;
      this.ready?.call.cancel();
      const call = this.client.connection.prepare('/etcdserverpb.KV/Txn', removal(entry));
      this.ready = call && { entry, call };
    });
    return () => {
      held = false;
      stopOwn();
      setImmediate(() => this.takeReady(entry.key, entry.token)?.cancel());
    };
  }

  private takeReady(key: string, token: bigint): PreparedUnary<'/etcdserverpb.KV/Txn'> | undefined {
    const ready = this.ready;
    if (!ready || ready.entry.key !== key || ready.entry.token !== token) return undefined;
    this.ready = undefined;
    return ready.call;
  }

  /** One round trip checks that our entry still exists and finds the newest older entry. */
  private async checkAndFindOlder(e: Entry): Promise<{ older: RangeResponse; revision: bigint }> {
    const response = await this.client.smallTxn(
      { compare: ownedBy(e), success: { request_range: this.olderEntries(e) } },
      this.prefix,
    );
    const older = response.responses[0]?.response_range;
    if (!response.succeeded || !older) throw new EntryDeletedError(e.key);
    return { older, revision: BigInt(response.header.revision) };
  }

  /**
   * Resolves when `predecessor` is deleted or our own entry is, with whether the deletion came
   * clean (see watchDeletion); rejects when `signal` aborts.
   */
  private waitForDeletion(
    predecessor: KeyValue,
    fromRevision: bigint,
    signal: AbortSignal,
    own: OwnDeletion,
  ): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const finish = () => {
        stopPredecessor();
        stopOwn();
        // After the takeover, off the handover's path: removing a listener from a combined signal
        // (AbortSignal.any, as a campaign with a caller's signal has) is slow (AFTER_TAKEOVER_MS).
        // An abort meanwhile finds nothing left to stop.
        afterTakeover(() => signal.removeEventListener('abort', onAbort));
      };
      const onAbort = () => {
        finish();
        reject(signal.reason);
      };
      const done = (clean = true) => {
        finish();
        resolve(clean);
      };
      const stopPredecessor = watchDeletion(
        this.client,
        predecessor.key.toString(),
        BigInt(predecessor.create_revision),
        fromRevision,
        done,
        { probeLate: true, modRevision: BigInt(predecessor.mod_revision) },
      );
      const stopOwn = own.wakeWhileWaiting(done);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
    });
  }

  /** The newest entry created before `e`: its predecessor in line. */
  private olderEntries(e: Entry): RangeRequest {
    return {
      key: Buffer.from(this.prefix),
      range_end: prefixEnd(this.prefix),
      sort_order: 'DESCEND',
      sort_target: 'CREATE',
      limit: 1,
      max_create_revision: (e.token - 1n).toString(),
    };
  }
}

/**
 * Where the deletion of our own entry is reported: while campaigning, to the wait in progress
 * (which then finds the entry gone); once leading, to the caller's onGone, at once if it already
 * happened. One watch serves both phases, so no deletion falls between them.
 */
class OwnDeletion {
  gone = false;
  private listener?: () => void;

  /** The watch callback (a method: an arrow-function field would cost every held term a closure). */
  fire(): void {
    this.gone = true;
    this.listener?.();
  }

  /** Campaigning: wake `wait` too; returns how to stop. */
  wakeWhileWaiting(wait: () => void): () => void {
    this.listener = wait;
    return () => {
      if (this.listener === wait) this.listener = undefined;
    };
  }

  /** Leading: report to `onGone` from now on. */
  lead(onGone: () => void): void {
    this.listener = onGone;
    if (this.gone) onGone();
  }
}

/** Deletes `e`'s key if it is still that entry (same create revision): safe to send twice. */
function removal(e: Pick<Entry, 'key' | 'token'>): TxnRequest {
  const key = Buffer.from(e.key);
  return { compare: [ownedBy(e)], success: [{ request_delete_range: { key } }], failure: [] };
}

/** The entry a client-recipe candidacy stands for: join() always knows its create revision. */
export function entryOf(c: Candidacy): Entry {
  if (c.token === undefined) throw new TypeError(`candidacy ${c.key} has no create revision`);
  return { key: c.key, token: c.token, liveness: c.liveness };
}
