/**
 * Scenario 5, many elections: one process, one session, 10,000 elections. The time to campaign in all
 * of them, the memory held, and what the session costs etcd afterwards (keepalive requests per second,
 * gRPC streams, watchers), counted by etcd itself.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startEtcd, type EtcdNode } from '../test/fixtures/etcd.js';
import { spawnWorker, type JsonObject } from '../test/fixtures/processes.js';
import { scrape } from './metrics.js';
import { seconds, type Fact, type Outcome, type RunOptions, type TargetCheck } from './report.js';

const COUNT = 10_000;
const SESSION_TTL = 10;
// Enough to keep etcd and this machine busy without queueing every request at once.
const BOUNDED = 256;
const WORKER = fileURLToPath(new URL('./workers/many-elections.ts', import.meta.url));
const CAMPAIGN_TIMEOUT_MS = 180_000;
const EXIT_TIMEOUT_MS = 15_000;
const MB = 1024 * 1024;

/** What the many-elections table measures and how to read it, for docs/benchmarks.md. */
export const MANY_METHOD = `
A separate Node.js process (bench/workers/many-elections.ts) opens one ballot session (TTL
${SESSION_TTL} s, library defaults otherwise) and campaigns in ${COUNT.toLocaleString('en')} elections, each uncontested, so
every campaign wins: a txn to join, a watch on its own key, a read to find that nobody is older. Joins
and reads issued in the same event-loop turn on one client go to etcd as one txn (up to 64, one per
election), so most campaigns share their two txns with others. It runs twice on one fresh etcd, each
time in a fresh process: once the way a user would write it,
\`Promise.all\` over all ${COUNT.toLocaleString('en')} campaigns at once, and once with ${BOUNDED} campaigns in flight.
"Campaign-all" is the wall time until every campaign settled. Memory is measured in that process
after a full garbage collection, right after campaign-all and again after holding every term through
the keepalive window: V8 keeps the heap it reserved during the burst until the process has idled a
while, so the second RSS may or may not have come down. The baseline (Node, tsx, the gRPC stack, one
session) is given separately. The worker runs the TypeScript sources through tsx, whose esbuild
\`keepNames\` gives each named arrow function a \`name\` property of its own (about 300 bytes in V8): the
objects a held term keeps are classes rather than closures partly for that, and the compiled package
does not pay it. Keepalive requests, streams and watchers are etcd's own counters and gauges, with all
terms held: keepalives over a window after campaign-all, streams and watchers as etcd sees them
(nothing else is connected to this etcd). Finally the process is told to close the backend, which
revokes the lease, and must then exit on its own: a timer or stream left behind would keep it alive.
`;

interface Run {
  label: string;
  campaigned: JsonObject;
  ready: JsonObject;
  /** Memory after holding every term for the keepalive window. */
  settled?: { memory: JsonObject; afterMs: number };
  keepAlives?: { requests: number; windowMs: number };
  keepAliveStreams: number;
  watchStreams: number;
  watchers: number;
  closeMs?: number;
  exited: boolean;
}

/** Runs scenario 5 on a fresh etcd. */
export async function manyScenario(opts: RunOptions): Promise<Outcome> {
  // V8 returns the burst's garbage pages to the OS only after some idle time (about 30 s here), so the
  // full run holds the terms long enough to see the settled size; --quick does not.
  const windowMs = opts.quick ? 4_000 : 40_000;
  const node = await startEtcd({ name: 'bench-many' });
  try {
    const atOnce = await manyRun(node, `${COUNT.toLocaleString('en')} campaigns at once`, 0);
    const bounded = await manyRun(node, `${BOUNDED} in flight`, BOUNDED, windowMs);
    const facts: Fact[] = [];
    for (const run of [atOnce, bounded]) facts.push(...runFacts(run));
    return { results: [], facts, targets: manyTargets(atOnce, bounded) };
  } finally {
    await node.stop();
  }
}

async function manyRun(node: EtcdNode, label: string, concurrency: number, windowMs?: number): Promise<Run> {
  const worker = spawnWorker(WORKER, [], {
    ENDPOINT: node.endpoint,
    COUNT: String(COUNT),
    CONCURRENCY: String(concurrency),
    TTL: String(SESSION_TTL),
  });
  try {
    const ready = await worker.waitFor((m) => m['event'] === 'ready', 30_000);
    const campaigned = await worker.waitFor((m) => m['event'] === 'campaigned', CAMPAIGN_TIMEOUT_MS);
    let keepAlives: Run['keepAlives'];
    let settled: Run['settled'];
    if (windowMs !== undefined) {
      const before = await scrape(node.clientUrl);
      const from = performance.now();
      await sleep(windowMs);
      const after = await scrape(node.clientUrl);
      keepAlives = {
        requests: after.keepAliveRequests - before.keepAliveRequests,
        windowMs: performance.now() - from,
      };
      const since = worker.messages.length;
      worker.send('memory');
      settled = {
        memory: await worker.waitFor((m) => m['event'] === 'memory', 30_000, { since }),
        afterMs: performance.now() - from,
      };
    } else {
      // ballot opens the keepalive stream with the first keepalive, a third of the TTL after the grant.
      await sleep((SESSION_TTL * 1000) / 3 + 500);
    }
    const held = await scrape(node.clientUrl);
    const since = worker.messages.length;
    worker.send('close');
    const closed = await worker.waitFor((m) => m['event'] === 'closed', 60_000, { since });
    const exited = await Promise.race([
      worker.exited.then(() => true),
      sleep(EXIT_TIMEOUT_MS).then(() => false),
    ]);
    return {
      label,
      ready,
      campaigned,
      keepAlives,
      settled,
      keepAliveStreams: held.openStreams('LeaseKeepAlive'),
      watchStreams: held.openStreams('Watch'),
      watchers: held.watchers,
      closeMs: typeof closed['ms'] === 'number' ? closed['ms'] : undefined,
      exited,
    };
  } finally {
    worker.kill('SIGKILL');
    await worker.exited;
  }
}

function runFacts(run: Run): Fact[] {
  const c = run.campaigned;
  const mb = (v: unknown) => (typeof v === 'number' ? `${Math.round(v / MB)} MB` : '?');
  const failed = Number(c['failed']);
  const facts: Fact[] = [
    {
      name: `${run.label}: campaign-all`,
      value: seconds(Number(c['ms'])),
      note:
        failed > 0
          ? `**${failed} of ${COUNT.toLocaleString('en')} campaigns failed**: ${String(c['firstError'])}`
          : `all ${COUNT.toLocaleString('en')} won; ${String(c['active'])} terms active afterwards`,
    },
    {
      name: `${run.label}: RSS just after campaign-all`,
      value: mb(c['rss']),
      note: `after a forced GC; JS heap used ${mb(c['heapUsed'])} of ${mb(c['heapTotal'])} reserved; before campaigning: RSS ${mb(run.ready['rss'])}, heap used ${mb(run.ready['heapUsed'])}`,
    },
  ];
  if (run.settled) {
    const m = run.settled.memory;
    facts.push({
      name: `${run.label}: RSS holding all terms, ${Math.round(run.settled.afterMs / 1000)} s later`,
      value: mb(m['rss']),
      note: `JS heap used ${mb(m['heapUsed'])} of ${mb(m['heapTotal'])} reserved; ${((Number(m['heapUsed']) - Number(run.ready['heapUsed'])) / COUNT / 1024).toFixed(1)} KB of heap per held election`,
    });
  }
  if (run.keepAlives) {
    const perSecond = run.keepAlives.requests / (run.keepAlives.windowMs / 1000);
    facts.push({
      name: `${run.label}: keepalive requests per second`,
      value: perSecond.toFixed(2),
      note: `${run.keepAlives.requests} in ${(run.keepAlives.windowMs / 1000).toFixed(1)} s; one lease renewed every TTL/3 whatever the number of elections`,
    });
  }
  facts.push(
    {
      name: `${run.label}: gRPC streams open on etcd`,
      value: String(run.keepAliveStreams + run.watchStreams),
      note: `LeaseKeepAlive ${run.keepAliveStreams}, Watch ${run.watchStreams}; etcd holds ${run.watchers.toLocaleString('en')} watchers on them`,
    },
    {
      name: `${run.label}: close()`,
      value: run.closeMs === undefined ? '?' : seconds(run.closeMs),
      note: run.exited ? 'the process then exited on its own' : '**the process did not exit on its own**',
    },
  );
  return facts;
}

function manyTargets(atOnce: Run, bounded: Run): TargetCheck[] {
  const peak = (run: Run) => Number(run.campaigned['rss']) / MB;
  const settled = bounded.settled ? Number(bounded.settled.memory['rss']) / MB : Number.POSITIVE_INFINITY;
  const heapAfter = Number((bounded.settled?.memory ?? bounded.campaigned)['heapUsed']);
  const perTerm = (heapAfter - Number(bounded.ready['heapUsed'])) / COUNT / 1024;
  const failedAtOnce = Number(atOnce.campaigned['failed']);
  const ms = (run: Run) => Number(run.campaigned['ms']);
  const boundedOk = Number(bounded.campaigned['failed']) === 0;
  return [
    {
      scenario: 5,
      target: 'one keepalive stream',
      measured: `${bounded.keepAliveStreams} LeaseKeepAlive stream(s) (${atOnce.keepAliveStreams} in the at-once run)`,
      met: bounded.keepAliveStreams === 1 && atOnce.keepAliveStreams === 1,
    },
    {
      scenario: 5,
      target: 'RSS ≤ 200 MB',
      measured:
        `just after campaign-all ${Math.round(peak(bounded))} MB (${BOUNDED} in flight), ${Math.round(peak(atOnce))} MB (all at once); ` +
        `${Math.round(settled)} MB holding all terms ${Math.round((bounded.settled?.afterMs ?? 0) / 1000)} s later; JS heap in use ${Math.round(heapAfter / MB)} MB`,
      // Held to the RSS right after campaign-all as well: a service has to survive its own start.
      met: settled <= 200 && peak(bounded) <= 200,
      why:
        `what the terms hold is ${perTerm.toFixed(1)} KB of JS heap each (${Math.round(heapAfter / MB)} MB in all); the rest of the RSS is the process before campaigning ` +
        `(Node, tsx, the gRPC stack) and heap V8 reserved during the campaign burst, which it keeps until it has been idle a while (about 30 s here, and not always within the window)`,
    },
    {
      scenario: 5,
      target: 'campaign-all < 15 s',
      measured:
        `${seconds(ms(bounded))} with ${BOUNDED} in flight${boundedOk ? '' : ' (with failures)'}; ` +
        `${seconds(ms(atOnce))} all at once, ${failedAtOnce} failed`,
      met: boundedOk && failedAtOnce === 0 && Math.max(ms(bounded), ms(atOnce)) < 15_000,
      why:
        failedAtOnce > 0
          ? `all at once, ${failedAtOnce} campaigns failed with UNAVAILABLE (deadline exceeded): every call's 5 s deadline starts when it is issued, and the 10,000 joins are all issued before any campaign takes its next step. With ${BOUNDED} in flight none did: the burst, not the number of elections, is what fails`
          : undefined,
    },
  ];
}
