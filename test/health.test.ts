import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  etcd,
  healthHandler,
  LeaderElector,
  ManualClock,
  memory,
  serveHandler,
  type HealthReport,
  type LeadershipView,
} from '../src/index.js';
import { buildCli, startCli, type Proc } from './cli-process.js';
import { listenLocal } from './fixtures/local-http.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { startFaultProxy } from './fixtures/fault-proxy.js';
import { eventually } from './helpers.js';

async function get(url: string): Promise<{ status: number; body: HealthReport }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as HealthReport };
}

describe('health and readiness (memory, virtual time)', () => {
  test('a leader is healthy and ready; partitioned it turns 503 well before its deadline', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const a = new LeaderElector({ backend, election: 'h', value: 'a', ttl: 3 });
    const b = new LeaderElector({ backend, election: 'h', value: 'b', ttl: 3 });
    b.on('retrying', () => undefined);
    a.on('retrying', () => undefined);
    const sa = await listenLocal(serveHandler(a));
    const sb = await listenLocal(serveHandler(b));
    try {
      await clock.advance(10);
      assert.equal(a.isLeader(), true);
      await clock.advance(100);
      const ok = await get(`${sa.url}/healthz`);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.role, 'leader');
      assert.equal(ok.body.election, 'h');
      assert.equal(ok.body.token, a.term?.token.toString());
      assert.equal(ok.body.session, a.currentSession?.id);
      assert.equal(ok.body.termAgeMs, clock.now() - a.term!.startedAt);
      assert.equal(ok.body.deadlineLeftMs, a.currentSession!.deadline - clock.now());
      assert.ok((ok.body.deadlineLeftMs ?? 0) > 2000);
      assert.equal((await get(`${sa.url}/readyz`)).status, 200);

      const follower = await get(`${sb.url}/healthz`);
      assert.equal(follower.status, 200, 'a follower is healthy');
      assert.equal(follower.body.role, 'follower');
      assert.equal(follower.body.token, null);
      const notReady = await get(`${sb.url}/readyz`);
      assert.equal(notReady.status, 503, 'a follower is not ready');
      assert.equal(notReady.body.status, 'not-ready');

      backend.partition(a.currentSession!);
      await clock.advance(1000); // the renewal at ~1000 ms fails: suspended, 1.9 s before the deadline
      const wedged = await get(`${sa.url}/healthz`);
      assert.equal(wedged.status, 503, 'renewals failing');
      assert.equal(wedged.body.role, 'leader', 'it still believes it leads');
      assert.equal(wedged.body.suspended, true);
      assert.match(wedged.body.reason ?? '', /renewals are failing/);
      assert.equal((await get(`${sa.url}/readyz`)).status, 503);

      backend.heal(a.currentSession!);
      await clock.advance(300);
      assert.equal((await get(`${sa.url}/healthz`)).status, 200, 'healthy again once renewals succeed');
    } finally {
      await sa.close();
      await sb.close();
      const stopping = Promise.all([a.stop(), b.stop()]);
      await clock.advance(100);
      await stopping;
      await backend.close();
    }
  });

  test('deadline threshold: a leader whose renewals are merely late turns unhealthy under minDeadlineLeftMs', async () => {
    let now = 0;
    const view: LeadershipView = {
      election: 'v',
      isLeader: () => true,
      term: { token: 7n, startedAt: 0 },
      currentSession: { id: 's1', ttlMs: 9000, deadline: 8900, suspended: false, lastRenewalAt: 0 },
      clock: { now: () => now, setTimer: () => ({ cancel: () => undefined }) },
    };
    const server = await listenLocal(healthHandler(view));
    const strict = await listenLocal(healthHandler(view, { minDeadlineLeftMs: 6000 }));
    try {
      now = 5000; // 3900 ms left: more than TTL/3 (3000)
      assert.equal((await get(server.url)).status, 200);
      now = 6000; // 2900 ms left
      const late = await get(server.url);
      assert.equal(late.status, 503);
      assert.match(late.body.reason ?? '', /2900 ms are left/);
      assert.equal(late.body.lastRenewalMs, 6000);
      now = 2000; // 6900 left: the stricter threshold still passes
      assert.equal((await get(strict.url)).status, 200);
      now = 3000;
      assert.equal((await get(strict.url)).status, 503);
      const head = await fetch(server.url, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
    } finally {
      await server.close();
      await strict.close();
    }
  });

  test('after stop() the elector reports stopped and 503; unknown paths are 404 or go to next()', async () => {
    const backend = memory();
    const elector = new LeaderElector({ backend, election: 's', value: 'a', ttl: 2 });
    const handler = serveHandler(elector);
    const plain = await listenLocal(handler);
    const chained = await listenLocal((req, res) =>
      handler(req, res, () => {
        res.writeHead(200);
        res.end('app');
      }),
    );
    try {
      await eventually(() => elector.isLeader(), 5000, 'leading');
      await elector.stop();
      const stopped = await get(`${plain.url}/healthz`);
      assert.equal(stopped.status, 503);
      assert.equal(stopped.body.role, 'stopped');
      assert.equal((await fetch(`${plain.url}/metrics`)).status, 404, 'no registry given');
      assert.equal(await (await fetch(`${chained.url}/other`)).text(), 'app');
      assert.equal((await fetch(`${plain.url}/healthz`, { method: 'POST' })).status, 405);
    } finally {
      await plain.close();
      await chained.close();
      await backend.close();
    }
  });
});

describe('health on real etcd', () => {
  let node: EtcdNode;
  before(async () => {
    node = await startEtcd();
  });
  after(async () => {
    await node.stop();
  });

  test('a leader cut off from etcd answers 503 before its term ends, and 200 once it recovers', async () => {
    const proxy = await startFaultProxy(node.endpoint);
    const backend = etcd({ endpoints: [proxy.endpoint], callTimeout: 1000, env: {} });
    const elector = new LeaderElector({ backend, election: `health-${process.pid}`, value: 'a', ttl: 3 });
    elector.on('retrying', () => undefined);
    const server = await listenLocal(serveHandler(elector));
    try {
      await eventually(() => elector.isLeader(), 10_000, 'leading');
      assert.equal((await get(`${server.url}/healthz`)).status, 200);
      proxy.blackhole();
      let wedged: HealthReport | undefined;
      await eventually(
        async () => {
          const r = await get(`${server.url}/healthz`);
          if (r.status === 503) wedged = r.body;
          return r.status === 503;
        },
        5000,
        'unhealthy while cut off',
      );
      assert.equal(wedged?.role, 'leader', 'reported while it still held the term');
      assert.ok((wedged?.deadlineLeftMs ?? 0) > 0);
      proxy.heal({ deliverStalled: true });
      await eventually(
        async () => (await get(`${server.url}/healthz`)).status === 200,
        10_000,
        'healthy again',
      );
    } finally {
      await server.close();
      await elector.stop();
      await backend.close();
      await proxy.close();
    }
  });
});

describe('ballot campaign/run --health (built CLI, real etcd)', () => {
  let node: EtcdNode;
  const procs: Proc[] = [];
  before(async () => {
    [node] = await Promise.all([startEtcd({ name: 'health-cli' }), buildCli()]);
  });
  after(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await node.stop();
  });

  test('a leader answers 200 on /healthz and /readyz, a follower 200 and 503; --log-level writes JSON lines', async () => {
    const election = `cli-health-${process.pid}`;
    const start = (args: string[]) => {
      const p = startCli(args, node.endpoint);
      procs.push(p);
      return p;
    };
    const a = start([
      'campaign',
      election,
      'a',
      '--ttl',
      '2',
      '--json',
      '--health',
      '127.0.0.1:0',
      '--log-level',
      'debug',
    ]);
    const aUrl = String((await a.json('stdout', { event: 'health' }))['url']);
    const elected = await a.json('stdout', { event: 'elected' });
    const aHealth = await get(`${aUrl}/healthz`);
    assert.equal(aHealth.status, 200);
    assert.equal(aHealth.body.role, 'leader');
    assert.equal(aHealth.body.token, String(elected['token']));
    assert.equal((await get(`${aUrl}/readyz`)).status, 200);
    const opened = a.events('stderr').find((r) => r['msg'] === 'session opened');
    assert.equal(opened?.['level'], 'debug');
    assert.equal(opened?.['session'], aHealth.body.session);

    const b = start([
      'run',
      election,
      '--ttl',
      '2',
      '--json',
      '--health',
      '127.0.0.1:0',
      '--',
      'sleep',
      '30',
    ]);
    const bUrl = String((await b.json('stderr', { event: 'health' }))['url']);
    await eventually(
      async () => (await get(`${bUrl}/healthz`)).body.session !== null,
      10_000,
      'b has a session',
    );
    const follower = await get(`${bUrl}/healthz`);
    assert.equal(follower.status, 200);
    assert.equal(follower.body.role, 'follower');
    assert.equal((await get(`${bUrl}/readyz`)).status, 503);
    assert.deepEqual(
      b.events('stderr').filter((r) => 'level' in r),
      [],
      'silent without --log-level',
    );

    a.kill('SIGINT');
    assert.equal(await a.exited, 0);
    await b.json('stderr', { event: 'elected' }, 10_000);
    await eventually(async () => (await get(`${bUrl}/readyz`)).status === 200, 10_000, 'b ready as leader');
    b.kill('SIGINT');
    await b.exited;
    await assert.rejects(fetch(`${bUrl}/healthz`), 'the health server closed with the command');
  });
});
