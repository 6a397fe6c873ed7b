import type { EtcdClient } from '../../etcd/client.js';
import type { WatchEvent } from '../../etcd/messages.js';
import type { WatchHandler, Watcher } from '../../etcd/watch.js';

/** The only filter a deletion wait needs; one array for every wait. */
const NO_PUTS: ('NOPUT' | 'NODELETE')[] = ['NOPUT'];

/** Stops waiting for a deletion. */
export type CancelWait = () => void;

/** What a predecessor wait needs beyond the plain deletion wait. */
export interface DeletionWaitOptions {
  /**
   * Read the key once if etcd had moved past `fromRevision` when it registered the watch. etcd
   * files such a watch as unsynced and catches it up on a pass every 100 ms, so a deletion made
   * before the watch was registered would otherwise reach us up to 100 ms late (a waiter whose
   * predecessor resigned at once: 31 of 300 handovers took 40-100 ms in a concede loop).
   */
  probeLate?: boolean;
  /**
   * The key's mod revision as last read. The watch then asks for each event's previous version,
   * and a deletion whose previous version was written after this one is reported with
   * `clean = false`: a transfer writes the leader's key (value and lease unchanged) in the txn
   * that deletes the candidates it passes over, so that the candidate right behind the leader
   * learns on this very watch, in order, that the leader's deletion is not its win alone.
   */
  modRevision?: bigint;
}

/**
 * Calls `deleted` once when `key` (the incarnation created at `createRevision`) is gone, watching
 * from `fromRevision`. `clean` is true when this watch delivered the deletion and (given
 * `modRevision`) nothing wrote the key first; false when a read found the key gone (no ordering
 * against other watches' events) or the key was written before it went. If the watch ends
 * (compaction, server cancel) the key is read again, so a deletion hidden by compaction is still
 * reported and a live key is watched anew.
 */
export function watchDeletion(
  client: EtcdClient,
  key: string,
  createRevision: bigint,
  fromRevision: bigint,
  deleted: (clean: boolean) => void,
  options: DeletionWaitOptions = {},
): CancelWait {
  const wait = new DeletionWait(client, key, createRevision, deleted, options);
  wait.start(fromRevision);
  return wait.cancel.bind(wait);
}

/**
 * One deletion wait. A class rather than closures: every held term keeps one for its whole life,
 * and its methods live on the prototype instead of in each wait.
 */
class DeletionWait implements WatchHandler {
  private cancelled = false;
  private retry?: NodeJS.Timeout;
  private watcher?: Watcher;
  /** The revision the current watch starts from. */
  private from = 0n;

  constructor(
    private readonly client: EtcdClient,
    private readonly key: string,
    private readonly createRevision: bigint,
    private readonly deleted: (clean: boolean) => void,
    private readonly options: DeletionWaitOptions,
  ) {}

  start(from: bigint): void {
    this.from = from;
    // The key stays a string: a Buffer would keep a slab of Node's Buffer pool alive while watched.
    const prevKv = this.options.modRevision !== undefined;
    this.watcher = this.client.watch({ key: this.key, startRevision: from, filters: NO_PUTS, prevKv }, this);
  }

  onEvents(events: WatchEvent[]): void {
    const deletion = events.find((e) => e.type === 'DELETE');
    if (!deletion) return;
    const read = this.options.modRevision;
    // A missing previous version (etcd could not supply it) proves nothing, so it is not clean.
    const previous = deletion.prev_kv ? BigInt(deletion.prev_kv.mod_revision) : undefined;
    this.fire(read === undefined || (previous !== undefined && previous <= read));
  }

  onEnd(): void {
    this.recheck();
  }

  onCreated(revision: bigint): void {
    if (!this.options.probeLate || this.cancelled || revision < this.from) return;
    // Only a deletion can end the wait here; a live key keeps the watch it has.
    this.read().then(
      ({ gone }) => {
        if (gone) this.fire(false);
      },
      () => undefined,
    );
  }

  cancel(): void {
    this.cancelled = true;
    clearTimeout(this.retry);
    this.watcher?.cancel();
  }

  private fire(clean: boolean): void {
    if (this.cancelled) return;
    this.cancel();
    this.deleted(clean);
  }

  private recheck(): void {
    if (this.cancelled) return;
    this.read().then(
      ({ gone, revision }) => {
        if (gone) this.fire(false);
        else if (!this.cancelled) this.start(revision + 1n);
      },
      () => {
        if (!this.cancelled) this.retry = setTimeout(() => this.recheck(), 250);
      },
    );
  }

  /** Reads the key: whether the incarnation waited on is gone, and the revision it was read at. */
  private async read(): Promise<{ gone: boolean; revision: bigint }> {
    const response = await this.client.range({ key: Buffer.from(this.key) });
    const kv = response.kvs[0];
    const gone = !kv || BigInt(kv.create_revision) !== this.createRevision;
    return { gone, revision: BigInt(response.header.revision) };
  }
}
