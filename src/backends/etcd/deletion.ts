import type { EtcdClient } from '../../etcd/client.js';

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
  let cancelled = false;
  let retry: NodeJS.Timeout | undefined;
  let watcher: { cancel(): void } | undefined;
  const fire = () => {
    if (cancelled) return;
    cancel();
    deleted();
  };
  const start = (from: bigint) => {
    watcher = client.watch(
      { key: Buffer.from(key), startRevision: from, filters: ['NOPUT'] },
      { onEvents: (events) => events.some((e) => e.type === 'DELETE') && fire(), onEnd: () => recheck() },
    );
  };
  const recheck = () => {
    if (cancelled) return;
    client.range({ key: Buffer.from(key) }).then(
      (response) => {
        const kv = response.kvs[0];
        if (!kv || BigInt(kv.create_revision) !== createRevision) fire();
        else if (!cancelled) start(BigInt(response.header.revision) + 1n);
      },
      () => {
        if (!cancelled) retry = setTimeout(recheck, 250);
      },
    );
  };
  const cancel = () => {
    cancelled = true;
    clearTimeout(retry);
    watcher?.cancel();
  };
  start(fromRevision);
  return cancel;
}
