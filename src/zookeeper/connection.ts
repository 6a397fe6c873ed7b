import zk from 'node-zookeeper-client';
import { BackendUnavailableError } from '../core/errors.js';
import { ZkTimeoutError, translate, zkCode } from './errors.js';

/** A watch callback: called once, with the event's type (zk.Event.NODE_DELETED, ...); reconnects go to onReconnect(). */
export type Watcher = (type: number) => void;

/** One node as read: its data and the stat fields ballot uses. */
export interface NodeRead {
  data: Buffer;
  /** Creation zxid: the fencing token of a leading node. */
  czxid: bigint;
  /** Session that owns it, or 0n for a persistent node. */
  owner: bigint;
  version: number;
}

/** One op of a multi (ZooKeeper's transaction). */
export type MultiOp =
  | { op: 'check'; path: string; version: number }
  | { op: 'create'; path: string; data: Buffer }
  | { op: 'setData'; path: string; data: Buffer; version: number }
  | { op: 'remove'; path: string; version: number };

/** How a multi ended: committed, or the index and code of the first op that failed. */
export type MultiOutcome = { ok: true } | { ok: false; index: number; code: number };

/**
 * One ZooKeeper session on node-zookeeper-client, with promises and a deadline on every call.
 * Written around the library, not instead of it, for its one weak spot: it never notices a
 * half-open connection (no read timeout), so a call that gets no reply within `callTimeout`
 * fails here, and ballot's session deadline (core) decides when the session must be given up.
 */
export class ZkConnection {
  private readonly client: zk.Client;
  private expired = false;
  private closed = false;
  /** Called on every watch event this connection delivers, with its type: the driver counts them (stats().events). */
  onEvent: (type: number) => void = () => undefined;
  private readonly reconnectWatchers = new Set<() => void>();
  private readonly wrapped = new WeakMap<Watcher, (event: zk.Event) => void>();
  /**
   * Whether the root existed when the connection opened: false only under a chroot that does not
   * exist (ZooKeeper still connects to one). Read by open()'s first request.
   */
  rootFound = false;

  private constructor(
    readonly where: string,
    sessionTimeoutMs: number,
    readonly callTimeout: number,
  ) {
    this.client = zk.createClient(where, { sessionTimeout: sessionTimeoutMs, spinDelay: 100, retries: 0 });
    // An expired session never reconnects, and its watches are gone: whoever waits on one must
    // look again (an observer on the reader then moves to a new session) rather than wait forever.
    this.client.on('expired', () => {
      this.expired = true;
      for (const fn of [...this.reconnectWatchers]) fn();
    });
    this.client.on('connected', () => {
      for (const fn of [...this.reconnectWatchers]) fn();
    });
  }

  /** Connects a new session; fails with UNAVAILABLE after `callTimeout` when nothing answers. */
  static async open(where: string, sessionTimeoutMs: number, callTimeout: number): Promise<ZkConnection> {
    const conn = new ZkConnection(where, sessionTimeoutMs, callTimeout);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.abandon();
        reject(
          new BackendUnavailableError(
            `cannot reach ZooKeeper at ${where} within ${callTimeout} ms: check the connect string and that ZooKeeper is running`,
          ),
        );
      }, callTimeout);
      conn.client.once('connected', () => {
        clearTimeout(timer);
        resolve();
      });
      conn.client.connect();
    });
    // The client numbers requests from 0, and a handshake reply that comes while it is closing (a
    // reconnect cut short by close()) is read as the reply to request 0: for a connection that sent
    // nothing yet, a match, and the client throws on the rest (an uncaught exception). Use 0 up now.
    try {
      conn.rootFound = await conn.exists('/');
    } catch (err) {
      conn.close();
      throw translate(err, where, 'connecting');
    }
    return conn;
  }

  /** The session id as 16 hex digits (how ZooKeeper prints it). */
  get sessionId(): string {
    return this.client.getSessionId().toString('hex').padStart(16, '0');
  }

  /** The session timeout the server granted, in ms. */
  get sessionTimeout(): number {
    return this.client.getSessionTimeout();
  }

  /** Whether the server has told us the session expired. */
  get isExpired(): boolean {
    return this.expired;
  }

  /** Calls `fn` after every reconnect of this session (watches may have been missed) and when it expires; returns an unsubscribe. */
  onReconnect(fn: () => void): () => void {
    this.reconnectWatchers.add(fn);
    return () => this.reconnectWatchers.delete(fn);
  }

  /** Any request with a reply proves the server heard from us; resolves false once the session expired. */
  async ping(): Promise<boolean> {
    if (this.expired) return false;
    try {
      await this.call<zk.Stat>((cb) => this.client.exists('/', cb));
      return true;
    } catch (err) {
      if (zkCode(err) === zk.Exception.SESSION_EXPIRED || this.expired) return false;
      throw err;
    }
  }

  /** Creates a node; returns its path (with the sequence suffix for a sequential one). */
  create(path: string, data: Buffer, mode: number): Promise<string> {
    return this.call<string>((cb) => this.client.create(path, data, mode, cb));
  }

  /** Creates `path` and its missing parents as persistent nodes; an existing one is fine. */
  mkdirp(path: string): Promise<string> {
    return this.again(() => this.call<string>((cb) => this.client.mkdirp(path, cb)));
  }

  /** Reads a node, or undefined if it does not exist; `watch` fires once on its next change. */
  async getData(path: string, watch?: Watcher): Promise<NodeRead | undefined> {
    try {
      const [data, stat] = await this.again(() =>
        this.call2<Buffer, zk.Stat>((cb) =>
          watch ? this.client.getData(path, this.watcher(watch), cb) : this.client.getData(path, cb),
        ),
      );
      return {
        data: data ?? Buffer.alloc(0),
        czxid: int64(stat.czxid),
        owner: int64(stat.ephemeralOwner),
        version: stat.version,
      };
    } catch (err) {
      if (zkCode(err) === zk.Exception.NO_NODE) return undefined;
      throw err;
    }
  }

  /** The children's names, or undefined when the node does not exist; `watch` fires once on a change. */
  async getChildren(path: string, watch?: Watcher): Promise<string[] | undefined> {
    try {
      const [children] = await this.again(() =>
        this.call2<string[], zk.Stat>((cb) =>
          watch ? this.client.getChildren(path, this.watcher(watch), cb) : this.client.getChildren(path, cb),
        ),
      );
      return children;
    } catch (err) {
      if (zkCode(err) === zk.Exception.NO_NODE) return undefined;
      throw err;
    }
  }

  /** Whether the node exists; with `watch`, fires once when it is created, changed or deleted. */
  async exists(path: string, watch?: Watcher): Promise<boolean> {
    const stat = await this.again(() =>
      this.call<zk.Stat | null>((cb) =>
        watch ? this.client.exists(path, this.watcher(watch), cb) : this.client.exists(path, cb),
      ),
    );
    return Boolean(stat);
  }

  /** Sets a node's data if its version matches (-1: any); false when it does not exist or the version moved. */
  async setData(path: string, data: Buffer, version = -1): Promise<boolean> {
    try {
      await this.again(() => this.call<zk.Stat>((cb) => this.client.setData(path, data, version, cb)));
      return true;
    } catch (err) {
      const code = zkCode(err);
      if (code === zk.Exception.NO_NODE || code === zk.Exception.BAD_VERSION) return false;
      throw err;
    }
  }

  /** Deletes a node if its version matches (-1: any); false when it was not there (or moved). */
  async remove(path: string, version = -1): Promise<boolean> {
    try {
      await this.again(() => this.call<void>((cb) => this.client.remove(path, version, cb)));
      return true;
    } catch (err) {
      const code = zkCode(err);
      if (code === zk.Exception.NO_NODE || code === zk.Exception.BAD_VERSION) return false;
      throw err;
    }
  }

  /** Runs ops atomically: all apply, or none and the first failing op is named. */
  multi(ops: readonly MultiOp[]): Promise<MultiOutcome> {
    const tx = this.client.transaction();
    for (const op of ops) {
      if (op.op === 'check') tx.check(op.path, op.version);
      else if (op.op === 'create') tx.create(op.path, op.data, zk.CreateMode.PERSISTENT);
      else if (op.op === 'setData') tx.setData(op.path, op.data, op.version);
      else tx.remove(op.path, op.version);
    }
    return this.withDeadline<MultiOutcome>((settle) =>
      tx.commit((error, results: unknown) => {
        if (!error) return settle(undefined, { ok: true });
        const list = Array.isArray(results) ? (results as { err?: number }[]) : [];
        const index = list.findIndex(
          (r) => typeof r.err === 'number' && r.err !== 0 && r.err !== zk.Exception.RUNTIME_INCONSISTENCY,
        );
        const code = zkCode(error);
        if (index < 0 || code === undefined || UNRECOVERABLE.has(code)) return settle(error);
        settle(undefined, { ok: false, index, code: list[index]!.err! });
      }),
    );
  }

  /**
   * Ends the session (its ephemeral nodes go with it) and the connection. The client sends
   * closeSession and waits for the server to close the socket, which a paused server or a
   * half-open connection never does: the socket is destroyed after a short wait, so close()
   * never leaves one behind.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reconnectWatchers.clear();
    this.client.close();
    const timer = setTimeout(() => this.dropSocket(), Math.min(this.callTimeout, 2000));
    this.client.once('disconnected', () => clearTimeout(timer));
  }

  /**
   * Gives up a connect that got no reply. The handshake's late reply would be read as the reply to
   * closeSession (the client is no longer waiting for one), and the client throws on it, an
   * uncaught exception: drop the socket now. Nothing of ours is in the session yet; the server
   * expires it by itself.
   */
  private abandon(): void {
    this.close();
    this.dropSocket();
  }

  /**
   * Destroys the client's socket with an error. Without one, a socket still connecting closes
   * without 'error', the only event on which the client clears its connect timer (the session
   * timeout divided by the servers: 30 s for the reader), and that timer keeps the process alive.
   */
  private dropSocket(): void {
    const manager = (
      this.client as unknown as { connectionManager?: { socket?: { destroy(err: Error): void } } }
    ).connectionManager;
    manager?.socket?.destroy(new Error(`ballot closed this connection to ${this.where}`));
  }

  /**
   * Runs an idempotent request, and once more after the client reconnects if the first failed with
   * CONNECTION_LOSS (the client drops requests in flight when it switches connections). Never used
   * for create or multi, whose effect may have happened.
   */
  private async again<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      if (zkCode(err) !== zk.Exception.CONNECTION_LOSS || this.expired || this.closed) throw err;
      const reconnected = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => done(false), this.callTimeout);
        const stop = this.onReconnect(() => done(true));
        function done(ok: boolean) {
          clearTimeout(timer);
          stop();
          resolve(ok);
        }
      });
      if (!reconnected) throw err;
      return request();
    }
  }

  /**
   * The client's callback for `fn`: the same one each time, because the client keeps one listener
   * per callback and path, so a caller that reads a node again with the same `fn` while its watch
   * is still set does not add a listener each time (a waiter re-reads every minute).
   */
  private watcher(fn: Watcher): (event: zk.Event) => void {
    let wrapped = this.wrapped.get(fn);
    if (!wrapped) {
      wrapped = (event) => {
        this.onEvent(event.getType());
        fn(event.getType());
      };
      this.wrapped.set(fn, wrapped);
    }
    return wrapped;
  }

  private call<T>(start: (cb: (err: Error | zk.Exception | null, value: T) => void) => void): Promise<T> {
    return this.withDeadline<T>((settle) => start((err, value) => settle(err ?? undefined, value)));
  }

  private call2<A, B>(
    start: (cb: (err: Error | zk.Exception | null, a: A, b: B) => void) => void,
  ): Promise<[A, B]> {
    return this.withDeadline<[A, B]>((settle) => start((err, a, b) => settle(err ?? undefined, [a, b])));
  }

  /** Starts a request and settles it by its reply or, without one, after callTimeout. */
  private withDeadline<T>(start: (settle: (err: unknown, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(new ZkTimeoutError(this.where, this.callTimeout));
      }, this.callTimeout);
      try {
        start((err, value) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(value as T);
        });
      } catch (err) {
        // The client asserts on a bad path or oversized data before sending anything.
        clearTimeout(timer);
        done = true;
        reject(translate(err, this.where, 'checking a request'));
      }
    });
  }
}

/** Errors that say nothing about which op of a multi failed: the connection or the session. */
const UNRECOVERABLE = new Set([
  zk.Exception.CONNECTION_LOSS,
  zk.Exception.SESSION_EXPIRED,
  zk.Exception.OPERATION_TIMEOUT,
]);

/** A stat's 8-byte big-endian field as a bigint. */
function int64(field: Buffer | undefined): bigint {
  return field && field.length === 8 ? field.readBigUInt64BE(0) : 0n;
}
