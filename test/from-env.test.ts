import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backendFromEnv, InvalidArgumentError } from '../src/index.js';

test('backendFromEnv: BALLOT_BACKEND names the backend, each configured from the same environment', async () => {
  const picked = [
    backendFromEnv({}),
    backendFromEnv({ BALLOT_BACKEND: 'memory' }),
    backendFromEnv({ BALLOT_BACKEND: 'postgres', DATABASE_URL: 'postgres://app@127.0.0.1:1/none' }),
    backendFromEnv({ BALLOT_BACKEND: 'zookeeper', ZOOKEEPER_CONNECT: '127.0.0.1:1' }),
  ];
  assert.deepEqual(
    picked.map((b) => b.kind),
    ['etcd', 'memory', 'postgres', 'zookeeper'],
  );
  // Nothing connects until first use, so closing them touches no server.
  await Promise.all(picked.map((b) => b.close()));
  assert.throws(
    () => backendFromEnv({ BALLOT_BACKEND: 'consul' }),
    (err: unknown) =>
      err instanceof InvalidArgumentError &&
      err.message === 'BALLOT_BACKEND must be etcd, memory, postgres or zookeeper, got "consul"',
  );
});
