import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { entryKeys, startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { pauseLeaderPastTtl } from './fault-checks.js';
import { spawnWorker, type Worker } from './fixtures/processes.js';

const CANDIDATE = fileURLToPath(new URL('./workers/candidate.ts', import.meta.url));
const TTL = 2;

describe('faults across processes (real etcd, real signals)', () => {
  let node: EtcdNode;
  const workers: Worker[] = [];
  const spawn = (election: string, value: string) => {
    const worker = spawnWorker(CANDIDATE, [], {
      ENDPOINTS: node.endpoint,
      ELECTION: election,
      VALUE: value,
      TTL: String(TTL),
    });
    workers.push(worker);
    return worker;
  };
  const entries = (election: string) => entryKeys(node, election);

  before(async () => {
    node = await startEtcd();
  });
  after(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await node.stop();
  });

  test('a leader killed with SIGKILL is replaced after about the TTL', async (t) => {
    const election = `kill-${process.pid}`;
    const a = spawn(election, 'a');
    await a.waitFor((m) => m['event'] === 'elected', 15_000);
    const b = spawn(election, 'b');
    await waitUntil(async () => (await entries(election)).length === 2, 10_000);
    const killedAt = Number(process.hrtime.bigint()) / 1e6;
    a.kill('SIGKILL');
    const elected = await b.waitFor((m) => m['event'] === 'elected', 15_000);
    const after = (elected['at'] as number) - killedAt;
    assert.ok(after > 0, 'b leads only after a died');
    assert.ok(after < (TTL + 5) * 1000, `b took ${after.toFixed(0)} ms, far beyond the ${TTL}s TTL`);
    t.diagnostic(`SIGKILL → next leader: ${after.toFixed(0)} ms (TTL ${TTL}s)`);
  });

  test('a leader paused past its TTL finds its term ended before it can act, and its write is fenced', async () => {
    const election = `pause-${process.pid}`;
    const a = spawn(election, 'a');
    const aElected = await a.waitFor((m) => m['event'] === 'elected', 15_000);
    const b = spawn(election, 'b');
    await waitUntil(async () => (await entries(election)).length === 2, 10_000);
    const bElected = await pauseLeaderPastTtl(a, () => b.waitFor((m) => m['event'] === 'elected', 15_000));
    const bStart = bElected['at'] as number;
    const believedLate = a.messages.filter(
      (m) => m['event'] === 'tick' && m['leader'] && (m['at'] as number) >= bStart,
    );
    assert.deepEqual(believedLate, [], 'a never believed it led once b had begun');
    assert.ok(BigInt(aElected['token'] as string) < BigInt(bElected['token'] as string), 'tokens increase');
  });
});

async function waitUntil(check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
