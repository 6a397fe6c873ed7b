import { zookeeper, type Backend, type ZkTxn } from '../../src/index.js';
import type { FaultProxy } from '../fixtures/fault-proxy.js';
import { startZookeeper, type ZookeeperServer } from '../fixtures/zookeeper.js';
import type { BackendHarness, Candidate } from './harness.js';
import { proxiedCandidate } from './proxied.js';

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
    candidate(ttl): Promise<Candidate> {
      // A short call timeout so that calls into a partition fail well within the TTL.
      return proxiedCandidate(running().connect, proxies, ttl, (proxy) =>
        zookeeper({ connect: proxy.endpoint, callTimeout: 1000, env: {} }),
      );
    },
    sharedBackend() {
      shared ??= zookeeper({ connect: running().connect, env: {} });
      return shared;
    },
  };
}
