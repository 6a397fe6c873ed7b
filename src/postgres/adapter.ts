/**
 * The small surface ballot needs from a PostgreSQL driver, so that node-postgres (`pg`) and
 * porsager's `postgres` are interchangeable: statements, transactions, and one LISTEN connection.
 */

/** What a statement returned: its rows (column name to value; int8 comes back as a string) and count. */
export interface SqlResult {
  rows: Record<string, unknown>[];
  rowCount: number;
}

/** Runs one statement with `$1`-style parameters. */
export type RunSql = (text: string, params?: readonly unknown[]) => Promise<SqlResult>;

/** What the notification connection reports to its owner. */
export interface ListenerEvents {
  /** A NOTIFY arrived on a channel this connection listens on, with its payload. */
  notification(channel: string, payload: string): void;
  /**
   * The connection was lost and is back, listening again: notifications sent in between are lost,
   * so every subscriber must read the state afresh.
   */
  resync(): void;
}

/** The one connection that LISTENs for a backend object. */
export interface Listener {
  /** Starts listening on `channel`; resolves once the server has acknowledged it. */
  listen(channel: string): Promise<void>;
  /** Stops listening on `channel`. */
  unlisten(channel: string): Promise<void>;
  /** Closes the connection for good. */
  close(): Promise<void>;
}

/** One PostgreSQL driver as ballot uses it. */
export interface SqlAdapter {
  /** "pg" or "postgres" (porsager), for messages. */
  readonly driver: string;
  /** Where it connects, for messages (no password). */
  readonly where: string;
  /** Runs one statement in its own transaction; rejects with TimeoutError after `timeoutMs`. */
  query(text: string, params: readonly unknown[], timeoutMs: number): Promise<SqlResult>;
  /**
   * Runs `body` between BEGIN and COMMIT on one connection; ROLLBACK if it throws. After `limitMs`
   * the connection is abandoned (the server rolls back). Rejects with CommitUnknownError when the
   * COMMIT was sent but its answer never came. Aborting `signal` abandons it the same way.
   */
  transaction<T>(body: (run: RunSql) => Promise<T>, limitMs: number, signal?: AbortSignal): Promise<T>;
  /** Opens the LISTEN connection (lazily connected, reconnecting by itself). */
  listener(events: ListenerEvents): Listener;
  /** Releases what the adapter created (never what the user passed in). */
  close(): Promise<void>;
}

/** A call that got no answer in time (the connection it used has been dropped). */
export class TimeoutError extends Error {
  constructor(
    readonly where: string,
    readonly ms: number,
  ) {
    super(`no answer from ${where} within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** COMMIT was sent but the connection failed before its answer: it may or may not have committed. */
export class CommitUnknownError extends Error {
  constructor(override readonly cause: unknown) {
    super('the connection failed after COMMIT was sent: the transaction may or may not have committed');
    this.name = 'CommitUnknownError';
  }
}

/** A transaction the server had already aborted (a statement in it failed): COMMIT rolled it back. */
export class RolledBackError extends Error {
  constructor() {
    super('a statement inside the transaction failed earlier, so COMMIT rolled it back');
    this.name = 'RolledBackError';
  }
}

/** Rejects with TimeoutError unless `work` settles within `ms`; `onTimeout` drops what it used. */
export function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  where: string,
  onTimeout: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new TimeoutError(where, ms));
    }, ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** The SQLSTATE of a server error, or undefined for a client-side one (then the connection is suspect). */
export function sqlState(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
