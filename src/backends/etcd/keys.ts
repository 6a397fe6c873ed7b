/**
 * Key helpers shared with Go's concurrency package, so that both see the same election.
 *
 * The key rule: an election (or mutex) named N keeps its entries under `escapeName(N) + "/"`, and
 * the entry of lease L is that prefix followed by L in lowercase hex. escapeName turns '%' into
 * '%25' and '/' into '%2F' and leaves every other character alone. Why: the leader is the oldest
 * key under the prefix (in Go, etcdctl, etcd's election service and here), so if names were used
 * raw, election `team` would count `team/sub`'s entries as its own candidates. Escaped names never
 * contain '/', so no election's prefix can fall under another's. A name with neither '/' nor '%'
 * is its own escape, so it keeps exactly Go's and `etcdctl elect`'s layout and shares with them.
 */
import { InvalidArgumentError } from '../../core/errors.js';
import type { GuardOp } from '../../core/guard.js';

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

/** The entry key of a lease in an election: `<escaped name>/<lease id in lowercase hex>`. */
export function entryKey(election: string, leaseId: string): string {
  return `${electionPrefix(election)}${BigInt(leaseId).toString(16)}`;
}

/** The key prefix that holds an election's entries: `<escaped name>/`. Every key under it counts as an entry. */
export function electionPrefix(election: string): string {
  return `${escapeName(election)}/`;
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
  const slash = key.indexOf('/');
  if (slash <= 0) return undefined;
  const election = unescapeName(key.slice(0, slash));
  if (election === undefined) return undefined;
  const candidate =
    lease !== undefined && lease !== '0' && key.slice(slash + 1) === BigInt(lease).toString(16);
  return { election, candidate };
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

/**
 * The key spaces of the elections and mutexes one backend object has opened. A guarded write into
 * one of them would become an entry: a key without a lease there is the oldest entry once the
 * candidates are gone, and then "leads" forever, so no candidate is ever elected again.
 */
export class KeySpaces {
  private readonly owners = new Map<string, string>();

  /** Records the key space of election (or mutex) `name`; `kind` names it in errors. */
  add(kind: 'election' | 'mutex', name: string): void {
    const prefix = electionPrefix(name);
    if (!this.owners.has(prefix)) this.owners.set(prefix, `${kind} "${name}"`);
  }

  /**
   * Throws InvalidArgumentError if a put or delete in `ops` falls in a known key space. Reads are
   * allowed: they cannot change who leads. Checked before anything is sent.
   */
  check(ops: readonly GuardOp[]): void {
    for (const op of ops) {
      if (op.op === 'get') continue;
      for (const [prefix, owner] of this.owners) {
        if (!op.key.startsWith(prefix)) continue;
        const outside = `${prefix.slice(0, -1)}-data/${op.key.slice(prefix.length)}`;
        throw new InvalidArgumentError(
          `guarded ${op.op} of "${op.key}" falls in the key space of ${owner}: every key under ` +
            `"${prefix}" counts as a candidate's entry, and one without a lease would lead it forever; ` +
            `use a key outside it (e.g. "${outside}")`,
        );
      }
    }
  }
}
