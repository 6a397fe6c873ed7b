import type { Clock } from '../../core/clock.js';
import type { LeaderRecord } from '../../core/contract.js';
import type { SharedRead } from '../../core/liveness.js';
import type { Multicast } from '../../core/multicast.js';
import type { SqlAdapter, SqlResult } from '../../postgres/adapter.js';
import { translate } from '../../postgres/errors.js';
import type { Notifier } from '../../postgres/notifier.js';
import type { KeySpaces } from '../shared/key-spaces.js';
import type { Statements } from './statements.js';

/** What every election, view and guard of one postgres backend object shares. */
export interface PgContext {
  readonly adapter: SqlAdapter;
  readonly schema: string;
  readonly sql: Statements;
  readonly notifier: Notifier;
  readonly clock: Clock;
  /** How long one statement may take, in ms. */
  readonly callTimeout: number;
  /** Server-side bound on a guard's transaction, in ms; undefined: the session's TTL. */
  readonly guardTimeout: number | undefined;
  /** The TTL granted to each open session, by id. */
  readonly ttls: Map<string, number>;
  /** Key spaces of the elections and mutexes opened here (guards' kv writes are refused inside them). */
  readonly keySpaces: KeySpaces;
  /** Guards in flight, by entry key: remove() aborts them before deleting the entry they lock. */
  readonly inflight: Map<string, Set<AbortController>>;
  /** One leader stream per election, however many observers. */
  readonly observers: Map<string, Multicast<LeaderRecord | null>>;
  /** One confirming read per election and interval. */
  readonly probes: Map<string, SharedRead>;
}

/** Runs one statement with the call timeout; errors come back as BallotErrors saying what was being done. */
export async function run(
  ctx: PgContext,
  text: string,
  params: readonly unknown[],
  doing: string,
): Promise<SqlResult> {
  try {
    return await ctx.adapter.query(text, params, ctx.callTimeout);
  } catch (err) {
    throw translate(err, ctx.adapter.where, doing);
  }
}
