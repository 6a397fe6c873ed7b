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

/** ZooKeeper's own numbers from `mntr` (name without the zk_ prefix → value); non-numeric ones are left out. */
export async function mntr(server: ZookeeperServer): Promise<Record<string, number>> {
  const found: Record<string, number> = {};
  for (const line of (await server.fourLetter('mntr')).split('\n')) {
    const [name, value] = line.split('\t');
    if (name?.startsWith('zk_') && value !== undefined && Number.isFinite(Number(value)))
      found[name.slice(3)] = Number(value);
  }
  return found;
}

/**
 * Watches the server has triggered so far, counted by the server: the sums of its per-event
 * watcher counts for created, deleted, changed and children events (ZooKeeper 3.6+ mntr).
 */
export async function triggeredWatches(server: ZookeeperServer): Promise<number> {
  const m = await mntr(server);
  const kinds = ['created', 'deleted', 'changed', 'children'];
  const sums = kinds.map((k) => m[`sum_node_${k}_watch_count`]);
  if (sums.some((s) => s === undefined))
    throw new Error('mntr has no node_*_watch_count sums (ZooKeeper < 3.6?)');
  return sums.reduce<number>((a, b) => a + (b ?? 0), 0);
}

/** One client connection with a session, as the server's `cons` lists it. */
export interface ServerConnection {
  sessionId: bigint;
  /** The session timeout the server granted, ms. */
  timeoutMs: number;
}

/** The client connections that carry a session, from `cons` (the four-letter-word connection itself has none). */
export async function sessionConnections(server: ZookeeperServer): Promise<ServerConnection[]> {
  const reply = await server.fourLetter('cons');
  return [...reply.matchAll(/sid=0x([0-9a-f]+).*?\bto=(\d+)/g)].map((m) => ({
    sessionId: BigInt(`0x${m[1] ?? '0'}`),
    timeoutMs: Number(m[2]),
  }));
}
