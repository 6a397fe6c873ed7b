import { InvalidArgumentError } from '../../core/errors.js';
import type { GuardOp } from '../../core/guard.js';
import { electionPrefix } from './names.js';

/**
 * The key spaces of the elections and mutexes one backend object has opened. A guarded write into
 * one of them would become an entry: a key without a lease there is the oldest entry once the
 * candidates are gone, and then "leads" forever, so no candidate is ever elected again.
 */
export class KeySpaces {
  private readonly owners = new Map<string, string>();

  /**
   * `prefixOf`: the key prefix an election's entries live under (default: the escaped name and
   * "/"); `locate`: where a guard's key is stored, in the same terms (default: the key itself).
   * ZooKeeper passes its paths for both.
   */
  constructor(
    private readonly prefixOf: (name: string) => string = electionPrefix,
    private readonly locate: (key: string) => string = (key) => key,
  ) {}

  /** Records the key space of election (or mutex) `name`; `kind` names it in errors. */
  add(kind: 'election' | 'mutex', name: string): void {
    const prefix = this.prefixOf(name);
    if (!this.owners.has(prefix)) this.owners.set(prefix, `${kind} "${name}"`);
  }

  /**
   * Throws InvalidArgumentError if a put or delete in `ops` falls in a known key space. Reads are
   * allowed: they cannot change who leads. Checked before anything is sent.
   */
  check(ops: readonly GuardOp[]): void {
    for (const op of ops) {
      if (op.op === 'get') continue;
      const key = this.locate(op.key);
      for (const [prefix, owner] of this.owners) {
        if (!key.startsWith(prefix)) continue;
        const outside = `${prefix.slice(0, -1)}-data/${key.slice(prefix.length)}`;
        throw new InvalidArgumentError(
          `guarded ${op.op} of "${op.key}" falls in the key space of ${owner}: every key under ` +
            `"${prefix}" counts as a candidate's entry, and one without a lease would lead it forever; ` +
            `use a key outside it (e.g. "${outside}")`,
        );
      }
    }
  }
}
