import { InvalidArgumentError } from '../../core/errors.js';
import { KvTxn, type GuardBody } from '../../core/guard.js';
import type { RunSql } from '../../postgres/adapter.js';

/** Rows a guarded statement returned, whichever driver ran it. */
export interface PgRows<R = Record<string, unknown>> {
  /** The rows (int8 and numeric come back as strings, as both drivers return them). */
  rows: R[];
  /** Rows affected or returned. */
  rowCount: number;
}

/**
 * What term.guard() hands its body on PostgreSQL. `query` runs your SQL at once, inside the one
 * transaction that holds the leader's entry (so it commits only while the term holds).
 * `put`/`delete`/`get` are the same key-value methods as on etcd and memory, on ballot's own
 * `kv` table, applied in order after the body returns, in the same transaction.
 */
export class PgTxn extends KvTxn {
  private exec?: RunSql;

  /** @internal the guard binds the transaction's connection before running the body. */
  bind(run: RunSql): void {
    this.exec = run;
  }

  /** Runs one statement (`$1`-style parameters) in the guarded transaction. */
  async query<R = Record<string, unknown>>(
    text: string,
    params: readonly unknown[] = [],
  ): Promise<PgRows<R>> {
    const exec = this.exec;
    if (!exec)
      throw new InvalidArgumentError(
        "tx.query() came after the guard's body returned, outside its transaction: await every query before returning",
      );
    const result = await exec(text, params);
    return { rows: result.rows as R[], rowCount: result.rowCount };
  }

  /** @internal runs the body, then closes the transaction to further queries. */
  override async run(body: GuardBody<this>): Promise<unknown> {
    try {
      return await super.run(body);
    } finally {
      this.exec = undefined;
    }
  }
}
