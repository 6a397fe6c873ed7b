import { KvTxn } from '../../core/guard.js';

/**
 * What term.guard() hands its body on the memory backend: the ops are applied in one synchronous
 * step. The same methods as etcd's EtcdTxn and nothing more, so code tested here runs on etcd unchanged.
 */
export class MemoryTxn extends KvTxn {}
