/**
 * The entry layout of the stores whose liveness is a numbered lease (etcd, and memory, which keeps
 * etcd's layout on purpose so that tests, the chaos lab and operators read one layout): the entry
 * of lease L in an election is the election's prefix (see names.ts) followed by L in lowercase
 * hex, as Go's concurrency package, etcdctl and etcd's election service write it.
 */
import { electionPrefix, splitEntryKey } from './names.js';

/** The entry key of a lease in an election: `<escaped name>/<lease id in lowercase hex>`. */
export function entryKey(election: string, leaseId: string): string {
  return `${electionPrefix(election)}${BigInt(leaseId).toString(16)}`;
}

/**
 * The election a key belongs to (its first segment, unescaped) and whether it is a candidate's own
 * entry: its last segment is the hex id of the lease it is attached to (`lease`, undefined for a
 * key no lease keeps). Undefined for a key of no election.
 */
export function parseEntryKey(
  key: string,
  lease: string | undefined,
): { election: string; candidate: boolean } | undefined {
  const split = splitEntryKey(key);
  if (split === undefined) return undefined;
  return {
    election: split.election,
    candidate: lease !== undefined && split.entry === BigInt(lease).toString(16),
  };
}
