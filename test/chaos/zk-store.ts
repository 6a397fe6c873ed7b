/**
 * What the chaos lab needs from ZooKeeper besides the ensemble: a client of its own (not a
 * candidate's) to read the line and the written nodes, and the trial's history from the servers'
 * transaction logs (zk-txnlog.ts), turned into the etcd-style events the checker replays.
 *
 * Layout of a trial: `/chaos/<run>/<trial>/e` is the election (a path, as a Curator LeaderLatch
 * is given); each guarded write creates its own persistent node `/chaos/<run>/<trial>/w/<token>-
 * <candidate>-<seq>` holding the write's JSON. A node per write, rather than setData on one node,
 * because every committed write then stays readable afterwards, with the token that wrote it,
 * and because writers never race on a version: a write fails only on the guard's check.
 */
import type { KvEvent, Kv } from '../fixtures/etcd-history.js';
import { ZkConnection } from '../../src/zookeeper/connection.js';
import { ZkTimeoutError } from '../../src/zookeeper/errors.js';
import type { TxnLogs } from './zk-txnlog.js';
import type { WriteValue } from './protocol.js';

/** The harness's own session is long: it must outlive the lab's ensemble outages. */
const HARNESS_SESSION_MS = 30_000;
const HARNESS_CALL_MS = 2_000;

/** The harness's client of the ensemble, reconnected after its session expired. */
export class ZkProbe {
  #conn: Promise<ZkConnection> | undefined;

  /** `connect`: the ensemble's connect string. */
  constructor(private readonly connect: string) {}

  /** A live connection (a new one if the last expired or never connected). */
  async conn(): Promise<ZkConnection> {
    const pending = this.#conn;
    const current = await pending?.catch(() => undefined);
    if (current && !current.isExpired) return current;
    // Another caller replaced it meanwhile: use theirs, or one connection would be left open.
    if (this.#conn !== pending) return this.conn();
    current?.close();
    this.#conn = ZkConnection.open(this.connect, HARNESS_SESSION_MS, HARNESS_CALL_MS);
    return this.#conn;
  }

  /** Closes the connection, if any. */
  async close(): Promise<void> {
    (await this.#conn?.catch(() => undefined))?.close();
  }

  /**
   * Runs `op` on a live connection; once more on a new one if it timed out. A server the lab just
   * restarted can take a connection and not answer while it syncs with the leader: the harness's
   * read then hangs on it, which says nothing about the candidates.
   */
  async #retrying<T>(op: (conn: ZkConnection) => Promise<T>): Promise<T> {
    const conn = await this.conn();
    try {
      return await op(conn);
    } catch (err) {
      if (!(err instanceof ZkTimeoutError)) throw err;
      if (this.#conn && (await this.#conn.catch(() => undefined)) === conn) this.#conn = undefined;
      conn.close();
      return op(await this.conn());
    }
  }

  /** Where the trial's writes go, created before any candidate joins. */
  async prepare(writeDir: string): Promise<void> {
    await this.#retrying((conn) => conn.mkdirp(writeDir));
  }

  /**
   * The election's candidates, lowest sequence first, as etcd-style key-values: createRevision =
   * czxid (the token), lease = the owner session as 16 hex digits (what Session.id is on ZooKeeper).
   * Latch and lock nodes share the parent's sequence counter, so one sort orders both.
   */
  async line(election: string): Promise<Kv[]> {
    return this.#retrying((conn) => this.#line(conn, election));
  }

  async #line(conn: ZkConnection, election: string): Promise<Kv[]> {
    const children = ((await conn.getChildren(election)) ?? []).filter((c) => /-\d{10}$/.test(c));
    children.sort((a, b) => (a.slice(-10) < b.slice(-10) ? -1 : 1));
    const reads = await Promise.all(children.map((c) => conn.getData(`${election}/${c}`)));
    const kvs: Kv[] = [];
    children.forEach((c, i) => {
      const read = reads[i];
      if (!read) return; // gone between the listing and the read
      kvs.push({
        key: `${election}/${c}`,
        value: read.data.toString('utf8'),
        createRevision: read.czxid,
        modRevision: read.czxid,
        lease: read.owner.toString(16).padStart(16, '0'),
      });
    });
    return kvs;
  }

  /** The writes readable now under `writeDir`, as "token/candidate/seq", each read back from its node. */
  async readWrites(writeDir: string): Promise<Set<string>> {
    return this.#retrying((conn) => this.#readWrites(conn, writeDir));
  }

  async #readWrites(conn: ZkConnection, writeDir: string): Promise<Set<string>> {
    const names = (await conn.getChildren(writeDir)) ?? [];
    const reads = await Promise.all(names.map((n) => conn.getData(`${writeDir}/${n}`)));
    const found = new Set<string>();
    for (const read of reads) {
      if (!read) continue;
      const v = JSON.parse(read.data.toString('utf8')) as WriteValue;
      found.add(`${v.t}/${v.c}/${v.s}`);
    }
    return found;
  }

  /** Removes `path` and everything under it, so the tree does not grow across a long soak. */
  async removeTree(path: string): Promise<void> {
    await this.#retrying((conn) => removeTree(conn, path));
  }
}

/** Removes `path` and everything under it through `conn`. */
async function removeTree(conn: ZkConnection, path: string): Promise<void> {
  const children = (await conn.getChildren(path)) ?? [];
  await Promise.all(children.map((c) => removeTree(conn, `${path}/${c}`)));
  await conn.remove(path);
}

/**
 * One trial's slice of ZooKeeper's history as etcd-style events: a candidate node's create is a
 * PUT with createRevision = its zxid (the token), its delete (or its session's close) a DELETE; a
 * write node's create is a PUT of `writeKey` carrying the write's JSON, as on etcd. Events of one
 * transaction share its zxid as their modRevision, as the ops of an etcd txn share a revision.
 */
export class ZkHistory {
  events: (KvEvent & { created: boolean })[] = [];

  constructor(
    private readonly logs: TxnLogs,
    private readonly election: string,
    private readonly writeKey: string,
  ) {}

  /** Reads on in the logs, then rebuilds the trial's events; returns the last zxid of the trial seen. */
  async sync(): Promise<bigint> {
    const txns = await this.logs.committed();
    const events: (KvEvent & { created: boolean })[] = [];
    const live = new Map<string, { czxid: bigint; session: bigint }>();
    const entry = `${this.election}/`;
    const write = `${this.writeKey}/`;
    let last = 0n;
    for (const txn of txns) {
      const before = events.length;
      const add = (type: 'PUT' | 'DELETE', key: string, value: string, czxid: bigint, session: bigint) =>
        events.push({
          type,
          key,
          value,
          modRevision: txn.zxid,
          createRevision: czxid,
          lease: hex(session),
          created: type === 'PUT' && czxid === txn.zxid && key !== this.writeKey,
        });
      for (const op of txn.ops) {
        if (op.kind === 'closeSession') {
          // The server deletes the session's ephemeral nodes with it.
          for (const [key, e] of live)
            if (e.session === txn.session) {
              live.delete(key);
              add('DELETE', key, '', e.czxid, e.session);
            }
        } else if (op.path.startsWith(entry)) {
          if (op.kind === 'create') {
            const session = op.ephemeral ? txn.session : 0n;
            live.set(op.path, { czxid: txn.zxid, session });
            add('PUT', op.path, op.data.toString('utf8'), txn.zxid, session);
          } else {
            const e = live.get(op.path);
            if (op.kind === 'delete') live.delete(op.path);
            const value = op.kind === 'setData' ? op.data.toString('utf8') : '';
            add(op.kind === 'delete' ? 'DELETE' : 'PUT', op.path, value, e?.czxid ?? 0n, e?.session ?? 0n);
          }
        } else if (op.kind === 'create' && op.path.startsWith(write)) {
          add('PUT', this.writeKey, op.data.toString('utf8'), txn.zxid, 0n);
        }
      }
      if (events.length > before) last = txn.zxid;
    }
    this.events = events;
    return last;
  }
}

function hex(session: bigint): string {
  return BigInt.asUintN(64, session).toString(16).padStart(16, '0');
}
