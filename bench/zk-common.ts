/**
 * What the ZooKeeper scenarios share: a fresh server per scenario with a probe session of its own
 * (to see when candidates have joined), and the Curator version for the page (issue 13).
 */
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZkConnection } from '../src/zookeeper/connection.js';
import { startZookeeper, type ZookeeperServer } from '../test/fixtures/zookeeper.js';

/** A session of the bench's own, so the candidates' sessions see only their own traffic. */
export interface ZkProbe {
  /** The connection, for floors that need one. */
  readonly conn: ZkConnection;
  /** Polls the children of `path` every 10 ms until there are at least `count`. */
  children(path: string, count: number, timeoutMs: number): Promise<void>;
  close(): void;
}

/** The fixture's settings that matter for reading the numbers, stated on the page. */
export const ZK_FIXTURE_NOTE =
  'one throwaway standalone server per scenario on loopback (test/fixtures/zookeeper.ts), tickTime 500 ms';

/** The Curator version in JAVA_SHARE, from Debian's versioned jar link; "unknown" when there is none. */
export function curatorVersion(): string {
  try {
    const dir = process.env['JAVA_SHARE'] ?? '/usr/share/java';
    const jar = readdirSync(dir).find((f) => /^curator-recipes-\d.*\.jar$/.test(f));
    return jar?.match(/^curator-recipes-(.+)\.jar$/)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs `body` on a fresh server with a probe of its own; both are closed afterwards. */
export async function withZkServer<T>(
  body: (server: ZookeeperServer, probe: ZkProbe) => Promise<T>,
): Promise<T> {
  const server = await startZookeeper();
  try {
    const conn = await ZkConnection.open(server.connect, 10_000, 5_000);
    try {
      return await body(server, {
        conn,
        async children(path, count, timeoutMs) {
          const deadline = performance.now() + timeoutMs;
          for (;;) {
            const found = (await conn.getChildren(path))?.length ?? 0;
            if (found >= count) return;
            if (performance.now() > deadline)
              throw new Error(`${found} < ${count} children of ${path} after ${timeoutMs} ms`);
            await sleep(10);
          }
        },
        close: () => conn.close(),
      });
    } finally {
      conn.close();
    }
  } finally {
    await server.stop();
  }
}
