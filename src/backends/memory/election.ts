import type {
  Candidacy,
  Confirmation,
  DeposeRecord,
  ElectionDriver,
  Entry,
  EntryRef,
  LeaderRecord,
  ParticipantRecord,
  TransferRecord,
  Won,
} from '../../core/contract.js';
import { EntryDeletedError } from '../../core/errors.js';
import { committed, type GuardBody, type GuardResult } from '../../core/guard.js';
import type { KeySpaces } from '../shared/key-spaces.js';
import { electionPrefix } from '../shared/names.js';
import { entryKey } from '../shared/lease-entries.js';
import type { MemoryStore } from './store.js';
import { MemoryTxn } from './txn.js';

/** Reachability of one lease's client: lets tests cut a session off from the store. */
export interface Link {
  /** Throws BackendUnavailableError while the session is partitioned (never without a session). */
  check(lease: string | undefined): void;
  /** Runs fn now, or when the partition heals. */
  deliver(lease: string | undefined, fn: () => void): void;
}

/**
 * The election recipe on the in-process store: same key layout, order and no-herd waiting as etcd.
 * Without a lease it is a session-less view: reads and observers only.
 */
export class MemoryElection implements ElectionDriver<MemoryTxn> {
  private readonly store: MemoryStore;
  private readonly link: Link;
  private readonly name: string;
  private readonly lease: string | undefined;
  private readonly keySpaces: KeySpaces;

  constructor(store: MemoryStore, link: Link, name: string, lease: string | undefined, keySpaces: KeySpaces) {
    this.store = store;
    this.link = link;
    this.name = name;
    this.lease = lease;
    this.keySpaces = keySpaces;
  }

  async join(value: string): Promise<Candidacy> {
    const lease = this.ownLease();
    this.link.check(lease);
    const key = entryKey(this.name, lease);
    const stored = this.store.get(key) ?? this.store.put(key, value, lease);
    if (stored.value !== value) this.store.put(key, value, lease);
    return { key, value, liveness: lease, token: stored.createRevision };
  }

  async lead(joined: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Won> {
    const c = entryOf(joined);
    for (;;) {
      signal.throwIfAborted();
      this.link.check(this.lease);
      if (!this.owns(c)) throw new EntryDeletedError(c.key);
      const predecessor = this.store
        .list(electionPrefix(this.name))
        .filter(([, stored]) => stored.createRevision < c.token)
        .at(-1);
      if (!predecessor) break;
      const [predKey] = predecessor;
      await new Promise<void>((resolve, reject) => {
        const stopPred = this.store.onKey(
          predKey,
          (_, deleted) => deleted && this.link.deliver(this.lease, done),
        );
        const stopOwn = this.store.onKey(
          c.key,
          (_, deleted) => deleted && this.link.deliver(this.lease, done),
        );
        const onAbort = () => {
          finish();
          reject(signal.reason);
        };
        function finish() {
          stopPred();
          stopOwn();
          signal.removeEventListener('abort', onAbort);
        }
        function done() {
          finish();
          resolve();
        }
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    return { ...c, unwatch: this.watchGone(c, onGone) };
  }

  async tryLead(joined: Candidacy, onGone: () => void): Promise<Won | null> {
    const c = entryOf(joined);
    this.link.check(this.lease);
    if (!this.owns(c)) throw new EntryDeletedError(c.key);
    if (this.current()?.key !== c.key) return null;
    return { ...c, unwatch: this.watchGone(c, onGone) };
  }

  async proclaim(c: Entry, value: string): Promise<boolean> {
    this.link.check(this.lease);
    if (!this.owns(c)) return false;
    this.store.put(c.key, value, c.liveness);
    return true;
  }

  async remove(c: Candidacy | Entry): Promise<void> {
    this.link.check(this.lease);
    if (c.token === undefined || this.owns({ key: c.key, token: c.token })) this.store.delete(c.key);
  }

  async leader(): Promise<LeaderRecord | null> {
    this.link.check(this.lease);
    return this.current();
  }

  async confirm(): Promise<Confirmation> {
    // In process a read costs nothing to share; the link decides whether this session is cut off.
    const at = this.store.clock.now();
    this.link.check(this.lease);
    return { record: this.current(), at };
  }

  async *observe(signal: AbortSignal): AsyncGenerator<LeaderRecord | null, void, undefined> {
    let wake: (() => void) | undefined;
    let dirty = true;
    const poke = () => {
      dirty = true;
      wake?.();
    };
    const stop = this.store.onPrefix(electionPrefix(this.name), () => this.link.deliver(this.lease, poke));
    signal.addEventListener('abort', poke);
    let last: string | undefined;
    try {
      while (!signal.aborted) {
        if (dirty) {
          dirty = false;
          const record = this.current();
          const id = record ? `${record.key}\0${record.token}\0${record.value}` : '';
          if (id !== last) {
            last = id;
            yield record;
            continue;
          }
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      stop();
      signal.removeEventListener('abort', poke);
    }
  }

  async guard(c: Entry, body: GuardBody<MemoryTxn>): Promise<GuardResult> {
    const tx = new MemoryTxn();
    const returned = await tx.run(body);
    this.keySpaces.check(tx.ops);
    this.link.check(this.lease);
    if (!this.owns(c)) return { committed: false, values: [] };
    const values: (string | undefined)[] = [];
    for (const op of tx.ops) {
      if (op.op === 'put') this.store.put(op.key, op.value);
      else if (op.op === 'delete') this.store.delete(op.key);
      else values.push(this.store.get(op.key)?.value);
    }
    return committed(values, returned, tx);
  }

  async participants(): Promise<ParticipantRecord[]> {
    this.link.check(this.lease);
    return this.store.list(electionPrefix(this.name)).map(([key, stored]) => ({
      key,
      value: stored.value,
      token: stored.createRevision,
      lease: stored.lease ?? null,
      ttl: stored.lease === undefined ? null : this.store.timeToLive(stored.lease),
    }));
  }

  async depose(expectedToken?: bigint): Promise<DeposeRecord> {
    this.link.check(this.lease);
    // Read and delete run in one turn of the event loop, so no newer leader can come in between.
    const leader = this.current();
    if (!leader) return { outcome: 'none' };
    if (expectedToken !== undefined && leader.token !== expectedToken) return { outcome: 'changed', leader };
    this.store.delete(leader.key);
    return { outcome: 'deposed', leader };
  }

  async transfer(leader: EntryRef, target: EntryRef): Promise<TransferRecord> {
    this.link.check(this.lease);
    // Checks and deletes run in one turn of the event loop: one atomic step, like etcd's txn.
    const line = this.store.list(electionPrefix(this.name));
    if (line[0]?.[0] !== leader.key || !this.owns(leader)) return 'not-leader';
    if (!this.owns(target)) return 'target-gone';
    // The leader's key goes first so that its term ends before anyone else can be woken.
    for (const [key, stored] of line) if (stored.createRevision < target.token) this.store.delete(key);
    return 'transferred';
  }

  private ownLease(): string {
    if (this.lease === undefined) throw new TypeError('a session-less memory view cannot join');
    return this.lease;
  }

  private watchGone(c: Entry, onGone: () => void): () => void {
    return this.store.onKey(c.key, (_, deleted) => deleted && this.link.deliver(this.lease, onGone));
  }

  private owns(c: Pick<Entry, 'key' | 'token'>): boolean {
    return this.store.get(c.key)?.createRevision === c.token;
  }

  private current(): LeaderRecord | null {
    const first = this.store.list(electionPrefix(this.name))[0];
    if (!first) return null;
    const [key, stored] = first;
    return { key, value: stored.value, token: stored.createRevision, liveness: stored.lease ?? '' };
  }
}

function entryOf(c: Candidacy): Entry {
  if (c.token === undefined) throw new TypeError(`candidacy ${c.key} has no create revision`);
  return { key: c.key, token: c.token, liveness: c.liveness };
}
