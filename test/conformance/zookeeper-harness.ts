import { zookeeper, type Backend, type ZkTxn } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startZookeeper, type ZookeeperServer } from '../fixtures/zookeeper.js';
import type { BackendHarness, Candidate } from './harness.js';

/** A real ZooKeeper server; each candidate's session talks to it through its own fault proxy. */
export function zookeeperHarness(): BackendHarness {
  let server: ZookeeperServer | undefined;
  let shared: Backend<ZkTxn> | undefined;
  const proxies = new Set<FaultProxy>();
  const running = () => {
    if (!server) throw new Error('zookeeper harness not set up');
    return server;
  };
  return {
    name: 'zookeeper',
    seesSessionTime: false,
    async setup() {
      server = await startZookeeper();
    },
    async teardown() {
      await shared?.close();
      await Promise.all([...proxies].map((p) => p.close()));
      await server?.stop();
    },
    async candidate(ttl): Promise<Candidate> {
      const proxy = await startFaultProxy(running().connect);
      proxies.add(proxy);
      // A short call timeout so that calls into a partition fail well within the TTL.
      const backend = zookeeper({ connect: proxy.endpoint, callTimeout: 1000, env: {} });
      const session = await backend.session({ ttl });
      return {
        backend,
        session,
        election: (name) => session.election(name),
        partition: () => proxy.blackhole(),
        heal: () => proxy.heal(),
        async close() {
          proxy.heal();
          await backend.close();
          await proxy.close();
          proxies.delete(proxy);
        },
      };
    },
    sharedBackend() {
      shared ??= zookeeper({ connect: running().connect, env: {} });
      return shared;
    },
  };
}
