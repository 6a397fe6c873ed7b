/**
 * ZooKeeper handover on resign: how long after the leader resigns the next candidate leads, for
 * ballot's zookeeper() backend and for Curator's LeaderLatch (Java), next to the floor of one
 * `create` round trip on the same server (issue 13).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import zk from 'node-zookeeper-client';
import { zookeeper, type Backend } from '../src/index.js';
import { startCurator, type CuratorProcess } from '../test/fixtures/curator.js';
import type { ZookeeperServer } from '../test/fixtures/zookeeper.js';
import {
  HANDOVER_WARMUP,
  ROUND_TIMEOUT_MS,
  ballotCandidate,
  floorRows,
  handovers,
  roundTrips,
  seriesRow,
  withTimeout,
  type Candidate,
  type Contest,
} from './handover-common.js';
import { ms, type Outcome, type Result, type RunOptions, type TargetCheck } from './report.js';
import { summarize } from './stats.js';
import { ZK_FIXTURE_NOTE, curatorVersion, withZkServer, type ZkProbe } from './zk-common.js';

const SCENARIO = 'zk handover';
const WARMUP = 50;
const SESSION_TTL = 10;
const SHORT_WAIT_MS = 50;
const LONG_WAIT_MS = 200;
const TARGET_RATIO = 2;
/** Every Curator round starts a JVM for the next waiter, so its series has fewer samples. */
const CURATOR_ROUNDS = { quick: 25, full: 50 };
const BALLOT_PATH = '/bench/zk-handover/ballot';
const CURATOR_PATH = '/bench/zk-handover/curator';
const FLOOR_PATH = '/bench/zk-floor';
/** The Curator version in JAVA_SHARE, for the table. */
export const CURATOR_VERSION = curatorVersion();

/** What the ZooKeeper handover table measures and how to read it, for docs/benchmarks.md. */
export const ZK_HANDOVER_METHOD = `
Two candidates on one election path on one fresh ZooKeeper (${ZK_FIXTURE_NOTE}). ballot: one
\`zookeeper()\` backend per candidate, both in this Node.js process, a session of TTL ${SESSION_TTL} s each.
The leader resigns while the other candidate waits; a sample is the time from just before
\`resign()\` to the waiter's \`campaign()\` resolving. The roles then swap. Before each resign the bench
polls the path's children until both candidates' nodes exist, then lets the waiter wait the stated
time. ${HANDOVER_WARMUP} unmeasured handovers first.

The peer is Curator ${CURATOR_VERSION}'s \`LeaderLatch\`, two \`CuratorCandidate\` processes (test/fixtures/curator)
on one latch path. The leader is told \`close\` on its stdin (\`LeaderLatch.close()\` deletes its node); a
sample is from \`process.hrtime\` in this process just before that command is written to the time the
other JVM stamps (\`System.nanoTime()\`, the same CLOCK_MONOTONIC) on entering \`isLeader()\`. The
program prints nothing before \`close()\`, so the start is taken in Node: the sample also holds the
pipe write and the wake-up of the JVM's stdin thread (not measured apart; both are local). A
closed latch cannot rejoin, so the closed process exits and every round starts a new JVM as the
next waiter, after the last one's node exists ("started"); the waiter, not the leader, is the cold
JVM, though its start-up already ran the same getChildren and watch code once. ${HANDOVER_WARMUP} unmeasured
handovers first; ${CURATOR_ROUNDS.quick} rounds with --quick, ${CURATOR_ROUNDS.full} in a full run. The last
column is when the old leader printed "closed" (its \`close()\` returned), on the same clock.

The floors are one \`create\` of an ephemeral sequential node on a session of the bench's own,
after ${WARMUP} warm-up creates: back to back, and each after ${SHORT_WAIT_MS} ms idle, the same gap the waiter
had. The idle one is the floor the target is against. Both libraries hand over the same way: the
leader's delete (one round trip), the watch event reaching the waiter's session, and the waiter's
read that confirms nobody older is left.
`;

/** One series' handover samples (ms); Curator's also say when the leader's close() returned. */
interface Series {
  durations: number[];
  closes?: number[];
}

/** Runs the ZooKeeper handover scenario on a fresh server. */
export async function zkHandoverScenario(opts: RunOptions): Promise<Outcome> {
  return withZkServer(async (server, probe) => {
    const samples = opts.rounds;
    await probe.conn.mkdirp(FLOOR_PATH);
    const create = (i: number) =>
      probe.conn.create(`${FLOOR_PATH}/n-`, Buffer.from(String(i)), zk.CreateMode.EPHEMERAL_SEQUENTIAL);
    const put = summarize(await roundTrips(create, WARMUP, samples, 0));
    const idle = summarize(await roundTrips(create, 0, samples, SHORT_WAIT_MS));
    const results = floorRows(SCENARIO, 'create round trip', put, idle, SHORT_WAIT_MS);
    const curatorRounds = opts.quick ? CURATOR_ROUNDS.quick : CURATOR_ROUNDS.full;
    const curatorName = `Curator ${CURATOR_VERSION} LeaderLatch close()`;
    const series = [
      {
        name: 'ballot zookeeper()',
        waitMs: SHORT_WAIT_MS,
        run: (w: number) => ballotSeries(server, probe, opts.rounds, w),
      },
      {
        name: curatorName,
        waitMs: SHORT_WAIT_MS,
        run: (w: number) => curatorSeries(server, curatorRounds, w),
      },
      {
        name: 'ballot zookeeper()',
        waitMs: LONG_WAIT_MS,
        run: (w: number) => ballotSeries(server, probe, opts.rounds, w),
      },
      {
        name: curatorName,
        waitMs: LONG_WAIT_MS,
        run: (w: number) => curatorSeries(server, curatorRounds, w),
      },
    ];
    const measured: Record<string, Result> = {};
    for (const s of series) {
      const { durations, closes } = await s.run(s.waitMs);
      const row = seriesRow(
        SCENARIO,
        `${s.name}, waiter waited ${s.waitMs} ms`,
        durations,
        { put, idle },
        closes ? { 'leader’s close() returned, p50 (ms)': ms(summarize(closes).p50) } : {},
      );
      measured[`${s.name}@${s.waitMs}`] = row;
      results.push(row);
    }
    const ballot = measured[`ballot zookeeper()@${SHORT_WAIT_MS}`];
    const peer = measured[`${curatorName}@${SHORT_WAIT_MS}`];
    const targets: TargetCheck[] = [];
    if (ballot && peer) {
      const ratio = ballot.p50 / idle.p50;
      targets.push(
        {
          scenario: 'zk 1',
          target: 'ballot handover p50 on ZooKeeper ≤ Curator LeaderLatch’s',
          measured: `${ms(ballot.p50)} ms vs Curator ${ms(peer.p50)} ms (${(ballot.p50 / peer.p50).toFixed(2)}×)`,
          met: ballot.p50 <= peer.p50,
        },
        {
          scenario: 'zk 1',
          target: `ballot handover p50 on ZooKeeper ≤ ${TARGET_RATIO} × the idle create floor`,
          measured: `${ms(ballot.p50)} ms = ${ratio.toFixed(2)}× the create after ${SHORT_WAIT_MS} ms idle (${ms(idle.p50)} ms), ${(ballot.p50 / put.p50).toFixed(2)}× back to back (${ms(put.p50)} ms)`,
          met: ratio <= TARGET_RATIO,
          why:
            ratio <= TARGET_RATIO
              ? undefined
              : 'a handover is the leader’s delete (one round trip, as the floor) plus the watch event reaching the waiter’s session and the waiter’s read before it leads: a second client wakes up and a second round trip follows, which the floor does not pay',
        },
      );
    }
    return { results, targets };
  });
}

/** Handover samples (ms) of two ballot candidates, one zookeeper() backend and session each. */
async function ballotSeries(
  server: ZookeeperServer,
  probe: ZkProbe,
  rounds: number,
  waitMs: number,
): Promise<Series> {
  const open = async (): Promise<Contest> => {
    const opened: Backend[] = [];
    try {
      const candidate = async (value: string): Promise<Candidate> => {
        const backend = zookeeper({ connect: server.connect, env: {} });
        opened.push(backend);
        return ballotCandidate(await backend.session({ ttl: SESSION_TTL }), BALLOT_PATH, value);
      };
      return {
        candidates: [await candidate('a'), await candidate('b')],
        close: async () => void (await Promise.allSettled(opened.map((b) => b.close()))),
      };
    } catch (err) {
      await Promise.allSettled(opened.map((b) => b.close()));
      throw err;
    }
  };
  return {
    durations: await handovers(open, () => probe.children(BALLOT_PATH, 2, ROUND_TIMEOUT_MS), rounds, waitMs),
  };
}

/**
 * Handover samples (ms) of Curator LeaderLatches: the leader closes, a new JVM is the next waiter.
 * The end is the waiter's own nanoTime stamp, so its stdout pipe is not in the sample.
 */
async function curatorSeries(server: ZookeeperServer, rounds: number, waitMs: number): Promise<Series> {
  const live = new Set<CuratorProcess>();
  let n = 0;
  const start = async (): Promise<CuratorProcess> => {
    const proc = await startCurator({
      connect: server.connect,
      kind: 'latch',
      path: CURATOR_PATH,
      id: `c${n++}`,
    });
    live.add(proc);
    return proc;
  };
  try {
    let leader = await start();
    await leader.waitFor((e) => e.event === 'isLeader');
    const durations: number[] = [];
    const closes: number[] = [];
    for (let i = 0; i < HANDOVER_WARMUP + rounds; i++) {
      const waiter = await start();
      await sleep(waitMs);
      const from = waiter.lines.length;
      const t0 = process.hrtime.bigint();
      leader.send('close');
      const elected = await withTimeout(
        waiter.waitFor((e) => e.event === 'isLeader', { from, timeoutMs: ROUND_TIMEOUT_MS }),
        `Curator handover round ${i}`,
      );
      const closed = await leader.waitFor((e) => e.event === 'closed', { timeoutMs: ROUND_TIMEOUT_MS });
      if (i >= HANDOVER_WARMUP) {
        durations.push(Number(elected.t - t0) / 1e6);
        closes.push(Number(closed.t - t0) / 1e6);
      }
      await leader.exited;
      live.delete(leader);
      leader = waiter;
    }
    return { durations, closes };
  } finally {
    await Promise.allSettled([...live].map((p) => p.close()));
  }
}
