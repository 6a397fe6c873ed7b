/**
 * ZooKeeper herd: handover on resign with 2 and with 1,000 candidates in one election, and the
 * watch events each leadership change triggers, counted by the server and by the candidates'
 * backend (issue 13).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { zookeeper } from '../src/index.js';
import type { ZookeeperServer } from '../test/fixtures/zookeeper.js';
import {
  HERD_SETTLE_MS,
  HERD_SIZES,
  HERD_TTL,
  HERD_WAIT_MS,
  HERD_WARMUP,
  backendHerdSeries,
  type BackendHerdSeries,
} from './herd-rounds.js';
import { type Outcome, type Result, type RunOptions, type TargetCheck } from './report.js';
import { summarize } from './stats.js';
import {
  ZK_FIXTURE_NOTE,
  mntr,
  sessionConnections,
  triggeredWatches,
  withZkServer,
  type ZkProbe,
} from './zk-common.js';

const SCENARIO = 'zk herd';
/** Sessions opened at once: each is a connection of its own, and the server takes them a few at a time. */
const IN_FLIGHT = 50;

/** What the ZooKeeper herd table measures and how to read it, for docs/benchmarks.md. */
export const ZK_HERD_METHOD = `
As the etcd herd above, on one fresh ZooKeeper (${ZK_FIXTURE_NOTE}): N candidates in one election,
all in this process, N sessions (session timeout ${HERD_TTL} s) on one \`zookeeper()\` backend with library
defaults. Each ballot session is a ZooKeeper session on a connection of its own, so N = 1,000 is 1,000
client connections, opened ${IN_FLIGHT} at a time. The rounds are those of the etcd and PostgreSQL herds
(resign, the next candidate leads, the old leader rejoins at the back, a ${HERD_WAIT_MS} ms pause; ${HERD_WARMUP} unmeasured
first); a sample is again the time from just before \`resign()\` to the next term's start. The rounds
begin once the server's watch count has stopped growing.

**Watch events per change, server** is the increase, from just before the resign to ${HERD_SETTLE_MS} ms after
the next leader began, of the watchers ZooKeeper triggered (the sums of \`node_created\`, \`node_deleted\`,
\`node_changed\` and \`node_children_watch_count\` in \`mntr\`); **received** is the increase of
\`backend.stats().events\`, the watch events delivered to the candidates' sessions. Each waiter watches
only the node just ahead of it, and every candidate watches its own node (to learn if someone else
deletes it), so the server holds 2N − 1 watches; a resign's delete triggers two of them, the
resigning leader's own and the next candidate's. A herd would show as these numbers growing with N. "Watches" and
"connections" are the server's \`zk_watch_count\` and the client connections with a session in its \`cons\`
list (the bench's own left out) at the end of the series: one per session, and the backend's reader.
The N sessions renew on their own (a request every T/3) and share one CPU budget with the server, so
the N = 1,000 latencies include that load.
`;

interface Series extends BackendHerdSeries {
  watches: number;
  connections: number;
}

/** Runs the ZooKeeper herd on a fresh server. */
export async function zkHerdScenario(opts: RunOptions): Promise<Outcome> {
  const rounds = opts.quick ? 10 : 50;
  return withZkServer(async (server, probe) => {
    const measured = new Map<number, Series>();
    for (const n of HERD_SIZES) measured.set(n, await herdSeries(server, probe, n, rounds));
    return {
      results: [...measured].map(([n, series]) => herdRow(n, series)),
      targets: watchTargets(measured),
    };
  });
}

function herdRow(n: number, series: Series): Result {
  const events = summarize(series.events);
  const triggered = summarize(series.serverEvents);
  return {
    scenario: SCENARIO,
    name: `ballot zookeeper(), ${n.toLocaleString('en')} candidates on one backend`,
    ...summarize(series.handover),
    extra: {
      'watch events per change, server (p50 / max)': `${triggered.p50} / ${triggered.max}`,
      'received (p50 / max)': `${events.p50} / ${events.max}`,
      'all joined in': `${(series.joinedMs / 1000).toFixed(2)} s`,
      watches: String(series.watches),
      connections: String(series.connections),
    },
  };
}

async function herdSeries(
  server: ZookeeperServer,
  probe: ZkProbe,
  n: number,
  rounds: number,
): Promise<Series> {
  const name = `/bench/zk-herd-${n}`;
  const backend = zookeeper({ connect: server.connect, env: {} });
  try {
    const series = await backendHerdSeries({
      backend,
      name,
      n,
      rounds,
      inFlight: IN_FLIGHT,
      joined: (timeoutMs) => probe.children(name, n, timeoutMs),
      subscribed: () => watchesSettled(server, n - 1),
      serverEvents: () => triggeredWatches(server),
    });
    const watches = (await mntr(server))['watch_count'] ?? Number.NaN;
    // The bench's probe session is on the server too; it is not the candidates'.
    const probeSession = BigInt(`0x${probe.conn.sessionId}`);
    const connections = (await sessionConnections(server)).filter((c) => c.sessionId !== probeSession).length;
    return { ...series, watches, connections };
  } finally {
    await backend.close();
  }
}

/** Polls the server's watch count (every 300 ms, up to 60 s) until it is at least `least` and has stopped growing. */
async function watchesSettled(server: ZookeeperServer, least: number): Promise<void> {
  const deadline = performance.now() + 60_000;
  let last = -1;
  for (;;) {
    const count = (await mntr(server))['watch_count'] ?? 0;
    if (count >= least && count === last) return;
    if (performance.now() > deadline) throw new Error(`${count} watches on the server, expected ${least}`);
    last = count;
    await sleep(300);
  }
}

function watchTargets(measured: ReadonlyMap<number, Series>): TargetCheck[] {
  const [small, large] = [measured.get(2), measured.get(1000)];
  if (!small || !large) return [];
  const worst = Math.max(...small.serverEvents, ...large.serverEvents, ...small.events, ...large.events);
  return [
    {
      scenario: 'zk 4',
      target: 'ballot on ZooKeeper: watch events per leadership change ≤ 2 whatever N',
      measured: `max ${summarize(small.serverEvents).max} at N = 2, ${summarize(large.serverEvents).max} at N = 1,000 (the server’s count; received: ${summarize(small.events).max} and ${summarize(large.events).max}), every round`,
      met: worst <= 2,
      why:
        worst <= 2
          ? 'each waiter watches only the node just ahead of it; the 2 are the next candidate’s watch and the resigning leader’s watch on its own node'
          : 'more watch events than the recipe causes: some other candidate was woken',
    },
  ];
}
