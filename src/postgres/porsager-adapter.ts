import {
  CommitUnknownError,
  sqlState,
  withTimeout,
  type Listener,
  type ListenerEvents,
  type RunSql,
  type SqlAdapter,
  type SqlResult,
} from './adapter.js';

/** Rows as porsager's `postgres` returns them: an array with the command's row count. */
export interface PostgresJsRows extends ReadonlyArray<Record<string, unknown>> {
  /** Rows affected or returned. */
  readonly count: number | null;
}

/** A statement in flight on porsager's `postgres`: awaitable and cancellable. */
export interface PostgresJsQuery extends PromiseLike<PostgresJsRows> {
  /** Asks the server to cancel the statement. */
  cancel(): void;
}

/** The part of porsager's `postgres` instance (the `sql` function) that ballot uses. */
export interface PostgresJsSql {
  /** Runs a statement with `$1`-style parameters. */
  unsafe(query: string, parameters?: unknown[]): PostgresJsQuery;
  /** Runs `cb` in a transaction on one connection. */
  begin(cb: (sql: PostgresJsSql) => Promise<unknown>): Promise<unknown>;
  /** LISTENs on a channel; `onlisten` runs after every (re)LISTEN, reconnects included. */
  listen(
    channel: string,
    onnotify: (value: string) => void,
    onlisten?: () => void,
  ): PromiseLike<{ unlisten(): Promise<unknown> }>;
}

/**
 * porsager's `postgres` behind ballot's adapter interface, on an `sql` instance the user created
 * (ballot never ends it). It cannot drop a single connection, so a statement that times out is
 * cancelled, and a transaction past its limit is ended by the server's timeouts, which ballot sets
 * at the start of every guard.
 */
export class PostgresJsAdapter implements SqlAdapter {
  readonly driver = 'postgres';
  readonly where: string;

  constructor(
    private readonly sql: PostgresJsSql,
    where: string,
  ) {
    this.where = where;
  }

  async query(text: string, params: readonly unknown[], timeoutMs: number): Promise<SqlResult> {
    const pending = this.sql.unsafe(text, [...params]);
    return toResult(
      await withTimeout(Promise.resolve(pending), timeoutMs, this.where, () => pending.cancel()),
    );
  }

  async transaction<T>(body: (run: RunSql) => Promise<T>, limitMs: number): Promise<T> {
    let result: T | undefined;
    let bodyDone = false;
    const work = this.sql.begin(async (tx) => {
      result = await body(async (text, params) => toResult(await tx.unsafe(text, params ? [...params] : [])));
      bodyDone = true;
    });
    try {
      await withTimeout(Promise.resolve(work), limitMs, this.where, () => undefined);
    } catch (err) {
      // porsager sends COMMIT itself once the callback returns: a failure then leaves the outcome open.
      if (bodyDone && sqlState(err) === undefined) throw new CommitUnknownError(err);
      throw err;
    }
    return result as T;
  }

  listener(events: ListenerEvents): Listener {
    return new PostgresJsListener(this.sql, events);
  }

  async close(): Promise<void> {}
}

/** LISTEN through porsager, which reconnects and re-LISTENs by itself; a repeat onlisten means a reconnect. */
class PostgresJsListener implements Listener {
  private readonly handles = new Map<string, PromiseLike<{ unlisten(): Promise<unknown> }>>();

  constructor(
    private readonly sql: PostgresJsSql,
    private readonly events: ListenerEvents,
  ) {}

  async listen(channel: string): Promise<void> {
    let listened = false;
    const handle = this.sql.listen(
      channel,
      () => this.events.notification(channel),
      () => {
        if (listened) this.events.resync();
        listened = true;
      },
    );
    this.handles.set(channel, handle);
    await handle;
  }

  async unlisten(channel: string): Promise<void> {
    const handle = this.handles.get(channel);
    this.handles.delete(channel);
    if (handle) await (await handle).unlisten().catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.handles.keys()].map((channel) => this.unlisten(channel)));
  }
}

function toResult(rows: PostgresJsRows): SqlResult {
  return { rows: [...rows], rowCount: rows.count ?? rows.length };
}
