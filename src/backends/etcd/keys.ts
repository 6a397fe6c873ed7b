/**
 * etcd's key layout, shared with Go's concurrency package so that both see the same election.
 *
 * An election (or mutex) named N keeps its entries under `electionPrefix(N)` (the escaping rule is
 * in ../shared/names.ts), and the entry of lease L is that prefix followed by L in lowercase hex:
 * the layout Go, etcdctl and etcd's election service use, so they all share an election.
 */
export { electionPrefix, escapeName, unescapeName } from '../shared/names.js';
export { KeySpaces } from '../shared/key-spaces.js';
export { entryKey, parseEntryKey } from '../shared/lease-entries.js';

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
