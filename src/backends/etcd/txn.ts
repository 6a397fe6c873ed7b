import { KvTxn } from '../../core/guard.js';

/**
 * What term.guard() hands its body on etcd: puts, deletes and gets collected into one txn that
 * commits only while the term's key still has its create revision (see fence.ts). The same
 * methods as MemoryTxn and nothing more, so code tested on memory runs on etcd unchanged.
 */
export class EtcdTxn extends KvTxn {}
