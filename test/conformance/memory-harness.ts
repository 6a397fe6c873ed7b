import { memory, type MemoryBackend } from '../../src/index.js';
import type { BackendHarness, Candidate } from './harness.js';

/** The embedded backend on real time: all candidates share one store, as processes share one server. */
export function memoryHarness(): BackendHarness {
  let backend: MemoryBackend = memory();
  return {
    name: 'memory',
    entriesAreKeys: true,
    async setup() {
      backend = memory();
    },
    async teardown() {
      await backend.close();
    },
    async candidate(ttl): Promise<Candidate> {
      const session = await backend.session({ ttl });
      return {
        backend,
        session,
        election: (name) => session.election(name),
        partition: () => backend.partition(session),
        heal: () => backend.heal(session),
        close: () => session.close(),
      };
    },
    sharedBackend: () => backend,
  };
}
