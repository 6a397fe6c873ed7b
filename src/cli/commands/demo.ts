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
import { openZookeeperHarness } from '../demo/zookeeper-harness.js';
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
  const { harness, ttl } = await openHarness(options, election, dataKey);
  const interrupts = watchInterrupts();
  const began = systemClock.now();
  const ledger = new Ledger((v) =>
    view.event('violation', { invariant: v.invariant, message: v.message }, `✗ ${v.message}`),
  );
  const view = createView({ harness, ledger, election, ttl, began }, options.json);
  let result;
  try {
    view.start();
    // People watching a live view need a moment between faults; logs and tests do not.
    const dwellMs = process.stdout.isTTY && !options.json ? 2000 : 1200;
    result = await runScenario(harness, ledger, ttl, view, interrupts.signal, dwellMs);
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

/**
 * The demo's candidates on the backend the flags name, and the TTL they get: on ZooKeeper the one
 * the server grants, which may differ from --ttl (said on stderr, so --json stays parseable).
 */
async function openHarness(
  options: GlobalOptions,
  election: string,
  dataKey: string,
): Promise<{ harness: Harness; ttl: number }> {
  const ttl = options.ttl;
  switch (options.backend) {
    case 'memory':
      return { harness: new MemoryHarness(election, ttl, dataKey), ttl };
    case 'postgres':
      return { harness: await openPostgresHarness(options, election, dataKey), ttl };
    case 'zookeeper': {
      const opened = await openZookeeperHarness(options, election, dataKey);
      if (opened.ttl !== ttl)
        process.stderr.write(
          `ballot: ZooKeeper granted a ${opened.ttl}s session timeout for --ttl ${ttl} ` +
            `(it negotiates the timeout into its own range): the demo runs with ${opened.ttl}s\n`,
        );
      return opened;
    }
    default:
      return { harness: await openEtcdHarness(options, election, dataKey), ttl };
  }
}

/** The hidden `__demo-worker` command: one candidate of the etcd, postgres or zookeeper demo, in its own process. */
export function demoWorker(name: string, election: string): Promise<number> {
  return runWorker(name, election);
}
