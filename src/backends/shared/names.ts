/**
 * How an election (or mutex) name becomes a key prefix in a key-shaped store (etcd and memory
 * today, ZooKeeper paths next); PostgreSQL keeps names in a column and needs none of this.
 *
 * The rule: an election named N keeps its entries under `escapeName(N) + "/"`. escapeName turns
 * '%' into '%25' and '/' into '%2F' and leaves every other character alone. Why: a store that lists
 * by prefix would otherwise count election `team/sub`'s entries as `team`'s own candidates. Escaped
 * names never contain '/', so no election's prefix can fall under another's. A name with neither
 * '/' nor '%' is its own escape, so it keeps Go's and `etcdctl elect`'s layout.
 *
 * What follows the prefix (an entry's own segment) is each backend's layout, not this module's.
 * Not in core: core names no storage layout. Here because more than one backend shares it.
 */

/** An election or mutex name as it appears in keys: '%' -> '%25', '/' -> '%2F', nothing else changes. */
export function escapeName(name: string): string {
  return name.replace(/[%/]/g, (c) => (c === '%' ? '%25' : '%2F'));
}

/**
 * The name whose escape is `escaped`, or undefined when no name escapes to it (it holds a '/' or a
 * '%' that is not '%25' or '%2F'): such a prefix is never one of ballot's elections.
 */
export function unescapeName(escaped: string): string | undefined {
  if (escaped.includes('/') || /%(?!25|2F)/.test(escaped)) return undefined;
  return escaped.replace(/%(25|2F)/g, (_, code: string) => (code === '25' ? '%' : '/'));
}

/** The key prefix that holds an election's entries: `<escaped name>/`. Every key under it counts as an entry. */
export function electionPrefix(election: string): string {
  return `${escapeName(election)}/`;
}

/**
 * Splits a key into the election it belongs to (its first segment, unescaped) and the rest (the
 * entry's own segment, in the backend's layout). Undefined for a key of no election.
 */
export function splitEntryKey(key: string): { election: string; entry: string } | undefined {
  const slash = key.indexOf('/');
  if (slash <= 0) return undefined;
  const election = unescapeName(key.slice(0, slash));
  if (election === undefined) return undefined;
  return { election, entry: key.slice(slash + 1) };
}
