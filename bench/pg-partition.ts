/**
 * PostgreSQL partition step-down: cut the leader process off from the server with a blackholing TCP
 * proxy and compare when the old leader was told its term ended with when the next leader's term
 * began, for ballot and for the advisory-lock npm package (issue 12). Positive overlap means two
 * leaders at once.
 */
import { FIXTURE_NOTE, withPgServer } from './pg-common.js';
import { pgFaultTrials, type PgFault, type PgLibrary, type PgTrial } from './pg-candidates.js';
import { ADVISORY_LOCK_VERSION } from './pg-handover.js';
import {
  ms,
  seconds,
  skippedRow,
  type Outcome,
  type Result,
  type RunOptions,
  type TargetCheck,
} from './report.js';
import { summarize } from './stats.js';

const SCENARIO = 'pg partition';
const TTL = 2;
// advisory-lock has no TTL: whatever happens, happens when the server notices; wait this long for it.
const PEER_CAP_MS = 30_000;

/** What the PostgreSQL partition table measures and how to read it, for docs/benchmarks.md. */
export const PG_PARTITION_METHOD = `
As the etcd partition step-down above, on one fresh PostgreSQL (${FIXTURE_NOTE}). Each candidate is
its own process and reaches the server through its own TCP proxy (test/fixtures/fault-proxy.ts), pool
and LISTEN connection alike. While one candidate waits behind the leader, the bench blackholes the
leader's proxy: its connections stay open but nothing passes either way. ballot: TTL ${TTL} s, library
defaults. **Overlap** = when the old leader was told its term ended (\`term.signal\` aborted) minus
when the new leader's term began, both on CLOCK_MONOTONIC: negative is a gap, positive is two leaders.
"By ended.at" is the old term's deadline itself, which \`term.active\` already honours.

ballot's session deadline is the send time of its last acknowledged renewal + TTL − margin on the
client's monotonic clock; the server expires the session at its own \`now()\` at that renewal + TTL,
later by at least the margin, and only then can the waiter lead.

advisory-lock ${ADVISORY_LOCK_VERSION} (bench/workers/advisory-lock-candidate.ts, \`lock()\` as its README shows, no
error handler, no keepalive settings, as its users get by default) holds a session-level advisory
lock that the server releases only when it ends the holder's connection, and it has no way to tell
the holder anything. Two rows:

- **blackhole only**: what a partition does when nothing ends the connection. The server sees a
  connection that is merely idle (PostgreSQL's TCP keepalive is the OS default, 2 hours idle, and
  here the proxy would answer it anyway), so it keeps the lock: no new leader within ${PEER_CAP_MS / 1000} s, and
  the cut-off holder still believes it leads.
- **blackhole, then the server drops the connection**: the bench runs \`pg_terminate_backend\` on the
  holder's connection right after the cut, standing in for the moment the server (its TCP keepalive,
  \`idle_session_timeout\`, a pooler) ends it, which in production comes minutes to hours later. The
  waiter gets the lock at once; the old holder, cut off, is never told: two leaders, for as long as
  the run waits (${PEER_CAP_MS / 1000} s).
`;

interface Chain {
  library: PgLibrary;
  fault: PgFault;
  label: string;
  trials: number;
}

/** Runs the PostgreSQL partition scenario on a fresh server. */
export async function pgPartitionScenario(opts: RunOptions): Promise<Outcome> {
  const chains: Chain[] = [
    {
      library: 'ballot',
      fault: 'partition',
      label: `ballot postgres(), TTL ${TTL} s`,
      trials: opts.quick ? 3 : 20,
    },
    {
      library: 'advisory-lock',
      fault: 'partition',
      label: `advisory-lock ${ADVISORY_LOCK_VERSION}, blackhole only`,
      trials: opts.quick ? 1 : 3,
    },
    {
      library: 'advisory-lock',
      fault: 'partition-drop',
      label: `advisory-lock ${ADVISORY_LOCK_VERSION}, blackhole, then the server drops the connection`,
      trials: opts.quick ? 1 : 3,
    },
  ];
  return withPgServer(async (server, probe) => {
    const measured = await Promise.all(
      chains.map((c, i) =>
        pgFaultTrials({
          library: c.library,
          fault: c.fault,
          ttl: TTL,
          trials: c.trials,
          server,
          probe,
          election: `bench-pg-partition-${i}`,
          electCapMs: c.library === 'ballot' ? TTL * 3000 + 10_000 : PEER_CAP_MS,
          endCapMs: c.library === 'ballot' ? TTL * 4000 + 5000 : PEER_CAP_MS,
        }),
      ),
    );
    const results = chains.map((c, i) => partitionRow(c, measured[i] ?? []));
    const ballot = measured[0] ?? [];
    const overlaps = ballot.map(overlap);
    const gaps = overlaps.filter((o) => o < 0).length;
    const worst = Math.max(...overlaps);
    const targets: TargetCheck[] = [
      {
        scenario: 'pg 3',
        target:
          'ballot on PostgreSQL: old leader told before the new one begins (overlap < 0) in every trial',
        measured: `gap in ${gaps} of ${ballot.length} trials; overlap p50 ${ms(summarize(overlaps).p50)} ms, max ${ms(worst)} ms`,
        met: ballot.length > 0 && gaps === ballot.length,
        why:
          gaps === ballot.length
            ? 'the client deadline (send time of the last acknowledged renewal + TTL − margin) passes before the server’s expiry (its now() at that renewal + TTL)'
            : 'an old leader was told after the new term began',
      },
    ];
    return { results, targets };
  });
}

/** Old leader told − new leader began, ms; never told counts as +Infinity, no new leader as −Infinity. */
function overlap(trial: PgTrial): number {
  if (!Number.isFinite(trial.electedAt)) return Number.NEGATIVE_INFINITY;
  return trial.noticedAt === undefined ? Number.POSITIVE_INFINITY : trial.noticedAt - trial.electedAt;
}

function partitionRow(chain: Chain, trials: PgTrial[]): Result {
  const led = trials.filter((t) => Number.isFinite(t.electedAt));
  const told = trials.filter((t) => t.noticedAt !== undefined);
  const twoLeaders = trials.filter((t) => overlap(t) > 0);
  const began = led.map((t) => t.electedAt - t.faultAt);
  const byDeadline = trials.flatMap((t) =>
    t.endedAt === undefined || !Number.isFinite(t.electedAt) ? [] : [t.endedAt - t.electedAt],
  );
  // Two leaders from the new term's start until the old one is told, or at least until the run stopped waiting.
  const twoFor = twoLeaders.map((t) =>
    t.noticedAt === undefined
      ? `> ${seconds(t.faultAt + PEER_CAP_MS - t.electedAt)}`
      : seconds(t.noticedAt - t.electedAt),
  );
  const extra = {
    'two leaders in': `${twoLeaders.length} of ${trials.length} trials${twoFor.length > 0 ? ` (for ${[...new Set(twoFor)].join(', ')})` : ''}`,
    'old leader told, after the cut (p50)':
      told.length > 0 ? seconds(summarize(told.map((t) => (t.noticedAt ?? 0) - t.faultAt)).p50) : 'never',
    'new leader began, after the cut (p50)':
      began.length > 0 ? seconds(summarize(began).p50) : `none within ${PEER_CAP_MS / 1000} s`,
    'overlap by ended.at (max)': byDeadline.length > 0 ? `${ms(summarize(byDeadline).max)} ms` : '',
    'old leader was told': [...new Set(told.map((t) => t.reason))].join(', ') || 'nothing',
  };
  const base = { scenario: SCENARIO, name: chain.label, extra };
  if (led.length === 0)
    return skippedRow(
      base,
      `no new leader within ${PEER_CAP_MS / 1000} s of the cut in ${trials.length} trial(s): the server still held the lock for the cut-off holder, which was never told`,
    );
  if (told.length < led.length)
    return skippedRow(
      base,
      `overlap unbounded: the old holder was never told within ${PEER_CAP_MS / 1000} s of the cut`,
    );
  return { ...base, ...summarize(led.map(overlap)) };
}
