import type { Entry } from '../../core/contract.js';
import { committed, type GuardBody, type GuardResult } from '../../core/guard.js';
import { BackendUnavailableError, NotLeaderError } from '../../core/errors.js';
import { sqlState, TimeoutError } from '../../postgres/adapter.js';
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
  // At least 1 ms: "0ms" would turn the server's timeouts off altogether.
  const boundMs = Math.max(1, Math.ceil(ctx.guardTimeout ?? ctx.ttls.get(e.liveness) ?? ctx.callTimeout));
  let bodyError: { error: unknown } | undefined;
  let outcome: Outcome;
  const abort = new AbortController();
  const started = Date.now();
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
    // The body threw, so COMMIT was never sent. Its error is the answer, unless ballot itself
    // stopped the transaction under it: the term was resigned, or the guard ran past its bound.
    if (bodyError)
      throw (
        stoppedByBallot(bodyError.error, abort.signal.aborted, Date.now() - started >= boundMs) ??
        bodyError.error
      );
    throw translate(err, ctx.adapter.where, `running a guard in "${election}"`);
  } finally {
    inflight.delete(abort);
    if (inflight.size === 0) ctx.inflight.delete(e.key);
  }
  if (!outcome.held) return { committed: false, values: [] };
  return committed(outcome.values, outcome.returned, undefined);
}

/** SQLSTATEs of the server-side bounds ballot sets on a guard (statement, lock, idle in transaction). */
const BOUNDS = new Set(['57014', '55P03', '25P03']);

/**
 * The error to report when ballot, not the user's SQL, ended the guard's transaction under its
 * body: NOT_LEADER when its term was resigned meanwhile (the transaction was abandoned), UNAVAILABLE
 * when it ran past its bound (the server's timeouts, or ballot dropping the connection). Undefined
 * for the body's own errors, which are passed through as they are.
 */
function stoppedByBallot(error: unknown, resigned: boolean, overdue: boolean): Error | undefined {
  const state = sqlState(error);
  // The connection ballot dropped (node-postgres), or a statement refused after ballot abandoned
  // the transaction (porsager): not an error of the user's SQL.
  const dropped =
    error instanceof TimeoutError ||
    (error instanceof Error && state === undefined && /Connection terminated/i.test(error.message));
  if (resigned && dropped)
    return new NotLeaderError(
      'guard not committed: its term was resigned while the body ran; nothing was written',
    );
  if ((state !== undefined && BOUNDS.has(state)) || (overdue && dropped))
    return new BackendUnavailableError(
      `guard not committed: it ran past its time limit (guardTimeout), so its transaction was rolled back (${
        error instanceof Error ? error.message : String(error)
      })`,
      { cause: error },
    );
  return undefined;
}
