import { electionPrefix, escapeName, prefixEnd, unescapeName } from '../backends/etcd/keys.js';
import { InvalidArgumentError } from '../core/errors.js';
import { checkName } from '../core/validate.js';
import type { EtcdClient } from '../etcd/client.js';
import type { KeyValue } from '../etcd/messages.js';
import { UsageError } from './errors.js';

/**
 * One key in an election's line as stored in etcd, oldest first. Usually a candidate's entry,
 * `<escaped election>/<lease id in hex>` as Go and etcdctl write it; a key someone else put under
 * the prefix stands in line too (it may have no lease: `lease` is then "0").
 */
export interface ElectionEntry {
  election: string;
  key: string;
  value: string;
  /** Create revision: the fencing token of the term this entry holds or will hold. */
  token: bigint;
  /** Lease id, decimal; "0" for a key without a lease. */
  lease: string;
}

/** An election's entries in line order: the first leads, the rest wait. */
export interface ElectionListing {
  election: string;
  entries: ElectionEntry[];
}

const PAGE = 1000;

/** Throws a usage error (exit 2) unless `name` can be an election name; `what` names it in the message. */
export function checkElectionName(name: string, what = 'election name'): string {
  try {
    return checkName(name, what);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * Every election whose name starts with `namePrefix` and that has a candidate, sorted by name.
 *
 * What counts as an entry is what the leader is chosen from: every key under the election's prefix,
 * oldest first (Go, `etcdctl elect`, etcd's election service and ballot's leader() all take the
 * oldest key, and they must agree or two candidates could lead at once). So a foreign key under the
 * prefix is listed in its place in line, as `ballot leader` reports it when it is the oldest, instead
 * of hidden. To keep other data out of the listing, an election is listed only when one of its keys
 * is a candidate's entry: a key `<escaped name>/<hex lease id>` attached to that lease.
 */
export async function listElections(client: EtcdClient, namePrefix: string): Promise<ElectionListing[]> {
  const listings: ElectionListing[] = [];
  // Keys come sorted by key, and the keys of one election share its prefix, so they come together.
  let group: { election: string; entries: ElectionEntry[]; candidate: boolean } | undefined;
  const flush = () => {
    if (group?.candidate)
      listings.push({
        election: group.election,
        entries: group.entries.sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0)),
      });
    group = undefined;
  };
  // Escaping maps each character to its own code, none a prefix of another, so a name starts with
  // namePrefix exactly when its escape starts with namePrefix's escape.
  for await (const kv of scan(client, escapeName(namePrefix))) {
    const parsed = parseKey(kv);
    if (!parsed || !parsed.election.startsWith(namePrefix)) continue;
    if (group?.election !== parsed.election) {
      flush();
      group = { election: parsed.election, entries: [], candidate: false };
    }
    group.entries.push(parsed.entry);
    group.candidate ||= parsed.candidate;
  }
  flush();
  return listings.sort((a, b) => (a.election < b.election ? -1 : a.election > b.election ? 1 : 0));
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
  const unique = [...new Set(leases)].filter((id) => id !== '0');
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

/**
 * The election a key belongs to and its entry: the key's first segment is the election's escaped
 * name (escaped names hold no '/'). `candidate` says whether it is a candidate's own entry (its
 * last segment is the hex id of the lease it is attached to). Undefined for keys of no election.
 */
function parseKey(kv: KeyValue): { election: string; entry: ElectionEntry; candidate: boolean } | undefined {
  const key = kv.key.toString();
  const slash = key.indexOf('/');
  if (slash <= 0) return undefined;
  const election = unescapeName(key.slice(0, slash));
  if (election === undefined) return undefined;
  const lease = kv.lease || '0';
  const candidate = lease !== '0' && key.slice(slash + 1) === BigInt(lease).toString(16);
  return { election, entry: { ...entryFields(kv), election }, candidate };
}

function entryFields(kv: KeyValue): Omit<ElectionEntry, 'election'> {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    token: BigInt(kv.create_revision),
    lease: kv.lease || '0',
  };
}
