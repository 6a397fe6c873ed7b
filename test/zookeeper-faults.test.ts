import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { zookeeper, type Backend, type ZkTxn } from '../src/index.js';
import {
  assertAlive,
  assertNoOverlap,
  closesByItself,
  pauseLeaderPastTtl,
  settledSpans,
  spans,
} from './fault-checks.js';
import { startFaultProxy, type FaultProxy } from './fixtures/fault-proxy.js';
import { spawnWorker, type JsonObject, type Worker } from './fixtures/processes.js';
import {
  startZookeeper,
  startZookeeperEnsemble,
  type ZookeeperEnsemble,
  type ZookeeperServer,
} from './fixtures/zookeeper.js';
import { eventually, sleep, within } from './helpers.js';

const CANDIDATE = fileURLToPath(new URL('./workers/zk-candidate.ts', import.meta.url));
/** Generous bounds on waits, never targets. */
const ELECTED_WITHIN = 15_000;
const now = () => Number(process.hrtime.bigint()) / 1e6;
const isEnded = (m: JsonObject) => m['event'] === 'ended';
const isElected = (m: JsonObject) => m['event'] === 'elected';

/**
 * Candidate processes on one ZooKeeper (a server or an ensemble, named by `target`), each with a
 * session timeout of `ttl` seconds, and the checks the fault tests share. Elections are znode
 * paths, as a Curator LeaderLatch names them.
 */
function faultLab(target: () => string, ttl: number) {
  const ttlMs = ttl * 1000;
  const workers: Worker[] = [];
  const proxies: FaultProxy[] = [];
  let operator: Backend<ZkTxn> | undefined;
  let run = 0;

  const elected = (w: Worker, since = 0) =>
    w.waitFor(isElected, ELECTED_WITHIN, { since }).catch((err: Error) => {
      throw new Error(`${err.message}\nits last messages: ${JSON.stringify(w.messages.slice(-10))}`);
    });
  const lab = {
    ttlMs,
    /** A takeover must come within a few session timeouts. */
    takeoverWithin: ttlMs * 3 + 3_000,
    /** A backend of the test's own, for reading what the server holds. */
    operator(): Backend<ZkTxn> {
      operator ??= zookeeper({ connect: target(), callTimeout: 2_000, env: {} });
      return operator;
    },
    newElection: (what: string) => `/faults/${what}-${process.pid}-${++run}/leader`,
    /** The key a candidate's late guard would write (under /ballot-kv). */
    writeKey: (election: string) => `written${election.replace(/\//g, '_')}`,
    /** A candidate process; `connect` overrides the target; LOOP: campaign again after each term. */
    spawn(election: string, value: string, opts: { connect?: string; loop?: boolean } = {}): Worker {
      const worker = spawnWorker(CANDIDATE, [], {
        CONNECT: opts.connect ?? target(),
        ELECTION: election,
        VALUE: value,
        TTL: String(ttl),
        LOOP: opts.loop ? '1' : '0',
        WRITE_KEY: lab.writeKey(election),
      });
      workers.push(worker);
      return worker;
    },
    /** A fault proxy in front of the target, closed with the lab. */
    async proxy(): Promise<FaultProxy> {
      const proxy = await startFaultProxy(target());
      proxies.push(proxy);
      return proxy;
    },
    elected,
    /** The values in the election's line, as the server holds it. */
    line: async (election: string) => (await lab.operator().participants(election)).map((p) => p.value),
    queued: (election: string, n: number) =>
      eventually(
        async () => (await lab.line(election)).length === n,
        10_000,
        `${n} candidates in ${election}`,
      ),
    /** A new election with candidate a leading and candidate b queued behind it. */
    async leaderAndWaiter(what: string, loop = false) {
      const election = lab.newElection(what);
      const a = lab.spawn(election, 'a', { loop });
      const aElected = await elected(a);
      const b = lab.spawn(election, 'b', { loop });
      await lab.queued(election, 2);
      return { election, a, aElected, b };
    },
    /** What the worker believes now: leading or not, and with which token. */
    async status(w: Worker): Promise<JsonObject> {
      const since = w.messages.length;
      w.send({ cmd: 'status' });
      return w.waitFor((m) => m['event'] === 'status', 5_000, { since });
    },
    /** The first session id the worker reported. */
    async sessionOf(w: Worker): Promise<string> {
      return String((await w.waitFor((m) => m['event'] === 'session', ELECTED_WITHIN))['id']);
    },
    settledSpans,
    closes: closesByItself,
    alive: assertAlive,
    async teardown() {
      for (const w of workers) {
        w.kill('SIGCONT');
        w.kill('SIGKILL');
      }
      await operator?.close();
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
  return lab;
}

/** The late guard of an ended term was refused: not sent (NOT_LEADER), or not committed. */
async function lateGuardRefused(w: Worker): Promise<void> {
  const fenced = await w.waitFor(
    (m) => m['event'] === 'stale-guard' || m['event'] === 'stale-guard-error',
    10_000,
  );
  if (fenced['event'] === 'stale-guard-error')
    assert.equal(fenced['code'], 'NOT_LEADER', String(fenced['message']));
  else assert.equal(fenced['committed'], false, 'the server rejected the stale guarded write');
}

/** ZooKeeper prints session ids in hex without leading zeros; ballot pads them to 16 digits. */
const sameSession = (a: string, b: string) => BigInt(`0x${a}`) === BigInt(`0x${b}`);

/** The server among `servers` that holds a connection of session `id` (from `cons`), if any. */
async function serverHolding(
  servers: readonly ZookeeperServer[],
  id: string,
): Promise<ZookeeperServer | undefined> {
  for (const s of servers) {
    if (!s.running) continue;
    const cons = await s.fourLetter('cons').catch(() => '');
    if ([...cons.matchAll(/sid=0x([0-9a-f]+)/g)].some((m) => sameSession(m[1]!, id))) return s;
  }
  return undefined;
}

describe('zookeeper faults across processes (real server, real signals)', () => {
  const TTL = 2;
  let server: ZookeeperServer;
  const lab = faultLab(() => server.connect, TTL);

  before(async () => {
    server = await startZookeeper();
  });
  after(async () => {
    await lab.teardown();
    await server?.stop();
  });

  test('a leader killed with SIGKILL: the waiter takes over once the server has expired its session', async (t) => {
    const { election, a, aElected, b } = await lab.leaderAndWaiter('kill');
    const aSession = String(aElected['session']);
    const killedAt = now();
    a.kill('SIGKILL');
    await a.exited;
    const bElected = await within(lab.elected(b), lab.takeoverWithin, 'b to take over');
    const after = (bElected['at'] as number) - killedAt;
    assert.ok(BigInt(bElected['token'] as string) > BigInt(aElected['token'] as string), 'tokens increase');
    // The server heard from a at most a renewal interval (TTL/3) before the kill, and keeps a
    // session for its whole timeout after that: a takeover sooner did not wait for the expiry.
    assert.ok(after >= lab.ttlMs / 3, `b took over ${after.toFixed(0)} ms after the kill`);
    const log = readFileSync(join(server.dir, 'zookeeper.log'), 'utf8');
    const expired = [...log.matchAll(/Expiring session 0x([0-9a-f]+)/g)].some((m) =>
      sameSession(m[1]!, aSession),
    );
    assert.ok(expired, `the server log names no expiry of a's session ${aSession}`);
    assert.equal((await lab.operator().leader(election))?.token, BigInt(bElected['token'] as string));
    t.diagnostic(`SIGKILL → b elected ${after.toFixed(0)} ms later (session timeout ${TTL} s)`);
    await lab.closes(b);
  });

  test('a leader paused past its session timeout: its term ended before the successor began, and its late guard wrote nothing', async () => {
    const { election, a, aElected, b } = await lab.leaderAndWaiter('pause');
    const bElected = await pauseLeaderPastTtl(a, () =>
      within(lab.elected(b), lab.takeoverWithin, 'b to take over'),
    );
    assert.equal(await lab.operator().get(lab.writeKey(election)), undefined, 'the late guard wrote nothing');
    assert.ok(BigInt(aElected['token'] as string) < BigInt(bElected['token'] as string), 'tokens increase');
    assertNoOverlap(spans([a, b]));
    assert.equal((await lab.status(a))['leading'], false, 'a does not believe it leads');
    await Promise.all([lab.closes(a), lab.closes(b)]);
  });

  test('a half-open connection (blackholed both ways, never closed): the term ends by its deadline, before the successor; close() does not hang', async (t) => {
    const election = lab.newElection('halfopen');
    const proxy = await lab.proxy();
    const a = lab.spawn(election, 'a', { connect: proxy.endpoint, loop: true });
    const aElected = await lab.elected(a);
    const b = lab.spawn(election, 'b', { loop: true });
    await lab.queued(election, 2);
    const cutAt = now();
    proxy.blackhole();
    // node-zookeeper-client sees nothing wrong: no socket closes, nothing errors. ballot's
    // deadline (last acknowledged send + timeout − margin) ends the term.
    const aEnded = await a.waitFor(isEnded, lab.ttlMs + 3_000);
    assert.equal(aEnded['reason'], 'unreachable');
    assert.equal(aEnded['token'], aElected['token']);
    assert.ok(
      (aEnded['at'] as number) <= cutAt + lab.ttlMs,
      `a's term ended ${((aEnded['at'] as number) - cutAt).toFixed(0)} ms into the cut, past its deadline`,
    );
    const bElected = await within(lab.elected(b), lab.takeoverWithin, 'b to take over');
    assert.ok(
      (aEnded['at'] as number) < (bElected['at'] as number),
      `a ended at ${String(aEnded['at'])}, b began at ${String(bElected['at'])}`,
    );
    await lateGuardRefused(a);
    assert.equal(await lab.operator().get(lab.writeKey(election)), undefined, 'the late guard wrote nothing');
    // Healed: a comes back with a new session and queues behind b, never believing it leads.
    const sinceHeal = a.messages.length;
    proxy.heal();
    await a.waitFor((m) => m['event'] === 'session', ELECTED_WITHIN, { since: sinceHeal });
    await lab.queued(election, 2);
    assert.deepEqual(await lab.line(election), ['b', 'a']);
    assert.equal((await lab.status(a))['leading'], false, 'a does not believe it leads after the heal');
    assert.equal((await lab.status(b))['leading'], true);
    assertNoOverlap(spans([a, b]));
    t.diagnostic(
      `half-open: a ended ${((aEnded['at'] as number) - cutAt).toFixed(0)} ms after the cut, b began ${((bElected['at'] as number) - cutAt).toFixed(0)} ms after it`,
    );
    // Half-open again, then close: nothing may wait for a reply that never comes.
    proxy.blackhole();
    await lab.closes(a);
    proxy.heal();
    await lab.closes(b);
  });

  test('the server paused past the session timeout: terms end by their deadline, then one leader with a larger token', async (t) => {
    const { election, a, b } = await lab.leaderAndWaiter('srvpause', true);
    const maxBefore = spans([a, b]).reduce((m, s) => (s.token > m ? s.token : m), 0n);
    const pausedAt = now();
    await server.pause();
    let endedWhilePaused: JsonObject;
    try {
      endedWhilePaused = await a.waitFor(isEnded, lab.ttlMs + 2_000);
      // Past every session's timeout: once resumed, the server expires them.
      await sleep(Math.max(0, pausedAt + lab.ttlMs + 1_000 - now()));
    } finally {
      server.resume();
    }
    assert.equal(endedWhilePaused['reason'], 'unreachable');
    assert.ok(
      (endedWhilePaused['at'] as number) <= pausedAt + lab.ttlMs,
      `a's term ended ${((endedWhilePaused['at'] as number) - pausedAt).toFixed(0)} ms into the pause, past its deadline`,
    );
    await eventually(
      () => spans([a, b]).some((s) => s.token > maxBefore && s.end === Infinity),
      ELECTED_WITHIN,
      'a new leader after the resume',
    );
    const all = await lab.settledSpans([a, b]);
    const open = all.filter((s) => s.end === Infinity);
    assert.equal(open.length, 1, 'exactly one leader');
    assert.ok(open[0]!.token > maxBefore, 'with a larger token than before the pause');
    assert.equal((await lab.operator().leader(election))?.token, open[0]!.token, 'the server agrees');
    await lab.alive(a);
    await lab.alive(b);
    const seen = (w: Worker) =>
      w.messages.map(
        (m) =>
          `${String(m['event'])}${m['reason'] ? `(${String(m['reason'])})` : m['code'] ? `(${String(m['code'])})` : ''}`,
      );
    t.diagnostic(`server paused: a saw ${seen(a).join(', ')}; b saw ${seen(b).join(', ')}`);
    await Promise.all([lab.closes(a), lab.closes(b)]);
  });

  test('a waiting candidate paused past its session timeout: its campaign rejects SESSION_LOST and leaves no node', async () => {
    const { election, a, aElected, b } = await lab.leaderAndWaiter('waitstop');
    b.kill('SIGSTOP');
    try {
      // The server expires b's session after its timeout; its node goes with it.
      await eventually(
        async () => (await lab.line(election)).length === 1,
        lab.takeoverWithin,
        "b's node to go",
      );
    } finally {
      b.kill('SIGCONT');
    }
    const failed = await b.waitFor((m) => m['event'] === 'campaign-error', 10_000);
    assert.equal(failed['code'], 'SESSION_LOST', String(failed['message']));
    await sleep(500);
    assert.deepEqual(await lab.line(election), ['a'], 'b left no node behind');
    assert.equal(b.messages.some(isElected), false, 'b never led');
    const status = await lab.status(a);
    assert.deepEqual([status['leading'], status['token']], [true, aElected['token']], 'a kept its term');
    await Promise.all([lab.closes(a), lab.closes(b)]);
  });

  test('a waiting candidate cut off (blackholed): its campaign rejects SESSION_LOST by its deadline, and its node goes with the session', async () => {
    const election = lab.newElection('waitcut');
    const a = lab.spawn(election, 'a');
    const aElected = await lab.elected(a);
    const proxy = await lab.proxy();
    const backend = zookeeper({ connect: proxy.endpoint, callTimeout: 1_000, env: {} });
    try {
      const session = await backend.session({ ttl: TTL });
      const campaign = session.election(election).campaign('b');
      campaign.catch(() => undefined);
      await lab.queued(election, 2);
      // The server has b's node before b has the replies to its join: let them arrive, so that the
      // cut finds b waiting in line (a cut during the join fails the campaign with UNAVAILABLE).
      await sleep(300);
      proxy.blackhole();
      await assert.rejects(within(campaign, lab.ttlMs + 3_000, 'the campaign to reject'), {
        code: 'SESSION_LOST',
      });
      assert.equal(session.isAlive(), false);
      await assert.rejects(session.election(election).campaign('b-again'), { code: 'SESSION_LOST' });
      // Nothing reaches the server: it expires the session after its timeout, and the node with it.
      await eventually(
        async () => (await lab.line(election)).length === 1,
        lab.takeoverWithin,
        "b's node to go",
      );
      proxy.heal();
      await sleep(500);
      assert.deepEqual(await lab.line(election), ['a'], 'nothing came back after the heal');
    } finally {
      proxy.heal();
      await within(backend.close(), 5_000, 'backend.close()');
    }
    const status = await lab.status(a);
    assert.deepEqual([status['leading'], status['token']], [true, aElected['token']], 'a kept its term');
    await lab.closes(a);
  });
});

describe('zookeeper ensemble faults (3 servers)', () => {
  // Longer than on one server: a session must have time to move to another member.
  const TTL = 4;
  let ensemble: ZookeeperEnsemble;
  const lab = faultLab(() => ensemble.connect, TTL);

  before(async () => {
    ensemble = await startZookeeperEnsemble(3);
  });
  after(async () => {
    await lab.teardown();
    await ensemble?.stop();
  });

  test('a follower killed under the leader: its session moves to another member within the timeout, the term holds, and the election goes on', async (t) => {
    const zkLeader = await ensemble.leader();
    const followers = ensemble.servers.filter((s) => s !== zkLeader);
    const election = lab.newElection('member');
    // a reaches the ensemble through the followers only, so its session sits on one of them.
    const a = lab.spawn(election, 'a', { connect: followers.map((s) => s.connect).join(',') });
    const aElected = await lab.elected(a);
    const b = lab.spawn(election, 'b');
    await lab.queued(election, 2);
    const aSession = await lab.sessionOf(a);
    const host = await serverHolding(followers, aSession);
    assert.ok(host, `no follower holds a's session ${aSession}`);
    const other = followers.find((s) => s !== host)!;
    try {
      const killedAt = now();
      await host.kill();
      await eventually(
        async () => (await serverHolding([other], aSession)) === other,
        lab.ttlMs,
        `a's session to move to server ${other.id}`,
      );
      const movedAfter = now() - killedAt;
      // Past the deadline a's term would have had without a renewal since the kill.
      await sleep(Math.max(0, killedAt + lab.ttlMs + 500 - now()));
      assert.equal(a.messages.some(isEnded), false, `a's term ended: ${JSON.stringify(a.messages)}`);
      const status = await lab.status(a);
      assert.deepEqual([status['leading'], status['token']], [true, aElected['token']], 'a kept its term');
      assert.equal(b.messages.some(isElected), false, 'b did not take over');
      // Two of three still make a quorum: a resigns and b takes over.
      a.send({ cmd: 'resign' });
      await a.waitFor((m) => m['event'] === 'resigned', 10_000);
      const bElected = await within(lab.elected(b), ELECTED_WITHIN, 'b to take over');
      assert.ok(BigInt(bElected['token'] as string) > BigInt(aElected['token'] as string), 'tokens increase');
      assertNoOverlap(spans([a, b]));
      t.diagnostic(
        `follower ${host.id} killed: a's session on server ${other.id} ${movedAfter.toFixed(0)} ms later`,
      );
      await Promise.all([lab.closes(a), lab.closes(b)]);
    } finally {
      // The next test needs all three.
      if (!host.running) await host.restart();
    }
  });

  test('the ensemble leader killed: a new ZooKeeper leader is elected; ballot terms survive or end cleanly, never overlapping', async (t) => {
    const { election, a, b } = await lab.leaderAndWaiter('ensleader', true);
    const zkLeader = await ensemble.leader();
    const killedAt = now();
    await zkLeader.kill();
    const next = await ensemble.leader();
    assert.notEqual(next.id, zkLeader.id, 'a new ZooKeeper leader');
    const electedAfter = now() - killedAt;
    await eventually(
      async () => {
        const open = spans([a, b]).filter((s) => s.end === Infinity);
        const leader = await lab
          .operator()
          .leader(election)
          .catch(() => undefined);
        return open.length === 1 && leader?.token === open[0]!.token;
      },
      ELECTED_WITHIN,
      'one ballot leader the ensemble agrees on',
    );
    await lab.alive(a);
    await lab.alive(b);
    const all = await lab.settledSpans([a, b]);
    for (const w of [a, b])
      for (const m of w.messages.filter(isEnded))
        assert.ok(
          ['unreachable', 'session-lost'].includes(String(m['reason'])),
          `a term ended with ${String(m['reason'])}`,
        );
    t.diagnostic(
      `ZooKeeper leader ${zkLeader.id} killed, server ${next.id} leads ${electedAfter.toFixed(0)} ms later; ballot terms: ${all
        .map((s) => `${s.who}#${s.token}${s.end === Infinity ? '' : ' ended'}`)
        .join(' → ')}`,
    );
    await Promise.all([lab.closes(a), lab.closes(b)]);
  });
});
