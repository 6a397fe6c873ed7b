import type { EtcdClient } from '../../etcd/client.js';
import type { WatchEvent } from '../../etcd/messages.js';
import type { WatchHandler, Watcher } from '../../etcd/watch.js';

/** The only filter a deletion wait needs; one array for every wait. */
const NO_PUTS: ('NOPUT' | 'NODELETE')[] = ['NOPUT'];

/** Stops waiting for a deletion. */
export type CancelWait = () => void;

/**
 * Calls `deleted` once when `key` (the incarnation created at `createRevision`) is gone, watching
 * from `fromRevision`. If the watch ends (compaction, server cancel) the key is read again, so a
 * deletion hidden by compaction is still reported and a live key is watched anew.
 */
export function watchDeletion(
  client: EtcdClient,
  key: string,
  createRevision: bigint,
  fromRevision: bigint,
  deleted: () => void,
): CancelWait {
  const wait = new DeletionWait(client, key, createRevision, deleted);
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

  constructor(
    private readonly client: EtcdClient,
    private readonly key: string,
    private readonly createRevision: bigint,
    private readonly deleted: () => void,
  ) {}

  start(from: bigint): void {
    // The key stays a string: a Buffer would keep a slab of Node's Buffer pool alive while watched.
    this.watcher = this.client.watch({ key: this.key, startRevision: from, filters: NO_PUTS }, this);
  }

  onEvents(events: WatchEvent[]): void {
    if (events.some((e) => e.type === 'DELETE')) this.fire();
  }

  onEnd(): void {
    this.recheck();
  }

  cancel(): void {
    this.cancelled = true;
    clearTimeout(this.retry);
    this.watcher?.cancel();
  }

  private fire(): void {
    if (this.cancelled) return;
    this.cancel();
    this.deleted();
  }

  private recheck(): void {
    if (this.cancelled) return;
    this.client.range({ key: Buffer.from(this.key) }).then(
      (response) => {
        const kv = response.kvs[0];
        if (!kv || BigInt(kv.create_revision) !== this.createRevision) this.fire();
        else if (!this.cancelled) this.start(BigInt(response.header.revision) + 1n);
      },
      () => {
        if (!this.cancelled) this.retry = setTimeout(() => this.recheck(), 250);
      },
    );
  }
}
