import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { startExampleServer, type ExampleServer } from './fixtures/example-servers.js';
import { killExamples, runExample, type ExampleProcess } from './fixtures/example-process.js';
import { freePort } from './fixtures/ports.js';
import { GateClient } from './gate-client.js';
import { within } from './helpers.js';

// examples/serve-gate.ts (the README's "Serving behind an election") and examples/grpc-leader.ts,
// run as a user runs them.

afterEach(killExamples);

async function exitsCleanly(child: ExampleProcess, what: string): Promise<void> {
  const exit = await within(child.exited, 30_000, `${what} to exit`);
  assert.deepEqual(exit, { code: 0, signal: null }, `${what} failed\n${child.output()}`);
  assert.equal(child.stderr(), '', `${what} wrote to stderr`);
}

for (const kind of ['etcd', 'memory', 'postgres', 'zookeeper'] as const) {
  describe(`serving examples on ${kind}`, () => {
    let servers: ExampleServer;
    let env: Record<string, string> = {};
    let client: GateClient;
    before(async () => {
      client = new GateClient();
      servers = await startExampleServer(kind);
      env = servers.env;
    });
    after(async () => {
      await client.close();
      await servers?.stop();
    });

    test('grpc-leader.ts: the client reaches the leader, then the next one after a resign', async () => {
      const child = runExample(['examples/grpc-leader.ts'], env);
      await exitsCleanly(child, 'grpc-leader.ts');
      const [first, second] = child.lines.map((l) => /^WhoAmI answered by (\w+) with token (\d+)$/.exec(l));
      assert.ok(first && second, child.output());
      assert.equal(first[1], 'alpha');
      assert.equal(second[1], 'beta');
      assert.ok(BigInt(second[2]!) > BigInt(first[2]!), child.output());
    });

    if (kind !== 'memory')
      test('crawler-demo.ts: three masters; leader killed, then paused: claims go on, no item handed out twice', async () => {
        const child = runExample(['examples/crawler-demo.ts'], env);
        await exitsCleanly(child, 'crawler-demo.ts');
        const text = child.lines.join('\n');
        // Each fault is followed by claims served again, by another master: a gap, never an end.
        const gaps = [...text.matchAll(/^(killed|paused) the leader (m\d); served again after (\d+) ms$/gm)];
        assert.equal(gaps.length, 2, text);
        assert.notEqual(gaps[0]![2], gaps[1]![2], 'the paused leader is the one elected after the kill');
        const [, sent, served] = /^claims: (\d+) sent, (\d+) served, \d+ refused$/m.exec(text) ?? [];
        assert.ok(Number(served) > 0 && Number(served) <= Number(sent), text);
        assert.match(text, /^items handed out twice: 0$/m);
      });

    test('serve-gate.ts: a follower passes requests to the leader; after SIGTERM the next one serves', async () => {
      const p1 = await freePort();
      const one = runExample(['examples/serve-gate.ts'], { ...env, PORT: String(p1) });
      await one.waitForLine(/^elected: serving with token \d+$/);
      const alone = await client.call(`http://127.0.0.1:${p1}/jobs`);
      assert.equal(JSON.parse(alone.text).servedBy, `node-${p1}`);
      assert.match(alone.headers['ballot-token'] ?? '', /^\d+$/);
      if (kind === 'memory') {
        one.kill('SIGTERM');
        return exitsCleanly(one, 'serve-gate.ts');
      }
      const p2 = await freePort();
      const two = runExample(['examples/serve-gate.ts'], { ...env, PORT: String(p2) });
      await two.waitForLine(new RegExp(`^leader: node-${p1} at http://127.0.0.1:${p1}$`));
      const forwarded = await client.call(`http://127.0.0.1:${p2}/jobs?page=2`);
      assert.deepEqual(JSON.parse(forwarded.text), { servedBy: `node-${p1}`, path: '/jobs?page=2' });
      assert.equal(forwarded.headers['ballot-token'], alone.headers['ballot-token']);

      one.kill('SIGTERM');
      await exitsCleanly(one, 'the first serve-gate.ts');
      assert.equal(one.lines.at(-1), 'stopped');
      await two.waitForLine(/^elected: serving with token \d+$/, 15_000);
      const taken = await client.call(`http://127.0.0.1:${p2}/jobs`);
      assert.equal(JSON.parse(taken.text).servedBy, `node-${p2}`);
      assert.ok(BigInt(taken.headers['ballot-token']!) > BigInt(alone.headers['ballot-token']!));
      two.kill('SIGTERM');
      await exitsCleanly(two, 'the second serve-gate.ts');
    });
  });
}
