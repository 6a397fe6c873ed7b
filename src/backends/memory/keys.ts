/**
 * The in-process store's entry layout. It copies etcd's on purpose (the entry of lease L is the
 * election's prefix followed by L in lowercase hex), so that a test, the chaos lab or an operator
 * reads one layout whichever backend runs; it is memory's own choice, not an import from etcd.
 */
import { electionPrefix, splitEntryKey } from '../shared/names.js';

/** The entry key of a lease in an election: `<escaped name>/<lease id in lowercase hex>`. */
export function entryKey(election: string, lease: string): string {
  return `${electionPrefix(election)}${BigInt(lease).toString(16)}`;
}

/** The election a key belongs to, and whether it is the entry of `lease`; undefined for a key of no election. */
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
