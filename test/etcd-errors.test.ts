import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { systemClock } from '../src/core/clock.js';
import { MemoryStore } from '../src/backends/memory/store.js';
import { EtcdClient } from '../src/etcd/client.js';
import { codecFor } from '../src/etcd/codec.js';
import {
  AUTH_DETAILS,
  BARE_CONNECT_FAILURE,
  ELECTION_NO_LEADER_DETAIL,
  ELECTION_NOT_LEADER_DETAIL,
  EMPTY_RESOLUTION_NOTE,
  FAILOVER_CODES,
  INVALID_AUTH_TOKEN_DETAIL,
  LEASE_NOT_FOUND_DETAIL,
  NO_CREDENTIALS_DETAIL,
  SERVER_DEADLINE_DETAIL,
  TLS_VERIFY_DETAILS,
  TRANSIENT_DETAILS,
  detailOf,
  isBareConnectFailure,
  isElectionWithoutLeader,
  isInvalidAuthToken,
  isLeaseNotFound,
  isNotElectionLeader,
  isUnauthenticated,
  translate,
  type TranslateContext,
} from '../src/etcd/errors.js';
import { BackendError } from '../src/index.js';
import { startEtcd, startEtcdCluster, type EtcdNode } from './fixtures/etcd.js';

/** The context translate() gets from a plain connection without credentials to `endpoint`. */
function plain(endpoint: string, what: string, credentials = false): TranslateContext {
  return { what, endpoints: [endpoint], secure: false, credentials };
}

/** A ServiceError as grpc-js builds it, for texts no single loopback etcd can be made to send. */
function recorded(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), {
    code,
    details,
    metadata: new grpc.Metadata(),
  });
}

/** One unary call with grpc-js itself, so a test sees etcd's own ServiceError, untranslated. */
function rawCall(
  raw: grpc.Client,
  path: string,
  request: unknown,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<grpc.ServiceError | { ok: unknown }> {
  return new Promise((resolve) => {
    const metadata = new grpc.Metadata();
    for (const [name, value] of Object.entries(headers)) metadata.set(name, value);
    const codec = codecFor(path);
    raw.makeUnaryRequest(
      path,
      codec.serialize,
      codec.deserialize,
      request,
      metadata,
      { deadline: Date.now() + timeoutMs },
      (err, value) => resolve(err ?? { ok: value }),
    );
  });
}

describe('etcd errors: shapes a real etcd sends, and what they become', () => {
  let node: EtcdNode;
  let raw: grpc.Client;
  let client: EtcdClient;

  const call = (path: string, request: unknown, token?: string) =>
    rawCall(raw, path, request, token === undefined ? {} : { token }, 5000);
  const failure = async (path: string, request: unknown, token?: string): Promise<grpc.ServiceError> => {
    const result = await call(path, request, token);
    assert.ok(!('ok' in result), `${path} should have failed`);
    return result;
  };

  before(async () => {
    node = await startEtcd();
    raw = new grpc.Client(node.endpoint, grpc.credentials.createInsecure());
    client = new EtcdClient({ endpoints: [node.endpoint] });
  });
  after(async () => {
    client.close();
    raw.close();
    await node.stop();
  });

  test('lease not found: NOT_FOUND from LeaseRevoke, UNKNOWN from Campaign; BACKEND; revoke ignores it', async () => {
    const revoke = await failure('/etcdserverpb.Lease/LeaseRevoke', { ID: '12345' });
    assert.equal(revoke.code, grpc.status.NOT_FOUND);
    assert.match(revoke.details, LEASE_NOT_FOUND_DETAIL);
    const campaign = await failure('/v3electionpb.Election/Campaign', {
      name: Buffer.from('e'),
      lease: '12345',
      value: Buffer.from('v'),
    });
    assert.equal(campaign.code, grpc.status.UNKNOWN);
    for (const err of [revoke, campaign]) {
      assert.ok(isLeaseNotFound(err));
      const translated = translate(err, plain(node.endpoint, '/etcdserverpb.Lease/LeaseRevoke'));
      assert.equal(translated.code, 'BACKEND');
      assert.equal(
        translated.message,
        `etcd LeaseRevoke (endpoints: ${node.endpoint}): etcdserver: requested lease not found`,
      );
      assert.ok(isLeaseNotFound(translated), 'still recognised once translated (through its cause)');
    }
    await client.leaseRevoke('12345'); // resolves: a lease already gone is not an error
    await assert.rejects(client.put({ key: Buffer.from('k'), value: Buffer.from('v'), lease: '12345' }), {
      code: 'BACKEND',
      message: /requested lease not found/,
    });
  });

  test('election: no leader (UNKNOWN) is BACKEND, and Leader() reads it as "none"', async () => {
    const err = await failure('/v3electionpb.Election/Leader', { name: Buffer.from('nobody') });
    assert.equal(err.code, grpc.status.UNKNOWN);
    assert.equal(err.details, 'election: no leader');
    assert.match(err.details, ELECTION_NO_LEADER_DETAIL);
    assert.ok(isElectionWithoutLeader(err));
    assert.equal(translate(err, plain(node.endpoint, 'Leader')).code, 'BACKEND');
    assert.equal(await client.services.leader('nobody'), null);
    // etcd's transient "no leader" (a member without quorum) is another thing: UNAVAILABLE, not "none".
    const transient = recorded(grpc.status.UNAVAILABLE, 'etcdserver: no leader');
    assert.ok(!isElectionWithoutLeader(transient));
    assert.equal(translate(transient, plain(node.endpoint, 'Leader')).code, 'UNAVAILABLE');
  });

  test('election: not leader (UNKNOWN) from a Proclaim with a stale revision; proclaim() says false', async () => {
    const lease = await client.leaseGrant(30);
    const leader = await client.services.campaign('np', lease.id, 'v', new AbortController().signal);
    const err = await failure('/v3electionpb.Election/Proclaim', {
      leader: { ...leader, rev: '1' },
      value: Buffer.from('x'),
    });
    assert.equal(err.code, grpc.status.UNKNOWN);
    assert.equal(err.details, 'election: not leader');
    assert.match(err.details, ELECTION_NOT_LEADER_DETAIL);
    assert.ok(isNotElectionLeader(err));
    assert.ok(!isNotElectionLeader(recorded(grpc.status.FAILED_PRECONDITION, 'etcdserver: not leader')));
    assert.equal(translate(err, plain(node.endpoint, 'Proclaim')).code, 'BACKEND');
    await client.leaseRevoke(lease.id);
  });

  test('credentials sent to an etcd without auth: FAILED_PRECONDITION, AUTH', async () => {
    const err = await failure('/etcdserverpb.Auth/Authenticate', { name: 'root', password: 'pw' });
    assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(err.details, 'etcdserver: authentication is not enabled');
    assert.match(err.details, AUTH_DETAILS);
    const translated = translate(err, plain(node.endpoint, 'Authenticate', true));
    assert.equal(translated.code, 'AUTH');
    assert.match(translated.message, /authentication is not enabled$/);
  });

  test('a read at a compacted revision (OUT_OF_RANGE) is BACKEND: ballot never asks for one', async () => {
    for (const value of ['1', '2', '3'])
      await client.put({ key: Buffer.from('c'), value: Buffer.from(value) });
    const revision = (await client.status()).header?.revision ?? '0';
    assert.equal((await node.etcdctl(['compaction', revision])).code, 0);
    const err = await failure('/etcdserverpb.KV/Range', { key: Buffer.from('c'), revision: '1' });
    assert.equal(err.code, grpc.status.OUT_OF_RANGE);
    assert.equal(err.details, 'etcdserver: mvcc: required revision has been compacted');
    assert.equal(translate(err, plain(node.endpoint, 'Range')).code, 'BACKEND');
  });

  describe('with auth enabled', () => {
    before(async () => {
      const run = (args: string[]) => node.etcdctl(args);
      assert.equal((await run(['user', 'add', 'root:rootpw'])).code, 0);
      assert.equal((await run(['user', 'grant-role', 'root', 'root'])).code, 0);
      assert.equal((await run(['user', 'add', 'nobody:nobodypw'])).code, 0); // no role: no permission
      assert.equal((await run(['auth', 'enable'])).code, 0);
    });

    test('no credentials: "user name is empty" (INVALID_ARGUMENT) is AUTH, and says to give some', async () => {
      const err = await failure('/etcdserverpb.KV/Range', { key: Buffer.from('k') });
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, NO_CREDENTIALS_DETAIL);
      const without = translate(err, plain(node.endpoint, '/etcdserverpb.KV/Range'));
      assert.equal(without.code, 'AUTH');
      assert.equal(
        without.message,
        `etcd Range (endpoints: ${node.endpoint}): etcdserver: user name is empty: this etcd has ` +
          'authentication enabled; give credentials (--user name:password, or the auth option)',
      );
      const withCredentials = translate(err, plain(node.endpoint, 'Range', true));
      assert.doesNotMatch(withCredentials.message, /give credentials/, 'no hint when some were given');
    });

    test('a wrong password: "authentication failed, invalid user ID or password" (INVALID_ARGUMENT) is AUTH', async () => {
      const err = await failure('/etcdserverpb.Auth/Authenticate', { name: 'root', password: 'nope' });
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(err.details, 'etcdserver: authentication failed, invalid user ID or password');
      assert.match(err.details, AUTH_DETAILS);
      assert.equal(translate(err, plain(node.endpoint, 'Authenticate', true)).code, 'AUTH');
      const wrong = new EtcdClient({
        endpoints: [node.endpoint],
        auth: { username: 'root', password: 'nope' },
      });
      try {
        await assert.rejects(wrong.range({ key: Buffer.from('k') }), {
          code: 'AUTH',
          message: /^etcd Authenticate \(endpoints: [^)]+\): etcdserver: authentication failed/,
        });
      } finally {
        wrong.close();
      }
    });

    test('a user without the permission: "permission denied" (PERMISSION_DENIED) is AUTH', async () => {
      const auth = await call('/etcdserverpb.Auth/Authenticate', { name: 'nobody', password: 'nobodypw' });
      assert.ok('ok' in auth);
      const token = (auth.ok as { token: string }).token;
      const err = await failure('/etcdserverpb.KV/Range', { key: Buffer.from('k') }, token);
      assert.equal(err.code, grpc.status.PERMISSION_DENIED);
      assert.equal(err.details, 'etcdserver: permission denied');
      assert.match(err.details, AUTH_DETAILS);
      assert.equal(translate(err, plain(node.endpoint, 'Range', true)).code, 'AUTH');
      assert.ok(!isInvalidAuthToken(err), 'no new token fixes a missing permission');
    });

    test('an unknown token: UNAUTHENTICATED from KV, UNKNOWN from Campaign and Lock; both AUTH and re-authenticated', async () => {
      const kv = await failure('/etcdserverpb.KV/Range', { key: Buffer.from('k') }, 'bogus');
      assert.equal(kv.code, grpc.status.UNAUTHENTICATED);
      assert.equal(kv.details, 'etcdserver: invalid auth token');
      const lease = await call('/etcdserverpb.Lease/LeaseGrant', { TTL: 30 }); // no token needed
      assert.ok('ok' in lease);
      const id = (lease.ok as { ID: string }).ID;
      const campaign = await failure(
        '/v3electionpb.Election/Campaign',
        { name: Buffer.from('e'), lease: id, value: Buffer.from('v') },
        'bogus',
      );
      const lock = await failure('/v3lockpb.Lock/Lock', { name: Buffer.from('l'), lease: id }, 'bogus');
      for (const err of [campaign, lock]) {
        assert.equal(err.code, grpc.status.UNKNOWN);
        assert.equal(err.details, 'etcdserver: invalid auth token');
      }
      assert.ok(isUnauthenticated(kv));
      assert.ok(!isUnauthenticated(campaign), 'the services hide the code: only the text tells');
      for (const err of [kv, campaign, lock]) {
        assert.match(err.details, INVALID_AUTH_TOKEN_DETAIL);
        assert.ok(isInvalidAuthToken(err));
        const translated = translate(err, plain(node.endpoint, 'Campaign', true));
        assert.equal(translated.code, 'AUTH');
        assert.ok(isInvalidAuthToken(translated), 'still recognised once translated');
      }
    });
  });

  test("a stopped member: UNAVAILABLE, a failover code, without grpc-js's empty resolution note", async () => {
    await node.stop();
    const err = await failure('/etcdserverpb.KV/Range', { key: Buffer.from('k') });
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.ok(FAILOVER_CODES.has(err.code));
    assert.match(err.details, EMPTY_RESOLUTION_NOTE, 'grpc-js still appends the note');
    const translated = translate(err, plain(node.endpoint, 'Range'));
    assert.equal(translated.code, 'UNAVAILABLE');
    assert.match(
      translated.message,
      /^etcd Range \(endpoints: [^)]+\): No connection established\. Last error: /,
    );
    assert.doesNotMatch(translated.message, /Resolution note/);
    await assert.rejects(client.range({ key: Buffer.from('k') }), { code: 'UNAVAILABLE' });
  });
});

describe('etcd errors: a member that lost its quorum', () => {
  test('"no leader" and "request timed out" are UNAVAILABLE, and so is a write that could not be proposed', async () => {
    const cluster = await startEtcdCluster(3);
    const survivor = cluster.nodes[2]!;
    const raw = new grpc.Client(survivor.endpoint, grpc.credentials.createInsecure());
    // hasleader is etcd's clientv3.WithRequireLeader: a member without a leader refuses at once.
    const call = async (path: string, request: unknown, requireLeader: boolean) => {
      const result = await rawCall(raw, path, request, requireLeader ? { hasleader: 'true' } : {}, 20_000);
      return 'ok' in result ? null : result;
    };
    try {
      await cluster.nodes[0]!.kill();
      await cluster.nodes[1]!.kill();
      const context = plain(survivor.endpoint, 'Range');
      // The member notices it has no leader after an election timeout (500 ms in the fixture).
      let noLeader: grpc.ServiceError | null = null;
      for (let i = 0; i < 50 && !noLeader; i++) {
        // Serializable: answered locally while the member still believes in a leader, so each try is quick.
        noLeader = await call('/etcdserverpb.KV/Range', { key: Buffer.from('k'), serializable: true }, true);
        if (!noLeader) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(noLeader, 'the survivor kept answering as if it had a leader');
      assert.equal(noLeader.code, grpc.status.UNAVAILABLE);
      assert.equal(noLeader.details, 'etcdserver: no leader');
      assert.match(noLeader.details, TRANSIENT_DETAILS);
      assert.ok(!isElectionWithoutLeader(noLeader), 'not an election without a leader');
      assert.equal(translate(noLeader, context).code, 'UNAVAILABLE');
      // Without the metadata, a read waits for a leader until etcd's request timeout, a write likewise.
      const [read, write] = await Promise.all([
        call('/etcdserverpb.KV/Range', { key: Buffer.from('k') }, false),
        call('/etcdserverpb.KV/Put', { key: Buffer.from('k'), value: Buffer.from('v') }, false),
      ]);
      assert.ok(read && write);
      assert.equal(read.code, grpc.status.UNAVAILABLE);
      assert.match(read.details, TRANSIENT_DETAILS);
      assert.match(read.details, /^etcdserver: request timed out/);
      assert.equal(translate(read, context).code, 'UNAVAILABLE');
      assert.equal(write.code, grpc.status.UNKNOWN, "etcd passes Go's context error on as UNKNOWN");
      assert.match(write.details, SERVER_DEADLINE_DETAIL);
      const translated = translate(write, plain(survivor.endpoint, 'Put'));
      assert.equal(translated.code, 'UNAVAILABLE');
      assert.equal(
        translated.message,
        `etcd Put (endpoints: ${survivor.endpoint}): context deadline exceeded`,
      );
    } finally {
      raw.close();
      await cluster.stop();
    }
  });
});

describe('etcd errors: texts one loopback etcd cannot be made to send (recorded from etcd 3.4 and grpc-js)', () => {
  const context = plain('127.0.0.1:2379', '/etcdserverpb.KV/Txn');

  // "no leader" and "request timed out" are also provoked above; "leader changed" (a raft election
  // while a request waited) and "too many requests" (an apply loop far behind) cannot be made to
  // happen on demand, so these are etcd's rpctypes texts, as documented.
  for (const details of [
    'etcdserver: leader changed',
    'etcdserver: no leader',
    'etcdserver: request timed out',
    'etcdserver: too many requests',
  ])
    test(`"${details}" is UNAVAILABLE under UNAVAILABLE and under the services' UNKNOWN`, () => {
      assert.match(details, TRANSIENT_DETAILS);
      for (const code of [grpc.status.UNAVAILABLE, grpc.status.UNKNOWN]) {
        const translated = translate(recorded(code, details), context);
        assert.equal(translated.code, 'UNAVAILABLE');
        assert.equal(translated.message, `etcd Txn (endpoints: 127.0.0.1:2379): ${details}`);
      }
    });

  test('"user name not found" (an Auth API call naming a missing user) is AUTH', () => {
    const details = 'etcdserver: user name not found';
    assert.match(details, AUTH_DETAILS);
    assert.equal(translate(recorded(grpc.status.FAILED_PRECONDITION, details), context).code, 'AUTH');
  });

  // Real certificates that fail are in test/tls.test.ts (wrong CA, wrong host, plain client to a
  // TLS port); these are the texts grpc-js wraps them in.
  test('an untrusted server certificate is AUTH with what to check, on a TLS connection only', () => {
    const details =
      'No connection established. Last error: Error: unable to verify the first certificate. Resolution note: ';
    assert.match(details, TLS_VERIFY_DETAILS);
    const err = recorded(grpc.status.UNAVAILABLE, details);
    const secure = translate(err, { ...context, secure: true });
    assert.equal(secure.code, 'AUTH');
    assert.match(
      secure.message,
      /TLS verification of the server failed \(No connection established.*first certificate\): .*check --cacert/,
    );
    assert.equal(
      translate(err, context).code,
      'UNAVAILABLE',
      'a plain connection has no certificate to blame',
    );
  });

  test('a connection that closed before HTTP/2 began is told apart from one refused', () => {
    const bare = recorded(
      grpc.status.UNAVAILABLE,
      'No connection established. Last error: Failed to connect',
    );
    assert.match(bare.details, BARE_CONNECT_FAILURE);
    assert.ok(isBareConnectFailure(bare));
    const refused = recorded(
      grpc.status.UNAVAILABLE,
      'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379. Resolution note: ',
    );
    assert.ok(!isBareConnectFailure(refused));
  });

  test("no answer at all is UNAVAILABLE; any other status is BACKEND with etcd's text", () => {
    const none = translate(undefined, context);
    assert.equal(none.code, 'UNAVAILABLE');
    assert.equal(none.message, 'etcd Txn (endpoints: 127.0.0.1:2379): no response');
    const other = translate(
      recorded(grpc.status.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
      context,
    );
    assert.equal(other.code, 'BACKEND');
    assert.ok(other instanceof BackendError);
  });

  test('decisions read what etcd said, never our own message', () => {
    const cause = recorded(grpc.status.UNKNOWN, 'etcdserver: something else');
    const ours = new BackendError('etcd Leader for election: no leader / election: not leader', { cause });
    assert.equal(detailOf(ours), 'etcdserver: something else');
    assert.ok(!isElectionWithoutLeader(ours));
    assert.ok(!isNotElectionLeader(ours));
    assert.ok(!isLeaseNotFound(new Error('unrelated')));
    assert.equal(detailOf('a string'), '');
  });
});

describe('no bare Error from internal checks', () => {
  test('an unknown gRPC method is INTERNAL, a code a user can report', () => {
    assert.throws(() => codecFor('/nope.Service/Nothing'), {
      code: 'INTERNAL',
      message: /unknown gRPC method/,
    });
  });

  test('the memory store refuses a write on a lease it does not have with BACKEND, as etcd does', () => {
    const store = new MemoryStore(systemClock);
    assert.throws(() => store.put('k', 'v', '42'), { code: 'BACKEND', message: /lease 42 not found/ });
  });
});
