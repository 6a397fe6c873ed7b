import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { postgres, zookeeper, type Backend } from '../src/index.js';
import { entryKeys, type EtcdNode } from './fixtures/etcd.js';
import type { PostgresServer } from './fixtures/postgres.js';
import type { ZookeeperServer } from './fixtures/zookeeper.js';
import { startExampleServer, type ExampleServer } from './fixtures/example-servers.js';
import { killExamples, REPO_ROOT, runExample, type ExampleProcess } from './fixtures/example-process.js';
import { within } from './helpers.js';

// The README's code is these programs; each runs here as a user would run it, on both backends.

/** Longer than any example needs, far shorter than "never": a process that does not close hangs. */
const EXIT_WITHIN_MS = 10_000;

afterEach(killExamples);

async function finished(child: ExampleProcess, what: string): Promise<void> {
  const exit = await within(child.exited, 60_000, `${what} to exit`);
  assert.deepEqual(exit, { code: 0, signal: null }, `${what} failed\n${child.output()}`);
  assert.equal(child.stderr(), '', `${what} wrote to stderr`);
}

/** Signals the elector service and checks that it stops and exits by itself, with status 0. */
async function stopService(child: ExampleProcess, signal: NodeJS.Signals): Promise<void> {
  child.kill(signal);
  const exit = await within(child.exited, EXIT_WITHIN_MS, `the service to exit after ${signal}`);
  assert.deepEqual(exit, { code: 0, signal: null }, child.output());
  assert.ok(child.lines.includes(`${signal}: stopping`), child.output());
  assert.equal(child.lines.at(-1), 'stopped', child.output());
  assert.equal(child.stderr(), '', child.output());
}

for (const kind of ['etcd', 'memory', 'postgres', 'zookeeper'] as const) {
  describe(`examples on ${kind}`, () => {
    let node: EtcdNode | undefined;
    let pg: { server: PostgresServer; backend: Backend } | undefined;
    let zk: { server: ZookeeperServer; backend: Backend } | undefined;
    let servers: ExampleServer;
    let env: Record<string, string> = {};
    before(async () => {
      servers = await startExampleServer(kind);
      env = servers.env;
      node = servers.etcd;
      if (servers.postgres)
        pg = {
          server: servers.postgres,
          backend: postgres({ connectionString: servers.postgres.url(), env: {} }),
        };
      if (servers.zookeeper)
        zk = {
          server: servers.zookeeper,
          backend: zookeeper({ connect: servers.zookeeper.connect, env: {} }),
        };
    });
    after(async () => {
      await pg?.backend.close();
      await zk?.backend.close();
      await servers?.stop();
    });

    /** The entries of an election in line order, read from the server the example runs on. */
    async function entries(election: string): Promise<string[]> {
      const direct = pg ?? zk;
      if (direct) return (await direct.backend.participants(election)).map((p) => p.key);
      return entryKeys(node!, election);
    }

    /** A key's value read from the server by our own backend object (PostgreSQL, ZooKeeper). */
    function directValue(key: string): Promise<string | undefined> {
      return (pg ?? zk)!.backend.get(key);
    }

    /** A key's value as etcdctl sees it (the tests' independent view of etcd). */
    async function etcdValue(key: string): Promise<string | undefined> {
      const out = await node!.etcdctl(['get', '--print-value-only', key]);
      return out.stdout === '' ? undefined : out.stdout.replace(/\n$/, '');
    }

    test('elector-service.ts leads, writes, and leaves at once on SIGINT and SIGTERM', async () => {
      const first = runExample(['examples/elector-service.ts'], env);
      await first.waitForLine(/^elected: leading "scheduler" with token \d+$/);
      await first.waitForLine(/^wrote \S+$/);
      if (kind === 'memory') return stopService(first, 'SIGTERM');

      // Only the leader's entry: the guarded write must land outside the election's keys, or it
      // would become the oldest entry once the leader leaves and block the election for good.
      const [firstKey, ...rest] = await entries('scheduler');
      assert.ok(firstKey && rest.length === 0, `one entry, the leader's: ${[firstKey, ...rest].join(' ')}`);
      if (kind === 'etcd')
        assert.match((await etcdValue('state/scheduler/last-run')) ?? '', /^\d{4}-\d\d-\d\dT/);
      else assert.match((await directValue('state/scheduler/last-run')) ?? '', /^\d{4}-\d\d-\d\dT/);
      const second = runExample(['examples/elector-service.ts'], env);
      await within(
        (async () => {
          while ((await entries('scheduler')).length < 2) await new Promise((r) => setTimeout(r, 50));
        })(),
        30_000,
        'the second copy to queue',
      );
      assert.ok(!second.lines.some((l) => l.startsWith('elected')), 'the second copy waits');

      await stopService(first, 'SIGINT');
      // Right after exit, not after the 5 s TTL: the service resigned and revoked its lease.
      assert.ok(!(await entries('scheduler')).includes(firstKey), 'the first entry is gone');
      assert.ok(
        first.lines.some((l) => /^deposed: term \d+ ended \(resigned\)$/.test(l)),
        first.output(),
      );
      await second.waitForLine(/^elected: /);
      await second.waitForLine(/^wrote /);

      await stopService(second, 'SIGTERM');
      assert.deepEqual(await entries('scheduler'), [], 'nothing left behind');
    });

    test('guarded-write.ts: the write lands; the stale term after handover does not', async () => {
      const child = runExample(['examples/guarded-write.ts'], env);
      await finished(child, 'guarded-write.ts');
      const text = child.lines.join('\n');
      assert.match(text, /^a leads with token \d+$/m);
      assert.match(text, /^a's write committed: true$/m);
      assert.match(text, /^b leads with token \d+$/m);
      assert.match(text, /^a's stale write committed: false$/m);
      assert.match(text, /^state\/reports\/latest = report by b$/m);
      const tokens = [...text.matchAll(/leads with token (\d+)/g)].map((m) => BigInt(m[1]!));
      assert.ok(tokens[1]! > tokens[0]!, 'b has the greater token');
      if (kind === 'memory') return;
      if (kind === 'etcd') assert.equal(await etcdValue('state/reports/latest'), 'report by b');
      assert.deepEqual(await entries('reports'), [], 'both sessions closed');
    });

    test('serving.ts: health, readiness and metrics of the leader on one port, JSON log lines', async () => {
      const child = runExample(['examples/serving.ts'], { ...env, OPS_PORT: '0' });
      await finished(child, 'serving.ts');
      const plain = child.lines.filter((l) => !l.startsWith('{'));
      assert.match(plain[0] ?? '', /^leading with token \d+$/);
      assert.deepEqual(plain.slice(1), [
        '/healthz 200 leader',
        '/readyz 200 leader',
        'ballot_is_leader{election="api"} 1',
      ]);
      const logs = child.lines
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        logs.map((r) => r['msg']),
        ['session opened', 'elected', 'deposed', 'elector stopped'],
      );
      assert.equal(logs[1]?.['token'], /token (\d+)/.exec(plain[0] ?? '')?.[1]);
      assert.equal(logs[2]?.['reason'], 'resigned');
    });

    test('mutex.ts: locks, writes fenced, excludes others, unlocks', async () => {
      const child = runExample(['examples/mutex.ts'], env);
      await finished(child, 'mutex.ts');
      assert.deepEqual(child.lines.slice(1), [
        'fenced write committed: true',
        "another session's tryLock: busy",
        'unlocked',
        "after unlock, the other session's tryLock: acquired",
      ]);
      assert.match(child.lines[0] ?? '', /^locked "nightly-backup" with token \d+$/);
      if (kind === 'memory') return;
      if (kind === 'etcd') assert.match((await etcdValue('state/nightly-backup/last-run')) ?? '', /^\d{4}-/);
      else assert.match((await directValue('state/nightly-backup/last-run')) ?? '', /^\d{4}-/);
      assert.deepEqual(await entries('nightly-backup'), [], 'the lock is released');
    });

    test('lower-level.ts: campaign, proclaim, resign, close', async () => {
      const child = runExample(['examples/lower-level.ts'], env);
      await finished(child, 'lower-level.ts');
      // Observer lines interleave with the rest depending on timing; these come in this order.
      const steps = child.lines.filter((l) => !l.startsWith('observed: '));
      assert.equal(steps.length, 3, child.output());
      assert.match(steps[0]!, /^leader with token \d+$/);
      assert.deepEqual(steps.slice(1), ['leader now: pod-1:v2', 'term ended: resigned']);
      if (kind !== 'memory') assert.deepEqual(await entries('scheduler'), []);
    });

    if (kind === 'postgres')
      test('postgres-jobs.ts: SQL under a guard lands while leading; the old term writes nothing', async () => {
        const child = runExample(['examples/postgres-jobs.ts'], env);
        await finished(child, 'postgres-jobs.ts');
        const text = child.lines.join('\n');
        const [a, b] = [...text.matchAll(/ran invoices with token (\d+)/g)].map((m) => BigInt(m[1]!));
        assert.ok(a !== undefined && b !== undefined && b > a, text);
        assert.match(text, /runs so far: pod-a, pod-b$/m);
        assert.match(text, /^pod-a's late write: refused \(NOT_LEADER\)$/m);
        const { rows } = await pg!.server.query<{ token: string; runner: string }>(
          'SELECT token::text AS token, runner FROM invoice_runs ORDER BY invoice_runs.token',
        );
        assert.deepEqual(rows, [
          { token: String(a), runner: 'pod-a' },
          { token: String(b), runner: 'pod-b' },
        ]);
        assert.deepEqual(await entries('billing'), [], 'both sessions closed');
      });

    if (kind === 'zookeeper')
      test('zookeeper-latch.ts: a latch path, guarded multis, the late write refused', async () => {
        const child = runExample(['examples/zookeeper-latch.ts'], env);
        await finished(child, 'zookeeper-latch.ts');
        const text = child.lines.join('\n');
        assert.match(text, /^session timeout granted: \d+(\.\d+)? s$/m);
        const [a, b] = [...text.matchAll(/leads with token (\d+)/g)].map((m) => BigInt(m[1]!));
        assert.ok(a !== undefined && b !== undefined && b > a, text);
        assert.match(text, /^leader seen by any reader: pod-b$/m);
        assert.match(text, /^pod-a's late write(: refused \(NOT_LEADER\)| committed: false)$/m);
        assert.match(text, /^owner: pod-b$/m);
        assert.equal(await directValue('/services/jobs/owner'), 'pod-b', 'the znode holds the last term');
        assert.deepEqual(await entries('/services/jobs/leader'), [], 'both sessions closed');
      });
  });
}

test('leader-logic.test.ts passes under node --test', async () => {
  const child = runExample(['--test', 'examples/leader-logic.test.ts']);
  const exit = await within(child.exited, 60_000, 'the example test to finish');
  assert.deepEqual(exit, { code: 0, signal: null }, child.output());
  assert.ok(child.lines.includes('# pass 1') && child.lines.includes('# fail 0'), child.output());
});

/** The code of `file`, or of its `// #region name` ... `// #endregion` part. */
function exampleCode(file: string, region: string | undefined): string {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  if (region === undefined) return text;
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `// #region ${region}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === '// #endregion');
  assert.ok(start >= 0 && end > start, `${file} has no region "${region}"`);
  return lines.slice(start + 1, end).join('\n') + '\n';
}

test('every ts block in README.md is an example, or a marked region of one', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)];
  let checked = 0;
  for (const block of blocks) {
    if (!['ts', 'typescript', 'js', 'javascript'].includes(block[1]!)) continue;
    const before = readme.slice(0, block.index).trimEnd().split('\n').at(-1) ?? '';
    const marker = /^<!-- example: (examples\/[\w.-]+\.ts)(?:#([\w-]+))? -->$/.exec(before);
    assert.ok(marker, `README.md: a ${block[1]} block without an example marker:\n${block[2]}`);
    assert.equal(block[2], exampleCode(marker[1]!, marker[2]), `README.md differs from ${marker[1]}`);
    checked++;
  }
  assert.ok(checked >= 3, `only ${checked} code blocks checked`);
});
