import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { zookeeper, type Backend, type ZkTxn } from '../src/index.js';
import { freePort } from './fixtures/ports.js';
import { spawnWorker } from './fixtures/processes.js';
import { startZookeeper, type ZookeeperServer } from './fixtures/zookeeper.js';
import { within } from './helpers.js';

const CALL_TIMEOUT = 1000;
const LIMIT = 1_000_000;

/** Opens a session on `backend` (the first call that reaches the server) and closes the backend either way. */
async function firstCall(backend: Backend): Promise<void> {
  try {
    await (await backend.session({ ttl: 2 })).close();
  } finally {
    await backend.close();
  }
}

const CANDIDATE = fileURLToPath(new URL('./workers/zk-candidate.ts', import.meta.url));

describe('zookeeper: a bad connect string or option is refused at zookeeper() time', () => {
  const badConnect: unknown[] = [
    'nohost',
    'h:p',
    '',
    '127.0.0.1',
    '127.0.0.1:',
    '127.0.0.1:2181,',
    '127.0.0.1:2181,,127.0.0.1:2182',
    'zk 1:2181',
    '127.0.0.1:0',
    '127.0.0.1:99999',
    '127.0.0.1:2181/',
    '127.0.0.1:2181//apps',
    '127.0.0.1:2181/apps/',
    '127.0.0.1:2181/apps/./x',
    '127.0.0.1:2181/apps/../x',
    42,
  ];
  for (const connect of badConnect)
    test(`connect ${JSON.stringify(connect)}: INVALID_ARGUMENT naming the form to use`, () => {
      assert.throws(() => zookeeper({ connect: connect as string, env: {} }), {
        code: 'INVALID_ARGUMENT',
        message: new RegExp(
          `zookeeper connect must be "host:port\\[,host:port\\.\\.\\.\\]\\[/chroot\\]".*got ${escape(JSON.stringify(connect))}$`,
        ),
      });
    });

  test('a bad $ZOOKEEPER_CONNECT is refused the same way, naming it', () => {
    assert.throws(() => zookeeper({ env: { ZOOKEEPER_CONNECT: 'h:p' } }), {
      code: 'INVALID_ARGUMENT',
      message: /zookeeper connect must be .*got "h:p"/,
    });
  });

  for (const callTimeout of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
    test(`callTimeout ${String(callTimeout)}: INVALID_ARGUMENT`, () => {
      assert.throws(() => zookeeper({ connect: '127.0.0.1:2181', callTimeout, env: {} }), {
        code: 'INVALID_ARGUMENT',
        message: /callTimeout must be a positive number of milliseconds/,
      });
    });

  test('good connect strings pass without contacting anything', async () => {
    for (const connect of [
      '127.0.0.1:2181',
      'zk1:2181,zk2:2182',
      'zk1:2181,zk2:2182/apps/jobs',
      'localhost:65535/a',
    ])
      await zookeeper({ connect, env: {} }).close();
  });
});

/** Paths ZooKeeper cannot hold, each with what the message says. */
const BAD_PATHS: [string, RegExp][] = [
  ['/bad//x', /"\/bad\/\/x" is not a ZooKeeper path ballot can use: .*no empty, "\." or "\.\." segment/],
  ['/x/./y', /"\/x\/\.\/y" is not a ZooKeeper path ballot can use/],
  ['/x/../y', /"\/x\/\.\.\/y" is not a ZooKeeper path ballot can use/],
  ['/x\u0001y', /contains a control character/],
  ['/x\u0085y', /is not a ZooKeeper path ballot can use: .*no control characters/],
  ['/x\ue000y', /is not a ZooKeeper path ballot can use/],
  ['/x\ufff0', /is not a ZooKeeper path ballot can use/],
  ['/zookeeper', /is not a ZooKeeper path ballot can use: .*not be under \/zookeeper/],
  ['/zookeeper/quota/x', /not be under \/zookeeper/],
  ['/x/', /must not end with "\/"/],
];

describe('zookeeper: election paths ZooKeeper cannot hold are refused before anything is sent', () => {
  test('session-less reads against nothing listening: INVALID_ARGUMENT at once, not UNAVAILABLE later', async () => {
    // A minute of call timeout: had anything been sent first, these would wait for it.
    const backend = zookeeper({ connect: `127.0.0.1:${await freePort()}`, callTimeout: 60_000, env: {} });
    try {
      for (const [path, message] of BAD_PATHS) {
        for (const call of [
          (): Promise<unknown> => backend.leader(path),
          () => backend.participants(path),
          () => backend.depose(path),
        ])
          await assert.rejects(within(call(), 2_000, `a read of ${JSON.stringify(path)}`), {
            code: 'INVALID_ARGUMENT',
            message,
          });
      }
    } finally {
      await backend.close();
    }
  });
});

describe('zookeeper: against a real server', () => {
  let server: ZookeeperServer;
  let operator: Backend<ZkTxn>;
  let n = 0;
  const fresh = (what: string) => `/errors/${what}-${process.pid}-${++n}/leader`;

  before(async () => {
    server = await startZookeeper();
    operator = zookeeper({ connect: server.connect, env: {} });
  });
  after(async () => {
    await operator?.close();
    await server?.stop();
  });

  test('an election or mutex on a bad path: INVALID_ARGUMENT on the spot, nothing created', async () => {
    const session = await operator.session({ ttl: 2 });
    try {
      for (const [path, message] of BAD_PATHS) {
        assert.throws(() => session.election(path), { code: 'INVALID_ARGUMENT', message });
        assert.throws(() => session.mutex(path), { code: 'INVALID_ARGUMENT', message });
      }
      for (const top of ['/bad', '/x'])
        assert.equal(await operator.get(top), undefined, `${top} was created`);
    } finally {
      await session.close();
    }
  });

  test("a guard's node or key on a bad path: INVALID_ARGUMENT, the term holds and the next guard commits", async () => {
    const session = await operator.session({ ttl: 2 });
    try {
      const term = await session.election(fresh('guard-path')).campaign('a');
      for (const path of ['/bad//x', '/x/./y', '/zookeeper/x']) {
        await assert.rejects(
          term.guard((tx) => tx.create(path, 'v')),
          { code: 'INVALID_ARGUMENT', message: /is not a ZooKeeper path ballot can use/ },
        );
        await assert.rejects(
          term.guard((tx) => tx.put(path, 'v')),
          { code: 'INVALID_ARGUMENT', message: /key ".*" is not a ZooKeeper path ballot can use/ },
        );
      }
      assert.equal(term.active, true);
      const key = `guard-path-${process.pid}`;
      assert.equal((await term.guard((tx) => tx.put(key, 'ok'))).committed, true);
      assert.equal(await operator.get(key), 'ok');
    } finally {
      await session.close();
    }
  });

  test(`a value over ${LIMIT} bytes: INVALID_ARGUMENT naming the limit, nothing joined; one at the limit is stored whole`, async () => {
    const path = fresh('value');
    const session = await operator.session({ ttl: 2 });
    try {
      await assert.rejects(session.election(path).campaign('x'.repeat(LIMIT + 1)), {
        code: 'INVALID_ARGUMENT',
        message: new RegExp(`campaign value is ${LIMIT + 1} bytes; the limit is ${LIMIT} on zookeeper`),
      });
      // Multi-byte characters count as bytes, not as characters.
      await assert.rejects(session.election(path).campaign('é'.repeat(LIMIT / 2 + 1)), {
        code: 'INVALID_ARGUMENT',
        message: new RegExp(`is ${LIMIT + 2} bytes; the limit is ${LIMIT}`),
      });
      assert.deepEqual(await operator.participants(path), [], 'nothing joined');
      // The limit is one ZooKeeper really takes (jute.maxbuffer, 1 MiB by default, with the request around it).
      const term = await session.election(path).campaign('v'.repeat(LIMIT));
      assert.equal((await operator.leader(path))?.value.length, LIMIT);
      await assert.rejects(session.election(path).proclaim('p'.repeat(LIMIT + 1)), {
        code: 'INVALID_ARGUMENT',
        message: new RegExp(`proclaim value is ${LIMIT + 1} bytes; the limit is ${LIMIT} on zookeeper`),
      });
      assert.equal((await operator.leader(path))?.value, 'v'.repeat(LIMIT), 'the value is unchanged');
      assert.equal(term.active, true);
    } finally {
      await session.close();
    }
  });

  test(`a guarded write carrying over ${LIMIT} bytes: INVALID_ARGUMENT naming the limit, the session unharmed`, async () => {
    const session = await operator.session({ ttl: 2 });
    try {
      const term = await session.election(fresh('guard-size')).campaign('a');
      const key = `guard-size-${process.pid}`;
      const cases: [string, (tx: ZkTxn) => unknown, number][] = [
        ['one put', (tx) => tx.put(key, 'x'.repeat(LIMIT + 1)), LIMIT + 1],
        [
          'two puts that fit alone',
          (tx) => tx.put(key, 'x'.repeat(600_000)).put(`${key}-2`, 'y'.repeat(600_000)),
          1_200_000,
        ],
        ['a create', (tx) => tx.create(`/guard-size-${process.pid}`, Buffer.alloc(LIMIT + 1)), LIMIT + 1],
      ];
      for (const [what, body, bytes] of cases)
        await assert.rejects(
          term.guard(body),
          {
            code: 'INVALID_ARGUMENT',
            message: new RegExp(`carries ${bytes} bytes of data; the limit is ${LIMIT} on zookeeper`),
          },
          what,
        );
      assert.equal(await operator.get(key), undefined, 'nothing was written');
      assert.equal(term.active, true, 'the term holds');
      // At the limit it goes through, in one request the server accepts.
      assert.equal((await term.guard((tx) => tx.put(key, 'z'.repeat(LIMIT)))).committed, true);
      assert.equal((await operator.get(key))?.length, LIMIT);
      assert.equal(term.active, true);
    } finally {
      await session.close();
    }
  });

  test('nothing listening: UNAVAILABLE within the call timeout, naming the connect string', async () => {
    for (const connect of [
      `127.0.0.1:${await freePort()}`,
      `127.0.0.1:${await freePort()},127.0.0.1:${await freePort()}/apps`,
    ]) {
      const backend = zookeeper({ connect, callTimeout: CALL_TIMEOUT, env: {} });
      const started = Date.now();
      await assert.rejects(within(firstCall(backend), CALL_TIMEOUT * 3, 'the first call to fail'), {
        code: 'UNAVAILABLE',
        message: new RegExp(
          `cannot reach ZooKeeper at ${escape(connect)} within ${CALL_TIMEOUT} ms: check the connect string and that ZooKeeper is running`,
        ),
      });
      const took = Date.now() - started;
      assert.ok(took <= CALL_TIMEOUT + 500, `took ${took} ms`);
    }
  });

  test('nothing listening, then close(): the process exits by itself, no client left retrying', async () => {
    const connect = `127.0.0.1:${await freePort()}`;
    // The candidate process tries a session again and again (callTimeout 1 s each), then closes.
    const w = spawnWorker(CANDIDATE, [], { CONNECT: connect, ELECTION: '/errors/none/leader', TTL: '2' });
    try {
      const failed = await w.waitFor((m) => m['event'] === 'session-error', 15_000);
      assert.equal(failed['code'], 'UNAVAILABLE', String(failed['message']));
      assert.match(String(failed['message']), new RegExp(`cannot reach ZooKeeper at ${escape(connect)}`));
      await w.waitFor((m) => m['event'] === 'session-error', 10_000, {
        since: w.messages.indexOf(failed) + 1,
      });
      w.send({ cmd: 'close' });
      const code = await within(w.exited, 10_000, 'the worker to exit by itself after backend.close()');
      assert.equal(code, 0, w.output());
    } finally {
      w.kill('SIGKILL');
    }
  });

  test('a chroot that does not exist: BACKEND naming it, at session time; nothing is created', async () => {
    for (const chroot of [`/nope-${process.pid}`, `/nope-${process.pid}/deeper`]) {
      const backend = zookeeper({ connect: `${server.connect}${chroot}`, env: {} });
      const message = new RegExp(
        `ZooKeeper at ${escape(server.connect + chroot)}: the chroot "${escape(chroot)}" does not exist: ` +
          `create it \\(zkCli\\.sh create ${escape(chroot)} ""\\) or fix the connect string`,
      );
      try {
        await assert.rejects(backend.session({ ttl: 2 }), { code: 'BACKEND', message });
        await assert.rejects(backend.leader('/svc/leader'), { code: 'BACKEND', message });
      } finally {
        await backend.close();
      }
    }
    assert.equal(await operator.get(`/nope-${process.pid}`), undefined, 'the chroot was not created');
  });

  test('a chroot that exists: elections live under it', async () => {
    const chroot = `/apps-${process.pid}`;
    const setup = await operator.session({ ttl: 2 });
    const t = await setup.election(fresh('setup')).campaign('setup');
    assert.equal((await t.guard((tx) => tx.create(chroot, ''))).committed, true);
    await setup.close();
    const backend = zookeeper({ connect: `${server.connect}${chroot}`, env: {} });
    try {
      const session = await backend.session({ ttl: 2 });
      const term = await session.election('/svc/leader').campaign('inside');
      assert.deepEqual(
        (await operator.participants(`${chroot}/svc/leader`)).map((p) => [p.value, p.token]),
        [['inside', term.token]],
      );
      assert.deepEqual(await operator.participants('/svc/leader'), [], 'nothing outside the chroot');
    } finally {
      await backend.close();
    }
  });
});

/** `text` as a literal inside a RegExp. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
