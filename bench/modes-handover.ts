/**
 * Handover on resign in etcd's two modes, side by side: ballot's client-side recipe against etcd's
 * server-side v3election service. Rounds alternate between the modes so both see the same machine.
 * Run: node --import tsx bench/modes-handover.ts [--rounds N]
 */
import { parseArgs } from 'node:util';
import { etcd, type Election, type EtcdMode } from '../src/index.js';
import { startEtcd } from '../test/fixtures/etcd.js';
import { summarize } from './stats.js';

const WARMUP = 5;
const WAIT_MS = 200;

interface Pair {
  mode: EtcdMode;
  elections: [Election, Election];
  leader: 0 | 1;
  samples: number[];
  close(): Promise<void>;
}

async function pair(endpoint: string, mode: EtcdMode): Promise<Pair> {
  const backends = [etcd({ endpoints: [endpoint], mode }), etcd({ endpoints: [endpoint], mode })] as const;
  const name = `bench-modes-${mode}`;
  const elections: [Election, Election] = [
    (await backends[0].session({ ttl: 10 })).election(name),
    (await backends[1].session({ ttl: 10 })).election(name),
  ];
  await elections[0].campaign('a');
  return {
    mode,
    elections,
    leader: 0,
    samples: [],
    close: async () => void (await Promise.all(backends.map((b) => b.close()))),
  };
}

/** One handover: the waiter joins, waits, then the time from resign() to its campaign resolving. */
async function handover(p: Pair, record: boolean): Promise<void> {
  const leader = p.elections[p.leader];
  const waiter = p.elections[p.leader === 0 ? 1 : 0];
  const elected = waiter.campaign('next').then(() => performance.now());
  await new Promise((resolve) => setTimeout(resolve, WAIT_MS));
  const start = performance.now();
  const [at] = await Promise.all([elected, leader.resign()]);
  if (record) p.samples.push(at - start);
  p.leader = p.leader === 0 ? 1 : 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '200' } } });
  const rounds = Number(values.rounds);
  const node = await startEtcd({ name: 'bench-modes' });
  const pairs: Pair[] = [];
  try {
    for (const mode of ['client', 'service'] as const) pairs.push(await pair(node.endpoint, mode));
    for (let i = 0; i < WARMUP + rounds; i++) for (const p of pairs) await handover(p, i >= WARMUP);
    console.log(`| mode | rounds | p50 (ms) | p99 (ms) | max (ms) |\n| --- | ---: | ---: | ---: | ---: |`);
    for (const p of pairs) {
      const s = summarize(p.samples);
      console.log(
        `| ${p.mode} | ${p.samples.length} | ${s.p50.toFixed(3)} | ${s.p99.toFixed(3)} | ${s.max.toFixed(3)} |`,
      );
    }
  } finally {
    await Promise.all(pairs.map((p) => p.close()));
    await node.stop();
  }
}

await main();
