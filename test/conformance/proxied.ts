import type { Backend } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import type { Candidate } from './harness.js';

/**
 * A candidate whose backend reaches `target` (host:port) only through a fault proxy of its own, so
 * that partition() cuts this candidate off alone. `open` makes the backend for the proxy; the proxy
 * is in `proxies` until the candidate closes, for the harness's teardown.
 */
export async function proxiedCandidate(
  target: string,
  proxies: Set<FaultProxy>,
  ttl: number,
  open: (proxy: FaultProxy) => Backend,
): Promise<Candidate> {
  const proxy = await startFaultProxy(target);
  proxies.add(proxy);
  const backend = open(proxy);
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
}
