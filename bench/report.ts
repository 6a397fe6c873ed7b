import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
  /** Anything a reader must know to read the row (rounds lowered, other settings). */
  note?: string;
}

/** The machine and software a run happened on, for the report header. */
export interface Environment {
  cpus: string;
  cpuModel: string;
  etcd: string;
  node: string;
  /** The ballot commit measured, marked when the working tree differs from it. */
  commit: string;
  date: string;
}

/** Renders results as a markdown table, times in milliseconds. */
export function renderTable(results: readonly Result[]): string {
  const notes = results.some((r) => r.note);
  const header =
    '| scenario | series | samples | p50 (ms) | p99 (ms) | max (ms) | p50 / put p50 | p50 / idle put p50 |' +
    (notes ? ' note |' : '');
  const rule = '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |' + (notes ? ' --- |' : '');
  const rows = results.map(
    (r) =>
      `| ${r.scenario} | ${r.name} | ${r.samples} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ` +
      `${ratio(r.ratioToPut)} | ${ratio(r.ratioToIdlePut)} |` +
      (notes ? ` ${r.note ?? ''} |` : ''),
  );
  return [header, rule, ...rows].join('\n');
}

/** Describes this machine, etcd and Node; unknown parts say so rather than fail the run. */
export function environment(): Environment {
  return {
    cpus: tryRun('nproc', []) ?? 'unknown',
    cpuModel: cpuModel(),
    etcd: etcdVersion(),
    node: process.version,
    commit: commit(),
    date: new Date().toISOString(),
  };
}

function ratio(value: number | undefined): string {
  return value === undefined ? '' : `${value.toFixed(2)}×`;
}

function ms(value: number): string {
  // Sub-millisecond floors need three decimals to be comparable at all.
  return value < 10 ? value.toFixed(3) : value.toFixed(1);
}

function etcdVersion(): string {
  // The fixture starts the same binary, so this is the version that was measured.
  const out = tryRun(process.env['ETCD_BIN'] ?? '/usr/bin/etcd', ['--version']);
  return out?.match(/etcd Version:\s*(\S+)/)?.[1] ?? 'unknown';
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
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
