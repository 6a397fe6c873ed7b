/** Self-test for the etcd, fault-proxy and worker fixtures the real tests are built on. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { etcdctl, startEtcd, startEtcdCluster } from './fixtures/etcd.js';
import { startFaultProxy } from './fixtures/fault-proxy.js';
import { spawnWorker } from './fixtures/processes.js';

// Short client timeouts keep "this must fail" checks to about a second each.
const FAST_FAIL = ['--dial-timeout=1s', '--command-timeout=1s'];

test('single node: put/get, pause/resume, restart keeps data, stop removes data dir', async (t) => {
  const node = await startEtcd({ name: 'solo' });
  t.after(() => node.stop());

  assert.match(node.endpoint, /^127\.0\.0\.1:\d+$/);
  assert.equal(node.clientUrl, `http://${node.endpoint}`);
  assert.ok(node.pid > 0);

  const put = await node.etcdctl(['put', 'fixture/key', 'value-1']);
  assert.equal(put.code, 0, put.stderr);
  const got = await node.etcdctl(['get', 'fixture/key', '--print-value-only']);
  assert.equal(got.stdout.trim(), 'value-1');

  node.pause();
  try {
    const frozen = await node.etcdctl(['get', 'fixture/key', ...FAST_FAIL]);
    assert.notEqual(frozen.code, 0, 'a SIGSTOPped etcd must not answer');
  } finally {
    node.resume();
  }
  const thawed = await node.etcdctl(['get', 'fixture/key', '--print-value-only']);
  assert.equal(thawed.stdout.trim(), 'value-1');

  const oldPid = node.pid;
  await node.restart();
  assert.notEqual(node.pid, oldPid);
  const afterRestart = await node.etcdctl(['get', 'fixture/key', '--print-value-only']);
  assert.equal(afterRestart.stdout.trim(), 'value-1');

  // Values may be fed on stdin when omitted from the command line.
  const viaStdin = await node.etcdctl(['put', 'fixture/stdin'], { input: 'from-stdin' });
  assert.equal(viaStdin.code, 0, viaStdin.stderr);
  assert.equal(
    (await node.etcdctl(['get', 'fixture/stdin', '--print-value-only'])).stdout.trim(),
    'from-stdin',
  );

  await node.stop();
  assert.equal(node.running, false);
  assert.equal(existsSync(node.dataDir), false);
  await node.stop(); // idempotent
});

test('3-node cluster: leader found, killed, survivors still accept writes', async (t) => {
  const cluster = await startEtcdCluster(3);
  t.after(() => cluster.stop());

  assert.equal(cluster.nodes.length, 3);
  assert.deepEqual(
    cluster.endpoints,
    cluster.nodes.map((n) => n.endpoint),
  );

  const leader = await cluster.leaderIndex();
  assert.ok(leader >= 0 && leader < 3);

  await cluster.nodes[leader]!.kill();
  assert.equal(cluster.nodes[leader]!.running, false);

  const newLeader = await cluster.leaderIndex(10_000);
  assert.notEqual(newLeader, leader);

  const survivors = cluster.nodes.filter((_, i) => i !== leader);
  for (const [i, node] of survivors.entries()) {
    const res = await node.etcdctl(['put', `survivor/${i}`, node.name]);
    assert.equal(res.code, 0, res.stderr);
  }
  const read = await survivors[0]!.etcdctl(['get', 'survivor/1', '--print-value-only']);
  assert.equal(read.stdout.trim(), survivors[1]!.name);
});

test('fault proxy: forwards, blackholes, heals, resets, delays', async (t) => {
  const node = await startEtcd();
  const proxy = await startFaultProxy(node.endpoint);
  t.after(async () => {
    await proxy.close();
    await node.stop();
  });

  const ok = await etcdctl([proxy.endpoint], ['put', 'proxied', '1']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(proxy.connections >= 1);

  proxy.blackhole();
  const partitioned = await etcdctl([proxy.endpoint], ['put', 'proxied', '2', ...FAST_FAIL]);
  assert.notEqual(partitioned.code, 0, 'a put through a blackholed proxy must fail');

  proxy.heal();
  const healed = await etcdctl([proxy.endpoint], ['put', 'proxied', '3']);
  assert.equal(healed.code, 0, healed.stderr);
  assert.equal((await node.etcdctl(['get', 'proxied', '--print-value-only'])).stdout.trim(), '3');

  proxy.delay(150);
  const started = Date.now();
  const slow = await etcdctl([proxy.endpoint], ['get', 'proxied', '--print-value-only']);
  assert.equal(slow.stdout.trim(), '3');
  assert.ok(Date.now() - started >= 150, 'delay must slow the round trip');
  proxy.delay(0);

  // A raw socket shows what reset() looks like on the wire: ECONNRESET, not a clean close.
  const before = proxy.connections;
  const raw = connect({ host: '127.0.0.1', port: proxy.port });
  t.after(() => raw.destroy());
  await once(raw, 'connect');
  while (proxy.connections === before) await new Promise((r) => setTimeout(r, 10));
  const failure = once(raw, 'error');
  proxy.reset();
  const [err] = (await failure) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
});

test('worker: JSON lines, waitFor, send, kill, exit code', async (t) => {
  const file = fileURLToPath(new URL('./fixtures/echo-worker.ts', import.meta.url));
  const worker = spawnWorker(file, ['--flag'], { FIXTURE_TEST: '1' });
  t.after(() => worker.kill('SIGKILL'));

  const ready = await worker.waitFor((m) => m['event'] === 'ready', 10_000);
  assert.equal(ready['pid'], worker.pid);
  assert.deepEqual(ready['args'], ['--flag']);
  assert.match(worker.output(), /not json/);

  const since = worker.messages.length;
  worker.send('hello');
  const echo = await worker.waitFor((m) => m['event'] === 'echo', 5_000, { since });
  assert.equal(echo['value'], 'hello');

  worker.kill('SIGTERM');
  assert.equal(await worker.exited, 0);
  const seen: string[] = [];
  for await (const msg of worker.lines) seen.push(String(msg['event']));
  assert.deepEqual(seen, ['ready', 'echo', 'bye']);
  await assert.rejects(
    worker.waitFor((m) => m['event'] === 'never', 5_000),
    /exited/,
  );
});
