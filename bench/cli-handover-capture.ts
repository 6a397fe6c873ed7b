/**
 * Where the process-level handover's time goes on the leader's side: SIGINT to a leading
 * `ballot campaign` or `etcdctl elect` until the leader's first packet to etcd after it (the
 * resign's delete), read off a loopback capture, next to SIGINT until the queued candidate prints
 * that it leads. Needs tcpdump and the right to capture on `lo` (root).
 *
 *   node --import tsx bench/cli-handover-capture.ts [rounds=60]
 *
 * Builds dist/ first and starts its own etcd (test/fixtures/etcd.ts). Times are wall-clock
 * (performance.timeOrigin + now) against tcpdump's kernel timestamps; medians only. NO_BUILD=1
 * measures dist/ as it is (e.g. a hand-edited build for a diagnostic) instead of rebuilding it.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildCli, type Proc } from '../test/cli-process.js';
import { startEtcd } from '../test/fixtures/etcd.js';
import { cliTools, queueBehind, type Tool } from './cli-tools.js';
import { median } from './stats.js';

const ROUNDS = Number(process.argv[2] ?? 60);
// Client mode only: the service mode's resign is not sent ahead, so its first packet says less.
const tools = cliTools('cap').filter((t) => !t.name.includes('--mode service'));

const wallNow = () => performance.timeOrigin + performance.now();

/** Kernel timestamps (ms since the epoch) of data packets sent to etcd's client port. */
function capture(port: number): { packets: number[]; stop(): void } {
  const packets: number[] = [];
  const dump = spawn('tcpdump', ['-i', 'lo', '-tt', '-n', '-l', `tcp dst port ${port} and greater 60`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let rest = '';
  dump.stdout.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) packets.push(Number(line.split(' ')[0]) * 1000);
  });
  return { packets, stop: () => dump.kill() };
}

/** A series' median in ms, or a word if tcpdump caught none of its packets. */
const p50 = (xs: number[]) => (xs.length > 0 ? `${median(xs).toFixed(3)} ms` : 'none captured');

async function main(): Promise<void> {
  const [node] = await Promise.all([
    startEtcd({ name: 'bench-capture' }),
    process.env['NO_BUILD'] ? undefined : buildCli(),
  ]);
  const dump = capture(Number(node.endpoint.split(':').at(-1)));
  await sleep(1000); // tcpdump starts listening
  const pairs = new Map<Tool, { leader: Proc; waiter: Proc; value: string; next: number }>();
  const kills = new Map<Tool, number[]>(tools.map((t) => [t, []]));
  const toWire = new Map<Tool, number[]>(tools.map((t) => [t, []]));
  const toElected = new Map<Tool, number[]>(tools.map((t) => [t, []]));
  try {
    for (const tool of tools) {
      const leader = tool.start(node, 'v0');
      await leader.line('stdout', (l) => tool.elected(l, 'v0'));
      pairs.set(tool, { leader, waiter: await queueBehind(node, tool, 'v1'), value: 'v1', next: 2 });
    }
    for (let r = 0; r < ROUNDS; r++)
      for (const tool of tools) {
        const pair = pairs.get(tool)!;
        const since = pair.waiter.stdout.length;
        const killedAt = wallNow();
        pair.leader.kill('SIGINT');
        await pair.waiter.line('stdout', (l) => tool.elected(l, pair.value), 10_000, since);
        toElected.get(tool)!.push(wallNow() - killedAt);
        await pair.leader.exited;
        kills.get(tool)!.push(killedAt);
        pair.leader = pair.waiter;
        pair.value = `v${pair.next++}`;
        pair.waiter = await queueBehind(node, tool, pair.value);
      }
    await sleep(1000); // tcpdump's last lines
    for (const tool of tools)
      for (const killedAt of kills.get(tool)!) {
        const first = dump.packets.find((t) => t >= killedAt);
        if (first !== undefined && first - killedAt < 50) toWire.get(tool)!.push(first - killedAt);
      }
    console.log(
      `\n${ROUNDS} rounds each, interleaved, single-node etcd on loopback, node ${process.version}.\n`,
    );
    console.log(
      '| tool | SIGINT → delete on the wire, p50 | SIGINT → waiter prints elected, p50 | captured |',
    );
    console.log('|---|---|---|---|');
    for (const tool of tools)
      console.log(
        `| ${tool.name} | ${p50(toWire.get(tool)!)} | ${p50(toElected.get(tool)!)} | ${toWire.get(tool)!.length} of ${ROUNDS} |`,
      );
  } finally {
    dump.stop();
    for (const pair of pairs.values()) for (const p of [pair.leader, pair.waiter]) p.kill('SIGINT');
    await Promise.all([...pairs.values()].flatMap((p) => [p.leader.exited, p.waiter.exited]));
    await node.stop();
  }
}

await main();
