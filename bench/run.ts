/**
 * `npm run bench [-- --quick] [-- --rounds N] [-- --only etcd|postgres|zookeeper] [-- --section 5 ...]`: runs every scenario and
 * writes docs/benchmarks.md and the chart it shows, docs/benchmarks.svg. With --only, just that
 * backend's scenarios run and their tables go to stdout; the page, which shows them all, is left as it is.
 * --section (repeatable) runs only the scenarios of that number ("1", "5", "PG 2"), also to stdout.
 * A new scenario is a new file exporting a scenario function and a method text, plus one entry below.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { renderChart } from './chart.js';
import { FAILOVER_METHOD, failoverScenario } from './failover.js';
import { FANOUT_METHOD, fanoutScenario } from './fanout.js';
import { FORWARD_METHOD, forwardScenario } from './forward.js';
import { CLI_HANDOVER_METHOD, cliHandoverScenario } from './handover-cli.js';
import { HANDOVER_METHOD, handoverScenario } from './handover.js';
import { HERD_METHOD, herdScenario } from './herd.js';
import { MANY_METHOD, manyScenario } from './many.js';
import { METRICS_OVERHEAD_METHOD, metricsOverheadScenario } from './metrics-overhead.js';
import { PARTITION_METHOD, partitionScenario } from './partition.js';
import { FIXTURE_NOTE } from './pg-common.js';
import { PG_FAILOVER_METHOD, pgFailoverScenario } from './pg-failover.js';
import { PG_HANDOVER_METHOD, pgHandoverScenario } from './pg-handover.js';
import { PG_HERD_METHOD, pgHerdScenario } from './pg-herd.js';
import { PG_MANY_METHOD, pgManyScenario } from './pg-many.js';
import { PG_PARTITION_METHOD, pgPartitionScenario } from './pg-partition.js';
import {
  environment,
  renderFacts,
  renderTable,
  renderTargets,
  type Bar,
  type Outcome,
  type RunOptions,
  type TargetCheck,
} from './report.js';
import { TRANSFER_METHOD, transferScenario } from './transfer.js';
import { ZK_FIXTURE_NOTE } from './zk-common.js';
import { ZK_FAILOVER_METHOD, zkFailoverScenario } from './zk-failover.js';
import { ZK_HANDOVER_METHOD, zkHandoverScenario } from './zk-handover.js';
import { ZK_HERD_METHOD, zkHerdScenario } from './zk-herd.js';
import { ZK_MANY_METHOD, zkManyScenario } from './zk-many.js';
import { ZK_PARTITION_METHOD, zkPartitionScenario } from './zk-partition.js';

/** One benchmark scenario as run.ts sees it. */
interface Scenario {
  /** The issue's scenario number, e.g. "2". */
  number: string;
  /** Which server the scenario runs against, for --only. */
  backend: 'etcd' | 'postgres' | 'zookeeper';
  title: string;
  /** Markdown: what is measured and how to read it; printed above the table. */
  method: string;
  run(opts: RunOptions): Promise<Outcome>;
}

const SCENARIOS: Scenario[] = [
  { number: '1', title: 'Handover on resign', method: HANDOVER_METHOD, run: handoverScenario },
  {
    number: '1',
    title: 'Handover on resign, as processes',
    method: CLI_HANDOVER_METHOD,
    run: cliHandoverScenario,
  },
  { number: '2', title: 'Crash failover', method: FAILOVER_METHOD, run: failoverScenario },
  { number: '3', title: 'Partition step-down', method: PARTITION_METHOD, run: partitionScenario },
  { number: '4', title: 'Herd: 1,000 candidates', method: HERD_METHOD, run: herdScenario },
  { number: '5', title: 'Many elections: 10,000 on one session', method: MANY_METHOD, run: manyScenario },
  { number: '6', title: 'Observer fan-out: 1,000 observers', method: FANOUT_METHOD, run: fanoutScenario },
  // Issue 14: what recording metrics costs a handover and a guard (about 20 s).
  {
    number: 'M 1',
    title: 'Metrics on vs off',
    method: METRICS_OVERHEAD_METHOD,
    run: metricsOverheadScenario,
  },
].map((s) => ({ ...s, backend: 'etcd' as const }));

// Issue 12: the same questions asked of the PostgreSQL backend, each section on a fresh server.
SCENARIOS.push(
  ...[
    {
      number: 'PG 1',
      title: 'PostgreSQL: handover on resign',
      method: PG_HANDOVER_METHOD,
      run: pgHandoverScenario,
    },
    {
      number: 'PG 2',
      title: 'PostgreSQL: crash failover',
      method: PG_FAILOVER_METHOD,
      run: pgFailoverScenario,
    },
    {
      number: 'PG 3',
      title: 'PostgreSQL: partition step-down',
      method: PG_PARTITION_METHOD,
      run: pgPartitionScenario,
    },
    {
      number: 'PG 4',
      title: 'PostgreSQL: herd of 1,000 candidates',
      method: PG_HERD_METHOD,
      run: pgHerdScenario,
    },
    {
      number: 'PG 5',
      title: 'PostgreSQL: 1,000 elections on one session',
      method: PG_MANY_METHOD,
      run: pgManyScenario,
    },
  ].map((s) => ({ ...s, backend: 'postgres' as const })),
);

// Issue 13: the same questions asked of the ZooKeeper backend, each section on a fresh server.
SCENARIOS.push(
  ...[
    {
      number: 'ZK 1',
      title: 'ZooKeeper: handover on resign',
      method: ZK_HANDOVER_METHOD,
      run: zkHandoverScenario,
    },
    {
      number: 'ZK 2',
      title: 'ZooKeeper: crash failover',
      method: ZK_FAILOVER_METHOD,
      run: zkFailoverScenario,
    },
    {
      number: 'ZK 3',
      title: 'ZooKeeper: partition step-down, ballot and Curator',
      method: ZK_PARTITION_METHOD,
      run: zkPartitionScenario,
    },
    {
      number: 'ZK 4',
      title: 'ZooKeeper: herd of 1,000 candidates',
      method: ZK_HERD_METHOD,
      run: zkHerdScenario,
    },
    {
      number: 'ZK 5',
      title: 'ZooKeeper: 1,000 elections on one session',
      method: ZK_MANY_METHOD,
      run: zkManyScenario,
    },
  ].map((s) => ({ ...s, backend: 'zookeeper' as const })),
);

// Issue 14: serving behind an election; forwarding is measured against etcd (the backend hardly matters).
SCENARIOS.push({
  number: 'S 1',
  backend: 'etcd',
  title: 'Forwarding to the leader: overhead of a follower hop',
  method: FORWARD_METHOD,
  run: forwardScenario,
});

// Issue 14: leadership transfer against resign-handover, on every backend in one section.
SCENARIOS.push({
  number: 'T 1',
  backend: 'etcd',
  title: 'Leadership transfer against resign handover (etcd, PostgreSQL, ZooKeeper)',
  method: TRANSFER_METHOD,
  run: transferScenario,
});

const FULL_ROUNDS = 200;
const QUICK_ROUNDS = 50;
const OUTPUT = new URL('../docs/benchmarks.md', import.meta.url);
const CHART = new URL('../docs/benchmarks.svg', import.meta.url);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      only: { type: 'string' },
      section: { type: 'string', multiple: true },
    },
  });
  const only = values.only;
  if (only !== undefined && only !== 'etcd' && only !== 'postgres' && only !== 'zookeeper')
    throw new Error(`--only must be etcd, postgres or zookeeper, got ${only}`);
  // Scenario numbers as the page heads them ("1", "5", "PG 2"); like --only, the page is left as it is.
  const picked = values.section;
  const unknown = picked?.filter((n) => !SCENARIOS.some((s) => s.number === n));
  if (unknown && unknown.length > 0)
    throw new Error(
      `--section ${unknown.join(', ')}: no such scenario (one of ${[...new Set(SCENARIOS.map((s) => s.number))].join(', ')})`,
    );
  const partial = only !== undefined || picked !== undefined;
  const quick = values.quick ?? false;
  const rounds = values.rounds === undefined ? (quick ? QUICK_ROUNDS : FULL_ROUNDS) : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < QUICK_ROUNDS)
    throw new Error(`--rounds must be an integer of at least ${QUICK_ROUNDS}, got ${values.rounds}`);
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const started = performance.now();
  // Taken before the run: src/ may change while it goes on, and the page must name what was measured.
  const env = environment();

  const opts: RunOptions = { rounds, quick };
  const sections: string[] = [];
  const targets: TargetCheck[] = [];
  const bars: Bar[] = [];
  const chosen = SCENARIOS.filter(
    (s) => (only === undefined || s.backend === only) && (picked === undefined || picked.includes(s.number)),
  );
  for (const scenario of chosen) {
    const heading = `${scenario.number}. ${scenario.title}`;
    const t0 = performance.now();
    console.error(`bench: ${heading}...`);
    const outcome = await scenario.run(opts);
    if (outcome.floor) opts.floor = outcome.floor;
    targets.push(...outcome.targets);
    bars.push(...(outcome.bars ?? []));
    const tables = [
      outcome.results.length > 0 ? renderTable(outcome.results) : '',
      outcome.facts && outcome.facts.length > 0 ? renderFacts(outcome.facts) : '',
    ].filter(Boolean);
    const took = `${((performance.now() - t0) / 1000).toFixed(0)} s`;
    console.log(`\n## ${heading} (${took})\n\n${tables.join('\n\n')}\n`);
    sections.push(`## ${heading}\n\n${scenario.method.trim()}\n\n${tables.join('\n\n')}\n`);
  }
  console.log(`\n## Targets\n\n${renderTargets(targets)}\n`);
  if (partial) {
    // The page compares every backend side by side; part of a run must not replace it.
    console.error(
      `bench: ${process.argv.slice(2).join(' ')}: docs/benchmarks.md left as it is; the tables are above`,
    );
    return;
  }

  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  const subtitle = `${command}, ${env.date.slice(0, 10)}; ${env.cpus} cores; etcd ${env.etcd}; Node.js ${env.node}`;
  const missed = targets.filter((t) => !t.met).length;
  const doc = [
    '# Benchmarks',
    '',
    `Generated by \`${command}\` on ${env.date} in ${minutes} min; rerun that command to reproduce (etcd is`,
    'started by the run itself from `ETCD_BIN`, default `/usr/bin/etcd`, and etcdctl from `ETCDCTL_BIN`).',
    'Do not edit by hand: the next run overwrites this file and [benchmarks.svg](benchmarks.svg).',
    '',
    `- Machine: ${env.cpus} cores, ${env.cpuModel}`,
    `- etcd: ${env.etcd}, one fresh single-node member per scenario on loopback, data dir in the OS temp dir`,
    `- PostgreSQL: ${env.postgres} (from \`PG_BIN\`, default the newest under /usr/lib/postgresql), ${FIXTURE_NOTE}`,
    `- ZooKeeper: ${ZK_FIXTURE_NOTE}; Curator from \`JAVA_SHARE\` (default /usr/share/java)`,
    `- Node.js: ${env.node}`,
    `- ballot: ${env.commit}`,
    '',
    'Every number comes from one run on this machine, which was not otherwise idle: read medians and',
    'ratios, and treat p99 and max (over as few as 10–20 samples in the failure scenarios) as noisy.',
    quick
      ? '**This is a `--quick` run**: fewer rounds and trials, the etcdctl crash trial skipped, and memory not held long enough to settle. Use a full run for numbers to quote.'
      : '',
    '',
    '![Handover p50 and crash failover p50 for ballot, etcd3, etcdctl and the etcd put floor](benchmarks.svg)',
    '',
    '## Targets',
    '',
    `The targets of issue 5 (etcd), issue 12 (rows "pg …", PostgreSQL) and issue 13 (rows "zk …", ZooKeeper), checked against this run: ${targets.length - missed} met, ${missed} missed.`,
    'Where ballot misses one, the last column says why.',
    '',
    renderTargets(targets),
    '',
    ...sections,
  ].join('\n');
  // Written as prettier would leave it, so `npm run lint` stays clean after every bench run.
  const path = fileURLToPath(OUTPUT);
  await writeFile(path, await format(doc, { ...(await resolveConfig(path)), filepath: path }));
  await writeFile(fileURLToPath(CHART), renderChart(bars, subtitle));
  console.error(`bench: wrote ${path} and ${fileURLToPath(CHART)} in ${minutes} min`);
}

main().catch((err: unknown) => {
  console.error(err);
  // Not process.exit(): every scenario closes its resources, and a hang here would show a leak.
  process.exitCode = 1;
});
