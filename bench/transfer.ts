/**
 * Leadership transfer against resign-handover, on each backend in the same run: how long after the
 * leader starts handing over the named candidate leads. Rounds alternate between the two ways on
 * the same pair of candidates, so both see the same machine and connections.
 * Run: node --import tsx bench/transfer.ts [--rounds N]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { etcd, postgres, zookeeper, type Backend, type Election } from '../src/index.js';
import { startEtcd } from '../test/fixtures/etcd.js';
import { startPostgres } from '../test/fixtures/postgres.js';
import { startZookeeper } from '../test/fixtures/zookeeper.js';
import { isMainModule, renderTable, type Outcome, type Result, type RunOptions } from './report.js';
import { summarize } from './stats.js';

const SCENARIO = 'transfer';
const WARMUP = 5;
/** At most this many rounds of each way per backend, so the section stays under ~40 s. */
const MAX_ROUNDS = 60;
/** How long the waiter has been waiting when the leader hands over (as in the handover bench). */
const WAIT_MS = 50;
const ROUND_TIMEOUT_MS = 10_000;

/** What the transfer table measures, for docs/benchmarks.md. */
export const TRANSFER_METHOD = `
Two candidates in one election, each with its own backend object and session (TTL 10 s), on one
fresh server per backend. In alternate rounds the leader either calls \`election.transfer()\` to the
waiting candidate or \`resign()\`; a sample is the time from just before that call to the waiter's
\`campaign()\` promise resolving. Before each round the waiter has waited ${WAIT_MS} ms; the old leader
then campaigns again and the roles swap. ${WARMUP} unmeasured rounds first.

How to read it: a transfer to the next in line deletes the same entry a resign does, in one step
guarded by both tokens instead of one, and the waiter wakes the same way. The difference is the
read before the step that finds the named candidate in the line (\`participants()\`: on etcd a
range, then one LeaseTimeToLive per lease; on ZooKeeper the children, then each one's data, then
both czxids), so expect a transfer to cost one or two round trips more than a resign.
`;

type AnyBackend = Backend<unknown>;

interface Pair {
  elections: [Election<unknown>, Election<unknown>];
  values: [string, string];
  leader: 0 | 1;
  transfer: number[];
  resign: number[];
}

async function pairOn(backends: [AnyBackend, AnyBackend], name: string): Promise<Pair> {
  const elections: [Election<unknown>, Election<unknown>] = [
    (await backends[0].session({ ttl: 10 })).election(name),
    (await backends[1].session({ ttl: 10 })).election(name),
  ];
  await elections[0].campaign('a');
  return { elections, values: ['a', 'b'], leader: 0, transfer: [], resign: [] };
}

/** One handover, by transfer or by resign; the waiter joins, waits, then is timed until it leads. */
async function round(
  backend: AnyBackend,
  name: string,
  p: Pair,
  how: 'transfer' | 'resign',
  record: boolean,
) {
  const to = p.leader === 0 ? 1 : 0;
  const leader = p.elections[p.leader];
  const waiter = p.elections[to];
  const elected = waiter.campaign(p.values[to]).then(() => performance.now());
  const deadline = performance.now() + ROUND_TIMEOUT_MS;
  while ((await backend.participants(name)).length < 2) {
    if (performance.now() > deadline) throw new Error(`the waiter of ${name} did not join`);
    await sleep(2);
  }
  await sleep(WAIT_MS);
  const start = performance.now();
  const step =
    how === 'transfer' ? leader.transfer(p.values[to], { timeout: ROUND_TIMEOUT_MS }) : leader.resign();
  const [at] = await Promise.all([elected, step]);
  if (record) p[how].push(at - start);
  p.leader = to;
}

/** Runs rounds alternating transfer and resign on two fresh backend objects. */
async function measure(make: () => AnyBackend, label: string, rounds: number): Promise<Result[]> {
  const backends: [AnyBackend, AnyBackend] = [make(), make()];
  const name = `bench-transfer-${process.pid}`;
  try {
    const p = await pairOn(backends, name);
    for (let i = 0; i < WARMUP + rounds; i++)
      for (const how of ['transfer', 'resign'] as const) await round(backends[0], name, p, how, i >= WARMUP);
    const transfer = summarize(p.transfer);
    const resign = summarize(p.resign);
    const ratio = (transfer.p50 / resign.p50).toFixed(2);
    return [
      { scenario: SCENARIO, name: `${label}: resign handover`, ...resign },
      {
        scenario: SCENARIO,
        name: `${label}: transfer`,
        ...transfer,
        extra: { 'transfer / resign p50': ratio },
      },
    ];
  } finally {
    await Promise.all(backends.map((b) => b.close()));
  }
}

/** Transfer vs resign on etcd (both modes), PostgreSQL and ZooKeeper. */
export async function benchTransfer(rounds: number): Promise<Result[]> {
  const n = Math.min(rounds, MAX_ROUNDS);
  const results: Result[] = [];
  const node = await startEtcd({ name: 'bench-transfer' });
  try {
    for (const mode of ['client', 'service'] as const)
      results.push(
        ...(await measure(() => etcd({ endpoints: [node.endpoint], mode, env: {} }), `etcd (${mode})`, n)),
      );
  } finally {
    await node.stop();
  }
  const pg = await startPostgres();
  try {
    results.push(
      ...(await measure(() => postgres({ connectionString: pg.url(), env: {} }), 'PostgreSQL', n)),
    );
  } finally {
    await pg.stop();
  }
  const zk = await startZookeeper();
  try {
    results.push(...(await measure(() => zookeeper({ connect: zk.connect, env: {} }), 'ZooKeeper', n)));
  } finally {
    await zk.stop();
  }
  return results;
}

/** The section for run.ts. */
export async function transferScenario(opts: RunOptions): Promise<Outcome> {
  return { results: await benchTransfer(opts.rounds), targets: [] };
}

if (isMainModule(import.meta.url)) {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '60' } } });
  benchTransfer(Number(values.rounds)).then(
    (results) => console.log(renderTable(results)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
