/**
 * ZooKeeper: 1,000 elections held by one session of one process. How many client connections the
 * server sees for them, how long campaigning in all of them takes, and the process's memory (issue 13).
 */
import { fileURLToPath } from 'node:url';
import { spawnWorker } from '../test/fixtures/processes.js';
import { heldFacts, holdRun } from './many-common.js';
import type { Outcome, RunOptions, TargetCheck } from './report.js';
import { ZK_FIXTURE_NOTE, sessionConnections, withZkServer, type ServerConnection } from './zk-common.js';

const COUNT = 1000;
const SESSION_TTL = 10;
const WORKER = fileURLToPath(new URL('./workers/zk-many-elections.ts', import.meta.url));

/** What the ZooKeeper many-elections table measures, for docs/benchmarks.md. */
export const ZK_MANY_METHOD = `
A separate Node.js process (bench/workers/zk-many-elections.ts) opens one \`zookeeper()\` backend with
library defaults and one session (session timeout ${SESSION_TTL} s) on a fresh ZooKeeper (${ZK_FIXTURE_NOTE}),
and campaigns in ${COUNT.toLocaleString('en')} elections at once (\`Promise.all\`), each uncontested: its node, a read of
the children, a watch on its own node. "Connections" are the client connections with a session that
the server lists in \`cons\` (the bench's own is left out): after the session opened, just after
campaign-all, while all ${COUNT.toLocaleString('en')} terms are held, and after \`close()\`. The session's own are the ones
with its session timeout; the backend's other connection is its reader (session-less reads and
observers, its own session of 30 s that holds nothing), one per backend whatever the number of
sessions. Memory is that process's, after a full garbage collection, before campaigning, right
after, and after holding the terms for the window. Finally the backend is closed and the process
must exit on its own.
`;

/** Runs the ZooKeeper many-elections scenario on a fresh server. */
export async function zkManyScenario(opts: RunOptions): Promise<Outcome> {
  const windowMs = opts.quick ? 4_000 : 10_000;
  return withZkServer(async (server, probe) => {
    const probeSession = BigInt(`0x${probe.conn.sessionId}`);
    const connections = async () =>
      (await sessionConnections(server)).filter((c) => c.sessionId !== probeSession);
    const worker = spawnWorker(WORKER, [], {
      CONNECT: server.connect,
      COUNT: String(COUNT),
      TTL: String(SESSION_TTL),
    });
    const run = await holdRun(worker, connections, windowMs);
    const own = (list: ServerConnection[]) => list.filter((c) => c.timeoutMs === SESSION_TTL * 1000).length;
    const show = (list: ServerConnection[]) => `${list.length} (${own(list)})`;
    const [atSession, atCampaigned, atHeld, afterClose] = run.counts;
    const facts = heldFacts(run, COUNT, windowMs, {
      name: 'connections on the server (cons), of which the session’s own',
      value: run.counts.map(show).join(' / '),
      note: `after the session opened / just after campaign-all / holding all terms ${Math.round(windowMs / 1000)} s later / after close(); the other one is the backend’s reader`,
    });
    const during = [atSession, atCampaigned, atHeld];
    const most = Math.max(...during.map((l) => l.length));
    const targets: TargetCheck[] = [
      {
        scenario: 'zk 5',
        target: `${COUNT.toLocaleString('en')} elections on one session: one connection for the session`,
        measured: `the session’s own: ${during.map(own).join(' / ')} (opened / campaigned / held); with the backend’s reader ${most} at most; ${afterClose.length} after close()`,
        met: during.every((l) => own(l) === 1) && most <= 2 && afterClose.length === 0,
        why: 'every election of a session is a node of its one ZooKeeper session; the backend adds one reader connection, whatever the number of sessions',
      },
    ];
    return { results: [], facts, targets };
  });
}
