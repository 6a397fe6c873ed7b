/*
 * Where the demo lives, and why. `ballot demo` is the README's first command and the CLI's front
 * door: `npx ballot demo` must work from the installed package with nothing else at hand, so the
 * demo ships, as part of the CLI (dist/cli/demo, with the invariant checker it runs in dist/check).
 * It stays out of the library: src/index.ts reaches neither cli/ nor check/ (test/demo-placement
 * checks it), so `import 'ballot'` never loads it and the CommonJS build does not contain it.
 * Its candidates are plain LeaderElectors, so what it shows is the product as users run it.
 */
import { randomBytes } from 'node:crypto';
import { systemClock } from '../../index.js';
import { openEtcdHarness } from '../demo/etcd-harness.js';
import type { Harness } from '../demo/harness.js';
import { Ledger } from '../demo/ledger.js';
import { MemoryHarness } from '../demo/memory-harness.js';
import { openPostgresHarness } from '../demo/postgres-harness.js';
import { runScenario } from '../demo/scenario.js';
import { exitCode, judge, renderSummary, summaryJson } from '../demo/summary.js';
import { createView } from '../demo/view.js';
import { runWorker } from '../demo/worker.js';
import { watchInterrupts } from '../interrupt.js';
import type { GlobalOptions } from '../options.js';
import { jsonLine } from '../output.js';

/**
 * `ballot demo`: five candidates, four faults, every invariant checked as it goes, a summary at
 * the end. Exits 0 only if every invariant held, INVARIANT if one broke, INTERRUPTED on Ctrl-C.
 */
export async function demo(options: GlobalOptions): Promise<number> {
  const election = `ballot-demo/${randomBytes(4).toString('hex')}`;
  // Outside the election's prefix, so the data key is never mistaken for a candidate.
  const dataKey = `${election}.data`;
  const harness: Harness =
    options.backend === 'memory'
      ? new MemoryHarness(election, options.ttl, dataKey)
      : options.backend === 'postgres'
        ? await openPostgresHarness(options, election, dataKey)
        : await openEtcdHarness(options, election, dataKey);
  const interrupts = watchInterrupts();
  const began = systemClock.now();
  const ledger = new Ledger((v) =>
    view.event('violation', { invariant: v.invariant, message: v.message }, `✗ ${v.message}`),
  );
  const view = createView({ harness, ledger, election, ttl: options.ttl, began }, options.json);
  let result;
  try {
    view.start();
    // People watching a live view need a moment between faults; logs and tests do not.
    const dwellMs = process.stdout.isTTY && !options.json ? 2000 : 1200;
    result = await runScenario(harness, ledger, options.ttl, view, interrupts.signal, dwellMs);
  } finally {
    view.stop();
    await harness.close();
    interrupts.dispose();
  }
  const summary = judge(ledger, result);
  if (options.json) process.stdout.write(`${jsonLine(summaryJson(summary, result))}\n`);
  else process.stdout.write(`${renderSummary(summary, result, process.stdout.isTTY === true)}\n`);
  return exitCode(summary, result);
}

/** The hidden `__demo-worker` command: one candidate of the etcd or postgres demo, in its own process. */
export function demoWorker(name: string, election: string): Promise<number> {
  return runWorker(name, election);
}
