/**
 * PostgreSQL herd: handover on resign with 2 and with 1,000 candidates in one election, and how many
 * notifications the candidates' backend receives per leadership change (issue 12).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { postgres } from '../src/index.js';
import {
  HERD_SETTLE_MS,
  HERD_SIZES,
  HERD_TTL,
  HERD_WAIT_MS,
  HERD_WARMUP,
  backendHerdSeries,
} from './herd-rounds.js';
import { BALLOT_ENTRIES, FIXTURE_NOTE, withPgServer, type PgProbe } from './pg-common.js';
import { ms, type Outcome, type Result, type RunOptions, type TargetCheck } from './report.js';
import { summarize } from './stats.js';

const SCENARIO = 'pg herd';
const APP = 'ballot';

/** What the PostgreSQL herd table measures and how to read it, for docs/benchmarks.md. */
export const PG_HERD_METHOD = `
As the etcd herd above, on one fresh PostgreSQL (${FIXTURE_NOTE}): N candidates in one election,
all in this process, N sessions (TTL ${HERD_TTL} s) on one \`postgres()\` backend with library defaults
(a pool of 10 connections and one LISTEN connection). A round: the leader resigns; a sample is the
time from just before \`resign()\` to the next candidate's term beginning; then the old leader joins
again at the back, so N stays constant, and the bench waits ${HERD_WAIT_MS} ms. ${HERD_WARMUP} unmeasured rounds first.

**Wake-ups per change** is the increase of \`backend.stats().events\` (NOTIFYs delivered to the
backend's LISTEN connection) from just before the resign to ${HERD_SETTLE_MS} ms after the next leader began.
Each waiter LISTENs only on the channel of the entry just ahead of it, so a herd would show as this
number growing with N. "Connections" is the number of \`pg_stat_activity\` rows with ballot's
application_name once the election is in place: the pool plus the LISTEN connection, whatever N.
The 1,000 sessions renew on their own (one UPDATE each every TTL/3), and share one CPU budget with
the server, so the N = 1,000 latencies include that load.
`;

interface Series {
  handover: number[];
  events: number[];
  connections: number;
  joinedMs: number;
}

/** Runs the PostgreSQL herd on a fresh server. */
export async function pgHerdScenario(opts: RunOptions): Promise<Outcome> {
  const rounds = opts.quick ? 10 : 50;
  return withPgServer(async (server, probe) => {
    const measured: Partial<Record<number, Series>> = {};
    const results: Result[] = [];
    for (const n of HERD_SIZES) {
      const series = await herdSeries(server.url(), probe, n, rounds);
      measured[n] = series;
      const events = summarize(series.events);
      results.push({
        scenario: SCENARIO,
        name: `ballot postgres(), ${n.toLocaleString('en')} candidates on one backend`,
        ...summarize(series.handover),
        extra: {
          'wake-ups per change (p50 / max)': `${events.p50} / ${events.max}`,
          connections: String(series.connections),
          'all joined in': `${(series.joinedMs / 1000).toFixed(2)} s`,
        },
      });
    }
    return { results, targets: herdTargets(measured[2], measured[1000]) };
  });
}

async function herdSeries(url: string, probe: PgProbe, n: number, rounds: number): Promise<Series> {
  const name = `bench-pg-herd-${n}`;
  const backend = postgres({ connectionString: url, env: {}, applicationName: APP });
  try {
    const { handover, events, joinedMs } = await backendHerdSeries({
      backend,
      name,
      n,
      rounds,
      joined: (timeoutMs) => probe.atLeast(BALLOT_ENTRIES, [name], n, timeoutMs),
      // Waiters subscribe after joining; give the last of them time to LISTEN before measuring.
      subscribed: () => sleep(1000),
    });
    const connections = await probe.number(
      'SELECT count(*) FROM pg_stat_activity WHERE application_name = $1',
      [APP],
    );
    return { handover, events, connections, joinedMs };
  } finally {
    await backend.close();
  }
}

function herdTargets(small: Series | undefined, large: Series | undefined): TargetCheck[] {
  if (!small || !large) return [];
  const worst = Math.max(...small.events, ...large.events);
  const p50Small = summarize(small.handover).p50;
  const p50Large = summarize(large.handover).p50;
  const growth = p50Large / p50Small;
  return [
    {
      scenario: 'pg 4',
      target: 'ballot on PostgreSQL: wake-ups per leadership change ≤ 2 whatever N',
      measured: `max ${summarize(small.events).max} at N = 2, ${summarize(large.events).max} at N = 1,000 (every round)`,
      met: worst <= 2,
      why:
        worst <= 2
          ? 'each waiter LISTENs only on the entry just ahead of it'
          : 'more notifications than the next candidate needs: other waiters were woken',
    },
    {
      scenario: 'pg 4',
      target: 'ballot on PostgreSQL: handover p50 at 1,000 candidates ≤ 2 × at 2',
      measured: `${ms(p50Large)} ms against ${ms(p50Small)} ms (${growth.toFixed(2)}×)`,
      met: growth <= 2,
      why:
        growth <= 2
          ? undefined
          : 'from 3 candidates on, the next candidate reads once more after its wake-up to make sure nobody older is left, and the 1,000 sessions’ renewals share the pool and the CPU',
    },
  ];
}
