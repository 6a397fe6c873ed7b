import { checkOptions } from '../../backends/zookeeper/options.js';
import { electionPath, kvPath } from '../../backends/zookeeper/nodes.js';
import { zookeeper } from '../../index.js';
import { ZkConnection } from '../../zookeeper/connection.js';
import { explainUnavailable } from '../connect.js';
import { zookeeperOptions, type GlobalOptions } from '../options.js';
import { ProcessHarness } from './process-harness.js';
import { workerConfig } from './protocol.js';
import { EXPIRY_SLACK_MS } from './scenario.js';

/** The cleanup connection's session holds nothing; its timeout only bounds how long it lingers. */
const CLEANUP_SESSION_MS = 10_000;

/**
 * The demo on ZooKeeper, a process per candidate as on etcd. Connects first (a wrong --zk or a
 * missing chroot fails before any worker starts) and opens one session to learn the timeout the
 * server grants: ZooKeeper negotiates it into its own range (2..20 × tickTime by default), so the
 * candidates, the pause and the handover bounds follow the granted TTL, not --ttl. The server
 * ends a dead session only at its next tick after the timeout, so expiry bounds get that slack
 * too (a tick is at most half the smallest timeout it grants, by default). The data key and the
 * election's node are deleted at the end through a connection of their own.
 */
export async function openZookeeperHarness(
  options: GlobalOptions,
  election: string,
  dataKey: string,
): Promise<{ harness: ProcessHarness; ttl: number }> {
  const zkOptions = zookeeperOptions(options);
  const backend = zookeeper(zkOptions);
  let ttl: number;
  try {
    await backend.participants(election);
    const probe = await backend.session({ ttl: options.ttl });
    ttl = probe.ttl;
    await probe.close();
  } catch (err) {
    await backend.close().catch(() => undefined);
    throw explainUnavailable(err, options);
  }
  const { connect } = checkOptions(zkOptions);
  const harness = new ProcessHarness(
    'zookeeper',
    workerConfig({ ...options, ttl }, dataKey),
    election,
    backend,
    {
      async queue() {
        return (await backend.participants(election)).map((p) => p.value);
      },
      async cleanup() {
        const conn = await ZkConnection.open(connect, CLEANUP_SESSION_MS, options.dialTimeout).catch(
          () => undefined,
        );
        if (!conn) return;
        // The election's node is left empty by then; a candidate still there keeps it (NOT_EMPTY).
        for (const path of [kvPath(dataKey), electionPath(election)])
          await conn.remove(path).catch(() => undefined);
        conn.close();
      },
    },
  );
  harness.expirySlackMs = EXPIRY_SLACK_MS + (ttl * 1000) / 2;
  return { harness, ttl };
}
