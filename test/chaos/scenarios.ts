/**
 * The fault scenarios of issue 4 (etcd), of issue 12 (PostgreSQL, named pg-*) and of issue 13
 * (ZooKeeper, named zk-*). Each takes its every choice (who, when, how long) from the
 * trial's seeded Rng, so a printed seed replays the schedule. A scenario only builds up the
 * situation and marks heal points; the runner then restores anything left broken, waits for the
 * trial to settle, stops everyone and hands the record to the checker.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Rng } from '../fixtures/rng.js';
import type { Trial } from './lab.js';
import type { Backend } from './protocol.js';

/** One scenario. */
export interface Scenario {
  name: string;
  /** One line for reports. */
  summary: string;
  run(trial: Trial, rng: Rng): Promise<void>;
}

/** Three candidates in line and the one that leads. */
async function threeInLine(trial: Trial, rng: Rng, order?: number[]) {
  const cands = await trial.joinEach(3, rng, order ? { order } : {});
  await trial.waitLine(3);
  const leader = await trial.waitLeader();
  // Strike at a random point of the leader's keepalive cycle (a third of the TTL; this spans more).
  await sleep(rng.int(0, Math.round((trial.lab.ttl * 1000) / 2)));
  return { cands, leader };
}

const leaderSigkill: Scenario = {
  name: 'leader-sigkill',
  summary: 'the leader process is killed with SIGKILL; the next candidate leads after the TTL',
  async run(trial, rng) {
    const { leader } = await threeInLine(trial, rng);
    trial.trigger('leader SIGKILL', leader.cand);
    await trial.kill(leader.cand);
    trial.healed('leader killed');
    await trial.waitLeader({ exclude: [leader.cand], what: 'no new leader after SIGKILL' });
    await sleep(rng.int(0, 300));
  },
};

const leaderSigstop: Scenario = {
  name: 'leader-sigstop',
  summary: 'the leader is frozen with SIGSTOP (mostly for longer than the TTL), then continued',
  async run(trial, rng) {
    const { leader } = await threeInLine(trial, rng);
    const ttlMs = trial.lab.ttl * 1000;
    // Mostly past the TTL, sometimes just under it, where the leader may keep its term.
    const pauseMs = rng.chance(0.8) ? rng.int(ttlMs + 200, ttlMs + 2_000) : rng.int(200, ttlMs);
    trial.trigger('leader SIGSTOP', leader.cand);
    trial.pause(leader.cand);
    trial.healed('leader frozen', [leader.cand]);
    await sleep(pauseMs);
    trial.resume(leader.cand);
    trial.healed('leader continued');
    await sleep(rng.int(0, 500));
  },
};

const leaderPartition: Scenario = {
  name: 'leader-partition',
  summary:
    'the leader is cut off from every etcd member, then the partition heals (sometimes its link is only slowed down)',
  async run(trial, rng) {
    const { leader } = await threeInLine(trial, rng);
    const ttlMs = trial.lab.ttl * 1000;
    if (rng.chance(0.2)) {
      // A slow link rather than a cut one: round trips stay under the call timeout, so the leader
      // may keep its term, but every keepalive and guarded write is late.
      const delayMs = rng.int(100, Math.floor(trial.lab.callTimeout / 2.5));
      trial.slow(leader.cand, delayMs);
      await sleep(rng.int(500, ttlMs + 1_000));
      trial.slow(leader.cand, 0);
      trial.healed('leader link fast again');
      return;
    }
    const partitionMs = rng.chance(0.8) ? rng.int(ttlMs, ttlMs + 2_000) : rng.int(200, ttlMs);
    const deliverStalled = rng.chance(0.5);
    trial.trigger('leader partitioned', leader.cand);
    trial.partition(leader.cand);
    trial.healed('leader partitioned', [leader.cand]);
    const cutAt = Date.now();
    if (rng.chance(0.25)) {
      // Stopping while cut off: resign and revoke cannot get through, yet stop() must return.
      await sleep(rng.int(0, partitionMs));
      await trial.stop(leader.cand);
    }
    await sleep(Math.max(0, cutAt + partitionMs - Date.now()));
    trial.heal(leader.cand, deliverStalled);
    trial.healed('partition healed');
    await sleep(rng.int(0, 500));
  },
};

const followerPartitionResign: Scenario = {
  name: 'follower-partition-resign',
  summary: 'the next candidate in line is partitioned, then the leader resigns',
  async run(trial, rng) {
    const { leader } = await threeInLine(trial, rng);
    const follower = (await trial.lineOwners())[1];
    if (!follower) throw new Error('no follower in line');
    const ttlMs = trial.lab.ttl * 1000;
    const partitionMs = rng.int(200, ttlMs + 1_500);
    const resignAfterMs = rng.int(0, Math.min(300, partitionMs - 100));
    const deliverStalled = rng.chance(0.5);
    trial.partition(follower);
    await sleep(resignAfterMs);
    trial.trigger('resign, next in line partitioned', leader.cand);
    // The partitioned follower is next in line: either its lease runs out and the third
    // candidate leads, or the partition heals first and the follower leads.
    trial.healed('leader resigning while the follower is partitioned');
    await trial.concede(leader.cand);
    await sleep(Math.max(0, partitionMs - resignAfterMs));
    trial.heal(follower, deliverStalled);
    trial.healed('follower healed');
    await sleep(rng.int(0, 500));
  },
};

const raftLeaderKilledDuringHandover: Scenario = {
  name: 'raft-leader-killed-during-handover',
  summary: 'the etcd raft leader is killed while the election leader resigns, then restarted',
  async run(trial, rng) {
    const { leader } = await threeInLine(trial, rng);
    const member = await trial.raftLeader();
    // Kill shortly before, at, or after the resign is sent.
    const offsetMs = rng.int(-30, 60);
    const consensus = trial.lab.backend === 'zookeeper' ? 'ensemble leader' : 'raft leader';
    trial.trigger(`resign while the ${consensus} dies`, leader.cand);
    if (offsetMs < 0) {
      await trial.killMember(member);
      await sleep(-offsetMs);
      await trial.concede(leader.cand);
    } else {
      const conceding = trial.concede(leader.cand);
      await sleep(offsetMs);
      await trial.killMember(member);
      await conceding;
    }
    await trial.raftLeader();
    trial.healed('a new raft leader is elected');
    await sleep(rng.int(200, 1_500));
    await trial.restartMember(member);
    trial.healed('the killed member is back');
  },
};

const clusterRestart: Scenario = {
  name: 'cluster-restart',
  summary: 'every etcd member is restarted at once while a leader holds its term',
  async run(trial, rng) {
    const { leader } = await threeInLine(trial, rng);
    const restarting = trial.restartCluster();
    if (rng.chance(0.4)) {
      // A resign while etcd is down must fail without losing state, and be retried or superseded.
      await sleep(rng.int(0, 300));
      trial.trigger('resign while etcd restarts', leader.cand);
      await trial.concede(leader.cand);
    }
    await restarting;
    trial.healed('etcd cluster back');
    await sleep(rng.int(0, 500));
  },
};

const compactionDuringObserve: Scenario = {
  name: 'compaction-during-observe',
  summary: 'a partitioned candidate misses leader changes that are then compacted away, and reconnects',
  async run(trial, rng) {
    const { leader } = await threeInLine(trial, rng);
    // The last in line, so leadership can still change while it is away.
    const victim = (await trial.lineOwners())[2];
    if (!victim) throw new Error('no third candidate in line');
    const deliverStalled = rng.chance(0.5);
    trial.partition(victim);
    const changes = rng.int(1, 2);
    let current = leader;
    for (let i = 0; i < changes; i++) {
      trial.trigger('resign, last in line partitioned', current.cand);
      await trial.concede(current.cand);
      const next = await trial.waitLeader({ above: current.token, timeoutMs: 1_500 }).catch(() => undefined);
      if (!next) break; // the victim was next in line: nobody can lead until it is back
      current = next;
    }
    await trial.compact();
    await sleep(rng.int(0, 300));
    trial.heal(victim, deliverStalled);
    trial.healed('partitioned candidate reconnected after compaction');
  },
};

const endpointFailover: Scenario = {
  name: 'endpoint-failover',
  summary: 'the etcd member every client is connected to dies; clients fail over to the others',
  async run(trial, rng) {
    const raft = await trial.raftLeader();
    const members = Array.from({ length: trial.lab.members }, (_, i) => i);
    const victim = rng.chance(0.5) ? raft : rng.pick(members.filter((i) => i !== raft));
    const order = [victim, ...rng.shuffle(members.filter((i) => i !== victim))];
    const { leader } = await threeInLine(trial, rng, order);
    await trial.killMember(victim);
    await trial.raftLeader();
    trial.healed('remaining members have a raft leader');
    await sleep(rng.int(300, 2_000));
    if (rng.chance(0.5)) {
      const now = trial.currentLeader() ?? leader;
      trial.trigger('resign after failover', now.cand);
      await trial.concede(now.cand);
    }
    await trial.restartMember(victim);
    trial.healed('the killed member is back');
  },
};

/**
 * Freezes etcd member `member` for `pauseMs`, and half the time has the election leader resign
 * meanwhile (its resign may go to the frozen member and wait for a failover); then continues it.
 */
async function freezeMember(
  trial: Trial,
  rng: Rng,
  member: number,
  raftLeader: boolean,
  pauseMs: number,
  leader: string,
): Promise<void> {
  const role = raftLeader ? 'raft leader' : 'follower member';
  await trial.pauseMember(member, raftLeader);
  const pausedAt = Date.now();
  // From here a leader must exist within TTL + 2 s: one member down is a fault etcd tolerates.
  trial.healed(`etcd ${role} frozen`);
  let conceding: Promise<void> | undefined;
  if (rng.chance(0.5)) {
    await sleep(rng.int(0, Math.min(pauseMs - 100, 1_500)));
    trial.trigger(`resign while the ${role} is frozen`, leader);
    conceding = trial.concede(leader);
  }
  await sleep(Math.max(0, pausedAt + pauseMs - Date.now()));
  trial.resumeMember(member);
  trial.healed(`etcd ${role} continued`);
  await conceding;
  // Long enough for a stale raft leader's revokes (etcd bug #15247) to land and be noticed.
  await sleep(rng.int(300, 1_500));
}

const raftLeaderPaused: Scenario = {
  name: 'raft-leader-paused',
  summary:
    'the etcd raft leader is frozen with SIGSTOP past the election timeout (mostly past the TTL too), idle or while ' +
    'the election leader resigns, then continued; etcd without the fix of bug #15247 may then revoke live leases',
  async run(trial, rng) {
    const { leader } = await threeInLine(trial, rng);
    const member = await trial.raftLeader();
    const ttlMs = trial.lab.ttl * 1000;
    // Always past the election timeout (500 ms), so another member takes over; mostly past the
    // TTL, so to the frozen leader every lease looks expired when it runs again.
    const pauseMs = rng.chance(0.7) ? rng.int(ttlMs + 200, ttlMs + 2_000) : rng.int(700, ttlMs);
    await freezeMember(trial, rng, member, true, pauseMs, leader.cand);
  },
};

const followerMemberPaused: Scenario = {
  name: 'follower-member-paused',
  summary:
    'an etcd follower member that candidates talk to (first in every endpoint list half the time) is frozen with ' +
    'SIGSTOP, idle or while the election leader resigns, then continued',
  async run(trial, rng) {
    const raft = await trial.raftLeader();
    const members = Array.from({ length: trial.lab.members }, (_, i) => i);
    const victim = rng.pick(members.filter((i) => i !== raft));
    const order = rng.chance(0.5) ? [victim, ...rng.shuffle(members.filter((i) => i !== victim))] : undefined;
    const { leader } = await threeInLine(trial, rng, order);
    const ttlMs = trial.lab.ttl * 1000;
    const pauseMs = rng.int(500, ttlMs + 2_000);
    // The raft leader may have moved meanwhile: then the victim is the raft leader after all.
    const current = await trial.raftLeader();
    await freezeMember(trial, rng, victim, current === victim, pauseMs, leader.cand);
  },
};

/** `total` candidates join at once, leadership changes a few times, then all leave at once. */
function burstOf(total: number): Scenario {
  return {
    name: `burst-${total}`,
    summary: `${total} candidates join at once, leadership changes a few times, then all ${total} leave at once`,
    run: (trial, rng) => runBurst(trial, rng, total),
  };
}

async function runBurst(trial: Trial, rng: Rng, total: number): Promise<void> {
  const slots = trial.lab.size;
  const joins: Promise<void>[] = [];
  for (let s = 0; s < slots; s++) {
    const cands = [];
    for (let i = s; i < total; i += slots) cands.push(trial.cast(`b${i}`, i, rng));
    joins.push(trial.join(s, cands, { rng }));
  }
  trial.healed(`${total} candidates joining`);
  await Promise.all(joins);
  let current = await trial.waitLeader();
  await trial.waitLine(total, 30_000);
  trial.mark(`all ${total} in line`);
  const changes = rng.int(2, 4);
  for (let i = 0; i < changes; i++) {
    await sleep(rng.int(0, 200));
    trial.trigger(`resign among ${total} candidates`, current.cand);
    await trial.concede(current.cand);
    current = await trial.waitLeader({ above: current.token, what: 'no leader after a resign' });
  }
}

/** A scenario run against another backend, under a name (`pg-...`, `zk-...`) and summary of its own. */
function onBackend(
  prefix: 'pg' | 'zk',
  scenario: Scenario,
  summary = scenario.summary,
  name = scenario.name,
): Scenario {
  return { ...scenario, name: `${prefix}-${name}`, summary };
}

/** The etcd scenario on PostgreSQL. */
function onPostgres(scenario: Scenario, summary?: string): Scenario {
  return onBackend('pg', scenario, summary);
}

/** The etcd scenario on ZooKeeper, under ZooKeeper's words where etcd's would mislead. */
function onZookeeper(scenario: Scenario, summary?: string, name?: string): Scenario {
  return onBackend('zk', scenario, summary, name);
}

const serverPause: Scenario = {
  name: 'pg-server-pause',
  summary:
    'every PostgreSQL process is frozen with SIGSTOP (mostly past the TTL), sometimes with a resign sent meanwhile, then continued',
  async run(trial, rng) {
    const { leader } = await threeInLine(trial, rng);
    const ttlMs = trial.lab.ttl * 1000;
    // Past the TTL the leader must stop on its own deadline; under it, it may keep its term.
    const pauseMs = rng.chance(0.8) ? rng.int(ttlMs + 200, ttlMs + 2_000) : rng.int(200, ttlMs);
    trial.trigger('server SIGSTOP', leader.cand);
    await trial.pauseServer();
    const frozenAt = Date.now();
    let conceding: Promise<void> | undefined;
    if (rng.chance(0.3)) {
      // A resign that cannot reach the server: it must fail or wait, and never leave two leaders.
      await sleep(rng.int(0, pauseMs));
      conceding = trial.concede(leader.cand);
    }
    await sleep(Math.max(0, frozenAt + pauseMs - Date.now()));
    trial.resumeServer();
    trial.healed('PostgreSQL continued');
    await conceding;
    await sleep(rng.int(0, 500));
  },
};

const serverRestart: Scenario = {
  name: 'pg-server-restart',
  summary:
    'PostgreSQL is shut down (fast or immediate, at random) and started again while a leader holds its term',
  async run(trial, rng) {
    const { leader } = await threeInLine(trial, rng);
    const mode = rng.chance(0.5) ? 'fast' : 'immediate';
    const restarting = trial.restartServer(mode);
    if (rng.chance(0.4)) {
      await sleep(rng.int(0, 300));
      trial.trigger(`resign while PostgreSQL restarts (${mode})`, leader.cand);
      await trial.concede(leader.cand);
    }
    await restarting;
    trial.healed(`PostgreSQL back after a ${mode} shutdown`);
    await sleep(rng.int(0, 500));
  },
};

const backendTerminate: Scenario = {
  name: 'pg-backend-terminate',
  summary:
    "pg_terminate_backend on every connection (pool and LISTEN) of the leader or of the next in line, 1-3 times, sometimes followed by the leader's resign",
  async run(trial, rng) {
    const { leader } = await threeInLine(trial, rng);
    const next = (await trial.lineOwners())[1];
    const victim = rng.chance(0.5) || !next ? leader.cand : next;
    const times = rng.int(1, 3);
    for (let i = 0; i < times; i++) {
      const n = await trial.terminateBackends(victim);
      // The first round must hit something, or the fault was never injected.
      if (i === 0 && n === 0) throw new Error(`no connection of ${victim} to terminate`);
      await sleep(rng.int(0, 400));
    }
    trial.healed(`connections of ${victim} terminated`);
    if (rng.chance(0.5)) {
      // A waiter whose LISTEN connection was cut must still take over (its timer, a re-LISTEN).
      const now = trial.currentLeader() ?? leader;
      trial.trigger('resign after a candidate lost its connections', now.cand);
      await trial.concede(now.cand);
    }
    await sleep(rng.int(0, 500));
  },
};

const resignChurn: Scenario = {
  name: 'resign-churn',
  summary: 'leaders resign and campaign again 3-6 times in a row, the next resign soon after each handover',
  async run(trial, rng) {
    let { leader: current } = await threeInLine(trial, rng);
    trial.healed('churn begins');
    const changes = rng.int(3, 6);
    for (let i = 0; i < changes; i++) {
      await sleep(rng.int(0, 150));
      trial.trigger('resign (churn)', current.cand);
      await trial.concede(current.cand);
      current = await trial.waitLeader({ above: current.token, what: 'no leader after a resign' });
    }
  },
};

/** The PostgreSQL scenarios: server faults, connection kills, candidate faults, churn. */
export const PG_SCENARIOS: readonly Scenario[] = [
  serverPause,
  serverRestart,
  backendTerminate,
  onPostgres(
    leaderSigstop,
    'the leader process is frozen with SIGSTOP (mostly past the TTL), keeping its connections, then continued',
  ),
  onPostgres(
    leaderSigkill,
    'the leader process is killed with SIGKILL; the next candidate leads after the TTL',
  ),
  onPostgres(
    leaderPartition,
    "the leader's link to PostgreSQL (its own TCP proxy) is blackholed or slowed, then healed",
  ),
  onPostgres(resignChurn),
];

/** The ZooKeeper scenarios: candidate faults, ensemble faults, a burst, churn. */
export const ZK_SCENARIOS: readonly Scenario[] = [
  onZookeeper(
    leaderSigkill,
    'the leader process is killed with SIGKILL; the next candidate leads once its session expires',
  ),
  onZookeeper(
    leaderSigstop,
    'the leader process is frozen with SIGSTOP (mostly past the session timeout), keeping its connection, then continued',
  ),
  onZookeeper(
    leaderPartition,
    "the leader's connection is made half-open: its proxies blackhole both ways without closing (node-zookeeper-client " +
      'never notices by itself), or, 1 time in 5, only slowed down; then healed',
  ),
  onZookeeper(
    endpointFailover,
    'the ZooKeeper server every candidate connects to first (the ensemble leader half the time) is killed; sessions move ' +
      'to the other servers; then it is restarted',
    'server-failover',
  ),
  onZookeeper(
    raftLeaderKilledDuringHandover,
    'the ensemble leader (found with `srvr`) is killed while the election leader resigns, then restarted',
    'ensemble-leader-killed-during-handover',
  ),
  onZookeeper(followerPartitionResign),
  onZookeeper(burstOf(40)),
  onZookeeper(resignChurn),
];

/** Every scenario, in the order of the issue. */
export const SCENARIOS: readonly Scenario[] = [
  leaderSigkill,
  leaderSigstop,
  leaderPartition,
  followerPartitionResign,
  raftLeaderKilledDuringHandover,
  clusterRestart,
  compactionDuringObserve,
  endpointFailover,
  raftLeaderPaused,
  followerMemberPaused,
  burstOf(200),
];

const BY_BACKEND: Record<Backend, readonly Scenario[]> = {
  etcd: SCENARIOS,
  postgres: PG_SCENARIOS,
  zookeeper: ZK_SCENARIOS,
};

/** The scenarios of one backend. */
export function scenariosFor(backend: Backend): readonly Scenario[] {
  return BY_BACKEND[backend];
}

/** Which backend a scenario runs on (PostgreSQL scenarios are named pg-*, ZooKeeper ones zk-*). */
export function backendOf(scenario: string): Backend {
  if (PG_SCENARIOS.some((s) => s.name === scenario)) return 'postgres';
  return ZK_SCENARIOS.some((s) => s.name === scenario) ? 'zookeeper' : 'etcd';
}

/** Looks a scenario up by name, among every backend's scenarios. */
export function scenarioNamed(name: string): Scenario {
  const all = Object.values(BY_BACKEND).flat();
  const found = all.find((s) => s.name === name);
  if (!found) throw new Error(`no scenario "${name}"; known: ${all.map((s) => s.name).join(', ')}`);
  return found;
}
