/**
 * ZooKeeper's own history, read from the servers' transaction logs (data/version-2/log.*): every
 * create, delete and setData with the zxid that committed it, and every session close (which
 * deletes the session's ephemeral nodes). The chaos lab replays it as it replays etcd's revisions.
 *
 * A transaction counts once a majority of the ensemble logged it: ZooKeeper acknowledges a write
 * only after a quorum wrote it to its log, and a proposal a quorum logged is never rolled back,
 * while one only a dying leader logged (truncated when it rejoins) may still sit in that file.
 *
 * File format (FileTxnLog, jute binary, big-endian): a 16-byte header ("ZKLG", version, dbid),
 * then per transaction: checksum (8), length (4), that many bytes (TxnHeader, the txn record,
 * a digest we skip), and the byte 'B'. Preallocated space is zeros: a zero length ends the log.
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** One change to the tree, as a transaction (or one op of a multi) made it. */
export type TxnOp =
  | { kind: 'create'; path: string; data: Buffer; ephemeral: boolean }
  | { kind: 'delete'; path: string }
  | { kind: 'setData'; path: string; data: Buffer }
  | { kind: 'closeSession' };

/** One committed transaction. */
export interface LoggedTxn {
  zxid: bigint;
  /** The session that sent it (for closeSession: the session closed or expired). */
  session: bigint;
  ops: TxnOp[];
}

const MAGIC = 0x5a4b4c47; // "ZKLG"
const EOR = 0x42; // 'B'
const OP = {
  error: -1,
  create: 1,
  delete: 2,
  setData: 5,
  multi: 14,
  create2: 15,
  createContainer: 19,
  deleteContainer: 20,
  createTTL: 21,
  closeSession: -11,
} as const;

/** A cursor over jute's binary encoding. */
class Reader {
  constructor(
    private readonly buf: Buffer,
    private at = 0,
  ) {}

  int(): number {
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }

  long(): bigint {
    const v = this.buf.readBigInt64BE(this.at);
    this.at += 8;
    return v;
  }

  bool(): boolean {
    return this.buf[this.at++] !== 0;
  }

  buffer(): Buffer {
    const n = this.int();
    if (n < 0) return Buffer.alloc(0);
    const v = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }

  string(): string {
    return this.buffer().toString('utf8');
  }

  /** Skips a vector<ACL> (perms int, scheme string, id string). */
  acls(): void {
    const n = this.int();
    for (let i = 0; i < n; i++) {
      this.int();
      this.string();
      this.string();
    }
  }
}

/** The ops of one record of type `type`; [] for the types the history has no use for. */
function opsOf(type: number, r: Reader): TxnOp[] {
  switch (type) {
    case OP.create:
    case OP.create2: {
      const path = r.string();
      const data = r.buffer();
      r.acls();
      return [{ kind: 'create', path, data, ephemeral: r.bool() }];
    }
    case OP.createContainer:
    case OP.createTTL: {
      const path = r.string();
      return [{ kind: 'create', path, data: r.buffer(), ephemeral: false }];
    }
    case OP.delete:
    case OP.deleteContainer:
      return [{ kind: 'delete', path: r.string() }];
    case OP.setData: {
      const path = r.string();
      return [{ kind: 'setData', path, data: r.buffer() }];
    }
    case OP.closeSession:
      return [{ kind: 'closeSession' }];
    case OP.multi: {
      // A failed multi is logged with every op an error txn: nothing of it applies.
      const n = r.int();
      const ops: TxnOp[] = [];
      for (let i = 0; i < n; i++) {
        const sub = r.int();
        const body = r.buffer();
        if (sub !== OP.error) ops.push(...opsOf(sub, new Reader(body)));
      }
      return ops;
    }
    default:
      return [];
  }
}

/**
 * The complete transactions of a log file's bytes, `buf` starting at file offset `from` (0: the
 * file header first); a torn tail (being written) is left for the next read. Returns them and the
 * offset to read on from.
 */
export function parseTxnLog(buf: Buffer, from = 0): { txns: LoggedTxn[]; next: number } {
  const txns: LoggedTxn[] = [];
  let at = 0;
  if (from === 0) {
    if (buf.length < 16 || buf.readInt32BE(0) !== MAGIC) return { txns, next: 0 };
    at = 16;
  }
  while (at + 12 <= buf.length) {
    const len = buf.readInt32BE(at + 8);
    if (len <= 0 || at + 12 + len + 1 > buf.length || buf[at + 12 + len] !== EOR) break;
    const r = new Reader(buf.subarray(at + 12, at + 12 + len));
    const session = r.long();
    r.int(); // cxid
    const zxid = r.long();
    r.long(); // time
    const type = r.int();
    const ops = opsOf(type, r);
    if (ops.length > 0) txns.push({ zxid, session, ops });
    at += 12 + len + 1;
  }
  return { txns, next: from + at };
}

/**
 * The transaction logs of an ensemble's servers (their data dirs), read on as they grow. A server
 * appends only to its newest log file (it starts another on restart and after a snapshot), and the
 * space ahead is preallocated zeros, so each file is read on from where the last read stopped.
 */
export class TxnLogs {
  /** Where each file was read up to. */
  readonly #offsets = new Map<string, number>();
  /** Each transaction seen, with the servers that logged it. */
  readonly #seen = new Map<bigint, { txn: LoggedTxn; servers: Set<number> }>();

  constructor(private readonly dataDirs: readonly string[]) {}

  /** The transactions a majority of the servers logged, in zxid order. */
  async committed(): Promise<LoggedTxn[]> {
    await Promise.all(this.dataDirs.map((dir, server) => this.#readServer(dir, server)));
    const quorum = Math.floor(this.dataDirs.length / 2) + 1;
    return [...this.#seen.values()]
      .filter((e) => e.servers.size >= quorum)
      .map((e) => e.txn)
      .sort((a, b) => (a.zxid < b.zxid ? -1 : a.zxid > b.zxid ? 1 : 0));
  }

  async #readServer(dataDir: string, server: number): Promise<void> {
    const dir = join(dataDir, 'version-2');
    const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.startsWith('log.'));
    for (const f of files) {
      const path = join(dir, f);
      const from = this.#offsets.get(path) ?? 0;
      const file = await open(path, 'r');
      let buf: Buffer;
      try {
        const { size } = await file.stat();
        buf = Buffer.alloc(Math.max(0, size - from));
        await file.read(buf, 0, buf.length, from);
      } finally {
        await file.close();
      }
      const { txns, next } = parseTxnLog(buf, from);
      this.#offsets.set(path, next);
      for (const txn of txns) {
        const entry = this.#seen.get(txn.zxid) ?? { txn, servers: new Set<number>() };
        entry.servers.add(server);
        this.#seen.set(txn.zxid, entry);
      }
    }
  }
}
