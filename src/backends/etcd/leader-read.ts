import type { LeaderRecord } from '../../core/contract.js';
import type { EtcdClient } from '../../etcd/client.js';
import type { KeyValue, RangeRequest } from '../../etcd/messages.js';
import { prefixEnd } from './keys.js';

/** A leader read and the revision it was taken at, so that later views can be ordered after it. */
export interface LeaderRead {
  record: LeaderRecord | null;
  revision: bigint;
}

/** The read of the oldest entry under `prefix`: the one that leads under both recipes. */
export function oldestUnder(prefix: string, keysOnly = false): RangeRequest {
  return {
    key: Buffer.from(prefix),
    range_end: prefixEnd(prefix),
    sort_order: 'ASCEND',
    sort_target: 'CREATE',
    limit: 1,
    ...(keysOnly ? { keys_only: true } : {}),
  };
}

/** The oldest entry under `prefix` (the leader) and the revision it was read at. Both modes. */
export async function readLeader(client: EtcdClient, prefix: string): Promise<LeaderRead> {
  const response = await client.range(oldestUnder(prefix));
  const kv = response.kvs[0];
  return { record: kv ? toRecord(kv) : null, revision: BigInt(response.header.revision) };
}

/** An election entry as the leader record core expects. */
export function toRecord(kv: KeyValue): LeaderRecord {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    token: BigInt(kv.create_revision),
    // etcd says "no lease" with id 0; the contract says it with ''.
    liveness: kv.lease && kv.lease !== '0' ? kv.lease : '',
  };
}

/** A change-detection id of a leader view: same leader, token and value means no change. */
export function viewId(record: LeaderRecord | null): string {
  return record ? `${record.key}\0${record.token}\0${record.value}` : '';
}
