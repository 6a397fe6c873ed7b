/**
 * The leader-election commands the process-level handover benchmarks compare (ballot campaign in
 * both modes, etcdctl elect), and how they queue a candidate behind a leader; shared by
 * bench/cli-handover.ts and bench/cli-handover-capture.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startCli, startProcess, type Proc } from '../test/cli-process.js';
import type { EtcdNode } from '../test/fixtures/etcd.js';

const ETCDCTL = process.env['ETCDCTL_BIN'] ?? '/usr/bin/etcdctl';
/** Time for a queued candidate to set up its watch on the leader after its key appears. */
const SETTLE_MS = 250;

/** One tool under test: how to start a candidate and how to see that it was elected. */
export interface Tool {
  name: string;
  election: string;
  start(node: EtcdNode, value: string): Proc;
  /** Whether `line` on stdout says the candidate is now the leader. */
  elected(line: string, value: string): boolean;
}

/** The tools, each in an election of its own named `<prefix>-<tool>`. */
export function cliTools(prefix: string): Tool[] {
  const ballotElected = (line: string, value: string) =>
    line.startsWith('elected ') && line.includes(`: ${value} (`);
  return [
    {
      name: 'ballot campaign',
      election: `${prefix}-ballot`,
      start: (node, value) => startCli(['campaign', `${prefix}-ballot`, value], node.endpoint),
      elected: ballotElected,
    },
    {
      name: 'ballot campaign --mode service',
      election: `${prefix}-service`,
      start: (node, value) =>
        startCli(['campaign', `${prefix}-service`, value, '--mode', 'service'], node.endpoint),
      elected: ballotElected,
    },
    {
      name: 'etcdctl elect',
      election: `${prefix}-etcdctl`,
      start: (node, value) =>
        startProcess(ETCDCTL, [`--endpoints=${node.endpoint}`, 'elect', `${prefix}-etcdctl`, value], {
          ETCDCTL_API: '3',
        }),
      // etcdctl prints the leader key, then the value, once elected: the key line comes first.
      elected: (line) => line.startsWith(`${prefix}-etcdctl/`),
    },
  ];
}

async function entries(node: EtcdNode, election: string): Promise<number> {
  const res = await node.etcdctl(['get', `${election}/`, '--prefix', '--keys-only']);
  return res.stdout.split('\n').filter((l) => l.trim() !== '').length;
}

/** Starts a candidate and resolves once it is queued behind the leader and has settled. */
export async function queueBehind(node: EtcdNode, tool: Tool, value: string): Promise<Proc> {
  const proc = tool.start(node, value);
  const deadline = Date.now() + 10_000;
  while ((await entries(node, tool.election)) < 2) {
    if (Date.now() > deadline) throw new Error(`${tool.name} ${value} never queued:\n${proc.output()}`);
    await sleep(20);
  }
  await sleep(SETTLE_MS);
  return proc;
}
