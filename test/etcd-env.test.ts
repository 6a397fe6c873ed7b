/**
 * etcdctl's environment variables (ETCDCTL_*): how they are parsed, that `etcd()` and the `ballot`
 * command connect with them alone, and that explicit options and flags win over them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  envAuth,
  envDialTimeout,
  envTls,
  parseGoDuration,
  withEnvironment,
} from '../src/backends/etcd/env.js';
import { etcd } from '../src/index.js';
import { buildCli, runCli } from './cli-process.js';
import { startEtcd, type EtcdNode, enableAuth, disableAuth } from './fixtures/etcd.js';

describe('ETCDCTL_* parsing', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballot-env-'));
    await writeFile(join(dir, 'ca.pem'), 'CA');
    await writeFile(join(dir, 'cert.pem'), 'CERT');
    await writeFile(join(dir, 'key.pem'), 'KEY');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('durations in etcdctl (Go) format', () => {
    const cases: [string, number | undefined][] = [
      ['2s', 2000],
      ['500ms', 500],
      ['1m30s', 90_000],
      ['1.5h', 5_400_000],
      ['1500us', 1.5],
      ['0', 0],
      ['-1s', -1000],
      ['2', undefined],
      ['2 s', undefined],
      ['s', undefined],
      ['', undefined],
      ['2d', undefined],
    ];
    for (const [text, ms] of cases) assert.equal(parseGoDuration(text), ms, JSON.stringify(text));
    assert.equal(envDialTimeout({ ETCDCTL_DIAL_TIMEOUT: '3s' }), 3000);
    assert.equal(envDialTimeout({ ETCDCTL_DIAL_TIMEOUT: '' }), undefined, 'empty counts as unset');
    for (const bad of ['3', '0s', '-1s'])
      assert.throws(() => envDialTimeout({ ETCDCTL_DIAL_TIMEOUT: bad }), {
        code: 'INVALID_ARGUMENT',
        message: new RegExp(`ETCDCTL_DIAL_TIMEOUT must be a positive duration .*"${bad}"`),
      });
  });

  test('credentials: "name:password", or the name with ETCDCTL_PASSWORD', () => {
    assert.deepEqual(envAuth({ ETCDCTL_USER: 'root:pw:with:colons' }), {
      username: 'root',
      password: 'pw:with:colons',
    });
    // With ETCDCTL_PASSWORD, ETCDCTL_USER is the whole name (etcdctl's rule).
    assert.deepEqual(envAuth({ ETCDCTL_USER: 'a:b', ETCDCTL_PASSWORD: 'pw' }), {
      username: 'a:b',
      password: 'pw',
    });
    assert.equal(envAuth({ ETCDCTL_PASSWORD: 'pw' }), undefined, 'a password without a user is ignored');
    assert.equal(envAuth({ ETCDCTL_USER: '' }), undefined, 'empty counts as unset');
    assert.throws(() => envAuth({ ETCDCTL_USER: 'root' }), {
      code: 'INVALID_ARGUMENT',
      message: /ETCDCTL_USER "root" has no password: set ETCDCTL_USER=name:password, or ETCDCTL_PASSWORD/,
    });
    assert.throws(() => envAuth({ ETCDCTL_USER: ':pw' }), { code: 'INVALID_ARGUMENT' });
  });

  test('TLS files are read, and one that cannot be read is named by its variable', () => {
    const tls = envTls({
      ETCDCTL_CACERT: join(dir, 'ca.pem'),
      ETCDCTL_CERT: join(dir, 'cert.pem'),
      ETCDCTL_KEY: join(dir, 'key.pem'),
    });
    assert.deepEqual(
      { ca: String(tls?.ca), cert: String(tls?.cert), key: String(tls?.key) },
      { ca: 'CA', cert: 'CERT', key: 'KEY' },
    );
    assert.deepEqual(envTls({ ETCDCTL_CACERT: join(dir, 'ca.pem'), ETCDCTL_CERT: '', ETCDCTL_KEY: '' }), {
      ca: Buffer.from('CA'),
    });
    assert.equal(envTls({}), undefined);
    const missing = join(dir, 'nope.pem');
    assert.throws(() => envTls({ ETCDCTL_CACERT: missing }), {
      code: 'INVALID_ARGUMENT',
      message: `cannot read ETCDCTL_CACERT=${missing} (ENOENT): set it to a readable PEM file`,
    });
    assert.throws(() => envTls({ ETCDCTL_CERT: join(dir, 'cert.pem') }), {
      code: 'INVALID_ARGUMENT',
      message: /ETCDCTL_CERT and ETCDCTL_KEY go together/,
    });
  });

  test('explicit options win; the environment fills the rest; 127.0.0.1:2379 by default', () => {
    const env = {
      ETCDCTL_ENDPOINTS: 'a:1, b:2,',
      ETCDCTL_USER: 'u:p',
      ETCDCTL_DIAL_TIMEOUT: '1s',
      ETCDCTL_CACERT: join(dir, 'ca.pem'),
    };
    assert.deepEqual(withEnvironment({}, env), {
      endpoints: ['a:1', 'b:2'],
      auth: { username: 'u', password: 'p' },
      dialTimeout: 1000,
      tls: { ca: Buffer.from('CA') },
    });
    assert.deepEqual(
      withEnvironment(
        { endpoints: ['x:9'], auth: { username: 'v', password: 'q' }, dialTimeout: 7, tls: { ca: 'mine' } },
        { ...env, ETCDCTL_CACERT: join(dir, 'nope.pem') },
      ),
      { endpoints: ['x:9'], auth: { username: 'v', password: 'q' }, dialTimeout: 7, tls: { ca: 'mine' } },
      'an explicit setting means its variables are not even read',
    );
    assert.deepEqual(withEnvironment({}, {}), { endpoints: ['127.0.0.1:2379'] });
    assert.deepEqual(withEnvironment({}, { ETCDCTL_ENDPOINTS: '' }), { endpoints: ['127.0.0.1:2379'] });
  });
});

describe('ETCDCTL_* against a real etcd', () => {
  let node: EtcdNode;
  before(async () => {
    [node] = await Promise.all([startEtcd({ name: 'env' }), buildCli()]);
  });
  after(() => node?.stop());

  test('etcd() with no options connects to ETCDCTL_ENDPOINTS; explicit endpoints win', async () => {
    const saved = process.env['ETCDCTL_ENDPOINTS'];
    process.env['ETCDCTL_ENDPOINTS'] = node.endpoint;
    const fromEnv = etcd();
    const explicit = etcd({ endpoints: [node.endpoint], env: { ETCDCTL_ENDPOINTS: '127.0.0.1:1' } });
    try {
      const session = await fromEnv.session({ ttl: 5 });
      const term = await session.election('env').campaign('from-env');
      assert.equal((await term.guard((tx) => tx.put('env-data', 'ok'))).committed, true);
      assert.equal((await node.etcdctl(['get', 'env-data', '--print-value-only'])).stdout.trim(), 'ok');
      assert.equal((await (await explicit.session({ ttl: 5 })).election('env').leader())?.value, 'from-env');
    } finally {
      if (saved === undefined) delete process.env['ETCDCTL_ENDPOINTS'];
      else process.env['ETCDCTL_ENDPOINTS'] = saved;
      await fromEnv.close();
      await explicit.close();
    }
  });

  test('with auth enabled, etcd() and the command log in with ETCDCTL_USER / ETCDCTL_PASSWORD', async () => {
    await enableAuth(node);
    const base = { ETCDCTL_ENDPOINTS: node.endpoint, ETCDCTL_DIAL_TIMEOUT: '2s' };
    const withUser = etcd({ env: { ...base, ETCDCTL_USER: 'root:rootpw' } });
    try {
      const term = await (await withUser.session({ ttl: 5 })).election('env-auth').campaign('library');
      assert.equal(term.active, true);

      // The command, with the endpoint, the user and the password from the environment only.
      const env = { ...base, ETCDCTL_USER: 'root', ETCDCTL_PASSWORD: 'rootpw' };
      const leader = await runCli(['leader', 'env-auth', '--json'], undefined, env);
      assert.equal(leader.code, 0, leader.stderr);
      assert.equal((JSON.parse(leader.stdout) as { value: string }).value, 'library');
      const listed = await runCli(['list', 'env-auth'], undefined, { ...base, ETCDCTL_USER: 'root:rootpw' });
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /env-auth\s+leader\s+library/);
      // A flag wins over its variable: a wrong --password fails although ETCDCTL_PASSWORD is right.
      const flagWins = await runCli(['leader', 'env-auth', '--password', 'wrong'], undefined, env);
      assert.notEqual(flagWins.code, 0);
      assert.doesNotMatch(flagWins.stdout, /library/);
      // Without credentials etcd refuses.
      const anonymous = await runCli(['leader', 'env-auth'], undefined, base);
      assert.notEqual(anonymous.code, 0);
      assert.doesNotMatch(anonymous.stdout, /library/);
      // A user without a password is a usage error that names the variables.
      const noPassword = await runCli(['leader', 'env-auth'], undefined, { ...base, ETCDCTL_USER: 'root' });
      assert.equal(noPassword.code, 2);
      assert.match(noPassword.stderr, /ETCDCTL_USER "root" has no password/);
    } finally {
      await disableAuth(node);
      await withUser.close();
    }
  });
});
