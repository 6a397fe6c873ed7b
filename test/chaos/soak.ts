/**
 * `npm run chaos -- [--minutes N] [--seed S] [--scenarios a,b] [--trial scenario:seed ...] [--service SHARE] [--no-report] [--verbose]`
 * `--service 0.33` casts that share of candidates on etcd's v3election/v3lock services (default 0).
 *
 * The soak: runs randomized trials of every scenario for N minutes (default 5) against a fresh
 * 3-member etcd cluster, prints one line per trial (and the full story of any failure), and writes
 * docs/reliability.md. `--trial name:seed` replays exact trials instead (no report is written);
 * `--verbose` prints every trial's timeline, not only failed ones.
 * Exits 1 if any trial found a violation.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { deriveSeed, formatSeed, parseSeed, randomSeed, Rng } from '../fixtures/rng.js';
import { Lab } from './lab.js';
import { monotonicNow as now } from './protocol.js';
import { renderReport, aggregate, quantile } from './report.js';
import {
  describeApis,
  failureReport,
  runTrial,
  summaryLine,
  termsByApi,
  type Planned,
  type TrialResult,
} from './runner.js';
import { SCENARIOS, scenarioNamed, type Scenario } from './scenarios.js';

const REPORT = new URL('../../docs/reliability.md', import.meta.url);
const TTL = 2;
const CALL_TIMEOUT = 1_000;
const WRITE_EVERY_MS = 50;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '5' },
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
  const masterSeed = values.seed === undefined ? randomSeed() : parseSeed(values.seed);
  const pool: readonly Scenario[] = values.scenarios
    ? values.scenarios.split(',').map(scenarioNamed)
    : SCENARIOS;
  const replays: Planned[] = (values.trial ?? []).map((spec) => {
    const at = spec.lastIndexOf(':');
    if (at <= 0) throw new Error(`--trial takes scenario:seed, got ${JSON.stringify(spec)}`);
    return { scenario: scenarioNamed(spec.slice(0, at)), seed: parseSeed(spec.slice(at + 1)) };
  });
  const command = `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim();
  const writeReport = replays.length === 0 && !values['no-report'];

  console.log(
    replays.length
      ? `chaos: replaying ${replays.length} trial(s)`
      : `chaos: soak for ${minutes} min over ${pool.length} scenarios, master seed ${formatSeed(masterSeed)} ` +
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
  });
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
      while (now() < deadline) {
        for (const scenario of order.shuffle(pool)) {
          if (now() >= deadline) break;
          await run({ scenario, seed: deriveSeed(masterSeed, index++) });
        }
      }
    }
  } finally {
    await lab.close();
  }

  const elapsedMin = (now() - started) / 60_000;
  const violations = results.reduce((n, r) => n + r.verdict.violations.length, 0);
  console.log(`\nchaos: ${results.length} trials in ${elapsedMin.toFixed(1)} min, ${violations} violations`);
  for (const s of aggregate(pool, results).filter((a) => a.trials > 0))
    console.log(
      `  ${s.scenario.padEnd(36)} trials=${String(s.trials).padStart(3)} violations=${s.violations} ` +
        `lead min/p50=${quantile(s.leads, 0).toFixed(1)}/${quantile(s.leads, 0.5).toFixed(1)} ms ` +
        `handover p50=${quantile(s.handovers, 0.5).toFixed(0)} ms`,
    );
  console.log(`  terms by API: ${describeApis(termsByApi(results))}`);
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
      },
      pool,
      results,
    );
    const path = REPORT.pathname;
    const options = (await resolveConfig(path)) ?? {};
    await writeFile(REPORT, await format(markdown, { ...options, filepath: path }));
    console.log(`chaos: wrote ${path}`);
  }
  return violations === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
