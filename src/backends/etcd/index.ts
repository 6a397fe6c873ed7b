import { Backend } from '../../core/backend.js';
import type { ConnectionOptions } from '../../etcd/connection.js';
import { EtcdDriver } from './driver.js';

/** Options of the etcd backend. */
export type EtcdOptions = ConnectionOptions;

/** Connects ballot to etcd (v3.4+): `etcd({ endpoints: ['127.0.0.1:2379'] })`. Connects lazily. */
export function etcd(options: EtcdOptions): Backend {
  return new Backend(new EtcdDriver(options));
}
