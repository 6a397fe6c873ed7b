/**
 * etcd's key layout, shared with Go's concurrency package so that both see the same election.
 *
 * An election (or mutex) named N keeps its entries under `electionPrefix(N)` (the escaping rule is
 * in ../shared/names.ts), and the entry of lease L is that prefix followed by L in lowercase hex:
 * the layout Go, etcdctl and etcd's election service use, so they all share an election.
 */
import { electionPrefix, splitEntryKey } from '../shared/names.js';

export { electionPrefix, escapeName, unescapeName } from '../shared/names.js';
export { KeySpaces } from '../shared/key-spaces.js';

/** The entry key of a lease in an election: `<escaped name>/<lease id in lowercase hex>`. */
export function entryKey(election: string, leaseId: string): string {
  return `${electionPrefix(election)}${BigInt(leaseId).toString(16)}`;
}

/**
 * The election a key belongs to (its first segment, unescaped) and whether it is a candidate's own
 * entry: its last segment is the hex id of the lease it is attached to (`lease`, "0" or undefined
 * for none). Undefined for a key of no election.
 */
export function parseEntryKey(
  key: string,
  lease: string | undefined,
): { election: string; candidate: boolean } | undefined {
  const split = splitEntryKey(key);
  if (split === undefined) return undefined;
  const candidate = lease !== undefined && lease !== '0' && split.entry === BigInt(lease).toString(16);
  return { election: split.election, candidate };
}

/** The smallest key after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  // Every byte is 0xff: the range runs to the end of the keyspace.
  return Buffer.from([0]);
}
