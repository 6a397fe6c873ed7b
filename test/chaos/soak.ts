/**
 * `npm run chaos -- [--backend etcd|postgres|zookeeper] [--minutes N] [--trials N] [--seed S] [--scenarios a,b] [--trial scenario:seed ...] [--service SHARE] [--no-report] [--verbose]`
 * `--service 0.33` casts that share of candidates on etcd's v3election/v3lock services (default 0).
 *
 * The soak: runs randomized trials of every scenario of one backend (etcd by default; one backend
 * per run, so each has its own report) for N minutes (default 5), or until N trials with --trials,
 * against a fresh 3-member etcd cluster, PostgreSQL server or 3-server ZooKeeper ensemble, prints
 * one line per trial (and the full story of any failure), and writes docs/reliability.md (etcd),
 * docs/reliability-postgres.md or docs/reliability-zookeeper.md. `--trial name:seed` replays exact trials instead (no report is
 * written; the backend follows from the scenario names); `--verbose` prints every trial's
 * timeline, not only failed ones. Exits 1 if any trial found a violation.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { deriveSeed, formatSeed, parseSeed, randomSeed, Rng } from '../fixtures/rng.js';
import { Lab } from './lab.js';
import { monotonicNow as now, type Backend } from './protocol.js';
import { renderReport, aggregate, quantile, recoveryStats, revocationStats, windowStats } from './report.js';
import {
  describeApis,
  failureReport,
  runTrial,
  summaryLine,
  termsByApi,
  type Planned,
  type TrialResult,
} from './runner.js';
import { backendOf, scenarioNamed, scenariosFor, type Scenario } from './scenarios.js';

const REPORTS: Record<Backend, URL> = {
  etcd: new URL('../../docs/reliability.md', import.meta.url),
  postgres: new URL('../../docs/reliability-postgres.md', import.meta.url),
  zookeeper: new URL('../../docs/reliability-zookeeper.md', import.meta.url),
};
const BACKENDS = Object.keys(REPORTS) as Backend[];
const TTL = 2;
const CALL_TIMEOUT = 1_000;
const WRITE_EVERY_MS = 50;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string' },
      minutes: { type: 'string', default: '5' },
      trials: { type: 'string' },
      seed: { type: 'string' },
      scenarios: { type: 'string' },
      trial: { type: 'string', multiple: true },
      'no-report': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      service: { type: 'string', default: '0' },
    },
  });
  const minutes = Number(values.minutes);
  if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got ${values.minutes}`);
  const maxTrials = values.trials === undefined ? Number.POSITIVE_INFINITY : Number(values.trials);
  if (!(maxTrials > 0)) throw new Error(`--trials must be a positive number, got ${values.trials}`);
  const masterSeed = values.seed === undefined ? randomSeed() : parseSeed(values.seed);
  const replays: Planned[] = (values.trial ?? []).map((spec) => {
    const at = spec.lastIndexOf(':');
    if (at <= 0) throw new Error(`--trial takes scenario:seed, got ${JSON.stringify(spec)}`);
    return { scenario: scenarioNamed(spec.slice(0, at)), seed: parseSeed(spec.slice(at + 1)) };
  });
  const named = [
    ...replays.map((p) => p.scenario),
    ...(values.scenarios?.split(',').map(scenarioNamed) ?? []),
  ];
  const backend = chooseBackend(values.backend, named);
  const pool: readonly Scenario[] = values.scenarios
    ? values.scenarios.split(',').map(scenarioNamed)
    : scenariosFor(backend);
  const command = `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim();
  const writeReport = replays.length === 0 && !values['no-report'];

  console.log(
    replays.length
      ? `chaos[${backend}]: replaying ${replays.length} trial(s)`
      : `chaos[${backend}]: soak for ${minutes} min${Number.isFinite(maxTrials) ? ` or ${maxTrials} trials` : ''} ` +
          `over ${pool.length} scenarios, master seed ${formatSeed(masterSeed)} ` +
          `(rerun the same schedule with --seed ${formatSeed(masterSeed)})`,
  );
  const serviceShare = Number(values.service);
  if (!(serviceShare >= 0 && serviceShare <= 1))
    throw new Error(`--service must be a share between 0 and 1, got ${values.service}`);
  const lab = await Lab.start({
    ttl: TTL,
    callTimeout: CALL_TIMEOUT,
    writeEveryMs: WRITE_EVERY_MS,
    serviceShare,
    backend,
  });
  const postgresVersion =
    backend === 'postgres'
      ? String((await lab.pg.query('SHOW server_version')).rows[0]?.['server_version'] ?? 'unknown')
      : undefined;
  const zookeeperVersion =
    backend === 'zookeeper'
      ? (/Zookeeper version: (\d+(?:\.\d+)*)/.exec(await lab.zk.servers[0]!.fourLetter('srvr'))?.[1] ??
        'unknown')
      : undefined;
  const results: TrialResult[] = [];
  const started = now();
  try {
    const run = async (p: Planned): Promise<void> => {
      const result = await runTrial(lab, p.scenario, p.seed);
      results.push(result);
      console.log(summaryLine(result));
      if (result.verdict.violations.length > 0) console.log(failureReport(result));
      else if (values.verbose) console.log(result.timeline.map((l) => `    ${l}`).join('\n'));
    };
    if (replays.length) {
      for (const p of replays) await run(p);
    } else {
      // Rounds in shuffled order: every scenario gets its share, in an order that varies.
      const order = new Rng(masterSeed);
      const deadline = started + minutes * 60_000;
      let index = 0;
      while (now() < deadline && results.length < maxTrials) {
        for (const scenario of order.shuffle(pool)) {
          if (now() >= deadline || results.length >= maxTrials) break;
          await run({ scenario, seed: deriveSeed(masterSeed, index++) });
        }
      }
    }
  } finally {
    await lab.close();
  }

  const elapsedMin = (now() - started) / 60_000;
  const violations = results.reduce((n, r) => n + r.verdict.violations.length, 0);
  console.log(
    `\nchaos[${backend}]: ${results.length} trials in ${elapsedMin.toFixed(1)} min, ${violations} violations`,
  );
  for (const s of aggregate(pool, results).filter((a) => a.trials > 0))
    console.log(
      `  ${backend.padEnd(8)} ${s.scenario.padEnd(36)} trials=${String(s.trials).padStart(3)} violations=${s.violations} ` +
        `lead min/p50=${quantile(s.leads, 0).toFixed(1)}/${quantile(s.leads, 0.5).toFixed(1)} ms ` +
        `handover p50=${quantile(s.handovers, 0.5).toFixed(0)} ms`,
    );
  console.log(`  terms by API: ${describeApis(termsByApi(results))}`);
  if (backend === 'etcd') {
    for (const w of windowStats(results))
      console.log(
        `  early-revocation windows (${w.mode}): ${w.count}, ${w.violations} of them violations, ` +
          `p50 ${w.p50.toFixed(1)} ms, max ${w.max.toFixed(1)} ms`,
      );
    for (const x of revocationStats(results))
      console.log(
        `  terms lost right after a raft leader resumed (${x.mode}): ${x.count}, smallest lead to the next term ` +
          `${x.minLead.toFixed(1)} ms`,
      );
    for (const r of recoveryStats(results, TTL * 1000 + 1_000))
      console.log(
        `  recovery after "${r.label}": ${r.samples} faults, p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, ` +
          `max ${r.max.toFixed(0)} ms, ${r.overTarget} over TTL + 1 s, ${r.none} with no term after; longest ` +
          `gap p50 ${r.gapP50.toFixed(0)} ms, p99 ${r.gapP99.toFixed(0)} ms, ${r.gapOverTarget} over TTL + 1 s`,
      );
  }
  if (writeReport) {
    const markdown = renderReport(
      {
        command,
        masterSeed,
        minutes: elapsedMin,
        ttl: TTL,
        callTimeout: CALL_TIMEOUT,
        writeEveryMs: WRITE_EVERY_MS,
        serviceShare,
        backend,
        ...(postgresVersion === undefined ? {} : { postgresVersion }),
        ...(zookeeperVersion === undefined ? {} : { zookeeperVersion }),
      },
      pool,
      results,
    );
    const report = REPORTS[backend];
    const path = report.pathname;
    const options = (await resolveConfig(path)) ?? {};
    await writeFile(report, await format(markdown, { ...options, filepath: path }));
    console.log(`chaos: wrote ${path}`);
  }
  return violations === 0 ? 0 : 1;
}

/** The backend asked for, or the one the named scenarios run on; they must all agree. */
function chooseBackend(asked: string | undefined, scenarios: readonly Scenario[]): Backend {
  if (asked !== undefined && !BACKENDS.includes(asked as Backend))
    throw new Error(`--backend takes ${BACKENDS.join(', ')}, got ${JSON.stringify(asked)}`);
  const implied = new Set(scenarios.map((s) => backendOf(s.name)));
  if (implied.size > 1) throw new Error('the scenarios named run on different backends: run them separately');
  const [only] = implied;
  if (asked !== undefined && only !== undefined && only !== asked)
    throw new Error(`scenario ${scenarios[0]?.name} runs on ${only}, not on --backend ${asked}`);
  return (asked as Backend | undefined) ?? only ?? 'etcd';
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
