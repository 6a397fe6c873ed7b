import type { Entry } from '../../core/contract.js';
import { BackendError, InvalidArgumentError } from '../../core/errors.js';
import { committed, type GuardBody, type GuardResult } from '../../core/guard.js';
import type { MultiOp, ZkConnection } from '../../zookeeper/connection.js';
import { attempt, type ZkContext } from './context.js';
import { ZOOKEEPER_LIMITS } from './limits.js';
import { KV_ROOT, kvPath } from './nodes.js';
import { ZkTxn } from './txn.js';

/** A put races another writer of the same key when its node changes between our read and the multi. */
const ATTEMPTS = 5;

/**
 * A guarded write: the body collects ops, then one multi sends check(leader node) and the ops.
 * The leader's node is unique to its term (a uuid and a sequence in its name), so the check fails,
 * and nothing applies, once the term's node is gone. A key-value put becomes a create or a
 * versioned setData, decided by a read just before; if another writer moved the key in between,
 * the multi fails on that op, not on the check, and is built and sent again.
 */
export async function guardMulti(
  ctx: ZkContext,
  conn: ZkConnection,
  e: Entry,
  body: GuardBody<ZkTxn>,
): Promise<GuardResult> {
  const tx = new ZkTxn();
  const returned = await tx.run(body);
  // ZooKeeper's own ops are checked as puts: a node created or removed in a line is an entry too.
  ctx.keySpaces.check([
    ...tx.ops,
    ...tx.zkOps.map((op) => ({ op: 'put' as const, key: op.path, value: '' })),
  ]);
  checkSize(tx);
  return attempt(ctx.where, `running a guard in ${e.key}`, async () => {
    if (tx.ops.some((op) => op.op !== 'get' && !op.key.startsWith('/'))) await conn.mkdirp(KV_ROOT);
    for (let attempt = 1; ; attempt++) {
      const ops: MultiOp[] = [{ op: 'check', path: e.key, version: -1 }];
      for (const op of tx.ops) {
        if (op.op === 'get') continue;
        const path = kvPath(op.key);
        const read = await conn.getData(path);
        if (op.op === 'put') {
          const data = Buffer.from(op.value, 'utf8');
          ops.push(
            read ? { op: 'setData', path, data, version: read.version } : { op: 'create', path, data },
          );
        } else if (read) ops.push({ op: 'remove', path, version: read.version });
      }
      ops.push(...tx.zkOps);
      const outcome = await conn.multi(ops);
      if (!outcome.ok && outcome.index === 0) return { committed: false, values: [] };
      if (outcome.ok) {
        const values: (string | undefined)[] = [];
        for (const op of tx.ops)
          if (op.op === 'get') values.push((await conn.getData(kvPath(op.key)))?.data.toString('utf8'));
        return committed(values, returned, tx);
      }
      // The user's own ZooKeeper ops are not retried: their versions are the user's to choose.
      const failedOwn = outcome.index >= ops.length - tx.zkOps.length;
      if (failedOwn || attempt >= ATTEMPTS)
        throw new BackendError(
          `ZooKeeper at ${ctx.where}: the guarded multi failed at op ${outcome.index} ` +
            `(${ops[outcome.index]?.op} ${ops[outcome.index]?.path}, error ${outcome.code})`,
        );
    }
  });
}

/**
 * One multi is one request, and the server drops the connection on a request larger than its
 * jute.maxbuffer (1 MiB by default), failing every call in flight: refuse it before sending.
 */
function checkSize(tx: ZkTxn): void {
  let bytes = 0;
  for (const op of tx.ops) if (op.op === 'put') bytes += Buffer.byteLength(op.value);
  for (const op of tx.zkOps) if (op.op === 'create' || op.op === 'setData') bytes += op.data.length;
  const limit = ZOOKEEPER_LIMITS.maxValueBytes;
  if (bytes > limit)
    throw new InvalidArgumentError(
      `a guarded write on ZooKeeper carries ${bytes} bytes of data; the limit is ${limit} on zookeeper ` +
        `(one request must fit in the server's jute.maxbuffer): store large data elsewhere and use a reference to it`,
    );
}
