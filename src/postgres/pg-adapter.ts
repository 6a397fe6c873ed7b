import pg from 'pg';
import {
  CommitUnknownError,
  RolledBackError,
  TimeoutError,
  sqlState,
  withTimeout,
  type Listener,
  type ListenerEvents,
  type RunSql,
  type SqlAdapter,
  type SqlResult,
} from './adapter.js';
import { PgListener } from './pg-listener.js';

/** A connection lent to one call, and how to give it back (with the error that broke it, if any). */
export interface Borrowed {
  client: pg.Client;
  release(broken?: Error): void;
}

/** Where ballot's node-postgres connections come from. */
export interface PgSource {
  /** Lends a connection (from a pool, or the user's one client in turn). */
  checkout(): Promise<Borrowed>;
  /** Ends what ballot created; undefined for what the user passed in. */
  end?: () => Promise<void>;
  /** Settings for the LISTEN connection, which ballot always opens itself. */
  listenConfig: pg.ClientConfig;
}

/** Clients that already carry ballot's 'error' listener (one each, however often they are lent). */
const guarded = new WeakSet<pg.Client>();

/** Lends connections from a pg.Pool. */
export function poolSource(pool: pg.Pool, listenConfig: pg.ClientConfig, owned: boolean): PgSource {
  return {
    async checkout() {
      const client = await pool.connect();
      // The pool listens for errors only on idle clients; one that breaks while lent (between the
      // statements of a guard, or dropped on purpose) would otherwise emit 'error' with no listener.
      // The call in progress sees the failure anyway.
      if (!guarded.has(client)) {
        guarded.add(client);
        client.on('error', () => undefined);
      }
      return { client, release: (broken) => client.release(broken) };
    },
    end: owned ? () => pool.end() : undefined,
    listenConfig,
  };
}

/** Drops a connection at once: its socket is destroyed, so a pending query fails now, not after TCP gives up. */
function destroy(client: pg.Client): void {
  client.connection.stream.destroy();
}

/** An error after which the connection cannot be trusted: anything the server did not answer with a SQLSTATE. */
function breaksConnection(err: unknown): boolean {
  return sqlState(err) === undefined;
}

/**
 * node-postgres behind ballot's adapter interface. Every call checks a client out of the pool under
 * a deadline and destroys it on timeout: a paused server or a dead peer must cost one connection
 * and one call timeout, never a hung renewal.
 */
export class PgAdapter implements SqlAdapter {
  readonly driver = 'pg';
  readonly where: string;
  private readonly source: PgSource;

  constructor(source: PgSource, where: string) {
    this.source = source;
    this.where = where;
  }

  async query(text: string, params: readonly unknown[], timeoutMs: number): Promise<SqlResult> {
    const start = Date.now();
    const { client, release } = await this.checkout(timeoutMs);
    let broken: unknown;
    try {
      const left = Math.max(1, timeoutMs - (Date.now() - start));
      return toResult(
        await withTimeout(client.query(text, params as unknown[]), left, this.where, () => destroy(client)),
      );
    } catch (err) {
      if (breaksConnection(err)) broken = err;
      throw err;
    } finally {
      release(broken as Error | undefined);
    }
  }

  async transaction<T>(body: (run: RunSql) => Promise<T>, limitMs: number, signal?: AbortSignal): Promise<T> {
    const start = Date.now();
    const { client, release } = await this.checkout(limitMs);
    let broken: unknown;
    let expired = false;
    const timer = setTimeout(
      () => {
        expired = true;
        destroy(client);
      },
      Math.max(1, limitMs - (Date.now() - start)),
    );
    const abandon = () => destroy(client);
    signal?.addEventListener('abort', abandon, { once: true });
    if (signal?.aborted) abandon(); // aborted while the connection was being checked out
    // The server ends a transaction that sat idle past its bound with a FATAL (25P03), which reaches
    // an idle client only as an 'error' event: COMMIT would then fail unsent and read as unknown.
    let ended: unknown;
    const onError = (err: unknown) => (ended ??= err);
    client.on('error', onError);
    const run: RunSql = async (text, params) =>
      toResult(await client.query(text, params as unknown[] | undefined));
    try {
      await run('BEGIN');
      const result = await body(run);
      if (ended !== undefined) throw ended;
      let commit: pg.QueryResult;
      try {
        commit = await client.query('COMMIT');
      } catch (err) {
        if (breaksConnection(err)) throw new CommitUnknownError(err);
        throw err;
      }
      if (commit.command === 'ROLLBACK') throw new RolledBackError();
      return result;
    } catch (err) {
      if (breaksConnection(err) || err instanceof CommitUnknownError) broken = err;
      else await client.query('ROLLBACK').catch((rollbackErr: unknown) => (broken = rollbackErr));
      throw expired && !(err instanceof CommitUnknownError) ? new TimeoutError(this.where, limitMs) : err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abandon);
      client.off('error', onError);
      release(broken as Error | undefined);
    }
  }

  listener(events: ListenerEvents): Listener {
    return new PgListener(this.source.listenConfig, events);
  }

  async close(): Promise<void> {
    await this.source.end?.();
  }

  /** A connection under a deadline; one that arrives after it is handed straight back. */
  private checkout(timeoutMs: number): Promise<Borrowed> {
    const connecting = this.source.checkout();
    return withTimeout(connecting, timeoutMs, this.where, () => {
      connecting.then(
        (late) => late.release(),
        () => undefined,
      );
    });
  }
}

function toResult(r: pg.QueryResult): SqlResult {
  return { rows: r.rows as Record<string, unknown>[], rowCount: r.rowCount ?? r.rows.length };
}
