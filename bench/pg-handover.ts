/**
 * PostgreSQL handover on resign: how long after the leader resigns the next candidate leads, for
 * ballot's postgres() backend and for the `advisory-lock` npm package, next to the floor of one
 * committed single-row UPDATE on the same server (issue 12).
 */
import advisoryLockModule from 'advisory-lock';
import pg from 'pg';
import { postgres, type Backend } from '../src/index.js';
import type { PostgresServer } from '../test/fixtures/postgres.js';
import {
  HANDOVER_WARMUP,
  ROUND_TIMEOUT_MS,
  ballotCandidate,
  floorRows,
  handovers,
  installedVersion,
  roundTrips,
  seriesRow,
  type Candidate,
  type Contest,
} from './handover-common.js';
import { BALLOT_ENTRIES, FIXTURE_NOTE, withPgServer, type PgProbe } from './pg-common.js';
import { ms, type Outcome, type Result, type RunOptions, type TargetCheck } from './report.js';
import { summarize } from './stats.js';

// The package is CommonJS with its function on `exports.default`, which an ESM default import wraps.
const advisoryLock = advisoryLockModule.default;

const SCENARIO = 'pg handover';
const WARMUP = 50;
const SESSION_TTL = 10;
const SHORT_WAIT_MS = 50;
const LONG_WAIT_MS = 200;
const TARGET_RATIO = 2;
/** The installed advisory-lock, read from its package.json so an upgrade shows in the table. */
export const ADVISORY_LOCK_VERSION = installedVersion('advisory-lock');

/** What the PostgreSQL handover table measures and how to read it, for docs/benchmarks.md. */
export const PG_HANDOVER_METHOD = `
Two candidates in one election on one fresh PostgreSQL (${FIXTURE_NOTE}), both in this Node.js
process. ballot: one \`postgres()\` backend per candidate (library defaults: a pool of 10 and one
LISTEN connection each), a session of TTL ${SESSION_TTL} s each. The leader resigns while the other candidate
waits; a sample is the time from just before \`resign()\` to the waiter's \`campaign()\` resolving. The
roles then swap. Before each resign the bench polls the entries table until both entries exist, then
lets the waiter wait the stated time. ${HANDOVER_WARMUP} unmeasured handovers first.

The peer is the \`advisory-lock\` package ${ADVISORY_LOCK_VERSION}, used as its README shows: \`mutex.lock()\`, which opens
a connection of its own and blocks in \`pg_advisory_lock\` until the lock is free, and the \`unlock()\`
it returns (\`pg_advisory_unlock\`, then it closes that connection). It needs no polling: the server
wakes the blocked waiter itself, so its handover is a fair one to compare. The waiter's lock() is
in flight (its connection open, \`pg_locks\` showing it waiting) before the wait starts.

The floors are one committed single-row \`UPDATE\` (autocommit) on a connection of the bench's own,
after ${WARMUP} warm-up updates: back to back, and each after ${SHORT_WAIT_MS} ms idle, the same gap the waiter
had. The idle one is the floor the target is against: a handover starts from connections that sat
idle. ballot's handover is the leader's delete of its entry (one statement; a trigger sends the
NOTIFY on commit), the NOTIFY reaching the waiter's LISTEN connection, and the waiter's one read
(on a pool connection idle for the wait) that confirms nobody older is left before it leads: two
round trips and a notification, where advisory-lock's is one round trip (the unlock) and the
server waking the blocked waiter's query.
`;

/** Two candidates, and how to see on the server that the waiter is queued behind the leader. */
interface PgContest extends Contest {
  /** Resolves once the waiter is queued behind the leader, as the server sees it. */
  queued(probe: PgProbe): Promise<void>;
}

/** Runs the PostgreSQL handover scenario on a fresh server. */
export async function pgHandoverScenario(opts: RunOptions): Promise<Outcome> {
  return withPgServer(async (server, probe) => {
    const samples = opts.rounds;
    const put = summarize(await updateSamples(server, samples, 0));
    const idle = summarize(await updateSamples(server, samples, SHORT_WAIT_MS));
    const results = floorRows(SCENARIO, 'single-row UPDATE round trip', put, idle, SHORT_WAIT_MS);
    const series = [
      { name: 'ballot postgres()', open: () => ballotContest(server), waitMs: SHORT_WAIT_MS },
      {
        name: `advisory-lock ${ADVISORY_LOCK_VERSION} lock()/unlock()`,
        open: () => advisoryContest(server),
        waitMs: SHORT_WAIT_MS,
      },
      { name: 'ballot postgres()', open: () => ballotContest(server), waitMs: LONG_WAIT_MS },
      {
        name: `advisory-lock ${ADVISORY_LOCK_VERSION} lock()/unlock()`,
        open: () => advisoryContest(server),
        waitMs: LONG_WAIT_MS,
      },
    ];
    const measured: Record<string, Result> = {};
    for (const s of series) {
      const durations = await handovers(s.open, (c) => c.queued(probe), opts.rounds, s.waitMs);
      const row = seriesRow(SCENARIO, `${s.name}, waiter waited ${s.waitMs} ms`, durations, { put, idle });
      measured[`${s.name}@${s.waitMs}`] = row;
      results.push(row);
    }
    const ballot = measured[`ballot postgres()@${SHORT_WAIT_MS}`];
    const peer = measured[`advisory-lock ${ADVISORY_LOCK_VERSION} lock()/unlock()@${SHORT_WAIT_MS}`];
    const targets: TargetCheck[] = [];
    if (ballot && peer) {
      const ratio = ballot.p50 / idle.p50;
      targets.push({
        scenario: 'pg 1',
        target: `ballot handover p50 on PostgreSQL ≤ ${TARGET_RATIO} × the idle UPDATE floor`,
        measured: `${ms(ballot.p50)} ms = ${ratio.toFixed(2)}× the UPDATE after ${SHORT_WAIT_MS} ms idle (${ms(idle.p50)} ms), ${(ballot.p50 / put.p50).toFixed(2)}× back to back (${ms(put.p50)} ms); advisory-lock ${ms(peer.p50)} ms`,
        met: ratio <= TARGET_RATIO,
        why:
          ratio <= TARGET_RATIO
            ? 'the leader’s delete, and the NOTIFY it commits telling the waiter that the deleted entry led (it then leads without a read)'
            : 'a handover is the leader’s delete (one round trip, as the floor) plus the delivery of the NOTIFY it commits to the waiter’s own LISTEN connection: a second server process and a second client wake up, which the floor does not pay; the waiter leads without a read',
      });
    }
    return { results, targets };
  });
}

/** Durations (ms) of single-row UPDATEs, `idleMs` apart, on a connection of their own. */
async function updateSamples(server: PostgresServer, samples: number, idleMs: number): Promise<number[]> {
  const client = new pg.Client({ connectionString: server.url(), application_name: 'bench-floor' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('CREATE TABLE IF NOT EXISTS bench_floor (id int PRIMARY KEY, v int NOT NULL)');
    await client.query('INSERT INTO bench_floor VALUES (1, 0) ON CONFLICT (id) DO NOTHING');
    const update = (i: number) => client.query('UPDATE bench_floor SET v = $1 WHERE id = 1', [i]);
    return await roundTrips(update, WARMUP, samples, idleMs);
  } finally {
    await client.end();
  }
}

/** Two ballot candidates, one postgres() backend and session each. */
async function ballotContest(server: PostgresServer): Promise<PgContest> {
  const name = 'bench-pg-handover';
  const opened: Backend[] = [];
  try {
    const candidate = async (value: string): Promise<Candidate> => {
      const backend = postgres({ connectionString: server.url(), env: {} });
      opened.push(backend);
      return ballotCandidate(await backend.session({ ttl: SESSION_TTL }), name, value);
    };
    return {
      queued: (probe) => probe.atLeast(BALLOT_ENTRIES, [name], 2, ROUND_TIMEOUT_MS),
      candidates: [await candidate('a'), await candidate('b')],
      close: async () => void (await Promise.allSettled(opened.map((b) => b.close()))),
    };
  } catch (err) {
    await Promise.allSettled(opened.map((b) => b.close()));
    throw err;
  }
}

/** Two advisory-lock mutexes on one lock name, each as its own process would create it. */
function advisoryContest(server: PostgresServer): Promise<PgContest> {
  // The application_name only lets the probe find these connections in pg_locks.
  const url = `${server.url()}?application_name=bench-advisory-lock`;
  const candidate = (): Candidate => {
    const mutex = advisoryLock(url)('bench-pg-handover');
    let unlock: (() => Promise<void>) | undefined;
    return {
      campaign: async () => {
        unlock = await mutex.lock();
        return performance.now();
      },
      resign: async () => {
        await unlock?.();
        unlock = undefined;
      },
    };
  };
  return Promise.resolve({
    queued: (probe) =>
      probe.atLeast(
        `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
         WHERE l.locktype = 'advisory' AND a.application_name = $1`,
        ['bench-advisory-lock'],
        2,
        ROUND_TIMEOUT_MS,
      ),
    candidates: [candidate(), candidate()],
    // Each lock() opened a connection that its unlock() closed; nothing else is left open.
    close: () => Promise.resolve(),
  });
}
