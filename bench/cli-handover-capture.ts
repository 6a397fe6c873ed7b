/**
 * Where the process-level handover's time goes on the leader's side: SIGINT to a leading
 * `ballot campaign` or `etcdctl elect` until the leader's first packet to etcd after it (the
 * resign's delete), read off a loopback capture, next to SIGINT until the queued candidate prints
 * that it leads. Needs tcpdump and the right to capture on `lo` (root).
 *
 *   node --import tsx bench/cli-handover-capture.ts [rounds=60]
 *
 * Builds dist/ first and starts its own etcd (test/fixtures/etcd.ts). Times are wall-clock
 * (performance.timeOrigin + now) against tcpdump's kernel timestamps; medians only.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildCli, startCli, startProcess, type Proc } from '../test/cli-process.js';
import { startEtcd, type EtcdNode } from '../test/fixtures/etcd.js';

const ROUNDS = Number(process.argv[2] ?? 60);
const ETCDCTL = process.env['ETCDCTL_BIN'] ?? '/usr/bin/etcdctl';
/** Time for a queued candidate to set up its watch on the leader after its key appears. */
const SETTLE_MS = 250;

interface Tool {
  name: string;
  election: string;
  start(node: EtcdNode, value: string): Proc;
  elected(line: string, value: string): boolean;
}

const tools: Tool[] = [
  {
    name: 'ballot campaign',
    election: 'cap-ballot',
    start: (node, value) => startCli(['campaign', 'cap-ballot', value], node.endpoint),
    elected: (line, value) => line.startsWith('elected ') && line.includes(`: ${value} (`),
  },
  {
    name: 'etcdctl elect',
    election: 'cap-etcdctl',
    start: (node, value) =>
      startProcess(ETCDCTL, [`--endpoints=${node.endpoint}`, 'elect', 'cap-etcdctl', value], {
        ETCDCTL_API: '3',
      }),
    elected: (line) => line.startsWith('cap-etcdctl/'),
  },
];

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

async function queueBehind(node: EtcdNode, tool: Tool, value: string): Promise<Proc> {
  const proc = tool.start(node, value);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await node.etcdctl(['get', `${tool.election}/`, '--prefix', '--keys-only']);
    if (res.stdout.split('\n').filter((l) => l.trim() !== '').length >= 2) break;
    if (Date.now() > deadline) throw new Error(`${tool.name} ${value} never queued:\n${proc.output()}`);
    await sleep(20);
  }
  await sleep(SETTLE_MS);
  return proc;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

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
        `| ${tool.name} | ${median(toWire.get(tool)!).toFixed(3)} ms | ${median(toElected.get(tool)!).toFixed(3)} ms | ${toWire.get(tool)!.length} of ${ROUNDS} |`,
      );
  } finally {
    dump.stop();
    for (const pair of pairs.values()) for (const p of [pair.leader, pair.waiter]) p.kill('SIGINT');
    await Promise.all([...pairs.values()].flatMap((p) => [p.leader.exited, p.waiter.exited]));
    await node.stop();
  }
}

await main();
