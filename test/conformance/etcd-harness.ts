import { etcd, type Backend, type EtcdMode } from '../../src/index.js';
import { startEtcd, type EtcdNode } from '../fixtures/etcd.js';
import type { FaultProxy } from '../fixtures/fault-proxy.js';
import type { BackendHarness, Candidate } from './harness.js';
import { proxiedCandidate } from './proxied.js';

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
    entriesAreKeys: true,
    async setup() {
      node = await startEtcd();
    },
    async teardown() {
      await shared?.close();
      await Promise.all([...proxies].map((p) => p.close()));
      await node?.stop();
    },
    candidate(ttl): Promise<Candidate> {
      // A short call timeout so that calls into a partition fail well within the TTL.
      return proxiedCandidate(server().endpoint, proxies, ttl, (proxy) =>
        etcd({ endpoints: [proxy.endpoint], callTimeout: 1000, mode }),
      );
    },
    sharedBackend() {
      shared ??= etcd({ endpoints: [server().endpoint], mode });
      return shared;
    },
  };
}
