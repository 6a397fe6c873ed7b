import type { Entry } from '../../core/contract.js';
import { committed, type GuardBody, type GuardResult } from '../../core/guard.js';
import { translate } from '../../postgres/errors.js';
import type { PgContext } from './context.js';
import { kvGetParams } from './kv.js';
import { PgTxn } from './txn.js';

/** A guard whose result is decided: not leading (nothing ran), or the body's outcome. */
type Outcome = { held: false } | { held: true; values: (string | undefined)[]; returned: unknown };

/**
 * A guarded transaction: BEGIN; bound it on the server; lock the entry row FOR SHARE if the term
 * still holds; run the body's SQL; apply its key-value ops; COMMIT. A takeover must delete that
 * row, so it waits for this transaction: nothing the body wrote can land inside a later term.
 * The bound (statement, lock and idle-in-transaction timeouts) keeps a slow or paused guard from
 * holding up a takeover for longer than the session's TTL. This process's own remove() of the entry
 * (resign) aborts the transaction first: its term has ended, and its DELETE would otherwise wait
 * for a body that may itself be awaiting the resign.
 */
export async function guardTransaction(
  ctx: PgContext,
  election: string,
  e: Entry,
  body: GuardBody<PgTxn>,
): Promise<GuardResult> {
  const boundMs = Math.round(ctx.guardTimeout ?? ctx.ttls.get(e.liveness) ?? ctx.callTimeout);
  let bodyError: { error: unknown } | undefined;
  let outcome: Outcome;
  const abort = new AbortController();
  const inflight = ctx.inflight.get(e.key) ?? new Set();
  ctx.inflight.set(e.key, inflight.add(abort));
  try {
    outcome = await ctx.adapter.transaction(
      async (run): Promise<Outcome> => {
        const fence = await run(ctx.sql.fence, [election, e.liveness, e.token.toString(), `${boundMs}ms`]);
        if (Number(fence.rows[0]?.['held']) !== 1) return { held: false };
        const tx = new PgTxn();
        tx.bind(run);
        let returned: unknown;
        try {
          returned = await tx.run(body);
        } catch (error) {
          bodyError = { error };
          throw error;
        }
        ctx.keySpaces.check(tx.ops);
        const values: (string | undefined)[] = [];
        for (const op of tx.ops) {
          if (op.op === 'put') await run(ctx.sql.kvPut, [op.key, op.value]);
          else if (op.op === 'delete') await run(ctx.sql.kvDelete, [op.key]);
          else {
            const { rows } = await run(ctx.sql.kvGet, kvGetParams(op.key));
            values.push(rows[0] === undefined ? undefined : String(rows[0]['value']));
          }
        }
        return { held: true, values, returned: returned === tx ? undefined : returned };
      },
      boundMs + ctx.callTimeout,
      abort.signal,
    );
  } catch (err) {
    // The body threw, so COMMIT was never sent: its error (its SQL's included) is the answer, even
    // when the driver reports the abandoned connection instead.
    if (bodyError) throw bodyError.error;
    throw translate(err, ctx.adapter.where, `running a guard in "${election}"`);
  } finally {
    inflight.delete(abort);
    if (inflight.size === 0) ctx.inflight.delete(e.key);
  }
  if (!outcome.held) return { committed: false, values: [] };
  return committed(outcome.values, outcome.returned, undefined);
}
