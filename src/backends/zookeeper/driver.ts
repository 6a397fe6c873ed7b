import { systemClock } from '../../core/clock.js';
import type {
  BackendDriver,
  BackendStats,
  ElectionDriver,
  ElectionView,
  Liveness,
} from '../../core/contract.js';
import { BackendError, ClosedError, InvalidArgumentError } from '../../core/errors.js';
import { ZkConnection } from '../../zookeeper/connection.js';
import { composeDriver } from '../shared/compose.js';
import { KeySpaces } from '../shared/key-spaces.js';
import { attempt, type ZkContext } from './context.js';
import { ZkEntries } from './entries.js';
import { guardMulti } from './fence.js';
import { electionPath, kvPath, nameOfPath, sortLine, type NodeKind } from './nodes.js';
import type { CheckedOptions } from './options.js';
import { ZOOKEEPER_LIMITS } from './limits.js';
import type { ZkTxn } from './txn.js';
import { ZkView } from './view.js';

/** The reader's session holds nothing; its timeout only bounds how long a dead reader lingers on the server. */
const READER_SESSION_MS = 30_000;
/** elections() walks at most this many nodes: the tree is the user's, and may be large. */
const WALK_LIMIT = 20_000;

/**
 * Guards refuse a key in an election's key space as on every backend (a key "<name>/..."), so that
 * code tested on memory behaves the same here; and a path under an election's node, which would
 * stand in Curator's line (it sorts every child).
 */
function bothKeySpaces(): ZkContext['keySpaces'] {
  const names = new KeySpaces();
  const paths = new KeySpaces((name) => `${electionPath(name)}/`, kvPath);
  return {
    add(kind, name) {
      names.add(kind, name);
      paths.add(kind, name);
    },
    check(ops) {
      names.check(ops);
      paths.check(ops);
    },
  };
}

/** Runs ballot's core on ZooKeeper, in Curator's LeaderLatch layout (see core/contract.ts). */
export class ZkDriver implements BackendDriver<ZkTxn> {
  readonly kind = 'zookeeper';
  readonly clock = systemClock;
  readonly limits = ZOOKEEPER_LIMITS;
  readonly callTimeout: number;
  readonly liveness: Liveness;
  private readonly connect_: string;
  /** One ZooKeeper session per ballot session: its ephemeral nodes are the session's entries. */
  private readonly sessions = new Map<string, ZkConnection>();
  private readerConn?: Promise<ZkConnection>;
  private events = 0;
  private closed = false;
  private readonly ctx: ZkContext;

  constructor(options: CheckedOptions) {
    this.connect_ = options.connect;
    this.callTimeout = options.callTimeout;
    this.ctx = {
      where: options.connect,
      reader: () => this.reader(),
      keySpaces: bothKeySpaces(),
      observers: new Map(),
      probes: new Map(),
    };
    this.liveness = {
      open: async (ttlMs) => {
        const conn = await this.open(ttlMs);
        // close() ran while it connected: it did not see this connection, which would keep the
        // process alive reconnecting.
        if (this.closed) {
          conn.close();
          throw new ClosedError('zookeeper backend');
        }
        this.sessions.set(conn.sessionId, conn);
        return { id: conn.sessionId, ttlMs: conn.sessionTimeout };
      },
      renew: async (id) => {
        const conn = this.sessions.get(id);
        if (!conn) return 0;
        const alive = await attempt(this.ctx.where, `renewing session ${id}`, () => conn.ping());
        return alive ? conn.sessionTimeout : 0;
      },
      end: async (id) => {
        this.sessions.get(id)?.close();
        this.sessions.delete(id);
      },
    };
  }

  async connect(): Promise<void> {
    await this.reader();
  }

  election(name: string, session: string): ElectionDriver<ZkTxn> {
    this.ctx.keySpaces.add('election', name);
    return this.compose(name, session, 'latch');
  }

  mutex(name: string, session: string): ElectionDriver<ZkTxn> {
    this.ctx.keySpaces.add('mutex', name);
    return this.compose(name, session, 'lock');
  }

  view(name: string): ElectionView {
    // Without a session nothing says whether the name is an election or a mutex: read both kinds.
    return new ZkView(this.ctx, name, 'any');
  }

  async get(key: string): Promise<string | undefined> {
    const path = kvPath(key);
    const read = await attempt(this.ctx.where, `reading ${path}`, async () =>
      (await this.reader()).getData(path),
    );
    return read?.data.toString('utf8');
  }

  /** Walks the tree (breadth first, at most WALK_LIMIT nodes) for nodes with candidate children. */
  async *elections(namePrefix: string): AsyncGenerator<string> {
    const conn = await this.reader();
    const queue = ['/'];
    let visited = 0;
    while (queue.length > 0 && visited < WALK_LIMIT) {
      const path = queue.shift()!;
      visited++;
      const children = await attempt(this.ctx.where, `listing ${path}`, () => conn.getChildren(path));
      if (!children) continue;
      const hasLine = (kind: NodeKind) => sortLine(children, kind).length > 0;
      if (path !== '/' && (hasLine('latch') || hasLine('lock'))) {
        const name = nameOfPath(path);
        if (name.startsWith(namePrefix)) yield name;
      }
      for (const child of children) {
        if (child.startsWith('_c_') || (path === '/' && child === 'zookeeper')) continue;
        queue.push(path === '/' ? `/${child}` : `${path}/${child}`);
      }
    }
  }

  stats(): BackendStats {
    return { events: this.events };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const conn of this.sessions.values()) conn.close();
    this.sessions.clear();
    const reader = await this.readerConn?.catch(() => undefined);
    reader?.close();
    this.readerConn = undefined;
  }

  private compose(name: string, session: string, kind: NodeKind): ElectionDriver<ZkTxn> {
    const conn = this.sessions.get(session);
    if (!conn) throw new InvalidArgumentError(`no ZooKeeper session ${session} on this backend`);
    const view = new ZkView(this.ctx, name, kind);
    return composeDriver<ZkTxn>(new ZkEntries(this.ctx, view, conn, kind), view, (e, body) =>
      guardMulti(this.ctx, conn, e, body),
    );
  }

  private async open(sessionTimeoutMs: number): Promise<ZkConnection> {
    const conn = await ZkConnection.open(this.connect_, sessionTimeoutMs, this.callTimeout);
    conn.onEvent = () => this.events++;
    return conn;
  }

  /**
   * The reader connection, opened on first use and again after its session expired. Callers that
   * find it expired together open one new connection, not one each (the others would be left
   * open, past close()).
   */
  private async reader(): Promise<ZkConnection> {
    for (;;) {
      if (this.closed) throw new ClosedError('zookeeper backend');
      const pending = this.readerConn;
      const current = await pending?.catch(() => undefined);
      if (this.readerConn !== pending) continue; // replaced while we waited: use that one
      if (this.closed) throw new ClosedError('zookeeper backend');
      if (current && !current.isExpired) return current;
      current?.close();
      // Checked with the reader, which every read goes through (get() included), not only sessions.
      const opening = this.open(READER_SESSION_MS).then(async (conn) => {
        try {
          this.checkRoot(conn);
          return conn;
        } catch (err) {
          conn.close();
          throw err;
        }
      });
      this.readerConn = opening;
      opening.catch(() => {
        if (this.readerConn === opening) this.readerConn = undefined;
      });
      return opening;
    }
  }

  /**
   * A chroot that does not exist still connects; every create under it would then fail. The
   * connection read the root as its first request (ZkConnection.rootFound): no second read here.
   */
  private checkRoot(conn: ZkConnection): void {
    const root = conn.rootFound;
    if (!root) {
      const chroot = this.ctx.where.slice(this.ctx.where.indexOf('/'));
      throw new BackendError(
        `ZooKeeper at ${this.ctx.where}: the chroot "${chroot}" does not exist: create it ` +
          `(zkCli.sh create ${chroot} "") or fix the connect string`,
      );
    }
  }
}
