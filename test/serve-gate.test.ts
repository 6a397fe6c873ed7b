import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  etcd,
  leaderFetch,
  leaderGate,
  LeaderElector,
  memory,
  LeaderUnavailableError,
  ManualClock,
  type LeaderGate,
  type Backend,
  type LeaderChange,
} from '../src/index.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { spawnWorker, type JsonObject, type Worker } from './fixtures/processes.js';
import { LocalHttpPool } from './fixtures/local-http.js';
import { GateClient, type Answer } from './gate-client.js';
import { eventually, isPending, sleep, within } from './helpers.js';

const WORKER = fileURLToPath(new URL('./workers/gate-server.ts', import.meta.url));
const TTL = 2;

/** One gated service process. */
interface Member {
  name: string;
  worker: Worker;
  proxy: string;
  redirect: string;
}

describe('leaderGate: three service processes on etcd', () => {
  let node: EtcdNode;
  let client: GateClient;
  const started: Worker[] = [];
  before(async () => {
    node = await startEtcd();
    client = new GateClient();
  });
  afterEach(() => {
    for (const worker of started.splice(0)) worker.kill('SIGKILL');
  });
  after(async () => {
    await client.close();
    await node.stop();
  });

  async function join(election: string, name: string): Promise<Member> {
    const worker = spawnWorker(WORKER, [], {
      ENDPOINTS: node.endpoint,
      ELECTION: election,
      NAME: name,
      TTL: String(TTL),
    });
    started.push(worker);
    const up = await worker.waitFor((m) => m['event'] === 'listening', 20_000);
    return {
      name,
      worker,
      proxy: `http://127.0.0.1:${String(up['proxyPort'])}`,
      redirect: `http://127.0.0.1:${String(up['redirectPort'])}`,
    };
  }

  /** The leader event on `member` naming `leader`, from message index `since` on. */
  const heard = (member: Member, leader: string, since = 0): Promise<JsonObject> =>
    member.worker.waitFor((m) => m['event'] === 'leader' && m['value'] === leader, 15_000, { since });

  /** a, b, c joined in that order (so a leads and b is next), each knowing a leads. */
  async function trio(election: string): Promise<{ members: Member[]; token: string }> {
    const a = await join(election, 'a');
    const elected = await a.worker.waitFor((m) => m['event'] === 'elected', 15_000);
    const b = await join(election, 'b');
    const c = await join(election, 'c');
    await Promise.all([a, b, c].map((m) => heard(m, 'a')));
    return { members: [a, b, c], token: String(elected['token']) };
  }

  async function stopped(member: Member): Promise<void> {
    member.worker.send({ cmd: 'stop' });
    assert.equal(
      await within(member.worker.exited, 15_000, `${member.name} to exit`),
      0,
      member.worker.output(),
    );
  }

  test('followers proxy and redirect to the leader; the token header names its term; the loop guard refuses', async () => {
    const election = `gate-${randomBytes(3).toString('hex')}`;
    const { members, token } = await trio(election);
    const [a, b, c] = members as [Member, Member, Member];

    for (const m of members) {
      const got = await client.call(`${m.proxy}/who?x=1`);
      assert.equal(got.status, 200, got.text);
      assert.equal(got.json?.name, 'a', `served via ${m.name}`);
      assert.equal(got.headers['ballot-token'], token);
      assert.equal(got.json?.token, token);
      assert.equal(got.json?.url, '/who?x=1');
      const forwarded = got.json?.headers['ballot-forwarded'];
      if (m === a) assert.equal(forwarded, undefined);
      else {
        assert.equal(forwarded, election);
        assert.equal(got.json?.headers['x-forwarded-for'], '127.0.0.1');
        assert.equal(got.json?.headers['x-forwarded-host'], new URL(m.proxy).host);
        assert.equal(got.json?.headers['x-forwarded-proto'], 'http');
      }
    }

    // A body larger than one chunk streams through the follower unchanged.
    const body = 'x'.repeat(256 * 1024);
    const posted = await client.call(`${c.proxy}/upload`, { method: 'POST', body });
    assert.equal(posted.json?.name, 'a');
    assert.equal(posted.json?.body.length, body.length);
    assert.equal(posted.json?.body, body);

    const redirected = await client.call(`${b.redirect}/who?x=1`);
    assert.equal(redirected.status, 307);
    assert.equal(redirected.headers['location'], `${a.proxy}/who?x=1`);
    const direct = await client.call(`${a.redirect}/who`);
    assert.equal(direct.status, 200);
    assert.equal(direct.json?.name, 'a');
    assert.equal(direct.headers['ballot-token'], token);

    const looped = await client.call(`${b.proxy}/who`, { headers: { 'ballot-forwarded': election } });
    assert.equal(looped.status, 503);
    assert.equal(looped.headers['retry-after'], '1');
    assert.equal(looped.headers['ballot-refused'], 'loop');
    // On the leader the guard header is no reason to refuse: it is where forwarding ends.
    const atLeader = await client.call(`${a.proxy}/who`, { headers: { 'ballot-forwarded': election } });
    assert.equal(atLeader.status, 200);

    await Promise.all(members.map(stopped));
  });

  test('forwarding follows the new leader with the change event: after a resign and after a SIGKILL; leaderFetch too', async () => {
    const election = `gate-${randomBytes(3).toString('hex')}`;
    const { members } = await trio(election);
    const [a, b, c] = members as [Member, Member, Member];
    const backend = etcd({ endpoints: [node.endpoint], callTimeout: 1000 });
    const call = leaderFetch(backend, election, { waitForLeader: 10_000 });
    try {
      const first = await call('/who');
      assert.equal(first.status, 200);
      const firstEcho = (await first.json()) as { name: string; headers: Record<string, string> };
      assert.equal(firstEcho.name, 'a');
      assert.equal(
        firstEcho.headers['ballot-forwarded'],
        undefined,
        'leaderFetch goes to the leader directly',
      );

      // Resign: a stops; b is next in line. The first request after c hears of b reaches b.
      const since = c.worker.messages.length;
      await stopped(a);
      const elected = await b.worker.waitFor((m) => m['event'] === 'elected', 15_000);
      await heard(c, 'b', since);
      const afterResign = await client.call(`${c.proxy}/who`);
      assert.equal(afterResign.json?.name, 'b');
      assert.equal(afterResign.headers['ballot-token'], String(elected['token']));
      assert.ok(BigInt(String(elected['token'])) > BigInt(first.headers.get('ballot-token') ?? 'x'));
      const viaFetch = (await (await call('/who')).json()) as { name: string };
      assert.equal(viaFetch.name, 'b');

      // SIGKILL: b's address stops answering at once; c takes over after b's TTL. A leaderFetch call made
      // right away fails to connect, waits for the change, and is sent once more, to c.
      const before = c.worker.messages.length;
      b.worker.kill('SIGKILL');
      await b.worker.exited;
      const t0 = performance.now();
      const retried = await call('/who');
      assert.equal(retried.status, 200);
      assert.equal(((await retried.json()) as { name: string }).name, 'c');
      assert.ok(performance.now() - t0 < 10_000);
      const cElected = await c.worker.waitFor((m) => m['event'] === 'elected', 15_000, { since: before });
      const d = await join(election, 'd');
      await heard(d, 'c');
      const afterKill = await client.call(`${d.proxy}/who`);
      assert.equal(afterKill.json?.name, 'c');
      assert.equal(afterKill.headers['ballot-token'], String(cElected['token']));
      assert.ok(BigInt(String(cElected['token'])) > BigInt(String(elected['token'])));
      await Promise.all([stopped(c), stopped(d)]);
    } finally {
      await call.close();
      await backend.close();
    }
  });

  test('a leader SIGSTOPped past its TTL: each token is served by one process only, tokens never go back', async () => {
    const election = `gate-${randomBytes(3).toString('hex')}`;
    const { members, token } = await trio(election);
    const [a, b] = members as [Member, Member, Member];
    const seen: { via: string; at: number; answer: Answer }[] = [];
    let running = true;
    const loop = async (m: Member) => {
      while (running) {
        try {
          seen.push({
            via: m.name,
            at: performance.now(),
            answer: await client.call(`${m.proxy}/who`, { timeoutMs: 1500 }),
          });
        } catch {
          // A request to the paused process times out; the loop goes on.
        }
        await sleep(20);
      }
    };
    const loops = members.map(loop);
    await sleep(500);
    a.worker.kill('SIGSTOP');
    const elected = await b.worker.waitFor((m) => m['event'] === 'elected', 15_000);
    await sleep(1000);
    a.worker.kill('SIGCONT');
    // The resumed process learns of b and forwards there; give it a few requests' time.
    await heard(a, 'b', 0);
    await sleep(1000);
    running = false;
    await within(Promise.all(loops), 10_000, 'the client loops to end');

    const served = seen.filter((s) => s.answer.status === 200);
    assert.ok(served.length >= 10, `served ${served.length}`);
    const byToken = new Map<string, Set<string>>();
    for (const s of served) {
      const t = s.answer.headers['ballot-token'];
      assert.ok(t !== undefined, 'every served answer carries the token');
      assert.equal(s.answer.json?.token, t);
      byToken.set(t, (byToken.get(t) ?? new Set()).add(s.answer.json?.name ?? '?'));
    }
    for (const [t, names] of byToken)
      assert.equal(names.size, 1, `token ${t} served by ${[...names].join(', ')}`);
    assert.deepEqual([...byToken.get(token)!], ['a']);
    assert.deepEqual([...byToken.get(String(elected['token']))!], ['b']);
    for (const m of members) {
      const tokens = served
        .filter((s) => s.via === m.name)
        .map((s) => BigInt(s.answer.headers['ballot-token']!));
      for (let i = 1; i < tokens.length; i++)
        assert.ok(tokens[i]! >= tokens[i - 1]!, `tokens went back via ${m.name}`);
    }
    // Refusals during the gap were the gate's own, with Retry-After: never an app answer from a non-leader.
    for (const s of seen.filter((x) => x.answer.status !== 200)) {
      assert.equal(s.answer.status, 503, s.answer.text);
      assert.equal(s.answer.headers['retry-after'], '1');
    }
    const last = seen.filter((s) => s.via === 'a').at(-1);
    assert.equal(last?.answer.json?.name, 'b', 'the resumed old leader forwards to the new one');
    await Promise.all(members.map(stopped));
  });
});

describe('leaderGate: refusals, on memory and etcd', () => {
  const servers = new LocalHttpPool();
  let client: GateClient;
  before(() => {
    client = new GateClient();
  });
  after(async () => {
    await client.close();
  });
  afterEach(async () => {
    await servers.closeAll();
  });

  const serve = (handler: http.RequestListener): Promise<string> => servers.serve(handler);

  /** A follower elector behind a leader that campaigned on its own session, advertising `http`. */
  async function follower(backend: Backend, election: string, http: string | undefined) {
    const session = await backend.session({ ttl: TTL });
    await session.election(election).campaign('leader', http === undefined ? {} : { advertise: { http } });
    const elector = new LeaderElector({ backend, election, value: 'follower', ttl: TTL });
    elector.on('retrying', () => {});
    const changes: LeaderChange[] = [];
    elector.on('leader', (change) => changes.push(change));
    await eventually(() => changes.some((c) => c.kind === 'leader'), 5000, 'the leader event');
    return { session, elector, changes };
  }

  test('an unreachable leader address: 503 with Retry-After within the connect timeout', async () => {
    const backend = memory();
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { elector, session } = await follower(backend, 'refused', `http://127.0.0.1:${port}`);
    const gate = leaderGate(elector, { mode: 'proxy', retryAfter: 3, connectTimeout: 500 });
    const url = await serve((req, res) => gate(req, res, () => res.end('app')));
    const t0 = performance.now();
    const got = await client.call(`${url}/x`);
    assert.equal(got.status, 503);
    assert.equal(got.headers['retry-after'], '3');
    assert.equal(got.headers['ballot-refused'], 'unreachable');
    assert.match(got.text, /"reason":"unreachable"/);
    assert.ok(performance.now() - t0 < 2000);
    await gate.close();
    await elector.stop();
    await session.close();
    await backend.close();
  });

  test('a leader that accepts but never answers: 503 once headersTimeout passes, not a hang', async () => {
    const backend = memory();
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const { elector, session } = await follower(backend, 'silent', address);
    const gate = leaderGate(elector, { mode: 'proxy', headersTimeout: 300 });
    const url = await serve((req, res) => gate(req, res, () => res.end('app')));
    const t0 = performance.now();
    const got = await client.call(`${url}/x`, { timeoutMs: 5000 });
    const took = performance.now() - t0;
    assert.equal(got.status, 503);
    assert.equal(got.headers['ballot-refused'], 'unreachable');
    assert.ok(took >= 250 && took < 3000, `took ${took} ms`);
    assert.equal(sockets.size, 1, 'the gate did connect');
    await gate.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await elector.stop();
    await session.close();
    await backend.close();
  });

  test('a leader without an http address: 503 no-address; close() detaches and refuses', async () => {
    const backend = memory();
    const { elector, session } = await follower(backend, 'bare', undefined);
    const listeners = elector.listenerCount('leader');
    const gate = leaderGate(elector, { mode: 'redirect' });
    assert.equal(elector.listenerCount('leader'), listeners + 1);
    assert.equal(gate.leader?.kind, 'leader', 'a gate made after the event starts from elector.leaderChange');
    const url = await serve((req, res) => gate(req, res, () => res.end('app')));
    const got = await client.call(`${url}/x`);
    assert.equal(got.status, 503);
    assert.equal(got.headers['ballot-refused'], 'no-address');
    assert.equal(got.headers['retry-after'], '1');
    await gate.close();
    assert.equal(elector.listenerCount('leader'), listeners);
    const closedAnswer = await client.call(`${url}/x`);
    assert.equal(closedAnswer.headers['ballot-refused'], 'closed');
    await elector.stop();
    await session.close();
    await backend.close();
  });

  test('no leader: 503 no-leader with Retry-After, in both modes', async () => {
    const backend = memory();
    const { elector, session } = await follower(backend, 'none', 'http://127.0.0.1:9');
    const proxy = leaderGate(elector, { mode: 'proxy', retryAfter: 2 });
    const redirect = leaderGate(elector, { mode: 'redirect', retryAfter: 2 });
    const urls = [
      await serve((req, res) => proxy(req, res, () => res.end('app'))),
      await serve((req, res) => redirect(req, res, () => res.end('app'))),
    ];
    // Whenever nobody leads, the elector reports kind 'none'; the follower here campaigns itself,
    // so that moment is too short to aim at over the network, and the event is handed to the gate as
    // the elector hands it over.
    elector.emit('leader', {
      kind: 'none',
      election: 'none',
      value: null,
      key: null,
      token: null,
      lease: null,
    });
    for (const url of urls) {
      const got = await client.call(`${url}/x`);
      assert.equal(got.status, 503);
      assert.equal(got.headers['retry-after'], '2');
      assert.equal(got.headers['ballot-refused'], 'no-leader');
      assert.deepEqual(Object.keys(JSON.parse(got.text) as object).sort(), [
        'detail',
        'election',
        'error',
        'reason',
      ]);
    }
    await proxy.close();
    await redirect.close();
    await elector.stop();
    await session.close();
    await backend.close();
  });

  test('cut off from etcd: the leader is unknown and the gate answers 503 unknown, and serves again once contact is back', async () => {
    const node = await startEtcd();
    const backend = etcd({ endpoints: [node.endpoint], callTimeout: 500 });
    const leaderUrl = await serve((_req, res) => res.end('leader app'));
    const { elector, session, changes } = await follower(backend, 'cut', leaderUrl);
    const gate = leaderGate(elector, { mode: 'proxy' });
    const url = await serve((req, res) => gate(req, res, () => res.end('follower app')));
    try {
      assert.equal((await client.call(`${url}/x`)).text, 'leader app');
      await node.pause();
      await eventually(() => changes.at(-1)?.kind === 'unknown', 15_000, "the 'unknown' leader event");
      const got = await client.call(`${url}/x`);
      assert.equal(got.status, 503);
      assert.equal(got.headers['ballot-refused'], 'unknown');
      assert.equal(got.headers['retry-after'], '1');
    } finally {
      node.resume();
    }
    // Whoever leads after the outage (the old leader if its session survived, else the follower), the
    // next leader event ends the refusals.
    let answer: string | undefined;
    await eventually(
      async () => (answer = (await client.call(`${url}/x`)).text) !== undefined && !answer.startsWith('{'),
      15_000,
      'an answer from an app after the outage',
    );
    assert.ok(answer === 'leader app' || answer === 'follower app', answer);
    await gate.close();
    await elector.stop();
    await session.close().catch(() => {});
    await backend.close();
    await node.stop();
  });

  test('a leader whose deadline passed while its entry still leads: 503 not-leader, never a forward to itself', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    // The server must exist before the elector advertises its URL, and the gate needs the elector.
    const late: { gate?: LeaderGate } = {};
    const url = await serve((req, res) => late.gate!(req, res, () => res.end('app')));
    const elector = new LeaderElector({
      backend,
      election: 'self',
      value: 'me',
      ttl: 5,
      margin: 1000,
      advertise: { http: url },
    });
    elector.on('retrying', () => {});
    const gate = leaderGate(elector, { mode: 'proxy' });
    late.gate = gate;
    await eventually(
      () => elector.isLeader() && gate.leader?.kind === 'leader',
      5000,
      'to lead and hear of it',
    );
    const served = await client.call(`${url}/x`);
    assert.equal(served.text, 'app');
    assert.equal(served.headers['ballot-token'], elector.term?.token.toString());
    // Renewals stop reaching the backend; past the session deadline (TTL - margin) but before the
    // entry expires (TTL), this process no longer leads while the leader entry is still its own.
    backend.partition(elector.currentSession!);
    await clock.advance(4500);
    assert.equal(elector.isLeader(), false);
    const leader = gate.leader;
    assert.equal(leader?.kind === 'leader' ? leader.advertise?.http : undefined, url);
    const got = await client.call(`${url}/x`);
    assert.equal(got.status, 503);
    assert.equal(got.headers['ballot-refused'], 'not-leader');
    await gate.close();
    await elector.stop();
    await backend.close();
  });

  test("leaderFetch: a request the old leader's gate refused is sent once more, to the next leader", async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const members: { name: string; gate: LeaderGate; elector: LeaderElector; hits: number }[] = [];
    for (const name of ['a', 'b']) {
      const late: { member?: (typeof members)[number] } = {};
      const url = await serve((req, res) => {
        late.member!.hits++;
        late.member!.gate(req, res, () => res.end(name));
      });
      const elector = new LeaderElector({
        backend,
        election: 'refetch',
        value: name,
        ttl: 5,
        margin: 1000,
        advertise: { http: url },
      });
      elector.on('retrying', () => {});
      late.member = { name, elector, gate: leaderGate(elector, { mode: 'proxy' }), hits: 0 };
      members.push(late.member);
      if (name === 'a') await eventually(() => elector.isLeader(), 5000, 'a to lead');
    }
    const [a, b] = members as [(typeof members)[number], (typeof members)[number]];
    const call = leaderFetch(backend, 'refetch', { waitForLeader: 10_000 });
    try {
      assert.equal(await (await call('/x')).text(), 'a');
      backend.partition(a.elector.currentSession!);
      await clock.advance(4500);
      assert.equal(a.elector.isLeader(), false);
      const hitsBefore = a.hits;
      const pending = call('/x');
      // a's gate refuses (its own entry leads, but it does not); the call then waits for a change.
      await eventually(() => a.hits > hitsBefore, 5000, 'the request to reach a');
      assert.equal(await isPending(pending, 100), true);
      await clock.advance(1000); // a's entry expires with its TTL: b is next
      const answer = await within(pending, 10_000, 'the retried call');
      assert.equal(answer.status, 200);
      assert.equal(await answer.text(), 'b');
      assert.ok(b.elector.isLeader());
    } finally {
      await call.close();
      for (const m of members) {
        await m.gate.close();
        await m.elector.stop();
      }
      await backend.close();
    }
  });

  test('leaderFetch without any leader address rejects with LeaderUnavailableError in waitForLeader', async () => {
    const backend = memory();
    const call = leaderFetch(backend, 'nobody', { waitForLeader: 200 });
    await assert.rejects(call('/x'), (err: unknown) => {
      assert.ok(err instanceof LeaderUnavailableError);
      assert.equal(err.code, 'UNAVAILABLE');
      assert.match(err.message, /no candidate leads/);
      return true;
    });
    assert.equal(call.leader?.kind, 'none', 'call.leader follows the observer');
    await call.close();
    await assert.rejects(call('/x'), { code: 'CLOSED' });
    await backend.close();
  });
});
