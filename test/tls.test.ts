import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { etcd } from '../src/index.js';
import { buildCli, runCli } from './cli-process.js';
import { freePort } from './fixtures/ports.js';
import { sleep } from './helpers.js';

/** Makes a throwaway CA, a server certificate for 127.0.0.1 and a client certificate, with openssl. */
function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=ballot-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', '127.0.0.1'],
    ['client', 'ballot-client'],
  ] as const) {
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
  }
}

describe('etcd over TLS with client certificates', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let endpoint: string;
  const pem = (file: string) => readFileSync(join(dir, file));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ballot-tls-'));
    makeCertificates(dir);
    await buildCli();
    const [client, peer] = [await freePort(), await freePort()];
    endpoint = `https://127.0.0.1:${client}`;
    child = spawn(
      'etcd',
      [
        `--data-dir=${join(dir, 'data')}`,
        `--listen-client-urls=${endpoint}`,
        `--advertise-client-urls=${endpoint}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=default=http://127.0.0.1:${peer}`,
        `--cert-file=${join(dir, 'server.crt')}`,
        `--key-file=${join(dir, 'server.key')}`,
        `--trusted-ca-file=${join(dir, 'ca.crt')}`,
        '--client-cert-auth',
      ],
      { stdio: 'ignore' },
    );
  });
  after(async () => {
    child?.kill('SIGKILL');
    await sleep(100);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a session works with CA, client certificate and key; without the client certificate it is refused', async () => {
    const backend = etcd({
      endpoints: [endpoint],
      tls: { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') },
      dialTimeout: 1000,
    });
    try {
      let session;
      for (let i = 0; i < 30 && !session; i++)
        session = await backend.session({ ttl: 5 }).catch(() => sleep(250).then(() => undefined));
      assert.ok(session, 'etcd over TLS became reachable');
      const term = await session.election('tls').campaign('secure');
      assert.equal((await term.guard((tx) => tx.put('tls-data', 'ok'))).committed, true);
      assert.equal(await backend.get('tls-data'), 'ok');
    } finally {
      await backend.close();
    }
    const anonymous = etcd({ endpoints: [endpoint], tls: { ca: pem('ca.crt') }, dialTimeout: 1000 });
    try {
      await assert.rejects(anonymous.session({ ttl: 5 }), { code: 'UNAVAILABLE' });
    } finally {
      await anonymous.close();
    }
  });

  test('etcd() and the command take endpoint, CA, certificate and key from ETCDCTL_* alone', async () => {
    const env = {
      ETCDCTL_ENDPOINTS: endpoint,
      ETCDCTL_CACERT: join(dir, 'ca.crt'),
      ETCDCTL_CERT: join(dir, 'client.crt'),
      ETCDCTL_KEY: join(dir, 'client.key'),
    };
    const backend = etcd({ env });
    try {
      await (await backend.session({ ttl: 5 })).election('tls-env').campaign('from-env');
      const leader = await runCli(['leader', 'tls-env', '--json', '--dial-timeout', '3s'], undefined, env);
      assert.equal(leader.code, 0, leader.stderr);
      assert.equal((JSON.parse(leader.stdout) as { value: string }).value, 'from-env');
    } finally {
      await backend.close();
    }
    const missing = join(dir, 'missing-ca.crt');
    const bad = await runCli(['leader', 'tls-env'], undefined, { ...env, ETCDCTL_CACERT: missing });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, new RegExp(`cannot read ETCDCTL_CACERT=${missing} \\(ENOENT\\)`));
    assert.throws(() => etcd({ env: { ...env, ETCDCTL_CACERT: missing } }), {
      code: 'INVALID_ARGUMENT',
      message: /ETCDCTL_CACERT/,
    });
  });
});
