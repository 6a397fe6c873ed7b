import { electionPrefix, prefixEnd } from '../backends/etcd/keys.js';
import type { EtcdClient } from '../etcd/client.js';
import type { KeyValue } from '../etcd/messages.js';
import { UsageError } from './errors.js';

/** One candidate's entry as stored in etcd: `<election>/<lease id in hex>`, as Go and etcdctl write it. */
export interface ElectionEntry {
  election: string;
  key: string;
  value: string;
  /** Create revision: the fencing token of the term this entry holds or will hold. */
  token: bigint;
  /** Lease id, decimal. */
  lease: string;
}

/** An election's entries in line order: the first leads, the rest wait. */
export interface ElectionListing {
  election: string;
  entries: ElectionEntry[];
}

const PAGE = 1000;

/** Throws a usage error unless `name` can be an election name. */
export function checkElectionName(name: string): string {
  if (name === '') throw new UsageError('the election name must not be empty');
  if (name.endsWith('/'))
    throw new UsageError(`election name "${name}" must not end with "/": ballot adds the separator itself`);
  return name;
}

/**
 * Every election with at least one entry under `prefix`, sorted by name, entries oldest first.
 * A key counts as an entry only when its last path segment is the hex id of the lease it is
 * attached to, so ordinary keys that share the prefix are left out.
 */
export async function listElections(client: EtcdClient, prefix: string): Promise<ElectionListing[]> {
  const byName = new Map<string, ElectionEntry[]>();
  for await (const kv of scan(client, prefix)) {
    const entry = toEntry(kv);
    if (!entry) continue;
    const list = byName.get(entry.election) ?? [];
    list.push(entry);
    byName.set(entry.election, list);
  }
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([election, entries]) => ({
      election,
      entries: entries.sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0)),
    }));
}

/** The election's current leader entry (the oldest), or null when nobody campaigns. */
export async function leaderEntry(client: EtcdClient, election: string): Promise<ElectionEntry | null> {
  const prefix = electionPrefix(election);
  const response = await client.range({
    key: Buffer.from(prefix),
    range_end: prefixEnd(prefix),
    sort_order: 'ASCEND',
    sort_target: 'CREATE',
    limit: 1,
  });
  const kv = response.kvs[0];
  return kv ? { ...entryFields(kv), election } : null;
}

/** Deletes `entry` only if it still has its create revision; false if it changed or vanished meanwhile. */
export async function deleteEntry(client: EtcdClient, entry: ElectionEntry): Promise<boolean> {
  const key = Buffer.from(entry.key);
  const response = await client.txn({
    compare: [{ result: 'EQUAL', target: 'CREATE', key, create_revision: entry.token.toString() }],
    success: [{ request_delete_range: { key } }],
    failure: [],
  });
  return response.succeeded;
}

/** Seconds left on each lease (-1 when it is gone), asked once per lease. */
export async function leaseTtls(client: EtcdClient, leases: Iterable<string>): Promise<Map<string, number>> {
  const unique = [...new Set(leases)];
  const ttls = await Promise.all(unique.map((id) => client.leaseTimeToLive(id).then((r) => Number(r.TTL))));
  return new Map(unique.map((id, i) => [id, ttls[i] ?? -1]));
}

async function* scan(client: EtcdClient, prefix: string): AsyncGenerator<KeyValue> {
  // An empty prefix means the whole keyspace: from "\0" to the end ("\0" as range_end).
  let from = prefix === '' ? Buffer.from([0]) : Buffer.from(prefix);
  const end = prefixEnd(prefix);
  for (;;) {
    const response = await client.range({
      key: from,
      range_end: end,
      sort_order: 'ASCEND',
      sort_target: 'KEY',
      limit: PAGE,
    });
    yield* response.kvs;
    const last = response.kvs.at(-1);
    if (!response.more || !last) return;
    from = Buffer.concat([last.key, Buffer.from([0])]);
  }
}

function toEntry(kv: KeyValue): ElectionEntry | null {
  const key = kv.key.toString();
  const slash = key.lastIndexOf('/');
  if (slash <= 0 || kv.lease === '0' || !kv.lease) return null;
  if (key.slice(slash + 1) !== BigInt(kv.lease).toString(16)) return null;
  return { ...entryFields(kv), election: key.slice(0, slash) };
}

function entryFields(kv: KeyValue): Omit<ElectionEntry, 'election'> {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    token: BigInt(kv.create_revision),
    lease: kv.lease,
  };
}
