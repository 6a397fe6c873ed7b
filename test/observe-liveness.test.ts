import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { LeaderElector, ManualClock, etcd, memory, type LeaderChange } from '../src/index.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { startFaultProxy } from './fixtures/fault-proxy.js';
import { eventually, within } from './helpers.js';

/** Collects an observation into `seen` until `signal` aborts. */
function collect(source: AsyncIterable<LeaderChange>, seen: LeaderChange[]): Promise<void> {
  return (async () => {
    for await (const change of source) seen.push(change);
  })();
}

describe('observers say when they are cut off (memory)', () => {
  test('a partitioned session observer yields unknown after its TTL, then the leader again', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const controller = new AbortController();
    try {
      const candidate = await backend.session({ ttl: 4 });
      await candidate.election('e').campaign('a');
      const watcher = await backend.session({ ttl: 4 });
      const seen: LeaderChange[] = [];
      const loop = collect(watcher.election('e').observe({ signal: controller.signal }), seen);
      await clock.advance(10);
      assert.deepEqual(
        seen.map((c) => c.kind + ':' + c.value),
        ['leader:a'],
      );
      const confirmedAt = clock.now();
      backend.partition(watcher);
      await clock.advance(3900);
      assert.equal(seen.length, 1, 'nothing before the TTL has passed');
      await clock.advance(200);
      assert.equal(seen.length, 2);
      const unknown = seen[1]!;
      assert.equal(unknown.kind, 'unknown');
      assert.equal(unknown.value, null);
      assert.ok(unknown.kind === 'unknown' && unknown.since <= confirmedAt && unknown.since >= 0);
      await clock.advance(4000);
      assert.equal(seen.length, 2, 'unknown is said once');
      backend.heal(watcher);
      await clock.advance(2100);
      assert.deepEqual(
        seen.slice(2).map((c) => c.kind + ':' + c.value),
        ['leader:a'],
        'the unchanged leader is reported again',
      );
      controller.abort();
      await loop;
    } finally {
      controller.abort();
      await backend.close();
    }
  });

  test('the liveness check alone does not keep a program alive', async () => {
    // An observer left suspended (one next(), never finished) must not hold the process open.
    const script = `
      import { memory } from './src/index.ts';
      const backend = memory();
      const session = await backend.session({ ttl: 2 });
      const observer = session.election('e').observe({ staleAfter: 50 });
      await observer.next();
      await backend.close();
      console.log('done');
    `;
    const root = new URL('..', import.meta.url).pathname;
    const run = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: root, timeout: 20_000 },
    );
    assert.equal(run.stdout.trim(), 'done');
  });

  test('staleAfter is validated', async () => {
    const backend = memory();
    try {
      const session = await backend.session({ ttl: 2 });
      assert.throws(() => session.election('e').observe({ staleAfter: 0 }), {
        code: 'INVALID_ARGUMENT',
        message: /staleAfter must be a positive number of milliseconds/,
      });
      await assert.rejects(backend.observe('e', { staleAfter: Number.NaN }).next(), {
        code: 'INVALID_ARGUMENT',
      });
    } finally {
      await backend.close();
    }
  });
});

for (const mode of ['client', 'service'] as const)
  describe(`observers say when they are cut off (etcd, ${mode} mode)`, () => {
    let node: EtcdNode;
    before(async () => {
      node = await startEtcd();
    });
    after(() => node.stop());

    test('backend.observe() yields unknown while etcd is unreachable, then the leader again', async () => {
      const proxy = await startFaultProxy(node.endpoint);
      const cut = etcd({ endpoints: [proxy.endpoint], mode, callTimeout: 1000 });
      const direct = etcd({ endpoints: [node.endpoint], mode });
      const controller = new AbortController();
      try {
        await (await direct.session({ ttl: 30 })).election('cut').campaign('a');
        const seen: LeaderChange[] = [];
        const loop = collect(cut.observe('cut', { signal: controller.signal }), seen);
        await eventually(() => seen.some((c) => c.value === 'a'), 5000, 'the leader');
        proxy.blackhole();
        await eventually(() => seen.at(-1)?.kind === 'unknown', 10_000, 'unknown while cut off');
        proxy.heal();
        await eventually(() => seen.at(-1)?.kind === 'leader', 15_000, 'the leader after healing');
        assert.deepEqual(
          seen.map((c) => c.kind + ':' + (c.value ?? '')),
          ['leader:a', 'unknown:', 'leader:a'],
        );
        controller.abort();
        await within(loop, 5000, 'the observer to end');
      } finally {
        controller.abort();
        await proxy.close();
        await cut.close();
        await direct.close();
      }
    });
  });

describe('liveness probes of shared observers (etcd)', () => {
  let node: EtcdNode;
  before(async () => {
    node = await startEtcd();
  });
  after(() => node.stop());

  test('200 observers of one election on one client share one probe per interval', async () => {
    const backend = etcd({ endpoints: [node.endpoint] });
    const client = (
      backend as unknown as { driver: { client: { range: (...a: unknown[]) => Promise<unknown> } } }
    ).driver.client;
    const controller = new AbortController();
    try {
      const election = (await backend.session({ ttl: 10 })).election('probed');
      await election.campaign('v');
      const staleAfter = 400;
      const seen = Array.from({ length: 200 }, () => [] as LeaderChange[]);
      const loops = seen.map((s) => collect(election.observe({ signal: controller.signal, staleAfter }), s));
      await eventually(() => seen.every((s) => s.length === 1), 5000, 'every observer to see the leader');
      const range = client.range.bind(client);
      let reads = 0;
      client.range = (...args: unknown[]) => {
        reads++;
        return range(...args);
      };
      const started = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const elapsed = Date.now() - started;
      client.range = range;
      assert.ok(reads >= 1, 'a quiet stream is confirmed by a read');
      const allowed = Math.ceil(elapsed / (staleAfter / 2)) + 2;
      assert.ok(
        reads <= allowed,
        `${reads} reads in ${elapsed} ms: at most ${allowed} for all 200 observers`,
      );
      assert.ok(
        seen.every((s) => s.length === 1),
        'a healthy stream never turns unknown',
      );
      controller.abort();
      await Promise.all(loops);
    } finally {
      controller.abort();
      await backend.close();
    }
  });

  test("the elector's leader event says unknown during an outage, then the leader again", async () => {
    const proxy = await startFaultProxy(node.endpoint);
    const cut = etcd({ endpoints: [proxy.endpoint], callTimeout: 500, dialTimeout: 500 });
    const direct = etcd({ endpoints: [node.endpoint] });
    try {
      await (await direct.session({ ttl: 30 })).election('relay').campaign('a');
      const elector = new LeaderElector({ backend: cut, election: 'relay', value: 'b', ttl: 2 });
      const seen: LeaderChange[] = [];
      elector.on('leader', (c) => seen.push(c));
      elector.on('retrying', () => undefined);
      await eventually(() => seen.some((c) => c.value === 'a'), 5000, 'the leader');
      proxy.blackhole();
      await eventually(() => seen.at(-1)?.kind === 'unknown', 10_000, 'unknown through the leader event');
      proxy.heal();
      await eventually(() => seen.at(-1)?.value === 'a', 15_000, 'the leader after healing');
      await elector.stop();
    } finally {
      await proxy.close();
      await cut.close();
      await direct.close();
    }
  });
});
