import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { LeaderElector, etcd, memory, type Backend } from '../src/index.js';
import { startEtcd, type EtcdNode, enableAuth } from './fixtures/etcd.js';
import { freePort } from './fixtures/ports.js';
import { eventually, sleep, within } from './helpers.js';

const ROOT = new URL('..', import.meta.url).pathname;

describe('LeaderElector: options are checked up front', () => {
  const backend = memory();
  after(() => backend.close());
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['ttl 0', { ttl: 0 }, /ttl must be a whole number of seconds from 1 to 86400, got 0/],
    ['ttl "abc"', { ttl: 'abc' }, /ttl must be a whole number of seconds/],
    ['ttl 1e9', { ttl: 1e9 }, /ttl must be a whole number of seconds.*got 1000000000/],
    ['margin >= ttl', { ttl: 2, margin: 2000 }, /margin \(2000 ms\) must be smaller than the TTL/],
    ['negative margin', { margin: -1 }, /margin must be a non-negative number/],
    ['backoff initial > max', { backoff: { initial: 500, max: 100 } }, /backoff.initial .* must not exceed/],
    ['backoff NaN', { backoff: { max: Number.NaN } }, /backoff.max must be a non-negative number/],
    ['flapGuard maxTerms 0', { flapGuard: { maxTerms: 0, windowMs: 10 } }, /flapGuard.maxTerms/],
    ['flapGuard windowMs', { flapGuard: { maxTerms: 2, windowMs: 0 } }, /flapGuard.windowMs/],
    ['flapGuard true', { flapGuard: true }, /flapGuard must be false or/],
    ['no backend', { backend: { kind: 'etcd' } }, /backend must be a ballot Backend: pass etcd/],
  ];
  for (const [name, extra, message] of cases)
    test(`rejects ${name}`, () => {
      const options = { backend, election: 'e', value: 'v', ...extra } as never;
      assert.throws(() => new LeaderElector(options), { code: 'INVALID_ARGUMENT', message });
    });
});

describe('LeaderElector: errors no retry can fix stop it', () => {
  test('a closed backend: error event, terms() rejects before and after, stop() resolves', async () => {
    const backend = memory();
    await backend.close();
    const elector = new LeaderElector({ backend, election: 'e', value: 'v', backoff: { initial: 10 } });
    const errors: Error[] = [];
    const retries: Error[] = [];
    elector.on('error', (e) => errors.push(e));
    elector.on('retrying', (e) => retries.push(e));
    const early = elector.terms().next();
    await assert.rejects(within(early, 5000, 'terms() to reject'), { code: 'CLOSED' });
    await assert.rejects(elector.terms().next(), { code: 'CLOSED' });
    assert.equal(errors.length, 1);
    assert.deepEqual(retries, [], 'not retried');
    await within(elector.stop(), 5000, 'stop()');
  });

  test('with no listener and no terms() loop, the error is an uncaught exception', async () => {
    const script = `
      import { LeaderElector, memory } from './src/index.ts';
      const backend = memory();
      await backend.close();
      new LeaderElector({ backend, election: 'e', value: 'v' });
      setTimeout(() => console.log('still running'), 5000);
    `;
    const run = promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: ROOT,
        timeout: 20_000,
      },
    );
    const failure = await run.then(
      () => assert.fail('the program should have died'),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    assert.equal(failure.code, 1);
    assert.match(failure.stderr, /ClosedError|backend is closed/);
    assert.doesNotMatch(failure.stdout, /still running/);
  });

  test('a terms() loop without an error listener gets the rejection (nothing uncaught)', async () => {
    const backend = memory();
    await backend.close();
    const elector = new LeaderElector({ backend, election: 'e', value: 'v' });
    const loop = (async () => {
      for await (const _ of elector.terms()) assert.fail('no term expected');
    })();
    await assert.rejects(within(loop, 5000, 'the terms() loop to end'), { code: 'CLOSED' });
    await elector.stop();
  });
});

describe('LeaderElector on etcd: wrong credentials and unreachable endpoints', () => {
  let node: EtcdNode;
  before(async () => {
    node = await startEtcd();
    await enableAuth(node);
  });
  after(() => node.stop());

  test('wrong credentials stop the elector with AUTH instead of retrying forever', async () => {
    const backend = etcd({ endpoints: [node.endpoint], auth: { username: 'root', password: 'nope' } });
    try {
      const elector = new LeaderElector({ backend, election: 'auth', value: 'v', backoff: { initial: 10 } });
      const retries: Error[] = [];
      elector.on('retrying', (e) => retries.push(e));
      const early = elector.terms().next();
      const errors: Error[] = [];
      elector.on('error', (e) => errors.push(e));
      await assert.rejects(within(early, 10_000, 'terms() to reject'), { code: 'AUTH' });
      await assert.rejects(elector.terms().next(), { code: 'AUTH' });
      assert.equal(errors.length, 1);
      assert.equal((errors[0] as { code?: string }).code, 'AUTH');
      assert.deepEqual(retries, []);
      await within(elector.stop(), 5000, 'stop()');
    } finally {
      await backend.close();
    }
  });

  test("permissions revoked while leading stop the elector through its observer's AUTH error", async () => {
    const root = ['--user=root:rootpw'];
    const run = (args: string[], input?: string) =>
      node.etcdctl([...root, ...args], input === undefined ? {} : { input });
    assert.equal((await run(['role', 'add', 'obs-role'])).code, 0);
    assert.equal(
      (await run(['role', 'grant-permission', 'obs-role', 'readwrite', 'obs', '--prefix=true'])).code,
      0,
    );
    assert.equal((await run(['user', 'add', 'obs-user', '--interactive=false'], 'pw\n')).code, 0);
    assert.equal((await run(['user', 'grant-role', 'obs-user', 'obs-role'])).code, 0);
    const backend = etcd({ endpoints: [node.endpoint], auth: { username: 'obs-user', password: 'pw' } });
    try {
      const elector = new LeaderElector({ backend, election: 'obs', value: 'v', ttl: 2 });
      const errors: Error[] = [];
      elector.on('error', (e) => errors.push(e));
      await eventually(() => elector.isLeader(), 10_000, 'the elector to lead');
      assert.equal((await run(['role', 'revoke-permission', 'obs-role', 'obs', '--prefix=true'])).code, 0);
      // Leading needs no further key access (keepalives are lease calls); the observer's
      // confirming read is what meets the refusal, and it must not be swallowed.
      await eventually(() => errors.length > 0, 10_000, 'the error event');
      assert.equal((errors[0] as { code?: string }).code, 'AUTH');
      await within(elector.stop(), 10_000, 'stop()');
    } finally {
      await backend.close();
    }
  });

  test('an unreachable endpoint is reported from the first failure on', async () => {
    const port = await freePort();
    const backend = etcd({ endpoints: [`127.0.0.1:${port}`], dialTimeout: 200, callTimeout: 200 });
    const elector = new LeaderElector({ backend, election: 'gone', value: 'v', backoff: { initial: 50 } });
    try {
      const [error, delay] = await within(
        new Promise<[Error, number]>((resolve) => elector.once('retrying', (e, d) => resolve([e, d]))),
        5000,
        'the first retrying event',
      );
      assert.equal((error as { code?: string }).code, 'UNAVAILABLE');
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.equal(delay, 50, 'the first failure, not a later one');
    } finally {
      await elector.stop();
      await backend.close();
    }
  });

  test('with no retrying listener, one process warning names the election and the error', async () => {
    const port = await freePort();
    const backend: Backend = etcd({ endpoints: [`127.0.0.1:${port}`], dialTimeout: 100, callTimeout: 100 });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => {
      if ((w as { code?: string }).code === 'BALLOT_ELECTOR_RETRYING') warnings.push(w);
    };
    process.on('warning', onWarning);
    const elector = new LeaderElector({
      backend,
      election: 'quiet',
      value: 'v',
      backoff: { initial: 10, max: 20 },
    });
    try {
      await eventually(() => warnings.length > 0, 5000, 'a warning');
      await sleep(1000); // many more failures happen here
      assert.equal(warnings.length, 1, 'once per elector, not once per failure');
      assert.match(warnings[0]!.message, /"quiet"/);
      assert.match(warnings[0]!.message, /cannot reach etcd/);
    } finally {
      process.off('warning', onWarning);
      await elector.stop();
      await backend.close();
    }
  });
});
