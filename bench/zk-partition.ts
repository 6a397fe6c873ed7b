/**
 * ZooKeeper partition step-down: cut the leader off from the server with a blackholing TCP proxy and
 * compare when the old leader was told its term ended with when the waiter's term began, for ballot
 * and for Curator's LeaderLatch; and when, from the cut, each steps down, against the session timeout
 * (issue 13). Positive overlap means two leaders at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startCurator, type CuratorEvent, type CuratorProcess } from '../test/fixtures/curator.js';
import { startFaultProxy } from '../test/fixtures/fault-proxy.js';
import { spawnWorker, type JsonObject, type Worker } from '../test/fixtures/processes.js';
import type { ZookeeperServer } from '../test/fixtures/zookeeper.js';
import { now } from './candidates.js';
import {
  ms,
  seconds,
  type Fact,
  type Outcome,
  type Result,
  type RunOptions,
  type TargetCheck,
} from './report.js';
import { summarize } from './stats.js';
import { ZK_FIXTURE_NOTE, curatorVersion, withZkServer, type ZkProbe } from './zk-common.js';

const SCENARIO = 'zk partition';
/** Session timeout asked for by both libraries, seconds. */
const TTL = 4;
const WORKER = fileURLToPath(new URL('./workers/zk-candidate.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
// After its node appears a waiter still sets up its watch; the random part below puts the cut anywhere
// in the leader's renewal (ballot) and ping (Curator) cycle, both a third of the timeout.
const SETTLE_MS = 300;
/** How long to wait, from the cut, for the waiter to lead and for the old leader to say it lost. */
const CAP_MS = TTL * 3000 + 10_000;
const CURATOR = `Curator ${curatorVersion()} LeaderLatch`;

/** What the ZooKeeper partition tables measure and how to read them, for docs/benchmarks.md. */
export const ZK_PARTITION_METHOD = `
As the etcd partition step-down above, on one fresh ZooKeeper (${ZK_FIXTURE_NOTE}). Each trial starts
two candidates on an election path of its own: the leader reaches the server through a TCP proxy of
its own (test/fixtures/fault-proxy.ts), the waiter connects directly. Once the waiter's node exists
(plus ${SETTLE_MS} ms and a random part of a third of the timeout, so the cut falls anywhere in the leader's
renewal cycle) the bench blackholes the proxy: the connection stays open, nothing passes either way,
and new connections through it are accepted and stalled. ZooKeeper expires the leader's session a
session timeout after it last heard from it, deletes its node, and the waiter leads. Both libraries
ask for a ${TTL} s session timeout; "T" is the timeout the server granted.

ballot: each candidate is a Node.js process (bench/workers/zk-candidate.ts, \`zookeeper()\` with library
defaults); **told** is when the old leader's \`term.signal\` abort listener ran, **began** the waiter's
\`term.startedAt\`. Curator: each candidate is a \`CuratorCandidate\` JVM (test/fixtures/curator) with
Curator's defaults apart from the timeout, a connection timeout of min(T, 5 s) and a fast retry
policy, so its \`ConnectionStateErrorPolicy\`
is the Standard one, under which a LeaderLatch gives up leadership at SUSPENDED; **told** is when the
old leader entered \`notLeader()\`, **began** when the waiter entered \`isLeader()\`, both stamped in the
JVM by \`System.nanoTime()\`, the same CLOCK_MONOTONIC as the bench's \`process.hrtime\`. SUSPENDED and LOST
are the times the old leader's \`ConnectionStateListener\` was called with them. **Overlap** = told −
began: negative is a gap, positive two leaders.

The second table gives the step-down times from the cut, against T. ballot's session deadline is the
send time of its last answered request (a renewal every T/3) + T − margin (1% of T, at least 100 ms),
so it steps down between about 2/3 T and T after the cut, before the server can expire the session.
Curator's ZooKeeper client declares the connection lost when nothing has arrived for 2/3 T (its pings
go every T/3 when idle), which Curator reports as SUSPENDED: between about 1/3 T and 2/3 T after the
cut. Curator then declares the session LOST a further T after SUSPENDED (its
\`sessionExpirationPercent\`, 100 by default), by which time the server has long expired it.
`;

/** One trial; times in ms on CLOCK_MONOTONIC. */
interface Trial {
  faultAt: number;
  /** When the waiter's term began; NaN when it did not lead within the cap. */
  electedAt: number;
  /** The session timeout the server granted the old leader, ms. */
  timeoutMs: number;
  /** When the old leader's code was told it no longer leads; undefined: never within the cap. */
  toldAt?: number;
  /** ballot: its `ended` (reason) and the deadline it was dated at. */
  reason?: string;
  endedAt?: number;
  /** Curator: when its connection state went SUSPENDED and LOST. */
  suspendedAt?: number;
  lostAt?: number;
}

/** A running candidate of either library. */
interface Running {
  /** Resolves with when it began to lead (ms), or rejects after timeoutMs. */
  led(timeoutMs: number): Promise<number>;
  /** The granted session timeout, ms. */
  timeoutMs(): number;
  /** What the old leader said after the cut at `faultAt`, waiting for it up to CAP_MS from the cut. */
  stepDown(faultAt: number): Promise<Omit<Trial, 'faultAt' | 'electedAt' | 'timeoutMs'>>;
  /** Kills the process without a word to the server. */
  kill(): Promise<void>;
}

/** How one library's candidates are started. */
interface Library {
  label: string;
  /** Path prefix; each trial appends its number. */
  path: string;
  start(connect: string, path: string, id: string): Promise<Running>;
}

/** Runs the ZooKeeper partition scenario on a fresh server. */
export async function zkPartitionScenario(opts: RunOptions): Promise<Outcome> {
  return withZkServer(async (server, probe) => {
    const ballot: Library = {
      label: `ballot zookeeper(), session timeout ${TTL} s`,
      path: '/bench/zk-partition/ballot-',
      start: (connect, path, id) => Promise.resolve(ballotCandidate(connect, path, id)),
    };
    const curator: Library = {
      label: `${CURATOR}, session timeout ${TTL} s, default error policy (Standard)`,
      path: '/bench/zk-partition/curator-',
      start: curatorCandidate,
    };
    // Both chains at once, as on etcd: the JVMs and node processes start while the others wait.
    const [ours, theirs] = await Promise.all([
      trials(server, probe, ballot, opts.quick ? 3 : 10),
      trials(server, probe, curator, opts.quick ? 2 : 5),
    ]);
    const results = [partitionRow(ballot.label, ours), partitionRow(curator.label, theirs)];
    const overlaps = ours.map(overlap);
    const gaps = overlaps.filter((o) => o < 0).length;
    const targets: TargetCheck[] = [
      {
        scenario: 'zk 3',
        target: 'ballot on ZooKeeper: old leader told before the new one begins (overlap < 0) in every trial',
        measured: `gap in ${gaps} of ${ours.length} trials; overlap p50 ${ms(summarize(overlaps).p50)} ms, max ${ms(Math.max(...overlaps))} ms (Curator: p50 ${ms(summarize(theirs.map(overlap)).p50)} ms)`,
        met: ours.length > 0 && gaps === ours.length,
        why:
          gaps === ours.length
            ? 'the deadline (send time of the last answered request + T − margin) passes before the server’s expiry (T after it last heard from the client)'
            : 'an old leader was told after the new term began',
      },
    ];
    return { results, facts: stepDownFacts(ours, theirs), targets };
  });
}

/** `count` trials of one library, one after another, each on a fresh pair of processes and path. */
async function trials(
  server: ZookeeperServer,
  probe: ZkProbe,
  library: Library,
  count: number,
): Promise<Trial[]> {
  const done: Trial[] = [];
  for (let i = 0; i < count; i++) {
    const path = `${library.path}${i}`;
    const proxy = await startFaultProxy(server.connect);
    const live: Running[] = [];
    try {
      const leader = await library.start(proxy.endpoint, path, `leader-${i}`);
      live.push(leader);
      await leader.led(START_TIMEOUT_MS);
      const waiter = await library.start(server.connect, path, `waiter-${i}`);
      live.push(waiter);
      await probe.children(path, 2, START_TIMEOUT_MS);
      await sleep(SETTLE_MS + (Math.random() * leader.timeoutMs()) / 3);
      const faultAt = now();
      proxy.blackhole();
      const electedAt = await waiter.led(CAP_MS).catch(() => Number.NaN);
      done.push({
        faultAt,
        electedAt,
        timeoutMs: leader.timeoutMs(),
        ...(await leader.stepDown(faultAt)),
      });
    } finally {
      await Promise.all(live.map((c) => c.kill()));
      await proxy.close();
    }
  }
  return done;
}

/** A ballot candidate process; its JSON lines are runCandidate()'s (bench/workers/protocol.ts). */
function ballotCandidate(connect: string, path: string, value: string): Running {
  const worker: Worker = spawnWorker(WORKER, [], {
    CONNECT: connect,
    ELECTION: path,
    VALUE: value,
    TTL: String(TTL),
  });
  const event = (name: string) => (m: JsonObject) => m['event'] === name;
  return {
    led: async (timeoutMs) => Number((await worker.waitFor(event('elected'), timeoutMs))['at']),
    timeoutMs: () => Number(worker.messages.find(event('lease'))?.['ttl']) * 1000,
    async stepDown(faultAt) {
      const ended = await worker
        .waitFor(event('ended'), Math.max(1, faultAt + CAP_MS - now()))
        .catch(() => undefined);
      if (!ended) return {};
      return {
        toldAt: Number(ended['noticedAt']),
        endedAt: ended['at'] === null ? undefined : Number(ended['at']),
        reason: String(ended['reason']),
      };
    },
    async kill() {
      worker.kill('SIGKILL');
      await worker.exited;
    },
  };
}

/** A Curator LeaderLatch process; its events carry System.nanoTime() stamps. */
async function curatorCandidate(connect: string, path: string, id: string): Promise<Running> {
  const proc: CuratorProcess = await startCurator({
    connect,
    kind: 'latch',
    path,
    id,
    sessionTimeoutMs: TTL * 1000,
  });
  const at = (e: CuratorEvent | undefined) => (e ? Number(e.t) / 1e6 : undefined);
  const state = (name: string) => (e: CuratorEvent) => e.event === 'state' && e['state'] === name;
  // Only what the leader printed after the cut: a connection hiccup while starting is not the partition.
  const since = (faultAt: number, match: (e: CuratorEvent) => boolean) => (e: CuratorEvent) =>
    match(e) && Number(e.t) / 1e6 >= faultAt;
  return {
    led: async (timeoutMs) =>
      Number((await proc.waitFor((e) => e.event === 'isLeader', { timeoutMs })).t) / 1e6,
    timeoutMs: () => Number(proc.lines.find((e) => e.event === 'started')?.['sessionTimeoutMs']),
    async stepDown(faultAt) {
      // LOST comes last; by then SUSPENDED and notLeader() have long been printed.
      await proc
        .waitFor(since(faultAt, state('LOST')), { timeoutMs: Math.max(1, faultAt + CAP_MS - now()) })
        .catch(() => undefined);
      return {
        toldAt: at(proc.lines.find(since(faultAt, (e) => e.event === 'notLeader'))),
        reason: 'notLeader()',
        suspendedAt: at(proc.lines.find(since(faultAt, state('SUSPENDED')))),
        lostAt: at(proc.lines.find(since(faultAt, state('LOST')))),
      };
    },
    async kill() {
      proc.kill('SIGKILL');
      await proc.exited;
    },
  };
}

/** Old leader told − new leader began, ms; never told counts as +Infinity, no new leader as −Infinity. */
function overlap(trial: Trial): number {
  if (!Number.isFinite(trial.electedAt)) return Number.NEGATIVE_INFINITY;
  return trial.toldAt === undefined ? Number.POSITIVE_INFINITY : trial.toldAt - trial.electedAt;
}

function partitionRow(name: string, trials: Trial[]): Result {
  const told = trials.flatMap((t) => (t.toldAt === undefined ? [] : [t.toldAt - t.faultAt]));
  const began = trials.flatMap((t) => (Number.isFinite(t.electedAt) ? [t.electedAt - t.faultAt] : []));
  const twoLeaders = trials.filter((t) => overlap(t) > 0).length;
  const byDeadline = trials.flatMap((t) =>
    t.endedAt === undefined || !Number.isFinite(t.electedAt) ? [] : [t.endedAt - t.electedAt],
  );
  return {
    scenario: SCENARIO,
    name,
    ...summarize(trials.map(overlap)),
    extra: {
      'two leaders in': `${twoLeaders} of ${trials.length} trials`,
      'old leader told, after the cut (p50)': told.length > 0 ? seconds(summarize(told).p50) : 'never',
      'new leader began, after the cut (p50)': began.length > 0 ? seconds(summarize(began).p50) : 'never',
      'overlap by ended.at (max)': byDeadline.length > 0 ? `${ms(summarize(byDeadline).max)} ms` : '',
      'old leader was told': [...new Set(trials.flatMap((t) => t.reason ?? []))].join(', ') || 'nothing',
    },
    note:
      told.length < trials.length || began.length < trials.length
        ? `${trials.length - told.length} old leader(s) never told, ${trials.length - began.length} waiter(s) never led, within ${CAP_MS / 1000} s of the cut`
        : undefined,
  };
}

/**
 * Times from the cut (or from `since`), in seconds and in units of the granted session timeout T:
 * "p50 (min–max); p50 in T".
 */
function fromCut(
  trials: readonly Trial[],
  pick: (t: Trial) => number | undefined,
  since: (t: Trial) => number | undefined = (t) => t.faultAt,
): string {
  const spans = trials.flatMap((t) => {
    const [at, from] = [pick(t), since(t)];
    if (at === undefined || from === undefined || !Number.isFinite(at)) return [];
    return [{ ms: at - from, t: t.timeoutMs }];
  });
  if (spans.length === 0) return 'never';
  const values = spans.map((s) => s.ms);
  const inT = summarize(spans.map((s) => s.ms / s.t)).p50;
  return `${seconds(summarize(values).p50)} (${seconds(Math.min(...values))}–${seconds(Math.max(...values))}); ${inT.toFixed(2)} T`;
}

function stepDownFacts(ours: Trial[], theirs: Trial[]): Fact[] {
  const granted = (trials: Trial[]) => [...new Set(trials.map((t) => seconds(t.timeoutMs)))].join(', ');
  const n = (trials: Trial[]) => `${trials.length} trials, T = ${granted(trials)}`;
  return [
    {
      name: 'ballot: term ended (signal aborted), after the cut',
      value: fromCut(ours, (t) => t.toldAt),
      note: `${n(ours)}; the deadline: last answered request + T − margin`,
    },
    {
      name: 'ballot: waiter began, after the cut',
      value: fromCut(ours, (t) => t.electedAt),
      note: 'the server expired the session (T after it last heard from the leader) and deleted its node',
    },
    {
      name: `${CURATOR}: SUSPENDED, after the cut`,
      value: fromCut(theirs, (t) => t.suspendedAt),
      note: `${n(theirs)}; nothing received for 2/3 T`,
    },
    {
      name: `${CURATOR}: notLeader(), after the cut`,
      value: fromCut(theirs, (t) => t.toldAt),
      note: 'the Standard error policy gives up leadership at SUSPENDED',
    },
    {
      name: `${CURATOR}: LOST, after the cut`,
      value: fromCut(theirs, (t) => t.lostAt),
      note: `Curator’s own expiry: ${fromCut(
        theirs,
        (t) => t.lostAt,
        (t) => t.suspendedAt,
      )} after SUSPENDED`,
    },
    {
      name: `${CURATOR}: waiter began, after the cut`,
      value: fromCut(theirs, (t) => t.electedAt),
      note: 'as for ballot: the server’s expiry of the old session',
    },
  ];
}
