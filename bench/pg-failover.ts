/**
 * PostgreSQL crash failover: SIGKILL the leader process and time how long until the waiting candidate
 * process leads, at TTL 2 s and 5 s (issue 12).
 */
import { FIXTURE_NOTE, withPgServer } from './pg-common.js';
import { pgFaultTrials } from './pg-candidates.js';
import { chainFailoverRow } from './candidates.js';
import type { Outcome, Result, RunOptions } from './report.js';

const SCENARIO = 'pg crash failover';
const TTLS = [2, 5] as const;

/** What the PostgreSQL crash-failover table measures, for docs/benchmarks.md. */
export const PG_FAILOVER_METHOD = `
As the etcd crash failover above, on one fresh PostgreSQL (${FIXTURE_NOTE}): each candidate is its own
Node.js process (bench/workers/pg-candidate.ts, \`postgres()\` with library defaults); the bench sends
SIGKILL to the leader and measures, on CLOCK_MONOTONIC, from just before the kill to the waiter's
\`term.startedAt\`. The waiter then leads, a new process queues behind it, and the next trial starts.
Each kill comes at a random point of the leader's renewal cycle (a third of the TTL).

A killed process's connections close at once on loopback, but ballot does not take a closed
connection as the end of a session (a pooled connection closing says nothing about the process), so
the waiter leads once the session's \`expires_at\` has passed by the server's clock: "Session
expired" is the leader's last acknowledged renewal plus the TTL, as a time after the kill.
"Detection" is failover minus that expiry. An expiry changes no row and sends no NOTIFY, so a waiter
reads, with the entry ahead of it, how long that entry's session has left, sets a timer for then, and
when it fires deletes the expired session itself and leads: detection is that timer's slack, the
delete and a read, with no polling in between.
`;

/** Runs the PostgreSQL crash failover on a fresh server. */
export async function pgFailoverScenario(opts: RunOptions): Promise<Outcome> {
  return withPgServer(async (server, probe) => {
    const trialsAt = (ttl: number) => (opts.quick ? (ttl <= 2 ? 3 : 2) : ttl <= 2 ? 20 : 10);
    const results: Result[] = [];
    for (const ttl of TTLS) {
      const trials = await pgFaultTrials({
        library: 'ballot',
        fault: 'kill',
        ttl,
        trials: trialsAt(ttl),
        server,
        probe,
        election: `bench-pg-failover-${ttl}`,
        electCapMs: ttl * 3000 + 10_000,
        endCapMs: 0,
      });
      results.push(
        chainFailoverRow(SCENARIO, `ballot postgres(), TTL ${ttl} s`, ttl, trials, {
          expiry: 'session expired after kill, p50 (min–max)',
          after: 'detection p50 / max',
        }),
      );
    }
    return { results, targets: [] };
  });
}
