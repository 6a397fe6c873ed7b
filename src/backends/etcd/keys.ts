/** Key helpers shared with Go's concurrency package, so that both see the same election. */

/** The entry key of a lease in an election: `<name>/<lease id in lowercase hex>`, as Go and etcdctl write it. */
export function entryKey(election: string, leaseId: string): string {
  return `${electionPrefix(election)}${BigInt(leaseId).toString(16)}`;
}

/** The key prefix that holds an election's entries. */
export function electionPrefix(election: string): string {
  return `${election}/`;
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
