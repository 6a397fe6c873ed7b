/**
 * PostgreSQL many elections: one process, one session, 1,000 elections. The connections the backend
 * holds on the server (counted by the server), the time to campaign in all, and the memory held.
 */
import { fileURLToPath } from 'node:url';
import { spawnWorker } from '../test/fixtures/processes.js';
import { heldFacts, holdRun } from './many-common.js';
import { FIXTURE_NOTE, withPgServer } from './pg-common.js';
import type { Fact, Outcome, RunOptions, TargetCheck } from './report.js';

const COUNT = 1000;
const SESSION_TTL = 10;
const POOL_SIZE = 10;
const APP = 'ballot';
const WORKER = fileURLToPath(new URL('./workers/pg-many-elections.ts', import.meta.url));

/** What the PostgreSQL many-elections table measures, for docs/benchmarks.md. */
export const PG_MANY_METHOD = `
A separate Node.js process (bench/workers/pg-many-elections.ts) opens one \`postgres()\` backend with
library defaults (a pool of ${POOL_SIZE}) and one session (TTL ${SESSION_TTL} s) on a fresh PostgreSQL (${FIXTURE_NOTE}),
and campaigns in ${COUNT.toLocaleString('en')} elections at once (\`Promise.all\`), each uncontested. "Connections" is the
number of \`pg_stat_activity\` rows with ballot's application_name, counted by the server: after the
session opened, and while all ${COUNT.toLocaleString('en')} terms are held (each waiting term LISTENs on a channel, and
every channel shares the backend's one LISTEN connection). Memory is that process's, after a full
garbage collection, before campaigning, right after, and after holding the terms for the window.
Finally the backend is closed and the process must exit on its own.
`;

/** Runs the PostgreSQL many-elections scenario on a fresh server. */
export async function pgManyScenario(opts: RunOptions): Promise<Outcome> {
  const windowMs = opts.quick ? 4_000 : 20_000;
  return withPgServer(async (server, probe) => {
    const connections = () =>
      probe.number('SELECT count(*) FROM pg_stat_activity WHERE application_name = $1', [APP]);
    const worker = spawnWorker(WORKER, [], {
      URL: server.url(),
      COUNT: String(COUNT),
      TTL: String(SESSION_TTL),
      APP,
    });
    const run = await holdRun(worker, connections, windowMs);
    const [atSession, atCampaigned, atHeld, afterClose] = run.counts;
    const facts: Fact[] = heldFacts(run, COUNT, windowMs, {
      name: 'connections on the server (pg_stat_activity)',
      value: `${atSession} / ${atCampaigned} / ${atHeld} / ${afterClose}`,
      note: `after the session opened / just after campaign-all / holding all terms ${Math.round(windowMs / 1000)} s later / after close(); pool ${POOL_SIZE} + 1 LISTEN at most`,
    });
    const most = Math.max(atSession, atCampaigned, atHeld);
    const targets: TargetCheck[] = [
      {
        scenario: 'pg 5',
        target: `connections for ${COUNT.toLocaleString('en')} elections on one session are O(1), not one per election`,
        measured: `${most} at most (${atSession} with the session alone, ${atHeld} holding ${COUNT.toLocaleString('en')} terms), ${afterClose} after close()`,
        met: most <= POOL_SIZE + 1 && afterClose === 0,
        why: 'the pool is bounded by poolSize and every LISTEN channel shares one connection',
      },
    ];
    return { results: [], facts, targets };
  });
}
