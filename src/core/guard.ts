import { InvalidArgumentError } from './errors.js';

/**
 * The user's part of a guarded operation: it gets the backend's transaction (`Tx`: etcd's and
 * memory's collect put/delete/get; a SQL backend's runs statements) and may be async.
 */
export type GuardBody<Tx, T = unknown> = (tx: Tx) => T | Promise<T>;

/**
 * What a guard's `result` holds for a body that returned T: T awaited, without a key-value
 * transaction (the chained `tx => tx.put(...)` returns its tx, which guard() leaves out).
 */
export type GuardReturn<T> = Exclude<Awaited<T>, KvTxn>;

/**
 * Outcome of term.guard(), the same on every backend: committed only if the term was still
 * current on the backend when the guarded operation ran.
 */
export interface GuardResult<T = unknown> {
  /** True when the backend applied the whole operation; false when the term's entry had changed. */
  committed: boolean;
  /**
   * Values read by the transaction's `get` ops, in order (undefined for a missing key), on key-value
   * backends; empty when not committed, and on backends whose transaction has no `get`.
   */
  values: (string | undefined)[];
  /**
   * What the body returned (awaited), when committed. Left out when it returned undefined or the
   * transaction itself. On etcd and memory the body runs before anything is sent; on a backend
   * whose body runs inside its transaction (SQL), this is how its reads come back.
   */
  result?: T;
}

/** One write or read of a key-value guard (etcd, memory): neutral, names no store. */
export type GuardOp =
  { op: 'put'; key: string; value: string } | { op: 'delete'; key: string } | { op: 'get'; key: string };

/**
 * The transaction of a key-value backend's guard: collects puts, deletes and gets that the
 * backend then applies in one atomic step, only while the term holds. Backends extend it
 * (EtcdTxn, MemoryTxn) so that code written on one runs on the other unchanged.
 */
export class KvTxn {
  /** @internal the ops collected so far, in order. */
  readonly ops: GuardOp[] = [];
  private sealed = false;

  /** Writes key = value. */
  put(key: string, value: string): this {
    return this.add({ op: 'put', key, value });
  }

  /** Deletes key. */
  delete(key: string): this {
    return this.add({ op: 'delete', key });
  }

  /** Reads key as part of the same atomic step (its value is in the result's `values`). */
  get(key: string): this {
    return this.add({ op: 'get', key });
  }

  /**
   * @internal runs the user's body against this transaction, then seals it: an op added after
   * the body settled would otherwise be dropped without a word. Rejects with the body's error.
   */
  async run(body: GuardBody<this>): Promise<unknown> {
    try {
      return await body(this);
    } finally {
      this.sealed = true;
    }
  }

  /** Throws if the body has returned: an op added now would be dropped without a word. */
  protected assertOpen(op: string, key: string): void {
    if (this.sealed)
      throw new InvalidArgumentError(
        `guarded ${op} of "${key}" came after the guard's body returned, so it would be lost: ` +
          'await everything the body starts before it returns',
      );
  }

  private add(op: GuardOp): this {
    this.assertOpen(op.op, op.key);
    this.ops.push(op);
    return this;
  }
}

/** The outcome of a committed guard: `result` only when the body returned something besides `tx`. */
export function committed(values: (string | undefined)[], returned: unknown, tx: unknown): GuardResult {
  return returned === undefined || returned === tx
    ? { committed: true, values }
    : { committed: true, values, result: returned };
}

/** @deprecated the key-value transaction is KvTxn (EtcdTxn, MemoryTxn); this name stays for older code. */
export const GuardBuilder = KvTxn;
/** @deprecated see KvTxn. */
export type GuardBuilder = KvTxn;
