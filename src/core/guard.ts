/** One write or read inside a guarded operation. */
export type GuardOp =
  { op: 'put'; key: string; value: string } | { op: 'delete'; key: string } | { op: 'get'; key: string };

/** Outcome of term.guard(): committed only if the term was still current on the backend. */
export interface GuardResult {
  /** True when the backend applied every op; false when the term's entry had changed. */
  committed: boolean;
  /** Values read by `get` ops, in order (undefined for a missing key); empty when not committed. */
  values: (string | undefined)[];
}

/** Collects the ops of a guarded operation: `term.guard(tx => tx.put('k', 'v'))`. */
export class GuardBuilder {
  /** The ops collected so far, in order. */
  readonly ops: GuardOp[] = [];

  /** Writes key = value. */
  put(key: string, value: string): this {
    this.ops.push({ op: 'put', key, value });
    return this;
  }

  /** Deletes key. */
  delete(key: string): this {
    this.ops.push({ op: 'delete', key });
    return this;
  }

  /** Reads key as part of the same atomic step. */
  get(key: string): this {
    this.ops.push({ op: 'get', key });
    return this;
  }
}
