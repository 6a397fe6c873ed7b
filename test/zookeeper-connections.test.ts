import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { zookeeper } from '../src/index.js';
import { startZookeeper, type ZookeeperServer } from './fixtures/zookeeper.js';

/** Session ids of the client connections the server holds, from `cons` (a four-letter-word connection has none). */
async function sessions(server: ZookeeperServer): Promise<string[]> {
  const reply = await server.fourLetter('cons');
  return [...reply.matchAll(/sid=(0x[0-9a-f]+)/g)].map((m) => m[1] ?? '');
}

describe('zookeeper: connections a backend holds, counted by the server', () => {
  let server: ZookeeperServer;

  before(async () => {
    server = await startZookeeper();
  });
  after(async () => {
    await server?.stop();
  });

  test('sessions opened at once on a fresh backend share one reader connection; close() leaves none', async () => {
    const backend = zookeeper({ connect: server.connect, env: {} });
    try {
      // Each session connects the backend first, which opens its reader: all eight ask at the same moment.
      const opened = await Promise.all(Array.from({ length: 8 }, () => backend.session({ ttl: 4 })));
      const held = await sessions(server);
      assert.equal(held.length, opened.length + 1, `one per session and one reader, got ${held.join(', ')}`);
      for (const s of opened) assert.ok(held.includes(`0x${BigInt(`0x${s.id}`).toString(16)}`), s.id);
    } finally {
      await backend.close();
    }
    // The server drops a closed session's connection as soon as it has answered closeSession.
    const deadline = Date.now() + 5_000;
    let left = await sessions(server);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      left = await sessions(server);
    }
    assert.deepEqual(left, [], 'no connection left after close()');
  });
});
