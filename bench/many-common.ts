/**
 * What the many-elections benches on PostgreSQL and ZooKeeper share: driving one worker process
 * through holdManyElections() (bench/workers/protocol.ts) while the server counts its connections,
 * and the facts every backend reports alike.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { JsonObject, Worker } from '../test/fixtures/processes.js';
import { seconds, type Fact } from './report.js';

const MB = 1024 * 1024;
const READY_TIMEOUT_MS = 30_000;
const CAMPAIGN_TIMEOUT_MS = 180_000;
const EXIT_TIMEOUT_MS = 15_000;

/** One worker's run: its reports, and a server-side count taken at each step. */
export interface HeldRun<T> {
  ready: JsonObject;
  campaigned: JsonObject;
  /** The worker's memory report after holding every term through the window. */
  held: JsonObject;
  closed: JsonObject;
  /** Whether the process exited on its own after close(). */
  exited: boolean;
  /** `count()` after the session opened, just after campaign-all, after the window, and after close(). */
  counts: [T, T, T, T];
}

/**
 * Waits for the worker to open its session and campaign, holds the terms `windowMs`, has it report
 * memory and close its backend, and counts on the server at each step. The worker is killed afterwards.
 */
export async function holdRun<T>(
  worker: Worker,
  count: () => Promise<T>,
  windowMs: number,
): Promise<HeldRun<T>> {
  const next = async (event: string, timeoutMs: number, command?: string) => {
    const since = worker.messages.length;
    if (command) worker.send(command);
    return worker.waitFor((m) => m['event'] === event, timeoutMs, { since });
  };
  try {
    const ready = await worker.waitFor((m) => m['event'] === 'ready', READY_TIMEOUT_MS);
    const atSession = await count();
    const campaigned = await worker.waitFor((m) => m['event'] === 'campaigned', CAMPAIGN_TIMEOUT_MS);
    const atCampaigned = await count();
    await sleep(windowMs);
    const held = await next('memory', READY_TIMEOUT_MS, 'memory');
    const atHeld = await count();
    const closed = await next('closed', 60_000, 'close');
    // The timer is cancelled once the process is gone, so it does not hold this one open for nothing.
    const gone = new AbortController();
    const exited = await Promise.race([
      worker.exited.then(() => true),
      sleep(EXIT_TIMEOUT_MS, false, { signal: gone.signal }).catch(() => false),
    ]);
    gone.abort();
    const afterClose = await count();
    return { ready, campaigned, held, closed, exited, counts: [atSession, atCampaigned, atHeld, afterClose] };
  } finally {
    worker.kill('SIGKILL');
    await worker.exited;
  }
}

/** The campaign, memory and close() facts of a run of `count` elections; `connections` goes second. */
export function heldFacts<T>(run: HeldRun<T>, count: number, windowMs: number, connections: Fact): Fact[] {
  const { ready, campaigned, held, closed } = run;
  const mb = (v: unknown) => `${Math.round(Number(v) / MB)} MB`;
  const failed = Number(campaigned['failed']);
  const window = `${Math.round(windowMs / 1000)} s`;
  return [
    {
      name: `campaign in ${count.toLocaleString('en')} elections at once`,
      value: seconds(Number(campaigned['ms'])),
      note:
        failed > 0
          ? `**${failed} failed**: ${String(campaigned['firstError'])}`
          : `all won; ${String(held['active'])} terms still active ${window} later`,
    },
    connections,
    {
      name: 'RSS before campaigning / just after / holding all terms',
      value: `${mb(ready['rss'])} / ${mb(campaigned['rss'])} / ${mb(held['rss'])}`,
      note: `after a forced GC; JS heap used ${mb(ready['heapUsed'])} / ${mb(campaigned['heapUsed'])} / ${mb(held['heapUsed'])}, ${((Number(held['heapUsed']) - Number(ready['heapUsed'])) / count / 1024).toFixed(1)} KB per held election`,
    },
    {
      name: 'close()',
      value: seconds(Number(closed['ms'])),
      note: run.exited ? 'the process then exited on its own' : '**the process did not exit on its own**',
    },
  ];
}
