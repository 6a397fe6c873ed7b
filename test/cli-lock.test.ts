import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildCli, killAndTimeOrphans, runCli, startCli } from './cli-process.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { eventually } from './helpers.js';

describe('ballot lock (built command, real etcd)', () => {
  let node: EtcdNode;
  before(async () => {
    await buildCli();
    node = await startEtcd();
  });
  after(() => node.stop());

  for (const mode of ['client', 'service']) {
    test(`${mode} mode: the second holder runs only after the first exits, with a larger token`, async () => {
      const name = `cli-lock-${mode}`;
      const first = startCli(
        ['lock', name, '--mode', mode, '--', 'sh', '-c', 'echo "held $BALLOT_LOCK $BALLOT_TOKEN"; sleep 1'],
        node.endpoint,
      );
      const firstLine = await first.line('stdout', (l) => l.startsWith('held '), 10_000);
      const second = runCli(
        ['lock', name, '--mode', mode, '--', 'sh', '-c', 'echo "held $BALLOT_LOCK $BALLOT_TOKEN"'],
        node.endpoint,
      );
      await eventually(() => first.stdout.length > 0, 5000, 'first to print');
      assert.equal(await first.exited, 0);
      const done = await second;
      assert.equal(done.code, 0, done.stderr);
      const [, lockName, firstToken] = firstLine.split(' ');
      const secondToken = done.stdout
        .split('\n')
        .find((l) => l.startsWith('held '))
        ?.split(' ')[2];
      assert.equal(lockName, name);
      assert.ok(
        secondToken && BigInt(secondToken) > BigInt(firstToken ?? '0'),
        `${secondToken} > ${firstToken}`,
      );
      const left = await node.etcdctl(['get', '--prefix', '--keys-only', `${name}/`]);
      assert.equal(left.stdout.trim(), '', 'nothing left behind');
    });
  }

  test('the command exit code propagates and a missing command is a usage error', async () => {
    assert.equal(
      (await runCli(['lock', 'cli-lock-code', '--', 'sh', '-c', 'exit 7'], node.endpoint)).code,
      7,
    );
    const usage = await runCli(['lock', 'cli-lock-code'], node.endpoint);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /missing command after --/);
  });

  test('a SIGKILLed ballot lock takes its command group with it', async () => {
    const holder = startCli(
      ['lock', 'cli-lock-orphan', '--json', '--', 'sh', '-c', 'sleep 60 & echo "pids $$ $!"; wait'],
      node.endpoint,
    );
    try {
      const { ms, left } = await killAndTimeOrphans(holder, 1000);
      assert.deepEqual(left, [], `still running ${ms.toFixed(0)} ms after ballot was SIGKILLed`);
    } finally {
      holder.kill('SIGKILL');
      await holder.exited;
    }
  });
});
