import { memory } from '../backends/memory/index.js';

/**
 * Runs one handover on the embedded backend before a command campaigns for real: a candidate wins,
 * a second waits behind it with a caller's signal (as the CLI's campaigns have), the first resigns
 * and the second takes over and resigns. The core's code for winning, starting a term, ending it
 * and resigning (shared by every backend) has then run once, so the real handover, which happens
 * once per process, does not pay V8's first-run costs in the middle of it (measured in a woken
 * `ballot campaign` between etcd's watch event and `elected`: about 0.08 ms). It takes a few
 * milliseconds at start and leaves nothing behind.
 */
export async function warmHandoverPath(): Promise<void> {
  const backend = memory();
  try {
    const [first, second] = await Promise.all([backend.session({ ttl: 5 }), backend.session({ ttl: 5 })]);
    const [a, b] = [first.election('warm-up'), second.election('warm-up')];
    const caller = new AbortController();
    const leading = await a.campaign('first', { signal: caller.signal });
    const waiting = b.campaign('second', { signal: caller.signal });
    waiting.catch(() => undefined); // awaited below; settled even if the resign throws
    const ended = leading.whenEnded();
    await a.resign();
    await ended;
    await waiting;
    await b.resign();
  } finally {
    await backend.close();
  }
}
