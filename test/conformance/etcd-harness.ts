import { etcd, type Backend, type EtcdMode } from '../../src/index.js';
import { startEtcd, type EtcdNode } from '../fixtures/etcd.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import type { BackendHarness, Candidate } from './harness.js';

/** A real single-node etcd; each candidate talks to it through its own fault proxy. */
export function etcdHarness(mode: EtcdMode = 'client'): BackendHarness {
  let node: EtcdNode | undefined;
  let shared: Backend | undefined;
  const proxies = new Set<FaultProxy>();
  const server = () => {
    if (!node) throw new Error('etcd harness not set up');
    return node;
  };
  return {
    name: mode === 'client' ? 'etcd' : `etcd (${mode} mode)`,
    async setup() {
      node = await startEtcd();
    },
    async teardown() {
      await shared?.close();
      await Promise.all([...proxies].map((p) => p.close()));
      await node?.stop();
    },
    async candidate(ttl): Promise<Candidate> {
      const proxy = await startFaultProxy(server().endpoint);
      proxies.add(proxy);
      // A short call timeout so that calls into a partition fail well within the TTL.
      const backend = etcd({ endpoints: [proxy.endpoint], callTimeout: 1000, mode });
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
      shared ??= etcd({ endpoints: [server().endpoint], mode });
      return shared;
    },
  };
}
