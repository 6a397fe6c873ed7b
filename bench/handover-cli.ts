/**
 * Scenario 1 at the process level: `ballot campaign` against `etcdctl elect`. The measurement is
 * bench/cli-handover.ts, which is the CLI's own bench; this file runs it as a child process, reads
 * its markdown table and turns the rows into this page's results.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onProcessExit } from '../test/fixtures/cleanup.js';
import type { Outcome, Result, RunOptions } from './report.js';

const SCRIPT = fileURLToPath(new URL('./cli-handover.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const QUICK_ROUNDS = 8;
// A round spawns one process per tool and waits for it to queue: well under a second each.
const MS_PER_ROUND = 3_000;
const STARTUP_MS = 120_000;

/** What the CLI handover table measures and how to read it, for docs/benchmarks.md. */
export const CLI_HANDOVER_METHOD = `
The same handover with each candidate a process: \`ballot campaign <election> <value>\` (the built
CLI, \`dist/cli/main.js\`) and \`etcdctl elect <election> <value>\`, measured by
[bench/cli-handover.ts](../bench/cli-handover.ts) on its own fresh etcd. A leader process and a queued
candidate process; once the candidate's entry exists and 250 ms more have passed, the bench sends
SIGINT to the leader, and a sample is the time until the candidate prints that it was elected (read
from its stdout by the bench). The leader resigns on SIGINT in both tools. Rounds alternate between
the tools. The times include both processes' signal handling and output, so they sit above the
in-process rows. That script prints one decimal; the ratios use scenario 1's put floors, measured
on another fresh etcd in the same run.

Where \`ballot campaign\` is slower than \`etcdctl elect\`, the time goes to the leader process: from
SIGINT until its delete is acknowledged it takes about 3–5 ms (more on a busy machine), against 1–2 ms
for \`resign()\` in a long-running process (scenario 1), and the waiter prints \`elected\` right after.
Traced with strace, most of the extra time lies between the signal's arrival and the delete's first
byte on the socket: JavaScript that a CLI leader runs once in its life (signal handling, the abort,
the resign path), even with the codecs warmed at connect. A Go binary has no such first-run cost.
`;

/** Runs bench/cli-handover.ts and returns its two rows, with ratios to scenario 1's floors. */
export async function cliHandoverScenario(opts: RunOptions): Promise<Outcome> {
  const rounds = opts.quick ? QUICK_ROUNDS : opts.rounds;
  const output = await runScript(rounds);
  const results = parseRows(output).map((row): Result => {
    const ratios = opts.floor
      ? { ratioToPut: row.p50 / opts.floor.put, ratioToIdlePut: row.p50 / opts.floor.idlePut }
      : {};
    return { scenario: 'handover, processes', ...row, ...ratios };
  });
  return {
    results,
    targets: [],
    bars: results.map((r) => ({
      panel: 'handover' as const,
      label: r.name,
      value: r.p50,
      kind: r.name.startsWith('ballot') ? ('ballot' as const) : ('peer' as const),
    })),
  };
}

function runScript(rounds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, SCRIPT, String(rounds)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    // On SIGTERM the test fixtures it uses kill its etcd and candidate processes before it exits.
    const stop = () => child.kill('SIGTERM');
    const unregister = onProcessExit(stop);
    const timer = setTimeout(stop, STARTUP_MS + rounds * MS_PER_ROUND);
    child.once('error', (err) => {
      clearTimeout(timer);
      unregister();
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      unregister();
      if (code === 0) resolve(stdout);
      else reject(new Error(`bench/cli-handover.ts exited with ${signal ?? code}:\n${stderr}\n${stdout}`));
    });
  });
}

/** Reads `| tool | rounds | p50 | p99 | min | max |` rows such as `| etcdctl elect | 30 | 2.9 ms | ...`. */
function parseRows(output: string): Omit<Result, 'scenario'>[] {
  const rows = output
    .split('\n')
    .map((l) => l.split('|').map((c) => c.trim()))
    .filter((cells) => cells.length === 8 && /^\d+$/.test(cells[2] ?? ''))
    .map((cells) => {
      const [, tool, rounds, p50, p99, , max] = cells;
      return {
        name: `${tool} (process), SIGINT to the leader`,
        samples: Number(rounds),
        p50: msValue(p50),
        p99: msValue(p99),
        max: msValue(max),
      };
    });
  if (rows.length === 0) throw new Error(`no result rows in bench/cli-handover.ts output:\n${output}`);
  return rows;
}

function msValue(cell: string | undefined): number {
  const match = /^([\d.]+) ms$/.exec(cell ?? '');
  if (!match) throw new Error(`unexpected time cell in bench/cli-handover.ts output: ${cell}`);
  return Number(match[1]);
}
