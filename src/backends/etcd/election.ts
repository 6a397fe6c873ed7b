import type {
  Candidacy,
  Confirmation,
  DeposeRecord,
  ElectionDriver,
  LeaderRecord,
  ParticipantRecord,
  Unwatch,
} from '../../core/contract.js';
import { SharedRead } from '../../core/liveness.js';
import { BackendUnavailableError, EntryDeletedError } from '../../core/errors.js';
import { Multicast } from '../../core/multicast.js';
import { sleep, systemClock } from '../../core/clock.js';
import type { GuardOp, GuardResult } from '../../core/guard.js';
import type { EtcdClient } from '../../etcd/client.js';
import type { Compare, KeyValue, RangeRequest, RequestOp, TxnResponse } from '../../etcd/messages.js';
import { watchDeletion } from './deletion.js';
import { watchEvents } from './events.js';
import { electionPrefix, entryKey, prefixEnd, type KeySpaces } from './keys.js';
import { deleteLeaderEntry, readLine } from './participants.js';

/**
 * The client-side election recipe over KV, lease and watch, laid out like Go's
 * concurrency.Election so that Go services and `etcdctl elect` share elections with ballot:
 * entries are `<escaped name>/<lease hex>` (see keys.ts), the oldest create revision leads, and
 * each candidate watches only its predecessor.
 */
export class EtcdElection implements ElectionDriver {
  protected readonly client: EtcdClient;
  private readonly name: string;
  private readonly lease: string;
  private readonly prefix: string;

  constructor(
    client: EtcdClient,
    name: string,
    lease: string,
    /** Every election's and mutex's key space on this backend, which guarded writes must stay out of. */
    private readonly keySpaces: KeySpaces,
    private readonly observers: Map<string, Multicast<LeaderRecord | null>> = new Map(),
    private readonly probes: Map<string, SharedRead> = new Map(),
  ) {
    this.client = client;
    this.name = name;
    this.lease = lease;
    this.prefix = electionPrefix(name);
  }

  /** etcd's server-side concurrency services, for subclasses. */
  protected get services() {
    return this.client.services;
  }

  async join(value: string): Promise<Candidacy> {
    const key = entryKey(this.name, this.lease);
    const k = Buffer.from(key);
    const response = await this.client.txn({
      compare: [{ result: 'EQUAL', target: 'CREATE', key: k, create_revision: '0' }],
      success: [{ request_put: { key: k, value: Buffer.from(value), lease: this.lease } }],
      failure: [{ request_range: { key: k } }],
    });
    if (response.succeeded) return { key, token: BigInt(response.header.revision), lease: this.lease };
    // This lease already has an entry (an earlier campaign that could not be removed): resume it.
    const existing = response.responses[0]?.response_range?.kvs[0];
    if (!existing) return this.join(value);
    const c = { key, token: BigInt(existing.create_revision), lease: this.lease };
    if (!existing.value.equals(Buffer.from(value)) && !(await this.proclaim(c, value)))
      return this.join(value);
    return c;
  }

  async lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Unwatch> {
    let gone = false;
    let notify = () => undefined as void;
    const stopOwn = watchDeletion(this.client, c.key, c.token, c.token + 1n, () => {
      gone = true;
      notify();
    });
    try {
      for (;;) {
        signal.throwIfAborted();
        if (gone) throw new EntryDeletedError(c.key);
        // One round trip checks that our entry still exists and finds the newest older entry.
        const response = await this.client.txn({
          compare: [ownedBy(c)],
          success: [{ request_range: this.olderEntries(c) }],
          failure: [],
        });
        if (!response.succeeded) throw new EntryDeletedError(c.key);
        const older = response.responses[0]?.response_range;
        const predecessor = older?.kvs[0];
        if (!predecessor) break;
        // etcd prunes by create revision after counting, so `more` (not `count`) tells whether
        // anyone older than the predecessor exists. If not, its deletion alone makes us leader:
        // later entries are younger, so no second read is needed and handover takes one round trip.
        const lastInLine = !older.more;
        await new Promise<void>((resolve, reject) => {
          const finish = () => {
            stopPredecessor();
            signal.removeEventListener('abort', onAbort);
            notify = () => undefined;
          };
          const onAbort = () => {
            finish();
            reject(signal.reason);
          };
          const done = () => {
            finish();
            resolve();
          };
          const stopPredecessor = watchDeletion(
            this.client,
            predecessor.key.toString(),
            BigInt(predecessor.create_revision),
            BigInt(response.header.revision) + 1n,
            done,
          );
          notify = done;
          signal.addEventListener('abort', onAbort, { once: true });
          if (signal.aborted) onAbort();
        });
        if (lastInLine && !gone) break;
      }
    } catch (err) {
      stopOwn();
      throw err;
    }
    notify = onGone;
    if (gone) onGone();
    return stopOwn;
  }

  async tryLead(c: Candidacy, onGone: () => void): Promise<Unwatch | null> {
    const response = await this.client.txn({
      compare: [ownedBy(c)],
      success: [{ request_range: this.olderEntries(c) }],
      failure: [],
    });
    if (!response.succeeded) throw new EntryDeletedError(c.key);
    if (response.responses[0]?.response_range?.kvs.length) return null;
    return watchDeletion(this.client, c.key, c.token, c.token + 1n, onGone);
  }

  async proclaim(c: Candidacy, value: string): Promise<boolean> {
    const response = await this.client.txn({
      compare: [ownedBy(c)],
      success: [{ request_put: { key: Buffer.from(c.key), value: Buffer.from(value), lease: c.lease } }],
      failure: [],
    });
    return response.succeeded;
  }

  async remove(c: Candidacy): Promise<void> {
    await this.client.txn({
      compare: [ownedBy(c)],
      success: [{ request_delete_range: { key: Buffer.from(c.key) } }],
      failure: [],
    });
  }

  async leader(): Promise<LeaderRecord | null> {
    const { record } = await this.readLeader();
    return record;
  }

  observe(signal: AbortSignal): AsyncIterable<LeaderRecord | null> {
    // Observers of one election on one client share a single watch (see Multicast).
    let shared = this.observers.get(this.name);
    if (!shared) {
      shared = new Multicast((s) => this.followLeader(s));
      this.observers.set(this.name, shared);
    }
    return shared.subscribe(signal);
  }

  /**
   * A Range with limit 1 on the election prefix, shared per election and client like the watch.
   * Chosen over a watch progress request because it is one unary call that every mode and backend
   * can answer (service mode observes through the election service, not a watch), and on a healthy
   * stream it is sent at most once per staleAfter / 2.
   */
  confirm(maxAgeMs: number): Promise<Confirmation> {
    let shared = this.probes.get(this.name);
    if (!shared) {
      shared = new SharedRead(systemClock, async () => (await this.readLeader()).record);
      this.probes.set(this.name, shared);
    }
    return shared.confirm(maxAgeMs);
  }

  /** The leader now and at each change: follows the leader key only, re-reading when it goes. */
  private async *followLeader(signal: AbortSignal): AsyncGenerator<LeaderRecord | null, void, undefined> {
    let last: string | undefined;
    const changed = (record: LeaderRecord | null) => {
      const id = record ? `${record.key}\0${record.token}\0${record.value}` : '';
      if (id === last) return false;
      last = id;
      return true;
    };
    let backoff = 50;
    while (!signal.aborted) {
      let read: { record: LeaderRecord | null; revision: bigint };
      try {
        read = await this.readLeader();
        backoff = 50;
      } catch (err) {
        if (!(err instanceof BackendUnavailableError)) throw err;
        await sleep(systemClock, backoff, signal);
        backoff = Math.min(backoff * 2, 1000);
        continue;
      }
      if (changed(read.record)) yield read.record;
      const from = read.revision + 1n;
      if (read.record) {
        // Follow the leader's key only: its proclaims, then its deletion. Other candidates never wake us.
        const leader = read.record;
        const spec = { key: Buffer.from(leader.key), startRevision: from };
        outer: for await (const events of watchEvents(this.client, spec, signal)) {
          for (const event of events) {
            if (event.type === 'DELETE') break outer;
            const next = { ...leader, value: event.kv.value.toString() };
            if (changed(next)) yield next;
          }
        }
      } else {
        // No leader: the first new entry will lead; wake on the first put under the prefix.
        const spec = {
          key: Buffer.from(this.prefix),
          rangeEnd: prefixEnd(this.prefix),
          startRevision: from,
          filters: ['NODELETE' as const],
        };
        for await (const _ of watchEvents(this.client, spec, signal)) break;
      }
    }
  }

  async guard(c: Candidacy, ops: readonly GuardOp[]): Promise<GuardResult> {
    this.keySpaces.check(ops);
    let response: TxnResponse;
    try {
      // Never resent: if the first attempt was applied but its reply lost, a second one would fail
      // its compare and report an applied write as refused.
      response = await this.client.txn(
        { compare: [ownedBy(c)], success: ops.map(toRequestOp), failure: [] },
        { retry: false },
      );
    } catch (err) {
      if (!(err instanceof BackendUnavailableError)) throw err;
      throw new BackendUnavailableError(
        `guarded write outcome unknown (it may or may not have been applied): ${err.message}`,
        { cause: err },
      );
    }
    if (!response.succeeded) return { committed: false, values: [] };
    const values: (string | undefined)[] = [];
    ops.forEach((op, i) => {
      if (op.op === 'get') values.push(response.responses[i]?.response_range?.kvs[0]?.value.toString());
    });
    return { committed: true, values };
  }

  participants(): Promise<ParticipantRecord[]> {
    return readLine(this.client, this.prefix);
  }

  async depose(expectedToken?: bigint): Promise<DeposeRecord> {
    return deleteLeaderEntry(this.client, (await this.readLeader()).record, expectedToken);
  }

  /** The newest entry created before `c`: its predecessor in line. */
  private olderEntries(c: Candidacy): RangeRequest {
    return {
      key: Buffer.from(this.prefix),
      range_end: prefixEnd(this.prefix),
      sort_order: 'DESCEND',
      sort_target: 'CREATE',
      limit: 1,
      max_create_revision: (c.token - 1n).toString(),
    };
  }

  /** The oldest entry (the leader) and the revision it was read at. */
  protected async readLeader(): Promise<{ record: LeaderRecord | null; revision: bigint }> {
    const response = await this.client.range({
      key: Buffer.from(this.prefix),
      range_end: prefixEnd(this.prefix),
      sort_order: 'ASCEND',
      sort_target: 'CREATE',
      limit: 1,
    });
    const kv = response.kvs[0];
    return { record: kv ? toRecord(kv) : null, revision: BigInt(response.header.revision) };
  }
}

/** The compare that makes an operation conditional on the term: the entry still has its create revision. */
function ownedBy(c: Candidacy): Compare {
  return { result: 'EQUAL', target: 'CREATE', key: Buffer.from(c.key), create_revision: c.token.toString() };
}

/** An election entry as the leader record core expects. */
export function toRecord(kv: KeyValue): LeaderRecord {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    token: BigInt(kv.create_revision),
    lease: kv.lease,
  };
}

function toRequestOp(op: GuardOp): RequestOp {
  const key = Buffer.from(op.key);
  if (op.op === 'put') return { request_put: { key, value: Buffer.from(op.value) } };
  if (op.op === 'delete') return { request_delete_range: { key } };
  return { request_range: { key } };
}
