import { Backend } from '../../core/backend.js';
import type { ConnectionOptions } from '../../etcd/connection.js';
import { EtcdDriver, type EtcdMode } from './driver.js';

export type { EtcdMode };

/** Options of the etcd backend. */
export interface EtcdOptions extends ConnectionOptions {
  /** "client" (default): ballot runs the recipes; "service": etcd's v3election/v3lock services do. */
  mode?: EtcdMode;
}

/** Connects ballot to etcd (v3.4+): `etcd({ endpoints: ['127.0.0.1:2379'] })`. Connects lazily. */
export function etcd(options: EtcdOptions): Backend {
  return new Backend(new EtcdDriver(options, options.mode));
}
