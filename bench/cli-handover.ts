/**
 * Process-level handover, `ballot campaign` against `etcdctl elect`, side by side in one run:
 * a leader process and a queued candidate process; SIGINT to the leader; the time until the
 * candidate prints that it was elected. Rounds alternate between the two tools.
 *
 *   node --import tsx bench/cli-handover.ts [rounds=30]
 *
 * Starts its own etcd (test/fixtures/etcd.ts) and builds dist/ first. Prints a markdown table.
 */
import { buildCli, type Proc } from '../test/cli-process.js';
import { startEtcd, type EtcdNode } from '../test/fixtures/etcd.js';
import { cliTools, queueBehind, type Tool } from './cli-tools.js';

const ROUNDS = Number(process.argv[2] ?? 30);
const tools = cliTools('bench');

/** A tool's standing pair: the leader and the candidate queued behind it. */
interface Pair {
  leader: Proc;
  waiter: Proc;
  waiterValue: string;
  next: number;
}

async function setUp(node: EtcdNode, tool: Tool): Promise<Pair> {
  const leader = tool.start(node, 'v0');
  await leader.line('stdout', (l) => tool.elected(l, 'v0'));
  const waiter = await queueBehind(node, tool, 'v1');
  return { leader, waiter, waiterValue: 'v1', next: 2 };
}

/** SIGINT to the leader; resolves with the ms until the queued candidate prints that it leads. */
async function round(node: EtcdNode, tool: Tool, pair: Pair): Promise<number> {
  const { leader, waiter, waiterValue } = pair;
  const since = waiter.stdout.length;
  const t0 = performance.now();
  leader.kill('SIGINT');
  await waiter.line('stdout', (l) => tool.elected(l, waiterValue), 10_000, since);
  const took = performance.now() - t0;
  await leader.exited;
  pair.leader = waiter;
  pair.waiterValue = `v${pair.next++}`;
  pair.waiter = await queueBehind(node, tool, pair.waiterValue);
  return took;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)] ?? NaN;
}

async function main(): Promise<void> {
  const [node] = await Promise.all([startEtcd({ name: 'bench-cli' }), buildCli()]);
  const pairs: Pair[] = [];
  try {
    for (const tool of tools) pairs.push(await setUp(node, tool));
    const samples = tools.map(() => [] as number[]);
    for (let r = 0; r < ROUNDS; r++)
      for (const [i, tool] of tools.entries()) samples[i]!.push(await round(node, tool, pairs[i]!));
    const etcdVersion = (await node.etcdctl(['version'])).stdout.split('\n')[0] ?? '';
    console.log(`\nHandover at the process level: SIGINT to the leader → the next candidate prints elected.`);
    console.log(
      `${ROUNDS} rounds each, interleaved; single-node etcd on loopback (${etcdVersion.trim()}), node ${process.version}.\n`,
    );
    console.log('| tool | rounds | p50 | p99 | min | max |');
    console.log('|---|---|---|---|---|---|');
    tools.forEach((tool, i) => {
      const sorted = [...samples[i]!].sort((a, b) => a - b);
      const ms = (v: number) => `${v.toFixed(1)} ms`;
      console.log(
        `| ${tool.name} | ${sorted.length} | ${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 99))} | ${ms(sorted[0]!)} | ${ms(sorted.at(-1)!)} |`,
      );
    });
  } finally {
    for (const pair of pairs) for (const p of [pair.leader, pair.waiter]) p.kill('SIGINT');
    await Promise.all(pairs.flatMap((pair) => [pair.leader.exited, pair.waiter.exited]));
    await node.stop();
  }
}

await main();
