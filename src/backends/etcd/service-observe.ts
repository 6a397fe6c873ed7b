import { Channel } from '../../core/channel.js';
import { sleep, systemClock } from '../../core/clock.js';
import type { LeaderRecord, Unwatch } from '../../core/contract.js';
import { AuthError, BackendUnavailableError, ClosedError } from '../../core/errors.js';
import type { EtcdClient } from '../../etcd/client.js';
import { isInvalidAuthToken, isServiceError } from '../../etcd/errors.js';
import { watchDeletion } from './deletion.js';
import { readLeader, toRecord, viewId } from './leader-read.js';

/** Service mode's leader stream: the server's Observe stream, deduplicated. */
export async function* observeService(
  client: EtcdClient,
  keyName: string,
  prefix: string,
  signal: AbortSignal,
): AsyncGenerator<LeaderRecord | null, void, undefined> {
  const changes = new Channel<LeaderRecord | null>();
  void follow(client, keyName, prefix, changes, signal).finally(() => changes.close());
  let last: string | undefined;
  for await (const change of changes) {
    const id = viewId(change);
    if (id === last) continue;
    last = id;
    yield change;
  }
}

/**
 * Feeds leader changes from the server's Observe stream. That stream never reports "no leader",
 * and it falls silent if the member serving it stalls, so the current leader's key is also watched
 * here: when it goes, the leader is read again. Every view carries the revision it was read at, and
 * an older view never replaces a newer one. Transient failures are retried; any other error ends
 * the observation with that error. Never rejects.
 */
async function follow(
  client: EtcdClient,
  keyName: string,
  prefix: string,
  changes: Channel<LeaderRecord | null>,
  signal: AbortSignal,
): Promise<void> {
  let seen = -1n;
  let done = false;
  let stopDeletion: Unwatch | undefined;
  const track = (record: LeaderRecord | null, revision: bigint) => {
    if (done || signal.aborted || revision < seen) return;
    seen = revision;
    stopDeletion?.();
    stopDeletion = undefined;
    changes.push(record);
    if (record)
      stopDeletion = watchDeletion(client, record.key, record.token, revision + 1n, () => {
        void reread();
      });
  };
  const reread = async () => {
    for (let delay = 50; !done && !signal.aborted; delay = Math.min(delay * 2, 1000)) {
      try {
        const read = await readLeader(client, prefix);
        return track(read.record, read.revision);
      } catch {
        await sleep(systemClock, delay, signal);
      }
    }
  };
  let backoff = 50;
  try {
    while (!signal.aborted) {
      let index: number | undefined;
      try {
        // The first view is read at a known revision; the server's stream reports the changes.
        const read = await readLeader(client, prefix);
        track(read.record, read.revision);
        const opened = await client.services.observe(keyName, signal);
        index = opened.index;
        for await (const response of opened.stream) {
          backoff = 50;
          const kv = response.kv;
          if (kv) track(toRecord(kv), BigInt(response.header?.revision ?? kv.mod_revision));
        }
      } catch (err) {
        if (signal.aborted) return;
        const error = classify(client, err, index);
        if (error) return changes.close(error);
      }
      await sleep(systemClock, backoff, signal);
      backoff = Math.min(backoff * 2, 1000);
    }
  } finally {
    done = true;
    stopDeletion?.();
  }
}

/** Decides whether the observer retries after `err` (undefined) or ends with the returned error. */
function classify(client: EtcdClient, err: unknown, index: number | undefined): Error | undefined {
  const connection = client.connection;
  const error = isServiceError(err) ? connection.translate('Observe', err) : err;
  if (error instanceof BackendUnavailableError) {
    if (index !== undefined) connection.failover(index);
    return undefined;
  }
  if (error instanceof AuthError && isInvalidAuthToken(error)) {
    connection.invalidateToken();
    return undefined;
  }
  if (error instanceof AuthError || error instanceof ClosedError) return error;
  // Anything else (a reset stream, an odd server reply) is worth another try after the backoff.
  return undefined;
}
