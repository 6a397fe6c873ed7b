import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { etcd } from '../src/index.js';
import { Connection } from '../src/etcd/connection.js';
import { buildCli, runCli } from './cli-process.js';
import { freePort } from './fixtures/ports.js';
import { sleep } from './helpers.js';

/** Makes a throwaway CA, a server certificate for 127.0.0.1 and a client certificate, with openssl. */
function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ca = (name: string, cn: string) =>
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
  ca('ca', 'ballot-test-ca');
  // A second CA that signed nothing the server has: the "wrong --cacert" case.
  ca('other-ca', 'ballot-other-ca');
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

  test('a prepared call (readyResign) goes over TLS with the same CA, certificate and key', async () => {
    const tls = { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') };
    const connection = new Connection({ endpoints: [endpoint], tls });
    try {
      const key = Buffer.from('tls-ready');
      await connection.call('/etcdserverpb.KV/Put', { key, value: Buffer.from('1') });
      const call = connection.prepare('/etcdserverpb.KV/Txn', {
        compare: [{ result: 'NOT_EQUAL', target: 'CREATE', key, create_revision: '0' }],
        success: [{ request_delete_range: { key } }],
        failure: [],
      });
      assert.equal((await call?.fire(2000))?.succeeded, true);
      assert.equal((await connection.call('/etcdserverpb.KV/Range', { key })).kvs.length, 0);
      assert.equal(connection.preparedStats().answered, 1);
    } finally {
      connection.close();
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

  test('a CA that did not sign the server certificate: AUTH, saying TLS verification failed and to check the CA', async () => {
    const started = performance.now();
    const wrongCa = etcd({ endpoints: [endpoint], tls: { ca: pem('other-ca.crt') }, dialTimeout: 5000 });
    try {
      const err = await wrongCa.session({ ttl: 5 }).then(
        () => assert.fail('a server signed by another CA was trusted'),
        (e: unknown) => e as Error & { code: string },
      );
      assert.equal(err.code, 'AUTH', err.message);
      assert.match(err.message, /TLS verification of the server failed/);
      assert.match(err.message, /--cacert/);
      assert.doesNotMatch(err.message, /cannot reach|Resolution note/);
    } finally {
      await wrongCa.close();
    }
    const cli = await runCli(
      [
        'leader',
        'e',
        '--cacert',
        join(dir, 'other-ca.crt'),
        '--cert',
        join(dir, 'client.crt'),
        '--key',
        join(dir, 'client.key'),
      ],
      endpoint.replace('https://', ''),
    );
    assert.equal(cli.code, 6, cli.stderr);
    assert.match(cli.stderr, /TLS verification of the server failed.*check --cacert/);
    assert.ok(performance.now() - started < 20_000);
  });

  test('a plain endpoint to a TLS etcd: AUTH, saying the server expects TLS (https:// or --cacert)', async () => {
    const plain = endpoint.replace('https://', '');
    const backend = etcd({ endpoints: [plain], dialTimeout: 3000 });
    try {
      await assert.rejects(backend.session({ ttl: 5 }), {
        code: 'AUTH',
        message: new RegExp(`etcd at ${plain.replace(/\./g, '\\.')} expects TLS.*https://.*--cacert`),
      });
    } finally {
      await backend.close();
    }
    const cli = await runCli(['leader', 'e', '--dial-timeout', '3s'], plain);
    assert.equal(cli.code, 6, cli.stderr);
    assert.match(cli.stderr, /expects TLS but the connection is plain: use https:\/\//);
  });

  test('TLS to an IP endpoint prints no DEP0123 warning and still checks the certificate', async () => {
    const tls = [
      '--cacert',
      join(dir, 'ca.crt'),
      '--cert',
      join(dir, 'client.crt'),
      '--key',
      join(dir, 'client.key'),
    ];
    const plain = endpoint.replace('https://', '');
    const leader = await runCli(['leader', 'e', ...tls], plain);
    assert.equal(leader.code, 3, leader.stderr); // reached the server over TLS: no leader there
    assert.doesNotMatch(leader.stderr, /DEP0123|DeprecationWarning/);
    // The certificate names 127.0.0.1 only; the same server reached as "localhost" is refused.
    const port = plain.split(':')[1];
    const byName = await runCli(['leader', 'e', ...tls], `localhost:${port}`);
    assert.equal(byName.code, 6, byName.stderr);
    assert.match(byName.stderr, /TLS verification of the server failed/);
  });
});
