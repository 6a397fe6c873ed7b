/**
 * Operator views of etcd elections over plain KV and Lease calls: the line of one election, the
 * deposition of its leader, and the names of elections under a prefix. Both etcd modes share them,
 * since the service's keys are the client recipe's keys.
 */
import type { DeposeRecord, LeaderRecord, ParticipantRecord } from '../../core/contract.js';
import type { EtcdClient } from '../../etcd/client.js';
import type { KeyValue } from '../../etcd/messages.js';
import { escapeName, parseEntryKey, prefixEnd } from './keys.js';

const PAGE = 1000;

/**
 * Every key under `prefix` in create order (one snapshot, paged), with each lease's seconds left,
 * asked once per lease. A key without a lease stands in line too: the leader is the oldest key.
 */
export async function readLine(client: EtcdClient, prefix: string): Promise<ParticipantRecord[]> {
  const kvs: KeyValue[] = [];
  let revision: string | undefined;
  let after: bigint | undefined;
  for (;;) {
    const response = await client.range({
      key: Buffer.from(prefix),
      range_end: prefixEnd(prefix),
      sort_order: 'ASCEND',
      sort_target: 'CREATE',
      limit: PAGE,
      ...(revision === undefined ? {} : { revision }),
      ...(after === undefined ? {} : { min_create_revision: (after + 1n).toString() }),
    });
    revision ??= response.header.revision;
    kvs.push(...response.kvs);
    const last = response.kvs.at(-1);
    if (!response.more || !last) break;
    after = BigInt(last.create_revision);
  }
  const leases = [...new Set(kvs.map((kv) => kv.lease).filter((id) => id && id !== '0'))];
  const ttls = await Promise.all(leases.map(async (id) => Number((await client.leaseTimeToLive(id)).TTL)));
  const ttlOf = new Map(leases.map((id, i) => [id, ttls[i] ?? -1]));
  return kvs.map((kv) => {
    const lease = kv.lease && kv.lease !== '0' ? kv.lease : null;
    return {
      key: kv.key.toString(),
      value: kv.value.toString(),
      token: BigInt(kv.create_revision),
      lease,
      ttl: lease === null ? null : (ttlOf.get(lease) ?? -1),
    };
  });
}

/**
 * Deletes the key of `leader` (as just read) in one txn guarded by its create revision, so that a
 * leader elected after the read is never removed.
 */
export async function deleteLeaderEntry(
  client: EtcdClient,
  leader: LeaderRecord | null,
  expectedToken: bigint | undefined,
): Promise<DeposeRecord> {
  if (!leader) return { outcome: 'none' };
  if (expectedToken !== undefined && leader.token !== expectedToken) return { outcome: 'changed', leader };
  const key = Buffer.from(leader.key);
  const response = await client.txn({
    compare: [{ result: 'EQUAL', target: 'CREATE', key, create_revision: leader.token.toString() }],
    success: [{ request_delete_range: { key } }],
    failure: [],
  });
  return response.succeeded ? { outcome: 'deposed', leader } : { outcome: 'changed', leader };
}

/**
 * Names of the elections whose name starts with `namePrefix` and that hold a candidate's entry (see
 * parseEntryKey): other data that happens to sit under an election-like prefix is not an election.
 * Scans keys only, page by page; yields each name once, in key order.
 */
export async function* electionNames(client: EtcdClient, namePrefix: string): AsyncGenerator<string> {
  // Escaping maps each character to its own code, none a prefix of another, so a name starts with
  // namePrefix exactly when its escape starts with namePrefix's escape.
  const prefix = escapeName(namePrefix);
  // An empty prefix means the whole keyspace: from "\0" to the end ("\0" as range_end).
  let from = prefix === '' ? Buffer.from([0]) : Buffer.from(prefix);
  const end = prefixEnd(prefix);
  let last: string | undefined;
  for (;;) {
    const response = await client.range({
      key: from,
      range_end: end,
      sort_order: 'ASCEND',
      sort_target: 'KEY',
      keys_only: true,
      limit: PAGE,
    });
    for (const kv of response.kvs) {
      const parsed = parseEntryKey(kv.key.toString(), kv.lease === '0' ? undefined : kv.lease);
      if (!parsed?.candidate || parsed.election === last || !parsed.election.startsWith(namePrefix)) continue;
      // Keys of one election share its prefix, so they come together: a name never comes back.
      last = parsed.election;
      yield parsed.election;
    }
    const tail = response.kvs.at(-1);
    if (!response.more || !tail) return;
    from = Buffer.concat([tail.key, Buffer.from([0])]);
  }
}
