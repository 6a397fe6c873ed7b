/**
 * ZooKeeper crash failover: SIGKILL the leader process and time how long until the waiting candidate
 * process leads, at session timeouts 4 s and 10 s (issue 13).
 */
import { fileURLToPath } from 'node:url';
import { spawnWorker, type Worker } from '../test/fixtures/processes.js';
import { chainFailoverRow, chainTrials } from './candidates.js';
import type { Outcome, Result, RunOptions } from './report.js';
import { ZK_FIXTURE_NOTE, withZkServer } from './zk-common.js';

const SCENARIO = 'zk crash failover';
const TTLS = [4, 10] as const;
const WORKER = fileURLToPath(new URL('./workers/zk-candidate.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;

/** What the ZooKeeper crash-failover table measures, for docs/benchmarks.md. */
export const ZK_FAILOVER_METHOD = `
As the etcd crash failover above, on one fresh ZooKeeper (${ZK_FIXTURE_NOTE}): each candidate is its own
Node.js process (bench/workers/zk-candidate.ts, \`zookeeper()\` with library defaults), its session
timeout (TTL) as stated; the bench sends SIGKILL to the leader and measures, on CLOCK_MONOTONIC, from
just before the kill to the waiter's \`term.startedAt\`. The waiter then leads, a new process queues
behind it, and the next trial starts. Each kill comes at a random point of the leader's renewal
cycle (a third of the TTL).

A killed process's TCP connection closes at once on loopback, but ZooKeeper keeps the session (a
client may reconnect to it) until the session timeout passes without hearing from it; only then
does it delete the leader's ephemeral node, and the waiter's watch fires. So failover is about the
TTL after the leader's last contact with the server, plus ZooKeeper's expiry check, which runs once
a tick (\`tickTime\` 500 ms here), plus the watch event and the waiter's read. "Last renewal + TTL" is the
leader's last acknowledged renewal plus the TTL, as a time after the kill; the client library's own
pings also count as contact, so the server's expiry can come later than this estimate.
`;

/** Runs the ZooKeeper crash failover on a fresh server. */
export async function zkFailoverScenario(opts: RunOptions): Promise<Outcome> {
  return withZkServer(async (server, probe) => {
    const trialsAt = (ttl: number) => (opts.quick ? (ttl <= 4 ? 3 : 2) : ttl <= 4 ? 20 : 10);
    const results: Result[] = [];
    for (const ttl of TTLS) {
      const election = `/bench/zk-failover-${ttl}`;
      const trials = await chainTrials<{ worker: Worker }>({
        library: 'ballot zookeeper()',
        trials: trialsAt(ttl),
        ttl,
        start: (value) =>
          Promise.resolve({
            worker: spawnWorker(WORKER, [], {
              CONNECT: server.connect,
              ELECTION: election,
              VALUE: value,
              TTL: String(ttl),
            }),
          }),
        queued: () => probe.children(election, 2, START_TIMEOUT_MS),
        fault: (leader) => Promise.resolve(void leader.worker.kill('SIGKILL')),
        electCapMs: ttl * 3000 + 10_000,
        restartOnMiss: true,
        endCapMs: undefined,
        expires: true,
      });
      results.push(
        chainFailoverRow(SCENARIO, `ballot zookeeper(), TTL ${ttl} s`, ttl, trials, {
          expiry: 'last renewal + TTL, after kill, p50 (min–max)',
          after: 'led after that, p50 / max',
        }),
      );
    }
    return { results, targets: [] };
  });
}
