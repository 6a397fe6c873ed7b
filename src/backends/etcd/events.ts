import type { EtcdClient } from '../../etcd/client.js';
import type { WatchEvent } from '../../etcd/messages.js';
import type { WatchSpec } from '../../etcd/watch.js';

/**
 * Yields batches of watch events until the signal aborts or the watch ends (compaction, cancel);
 * then it simply returns, and the caller re-reads state and watches again.
 */
export async function* watchEvents(
  client: EtcdClient,
  spec: WatchSpec,
  signal: AbortSignal,
): AsyncGenerator<WatchEvent[], void, undefined> {
  const batches: WatchEvent[][] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  const watcher = client.watch(spec, {
    onEvents: (events) => {
      batches.push(events);
      poke();
    },
    onEnd: () => {
      ended = true;
      poke();
    },
  });
  signal.addEventListener('abort', poke);
  try {
    for (;;) {
      const batch = batches.shift();
      if (batch) {
        yield batch;
        continue;
      }
      if (ended || signal.aborted) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal.removeEventListener('abort', poke);
    watcher.cancel();
  }
}
