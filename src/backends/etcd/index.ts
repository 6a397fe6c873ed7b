import { Backend } from '../../core/backend.js';
import type { ConnectionOptions } from '../../etcd/connection.js';
import { EtcdDriver, type EtcdMode } from './driver.js';
import { withEnvironment } from './env.js';
import type { EtcdTxn } from './txn.js';

export type { EtcdMode };
export { EtcdTxn } from './txn.js';

/**
 * Options of the etcd backend. Each connection setting left out is taken from etcdctl's
 * environment variables (ETCDCTL_ENDPOINTS, ETCDCTL_USER, ETCDCTL_PASSWORD, ETCDCTL_CACERT,
 * ETCDCTL_CERT, ETCDCTL_KEY, ETCDCTL_DIAL_TIMEOUT); endpoints default to 127.0.0.1:2379.
 */
export interface EtcdOptions extends Partial<ConnectionOptions> {
  /** "client" (default): ballot runs the recipes; "service": etcd's v3election/v3lock services do. */
  mode?: EtcdMode;
  /**
   * Client mode: while a term is held (from 20 ms after the win), keep its delete sent to etcd but
   * for its last frame, so that resign() puts it on the wire in one socket write, most of a
   * millisecond sooner (default true).
   * Costs one more connection to one member while terms are held, and an open stream there for
   * each of the first 32 held terms. A delete that goes unanswered is sent the regular way.
   */
  readyResign?: boolean;
  /** Where the ETCDCTL_* variables are read from (default process.env); `{}` ignores the environment. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Connects ballot to etcd (v3.4+): `etcd()` as etcdctl would connect, or
 * `etcd({ endpoints: ['127.0.0.1:2379'] })`. Connects lazily.
 */
export function etcd(options: EtcdOptions = {}): Backend<EtcdTxn> {
  const { mode, env = process.env, readyResign = true, ...connection } = options;
  return new Backend(new EtcdDriver(withEnvironment(connection, env), mode, { readyResign }));
}
