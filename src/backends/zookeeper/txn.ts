import { KvTxn } from '../../core/guard.js';
import type { MultiOp } from '../../zookeeper/connection.js';
import { checkPath } from './nodes.js';

/**
 * What term.guard() hands its body on ZooKeeper. The ops are collected, then sent as one multi
 * that begins with a check of the leader's node: all apply only while the term holds.
 * `put`/`delete`/`get` are the key-value methods of etcd and memory (keys that are not paths live
 * under /ballot-kv; `get` reads after the multi commits). `create`/`setData`/`remove`/`check` are
 * ZooKeeper's own ops on absolute paths, with versions (-1: any).
 */
export class ZkTxn extends KvTxn {
  /** @internal ZooKeeper ops collected so far, in order, after the key-value ones. */
  readonly zkOps: MultiOp[] = [];

  /** Creates a persistent node with `data` (fails the multi if it exists). */
  create(path: string, data: string | Buffer): this {
    return this.zk({ op: 'create', path: checkPath(path, 'node'), data: toBuffer(data) });
  }

  /** Sets a node's data if its version is `version` (-1: any). */
  setData(path: string, data: string | Buffer, version = -1): this {
    return this.zk({ op: 'setData', path: checkPath(path, 'node'), data: toBuffer(data), version });
  }

  /** Deletes a node if its version is `version` (-1: any). */
  remove(path: string, version = -1): this {
    return this.zk({ op: 'remove', path: checkPath(path, 'node'), version });
  }

  /** Requires a node to exist with version `version` (-1: any version). */
  check(path: string, version = -1): this {
    return this.zk({ op: 'check', path: checkPath(path, 'node'), version });
  }

  private zk(op: MultiOp): this {
    this.assertOpen(op.op, op.path);
    this.zkOps.push(op);
    return this;
  }
}

function toBuffer(data: string | Buffer): Buffer {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}
