/**
 * Runs trials: a scenario with a seed, then the common tail (restore, settle, everyone leaves,
 * orphan check, history read) and the checker's verdict. Shared by the CI pass and the soak.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { formatSeed, Rng, type Seed } from '../fixtures/rng.js';
import { check, type ChaosVerdict } from './checker.js';
import { StepTimeout, Trial, type Lab } from './lab.js';
import { monotonicNow as now, type CandidateMode, type EtcdMode } from './protocol.js';
import { backendOf, type Scenario } from './scenarios.js';

/** What one trial found. */
export interface TrialResult {
  trial: string;
  scenario: string;
  seed: Seed;
  ms: number;
  verdict: ChaosVerdict;
  timeline: string[];
  /** Retries, errors and crashes the candidates reported, for reading next to a violation. */
  incidents: string[];
  /** Terms begun, by the API their candidate drove and its etcd mode, so a pass shows each was exercised. */
  termsByApi: TermsByApi;
  /** Share of candidates cast on the service mode (the cast replays only with the same share). */
  serviceShare: number;
}

/** One trial to run. */
export interface Planned {
  scenario: Scenario;
  seed: Seed;
}

/** How to replay a trial: the command that runs exactly this scenario with this seed. */
export function replayCommand(scenario: string, seed: Seed, serviceShare = 0): string {
  const store = backendOf(scenario);
  const backend = store === 'etcd' ? '' : `--backend ${store} `;
  const service = serviceShare > 0 ? `--service ${serviceShare} ` : '';
  return `npm run chaos -- ${backend}${service}--trial ${scenario}:${formatSeed(seed)}`;
}

/**
 * Runs one scenario with one seed and judges it (`serviceShare` overrides the lab's, e.g. to replay
 * a regression schedule on the client mode it was found on). Never throws for a failure of the library.
 */
export async function runTrial(
  lab: Lab,
  scenario: Scenario,
  seed: Seed,
  opts: { serviceShare?: number } = {},
): Promise<TrialResult> {
  const started = now();
  const trial = await Trial.open(lab, scenario.name, seed, opts.serviceShare);
  trial.mark(`scenario ${scenario.name}, seed ${formatSeed(seed)}`);
  try {
    await scenario.run(trial, new Rng(seed));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    trial.failures.push({ check: err instanceof StepTimeout ? 'liveness' : 'scenario', message });
    trial.mark(`scenario step failed: ${message}`);
  }
  let verdict: ChaosVerdict;
  const termsByApi = noTerms();
  try {
    await trial.restore();
    const settle = await trial.settle();
    await trial.leave();
    const orphans = await trial.orphans();
    const record = await trial.record(settle, orphans);
    for (const t of record.terms) {
      const spec = trial.specOf(t.cand);
      if (spec) termsByApi[`${spec.mode}/${spec.etcd}`]++;
    }
    verdict = check(record);
  } catch (err) {
    // The harness could not finish the trial (e.g. etcd would not come back): count it, never hide it.
    const message = `harness: ${err instanceof Error ? err.message : String(err)}`;
    trial.mark(message);
    verdict = {
      violations: [...trial.failures, { check: 'scenario', message }],
      leads: [],
      handovers: [],
      writes: { committed: 0, refused: 0, unknown: 0, staleCommitted: 0 },
      terms: 0,
      windows: [],
      recoveries: [],
      revocations: [],
    };
    await sleep(500);
  }
  await trial.cleanup();
  return {
    trial: trial.name,
    scenario: scenario.name,
    seed,
    ms: now() - started,
    verdict,
    timeline: trial.timeline,
    incidents: trial.incidents(),
    termsByApi,
    serviceShare: opts.serviceShare ?? lab.serviceShare,
  };
}

/** Terms begun, by `<API>/<etcd mode>` of the candidate that held them. */
export type TermsByApi = Record<`${CandidateMode}/${EtcdMode}`, number>;

const API_NAMES: Record<CandidateMode, string> = {
  elector: 'LeaderElector',
  election: 'Election',
  mutex: 'Mutex',
};

function noTerms(): TermsByApi {
  return {
    'elector/client': 0,
    'elector/service': 0,
    'election/client': 0,
    'election/service': 0,
    'mutex/client': 0,
    'mutex/service': 0,
  };
}

/** Terms begun across `results`, by API and etcd mode. */
export function termsByApi(results: readonly TrialResult[]): TermsByApi {
  const total = noTerms();
  for (const r of results)
    for (const key of Object.keys(total) as (keyof TermsByApi)[]) total[key] += r.termsByApi[key];
  return total;
}

/** The counts as one phrase: "LeaderElector 10 client + 4 service, ...". */
export function describeApis(counts: TermsByApi): string {
  return (Object.keys(API_NAMES) as CandidateMode[])
    .map((m) => `${API_NAMES[m]} ${counts[`${m}/client`]} client + ${counts[`${m}/service`]} service`)
    .join(', ');
}

/** One line per trial for the console. */
export function summaryLine(r: TrialResult): string {
  const v = r.verdict;
  const status = v.violations.length === 0 ? 'ok  ' : 'FAIL';
  const lead = v.leads.length ? ` lead-min=${Math.min(...v.leads).toFixed(1)}ms` : '';
  const handover = v.handovers.length
    ? ` handover=${v.handovers.map((h) => h.ms.toFixed(0)).join('/')}ms`
    : '';
  const windows = v.windows.length
    ? ` windows=${v.windows.map((w) => `${w.ms.toFixed(0)}ms/${w.mode}${w.allowed ? '' : '!'}`).join(',')}`
    : '';
  const revoked = v.revocations.length
    ? ` revoked=${v.revocations.map((x) => `${x.term}/${x.mode}:${x.leadMs === null ? '-' : x.leadMs.toFixed(0)}ms`).join(',')}`
    : '';
  const recovery = v.recoveries.length
    ? ` recovery=${v.recoveries.map((x) => (x.ms === null ? 'none' : x.ms.toFixed(0))).join('/')}ms`
    : '';
  return (
    `${status} ${r.trial.padEnd(40)} seed=${formatSeed(r.seed)} ${(r.ms / 1000).toFixed(1).padStart(5)}s ` +
    `terms=${v.terms} writes=${v.writes.committed}/${v.writes.refused}/${v.writes.unknown}${lead}${handover}${windows}${revoked}${recovery}`
  );
}

/** Everything worth printing about a failed trial: violations, replay command, timeline, incidents. */
export function failureReport(r: TrialResult): string {
  return [
    `${r.trial}: ${r.verdict.violations.length} violation(s); replay with: ${replayCommand(r.scenario, r.seed, r.serviceShare)}`,
    ...r.verdict.violations.map((v) => `  [${v.check}] ${v.message}`),
    '  timeline:',
    ...r.timeline.map((l) => `    ${l}`),
    ...(r.incidents.length
      ? ['  candidate incidents:', ...r.incidents.slice(0, 40).map((l) => `    ${l}`)]
      : []),
  ].join('\n');
}
