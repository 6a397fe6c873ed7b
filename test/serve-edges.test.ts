/**
 * Edge cases of serving behind an election found in review: each test failed before its fix.
 * Real servers only (memory(), local node:http servers).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, afterEach, before, describe, test } from 'node:test';
import { getEventListeners } from 'node:events';
import {
  BackendUnavailableError,
  etcd,
  LeaderElector,
  leaderFetch,
  leaderGate,
  memory,
  type Backend,
  type LeaderChange,
  type LeaderSource,
  type Logger,
} from '../src/index.js';
import { startEtcd } from './fixtures/etcd.js';
import { LocalHttpPool } from './fixtures/local-http.js';
import { GateClient } from './gate-client.js';
import { eventually, within } from './helpers.js';

const TTL = 2;

describe('serving edges', () => {
  const servers = new LocalHttpPool();
  let client: GateClient;
  before(() => {
    client = new GateClient();
  });
  after(async () => {
    await client.close();
  });
  afterEach(async () => {
    await servers.closeAll();
  });

  const serve = (handler: http.RequestListener): Promise<string> => servers.serve(handler);

  /** A follower elector behind a leader that campaigned on its own session, advertising `address`. */
  async function follower(backend: Backend, election: string, address: string) {
    const session = await backend.session({ ttl: TTL });
    await session.election(election).campaign('leader', { advertise: { http: address } });
    const elector = new LeaderElector({ backend, election, value: 'follower', ttl: TTL });
    elector.on('retrying', () => {});
    const changes: LeaderChange[] = [];
    elector.on('leader', (change) => changes.push(change));
    await eventually(() => changes.some((c) => c.kind === 'leader'), 5000, 'the leader event');
    return { session, elector };
  }

  test('gate.close() aborts a forward whose response streams on (it waited for the stream to end)', async () => {
    const backend = memory();
    let streaming: http.ServerResponse | undefined;
    const ticker: { timer?: NodeJS.Timeout } = {};
    const leader = await serve((_req, res) => {
      streaming = res;
      res.writeHead(200, { 'content-type': 'text/plain' });
      ticker.timer = setInterval(() => res.write('tick\n'), 20);
      res.on('close', () => clearInterval(ticker.timer));
    });
    const { elector, session } = await follower(backend, 'stream', leader);
    const gate = leaderGate(elector, { mode: 'proxy' });
    const url = await serve((req, res) => gate(req, res, () => res.end('app')));
    const got = new Promise<string>((resolve) => {
      http.get(`${url}/events`, (res) => {
        res.once('data', () => resolve('data'));
        res.on('error', () => undefined);
      });
    });
    assert.equal(await within(got, 5000, 'the first forwarded chunk'), 'data');
    await within(gate.close(), 3000, 'gate.close() with a streaming forward in flight');
    await eventually(() => streaming?.destroyed === true, 3000, 'the upstream stream to be cut');
    clearInterval(ticker.timer);
    await elector.stop();
    await session.close();
    await backend.close();
  });

  test("an elector listener that throws is an uncaught exception: the loop goes on (a 'session' listener's throw left the elector without leader events)", async () => {
    const backend = memory();
    const uncaught: unknown[] = [];
    process.setUncaughtExceptionCaptureCallback((err) => uncaught.push(err));
    const elector = new LeaderElector({ backend, election: 'throws', value: 'a', ttl: TTL });
    try {
      const retried: Error[] = [];
      elector.on('retrying', (err) => retried.push(err));
      elector.once('session', () => {
        throw new Error('session listener');
      });
      const elected: bigint[] = [];
      elector.on('elected', (term) => {
        elected.push(term.token);
        if (elected.length === 1) throw new Error('elected listener');
      });
      const changes: LeaderChange[] = [];
      elector.on('leader', (change) => changes.push(change));
      await eventually(() => changes.some((c) => c.kind === 'leader'), 5000, 'a leader event');
      assert.equal(changes.at(-1)?.value, 'a');
      assert.deepEqual(elected, [1n], 'one term, reported once');
      assert.deepEqual(retried, [], 'a listener error is no campaign failure');
      elector.once('stopped', () => {
        throw new Error('stopped listener');
      });
      await elector.stop();
      await eventually(() => uncaught.length === 3, 2000, 'three uncaught exceptions');
      assert.deepEqual(uncaught.map((err) => (err as Error).message).sort(), [
        'elected listener',
        'session listener',
        'stopped listener',
      ]);
    } finally {
      process.setUncaughtExceptionCaptureCallback(null);
      await elector.stop().catch(() => undefined);
      await backend.close();
    }
  });

  test('a plain value that looks like the v1 encoding reads back as given (it lost its tail and gained a priority)', async () => {
    const backend = memory();
    const value = 'job ballot/v1{"priority":7}';
    const elector = new LeaderElector({ backend, election: 'plain', value, ttl: TTL });
    const session = await backend.session({ ttl: TTL });
    try {
      const term = await new Promise<{ value: string }>((resolve) => elector.once('elected', resolve));
      assert.equal(term.value, value);
      const leader = await backend.leader('plain');
      assert.equal(leader?.value, value);
      assert.equal(leader?.priority, undefined);
      const lock = await session.election('plain-try').tryCampaign('x ballot/v1{}');
      assert.equal(lock?.value, 'x ballot/v1{}');
      assert.equal((await backend.leader('plain-try'))?.value, 'x ballot/v1{}');
    } finally {
      await elector.stop();
      await session.close();
      await backend.close();
    }
  });

  test('leaderFetch: an observer that keeps failing leaves no abort listener per retry on its stop signal', async () => {
    const backend = memory();
    const session = await backend.session({ ttl: TTL });
    const leaderUrl = await serve((_req, res) => res.end('leader app'));
    await session.election('flaky').campaign('leader', { advertise: { http: leaderUrl } });
    const listeners: number[] = [];
    const source: LeaderSource = {
      observe(election, options) {
        listeners.push(options?.signal ? getEventListeners(options.signal, 'abort').length : -1);
        if (listeners.length <= 4) throw new BackendUnavailableError('the backend is unreachable');
        return backend.observe(election, options);
      },
    };
    const call = leaderFetch(source, 'flaky');
    try {
      const response = await call('/x');
      assert.equal(await response.text(), 'leader app');
      assert.equal(listeners.length, 5);
      assert.ok(
        listeners.every((n) => n === listeners[0]),
        `abort listeners per attempt: ${listeners.join(', ')}`,
      );
    } finally {
      await call.close();
      await session.close();
      await backend.close();
    }
  });

  test("an entry written by another tool advertising an http address that is no URL: 503 no-address, not a follower's uncaught exception", async () => {
    const node = await startEtcd();
    const backend = etcd({ endpoints: [node.endpoint] });
    try {
      const grant = await node.etcdctl(['lease', 'grant', '30']);
      const lease = /lease ([0-9a-f]+) granted/.exec(grant.stdout)?.[1];
      assert.ok(lease, grant.stdout + grant.stderr);
      const stored = 'other ballot/v1{"advertise":{"http":"not a url"}}';
      assert.equal((await node.etcdctl(['put', '--lease', lease, `odd/${lease}`, stored])).code, 0);
      const leader = await backend.leader('odd');
      assert.equal(leader?.advertise, undefined);
      assert.equal(leader?.value, stored);
      const elector = new LeaderElector({ backend, election: 'odd', value: 'follower', ttl: TTL });
      elector.on('retrying', () => {});
      await new Promise((resolve) => elector.once('leader', resolve));
      const proxy = leaderGate(elector, { mode: 'proxy' });
      const redirect = leaderGate(elector, { mode: 'redirect' });
      for (const gate of [proxy, redirect]) {
        const url = await serve((req, res) => gate(req, res, () => res.end('app')));
        const got = await client.call(`${url}/x`);
        assert.equal(got.status, 503);
        assert.equal(got.headers['ballot-refused'], 'no-address');
        await gate.close();
      }
      await elector.stop();
    } finally {
      await backend.close();
      await node.stop();
    }
  });

  test('a term handed over by transferTo is logged as info, like a resign, not as a warning', async () => {
    const backend = memory();
    const records: { level: string; message: string; reason?: unknown }[] = [];
    const logger = Object.fromEntries(
      (['debug', 'info', 'warn', 'error'] as const).map((level) => [
        level,
        (fields: Record<string, unknown>, message: string) =>
          records.push({ level, message, reason: fields['reason'] }),
      ]),
    ) as unknown as Logger;
    const a = new LeaderElector({ backend, election: 'handover', value: 'a', ttl: TTL, logger });
    const b = new LeaderElector({ backend, election: 'handover', value: 'b', ttl: TTL });
    try {
      await new Promise((resolve) => a.once('elected', resolve));
      await eventually(async () => (await backend.participants('handover')).length === 2, 5000, 'b in line');
      await a.transferTo('b');
      await eventually(() => records.some((r) => r.message === 'deposed'), 5000, "a's deposed record");
      const deposed = records.find((r) => r.message === 'deposed');
      assert.deepEqual([deposed?.level, deposed?.reason], ['info', 'transferred']);
    } finally {
      await a.stop();
      await b.stop();
      await backend.close();
    }
  });
});
