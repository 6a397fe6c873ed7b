import { Backend } from '../../core/backend.js';
import { ZkDriver } from './driver.js';
import { checkOptions, type ZookeeperOptions } from './options.js';
import type { ZkTxn } from './txn.js';

export type { ZookeeperOptions } from './options.js';
export { ZkTxn } from './txn.js';

/**
 * A backend on ZooKeeper, sharing elections with Apache Curator's LeaderLatch (and mutexes with
 * its InterProcessMutex): `zookeeper({ connect: 'zk1:2181,zk2:2181/chroot' })`. A name that
 * starts with "/" is the znode path Curator uses; other names live under /ballot. Each session is
 * a ZooKeeper session (ttl = the session timeout asked for). Guards send one multi that checks
 * the leader's node. See docs/zookeeper.md.
 */
export function zookeeper(options: ZookeeperOptions = {}): Backend<ZkTxn> {
  return new Backend(new ZkDriver(checkOptions(options)));
}
