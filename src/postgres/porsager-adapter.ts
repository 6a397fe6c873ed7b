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

/** Rows as porsager's `postgres` returns them: an array with the command's row count. */
export interface PostgresJsRows extends ReadonlyArray<Record<string, unknown>> {
  /** Rows affected or returned. */
  readonly count: number | null;
  /** The command tag: "COMMIT", or "ROLLBACK" for a COMMIT of a failed transaction. */
  readonly command: string;
}

/** A statement in flight on porsager's `postgres`. */
export type PostgresJsQuery = PromiseLike<PostgresJsRows>;

/** A connection of porsager's `postgres` reserved by `sql.reserve()`, as ballot uses it. */
export interface PostgresJsReserved {
  /** Runs a statement with `$1`-style parameters on this connection. */
  unsafe(query: string, parameters?: unknown[]): PostgresJsQuery;
  /** Hands the connection back. */
  release(): void;
}

/** The part of porsager's `postgres` instance (the `sql` function) that ballot uses. */
export interface PostgresJsSql {
  /** Runs a statement with `$1`-style parameters. */
  unsafe(query: string, parameters?: unknown[]): PostgresJsQuery;
  /** Reserves one connection (ballot runs its guards' transactions on one). */
  reserve(): Promise<PostgresJsReserved>;
  /** LISTENs on a channel; `onlisten` runs after every (re)LISTEN, reconnects included. */
  listen(
    channel: string,
    onnotify: (value: string) => void,
    onlisten?: () => void,
  ): PromiseLike<{ unlisten(): Promise<unknown> }>;
}

/**
 * porsager's `postgres` behind ballot's adapter interface, on an `sql` instance the user created
 * (ballot never ends it). It cannot drop a single connection: a statement that times out is left
 * to the server (whose timeouts ballot sets in every guard).
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
    // No cancel on timeout: porsager's cancel() drops the promise of its cancel request, whose
    // failure (the server being unreachable, the usual reason for a timeout) would go unhandled.
    const pending = this.sql.unsafe(text, [...params]);
    return toResult(await withTimeout(Promise.resolve(pending), timeoutMs, this.where, () => undefined));
  }

  /**
   * BEGIN/COMMIT on a reserved connection rather than sql.begin(), so that ballot can abandon a
   * transaction: it sends ROLLBACK at once (queued behind any statement in flight), which frees the
   * entry's lock, and refuses the body's later statements. The connection is never killed: porsager
   * reuses a reserved connection that the server closed and then fails outside any promise.
   */
  async transaction<T>(body: (run: RunSql) => Promise<T>, limitMs: number, signal?: AbortSignal): Promise<T> {
    const reserving = this.sql.reserve();
    // A connection that arrives after the deadline is handed straight back, not kept forever.
    const reserved = await withTimeout(reserving, limitMs, this.where, () => {
      reserving.then(
        (late) => late.release(),
        () => undefined,
      );
    });
    let abandoned = false;
    let stop!: (err: Error) => void;
    // Rejects once the transaction is abandoned: a statement in flight is not waited for any longer.
    const stopped = new Promise<never>((_, reject) => (stop = reject));
    stopped.catch(() => undefined);
    const abandon = () => {
      if (abandoned) return;
      abandoned = true;
      stop(new TimeoutError(this.where, limitMs));
      Promise.resolve(reserved.unsafe('ROLLBACK')).catch(() => undefined);
    };
    const timer = setTimeout(abandon, limitMs);
    signal?.addEventListener('abort', abandon, { once: true });
    if (signal?.aborted) abandon(); // aborted while the connection was being reserved
    const run: RunSql = async (text, params) => {
      if (abandoned) throw new TimeoutError(this.where, limitMs);
      const sent = Promise.resolve(reserved.unsafe(text, params ? [...params] : []));
      sent.catch(() => undefined);
      return toResult(await Promise.race([sent, stopped]));
    };
    try {
      await run('BEGIN');
      const result = await body(run);
      if (abandoned) throw new TimeoutError(this.where, limitMs);
      let commit: PostgresJsRows;
      try {
        const sent = Promise.resolve(reserved.unsafe('COMMIT'));
        sent.catch(() => undefined);
        commit = await Promise.race([sent, stopped]);
      } catch (err) {
        if (sqlState(err) === undefined) throw new CommitUnknownError(err);
        throw err;
      }
      if (commit.command === 'ROLLBACK') throw new RolledBackError();
      return result;
    } catch (err) {
      if (!abandoned && !(err instanceof CommitUnknownError))
        await Promise.resolve(reserved.unsafe('ROLLBACK')).catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abandon);
      reserved.release();
    }
  }

  listener(events: ListenerEvents): Listener {
    return new PostgresJsListener(this.sql, events);
  }

  async close(): Promise<void> {}
}

/** LISTEN through porsager, which reconnects and re-LISTENs by itself; a repeat onlisten means a reconnect. */
class PostgresJsListener implements Listener {
  private readonly handles = new Map<string, Promise<{ unlisten(): Promise<unknown> }>>();

  constructor(
    private readonly sql: PostgresJsSql,
    private readonly events: ListenerEvents,
  ) {}

  async listen(channel: string): Promise<void> {
    let listened = false;
    const handle = Promise.resolve(
      this.sql.listen(
        channel,
        (payload) => this.events.notification(channel, payload),
        () => {
          if (listened) this.events.resync();
          listened = true;
        },
      ),
    );
    this.handles.set(channel, handle);
    try {
      await handle;
    } catch (err) {
      // Not listening after all: forget the channel, so the next subscriber tries again.
      if (this.handles.get(channel) === handle) this.handles.delete(channel);
      throw err;
    }
  }

  async unlisten(channel: string): Promise<void> {
    const handle = this.handles.get(channel);
    this.handles.delete(channel);
    if (handle) await handle.then((h) => h.unlisten()).catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.handles.keys()].map((channel) => this.unlisten(channel)));
  }
}

function toResult(rows: PostgresJsRows): SqlResult {
  return { rows: [...rows], rowCount: rows.count ?? rows.length };
}
