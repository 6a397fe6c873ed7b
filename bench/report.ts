import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { postgresVersion } from './pg-common.js';
import type { Summary } from './stats.js';

/** One measured series of a scenario: what every scenario returns, so run.ts can print them alike. */
export interface Result extends Summary {
  /** Scenario the series belongs to, e.g. "handover". */
  scenario: string;
  /** What was measured, e.g. "ballot, one backend per candidate, waiter waited 50 ms". */
  name: string;
  /** p50 divided by the back-to-back etcd put p50 of the same run; undefined for that floor itself. */
  ratioToPut?: number;
  /** p50 divided by the p50 of puts made after the same idle gap a handover starts from. */
  ratioToIdlePut?: number;
  /** Further columns of this scenario's table, header → cell, in the order first seen. */
  extra?: Record<string, string>;
  /** Set when the series was not measured in this run: says why, and the numbers show as "—". */
  skipped?: string;
  /** Anything a reader must know to read the row (rounds lowered, other settings). */
  note?: string;
}

/** A row measured in no sample: the numbers show as "—" and `skipped` says why. */
export function skippedRow(row: Pick<Result, 'scenario' | 'name' | 'extra'>, skipped: string): Result {
  return { ...row, samples: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN, skipped };
}

/** A single measured value that is not a series of durations (a memory size, a count, a rate). */
export interface Fact {
  name: string;
  value: string;
  note?: string;
}

/** One target from the issue, and whether this run met it. */
export interface TargetCheck {
  /** Scenario number as the issue numbers them; "pg 1" and so on for the PostgreSQL sections (issue 12). */
  scenario: number | string;
  target: string;
  /** What this run measured, in the target's terms. */
  measured: string;
  met: boolean;
  /** Why it was missed, or what qualifies a pass; printed next to the verdict. */
  why?: string;
}

/** One bar of the chart (docs/benchmarks.svg). */
export interface Bar {
  panel: 'handover' | 'failover';
  label: string;
  /** Milliseconds. */
  value: number;
  /** ballot's own bars are drawn in the accent colour, the peers' and floors' in grey. */
  kind: 'ballot' | 'peer' | 'floor';
}

/** Everything one scenario contributes to the page. */
export interface Outcome {
  results: Result[];
  facts?: Fact[];
  targets: TargetCheck[];
  bars?: Bar[];
  /** The put floors this scenario measured, for later scenarios' ratios. */
  floor?: { put: number; idlePut: number };
}

/** What run.ts passes every scenario. */
export interface RunOptions {
  /** Rounds for latency series (200 in a full run, 50 with --quick). */
  rounds: number;
  /** --quick: fewer trials, and the minute-long etcdctl failover is skipped. */
  quick: boolean;
  /** Put floors measured by the handover scenario earlier in this run, if it ran. */
  floor?: { put: number; idlePut: number };
}

/** The machine and software a run happened on, for the report header. */
export interface Environment {
  cpus: string;
  cpuModel: string;
  etcd: string;
  postgres: string;
  node: string;
  /** The ballot commit measured, marked when the working tree differs from it. */
  commit: string;
  date: string;
}

/** Renders results as a markdown table, times in milliseconds; columns no row uses are left out. */
export function renderTable(results: readonly Result[]): string {
  const ratios = results.some((r) => r.ratioToPut !== undefined || r.ratioToIdlePut !== undefined);
  const notes = results.some((r) => r.note || r.skipped);
  const extras = [...new Set(results.flatMap((r) => Object.keys(r.extra ?? {})))];
  const header = [
    'scenario',
    'series',
    'samples',
    'p50 (ms)',
    'p99 (ms)',
    'max (ms)',
    ...(ratios ? ['p50 / put p50', 'p50 / idle put p50'] : []),
    ...extras,
    ...(notes ? ['note'] : []),
  ];
  const align = header.map((h, i) => (i >= 2 && i < 6 + (ratios ? 2 : 0) ? '---:' : '---'));
  const rows = results.map((r) => {
    const measured = r.skipped === undefined;
    return [
      r.scenario,
      r.name,
      measured ? String(r.samples) : '—',
      measured ? ms(r.p50) : '—',
      measured ? ms(r.p99) : '—',
      measured ? ms(r.max) : '—',
      ...(ratios ? [ratio(r.ratioToPut), ratio(r.ratioToIdlePut)] : []),
      ...extras.map((e) => r.extra?.[e] ?? ''),
      ...(notes ? [[r.skipped, r.note].filter(Boolean).join('; ')] : []),
    ];
  });
  return [header, align, ...rows].map(line).join('\n');
}

/** Renders facts as a two- or three-column markdown table. */
export function renderFacts(facts: readonly Fact[]): string {
  const notes = facts.some((f) => f.note);
  const header = ['measure', 'value', ...(notes ? ['note'] : [])];
  const align = ['---', '---:', ...(notes ? ['---'] : [])];
  return [header, align, ...facts.map((f) => [f.name, f.value, ...(notes ? [f.note ?? ''] : [])])]
    .map(line)
    .join('\n');
}

/** Renders the target checks of every scenario as one markdown table. */
export function renderTargets(checks: readonly TargetCheck[]): string {
  const rows = checks.map((c) => [
    String(c.scenario),
    c.target,
    c.measured,
    c.met ? 'met' : '**missed**',
    c.why ?? '',
  ]);
  return [['#', 'target', 'measured', 'verdict', 'why'], ['---:', '---', '---', '---', '---'], ...rows]
    .map(line)
    .join('\n');
}

/** Describes this machine, etcd and Node; unknown parts say so rather than fail the run. */
export function environment(): Environment {
  return {
    cpus: tryRun('nproc', []) ?? 'unknown',
    cpuModel: cpuModel(),
    etcd: etcdVersion(),
    postgres: postgresVersion(),
    node: process.version,
    commit: commit(),
    date: new Date().toISOString(),
  };
}

/** Formats milliseconds for a table cell: three decimals below 10 ms, where floors live. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  // Sub-millisecond floors need three decimals to be comparable at all.
  return Math.abs(value) < 10 ? value.toFixed(3) : value.toFixed(1);
}

/** Formats milliseconds as seconds with two decimals, for failover-sized times. */
export function seconds(valueMs: number): string {
  return `${(valueMs / 1000).toFixed(2)} s`;
}

/** Rounds milliseconds to a whole number with its sign (a minus sign, not a hyphen), e.g. +310, −61. */
export function signed(value: number): string {
  const rounded = Math.round(value);
  return rounded >= 0 ? `+${rounded}` : `−${Math.abs(rounded)}`;
}

/** True when the module at `moduleUrl` is the script node was started with (run on its own, not imported by run.ts). */
export function isMainModule(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

function ratio(value: number | undefined): string {
  return value === undefined ? '' : `${value.toFixed(2)}×`;
}

function line(cells: readonly string[]): string {
  // A pipe inside a cell would split it into two columns.
  return `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
}

function etcdVersion(): string {
  // The fixture starts the same binary, so this is the version that was measured.
  const out = tryRun(process.env['ETCD_BIN'] ?? '/usr/bin/etcd', ['--version']);
  return out?.match(/etcd Version:\s*(\S+)/)?.[1] ?? 'unknown';
}

function cpuModel(): string {
  try {
    const found = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return found?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function commit(): string {
  const repo = new URL('..', import.meta.url).pathname;
  const sha = tryRun('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']);
  if (sha === undefined) return 'unknown (not a git checkout)';
  // Benchmarks are often run before committing; say so rather than credit HEAD with the numbers.
  const dirty = tryRun('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=no', '--', 'src']);
  return dirty ? `${sha} with uncommitted changes in src/` : sha;
}

function tryRun(command: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}
