import { sleep, systemClock } from '../../core/clock.js';
import type { LeaderRecord } from '../../core/contract.js';
import { BackendUnavailableError } from '../../core/errors.js';
import type { EtcdClient } from '../../etcd/client.js';
import { watchEvents } from './events.js';
import { prefixEnd } from './keys.js';
import { readLeader, viewId, type LeaderRead } from './leader-read.js';

/**
 * Client mode's leader stream: the leader now and at each change. Follows the leader key only,
 * re-reading when it goes; while there is no leader, wakes on the first put under the prefix.
 */
export async function* followLeader(
  client: EtcdClient,
  prefix: string,
  signal: AbortSignal,
): AsyncGenerator<LeaderRecord | null, void, undefined> {
  let last: string | undefined;
  const changed = (record: LeaderRecord | null) => {
    const id = viewId(record);
    if (id === last) return false;
    last = id;
    return true;
  };
  let backoff = 50;
  while (!signal.aborted) {
    let read: LeaderRead;
    try {
      read = await readLeader(client, prefix);
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
      outer: for await (const events of watchEvents(client, spec, signal)) {
        for (const event of events) {
          if (event.type === 'DELETE') break outer;
          const next = { ...leader, value: event.kv.value.toString() };
          if (changed(next)) yield next;
        }
      }
    } else {
      // No leader: the first new entry will lead; wake on the first put under the prefix.
      const spec = {
        key: Buffer.from(prefix),
        rangeEnd: prefixEnd(prefix),
        startRevision: from,
        filters: ['NODELETE' as const],
      };
      for await (const _ of watchEvents(client, spec, signal)) break;
    }
  }
}
