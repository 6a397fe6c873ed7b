/**
 * Scenario 3, partition step-down: cut the leader process off from etcd with a blackholing TCP proxy
 * and compare when the old leader's term ends with when the next leader's begins, for ballot and
 * etcd3 (DESIGN.md invariant 1, no overlap). Positive overlap means two leaders at once.
 */
import { EtcdClient } from '../src/etcd/client.js';
import { startEtcd } from '../test/fixtures/etcd.js';
import { faultTrials, type FaultTrial, type Library } from './candidates.js';
import { ms, seconds, type Outcome, type Result, type RunOptions, type TargetCheck } from './report.js';
import { summarize } from './stats.js';

const SCENARIO = 'partition';
const TTL = 2;

/** What the partition table measures and how to read it, for docs/benchmarks.md. */
export const PARTITION_METHOD = `
Each candidate is its own process and reaches etcd through its own TCP proxy
(test/fixtures/fault-proxy.ts). While one candidate waits behind the leader, the bench blackholes the
leader's proxy: the connection stays open but nothing passes either way, as in a network partition.
The leader's lease then expires on etcd, the waiter is elected, and the old leader learns, sooner or
later, that it lost. TTL ${TTL} s for both libraries, one election per library, both chains at once on
one etcd.

**Overlap** = when the old leader's code was told its term ended (ballot: \`term.signal\` aborted;
etcd3: the campaign's \`error\` event, its only signal) minus when the new leader's term began, both on
CLOCK_MONOTONIC. Negative is a gap, which is safe; positive means two processes believed they led.
For ballot "told" is the moment the abort listener ran. Its \`term.active\` and \`isLeader()\` already
return false from the deadline itself (\`ended.at\`), a little earlier; that column is shown too.

ballot's session deadline is the send time of its last acknowledged keepalive + TTL − margin
(by default 1% of the TTL, at least 100 ms), and etcd cannot expire the lease before send time + TTL, so the
old term ends first by construction; the measured gap is that margin plus etcd's expiry detection and
the handover. etcd3's keepalive reports loss only when it finds no acknowledged keepalive in the last
2×TTL, checked when a stream is re-established (at most every TTL), so its leader keeps believing for
one to two TTLs after etcd has moved on.
`;

/** Runs scenario 3 on a fresh etcd. */
export async function partitionScenario(opts: RunOptions): Promise<Outcome> {
  const trials: Record<Library, number> = opts.quick ? { ballot: 3, etcd3: 1 } : { ballot: 20, etcd3: 8 };
  const libraries: Library[] = ['ballot', 'etcd3'];
  const node = await startEtcd({ name: 'bench-partition' });
  try {
    const probe = new EtcdClient({ endpoints: [node.endpoint] });
    try {
      const chains = await Promise.all(
        libraries.map((library) =>
          faultTrials({
            library,
            fault: 'partition',
            ttl: TTL,
            trials: trials[library],
            endpoint: node.endpoint,
            probe,
            election: `bench-partition-${library}`,
            endCapMs: TTL * 4000 + 5000,
          }),
        ),
      );
      const results = libraries.map((library, i) => partitionRow(library, chains[i] ?? []));
      const ballot = chains[0] ?? [];
      const overlaps = ballot.map(overlap);
      const gaps = overlaps.filter((o) => o < 0).length;
      const targets: TargetCheck[] = [
        {
          scenario: 3,
          target: 'ballot overlap < 0 (a gap) in 100% of trials',
          measured: `gap in ${gaps} of ${ballot.length} trials; overlap p50 ${ms(summarize(overlaps).p50)} ms, worst ${ms(summarize(overlaps).max)} ms`,
          met: ballot.length > 0 && gaps === ballot.length,
          why:
            gaps === ballot.length
              ? 'the deadline (send time of the last acknowledged keepalive + TTL − margin) passes before etcd can expire the lease'
              : `an old leader was told after the new term began; by its deadline (\`ended.at\`, which \`term.active\` honours) the worst overlap was ${ms(Math.max(...ballot.map((t) => (t.endedAt ?? Number.POSITIVE_INFINITY) - t.electedAt)))} ms, so a late abort listener, not the deadline, would be to blame`,
        },
      ];
      return { results, targets };
    } finally {
      probe.close();
    }
  } finally {
    await node.stop();
  }
}

/** Overlap of one trial in ms: old leader told − new leader began; a never-told leader counts as +Infinity. */
function overlap(trial: FaultTrial): number {
  return trial.noticedAt === undefined ? Number.POSITIVE_INFINITY : trial.noticedAt - trial.electedAt;
}

function partitionRow(library: Library, trials: FaultTrial[]): Result {
  const overlaps = trials.map(overlap);
  const twoLeaders = overlaps.filter((o) => o > 0).length;
  const told = trials.filter((t) => t.noticedAt !== undefined);
  const ended = summarize(told.map((t) => (t.noticedAt ?? 0) - t.faultAt));
  const began = summarize(trials.map((t) => t.electedAt - t.faultAt));
  const byDeadline = trials.flatMap((t) => (t.endedAt === undefined ? [] : [t.endedAt - t.electedAt]));
  const reasons = [...new Set(told.map((t) => t.reason))].join(', ');
  return {
    scenario: SCENARIO,
    name: `${library}, TTL ${TTL} s`,
    ...summarize(overlaps),
    extra: {
      'two leaders in': `${twoLeaders} of ${trials.length} trials`,
      'old leader told, after the cut (p50)': told.length > 0 ? seconds(ended.p50) : 'never',
      'new leader began, after the cut (p50)': seconds(began.p50),
      'overlap by ended.at (max)':
        library === 'ballot' && byDeadline.length > 0 ? `${ms(summarize(byDeadline).max)} ms` : '',
      'old leader was told': reasons || 'nothing',
    },
    note:
      told.length < trials.length
        ? `${trials.length - told.length} old leader(s) never told within ${TTL * 4 + 5} s of the cut`
        : undefined,
  };
}
