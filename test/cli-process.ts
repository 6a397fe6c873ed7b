/**
 * Runs the built `ballot` command (dist/cli/main.js) as a child process, for the CLI tests and
 * the CLI handover bench: collects stdout and stderr lines and waits for matching ones.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { onProcessExit } from './fixtures/cleanup.js';

/** Repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The built command, as package.json's bin names it. */
export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/** Compiles src/ to dist/ (what `npm run build` does), so the tests run the real bin. */
export async function buildCli(): Promise<void> {
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT });
}

/** A running process whose output lines are collected. */
export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Exit code, or 128+N when signal N killed it. */
  readonly exited: Promise<number>;
  /** First line on `stream` (from index `since`) that matches, parsed as JSON when it is an object. */
  line(
    stream: 'stdout' | 'stderr',
    match: (line: string) => boolean,
    timeoutMs?: number,
    since?: number,
  ): Promise<string>;
  /** First JSON-object line on `stream` whose fields include `fields`. */
  json(
    stream: 'stdout' | 'stderr',
    fields: Record<string, unknown>,
    timeoutMs?: number,
    since?: number,
  ): Promise<Record<string, unknown>>;
  /** All JSON-object lines on `stream` so far. */
  events(stream: 'stdout' | 'stderr'): Record<string, unknown>[];
  kill(signal?: NodeJS.Signals): void;
  /** Everything printed so far, for assertion messages. */
  output(): string;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Starts any command with collected output; it is SIGKILLed if the test process exits first. */
export function startProcess(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const unregister = onProcessExit(() => child.kill('SIGKILL'));
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  const waiters = new Set<() => void>();
  let ended = false;
  for (const name of ['stdout', 'stderr'] as const) {
    let partial = '';
    child[name]?.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      lines[name].push(...parts);
      for (const wake of [...waiters]) wake();
    });
    child[name]?.on('end', () => partial && lines[name].push(partial));
  }
  const exited = new Promise<number>((resolve) =>
    child.once('close', (code, signal) => {
      ended = true;
      unregister();
      for (const wake of [...waiters]) wake();
      resolve(code ?? 128 + (SIGNALS[signal ?? ''] ?? 0));
    }),
  );
  const output = () => `stdout:\n${lines.stdout.join('\n')}\nstderr:\n${lines.stderr.join('\n')}`;
  const line: Proc['line'] = (stream, match, timeoutMs = 10_000, since = 0) =>
    new Promise<string>((resolve, reject) => {
      let next = since;
      const check = () => {
        for (; next < lines[stream].length; next++) {
          const l = lines[stream][next] as string;
          if (match(l)) return finish(undefined, l);
        }
        if (ended) finish(new Error(`process ended without a matching ${stream} line\n${output()}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`no matching ${stream} line in ${timeoutMs} ms\n${output()}`)),
        timeoutMs,
      );
      const finish = (err?: Error, l?: string) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (err) reject(err);
        else resolve(l as string);
      };
      waiters.add(check);
      check();
    });
  const events = (stream: 'stdout' | 'stderr') =>
    lines[stream].flatMap((l) => {
      const parsed = parseObject(l);
      return parsed ? [parsed] : [];
    });
  return {
    child,
    pid: child.pid ?? -1,
    stdout: lines.stdout,
    stderr: lines.stderr,
    exited,
    line,
    async json(stream, fields, timeoutMs, since) {
      const l = await line(stream, (text) => matches(parseObject(text), fields), timeoutMs, since);
      return parseObject(l) as Record<string, unknown>;
    },
    events,
    kill(signal = 'SIGTERM') {
      if (!ended) child.kill(signal);
    },
    output,
  };
}

/** Starts `ballot ...args` against `endpoint`. */
export function startCli(args: readonly string[], endpoint?: string, env: NodeJS.ProcessEnv = {}): Proc {
  const base: NodeJS.ProcessEnv = { BALLOT_ENDPOINTS: endpoint ?? '', ETCDCTL_ENDPOINTS: '' };
  if (endpoint === undefined) delete base['BALLOT_ENDPOINTS'];
  return startProcess(process.execPath, [CLI, ...args], { ...base, ...env });
}

/** Runs `ballot ...args` to completion. */
export async function runCli(
  args: readonly string[],
  endpoint?: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  const proc = startCli(args, endpoint, env);
  const code = await proc.exited;
  return {
    code,
    stdout: proc.stdout.join('\n'),
    stderr: proc.stderr.join('\n'),
    ms: performance.now() - started,
  };
}

function parseObject(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function matches(object: Record<string, unknown> | undefined, fields: Record<string, unknown>): boolean {
  return object !== undefined && Object.entries(fields).every(([k, v]) => object[k] === v);
}

/** Whether a pid runs (a zombie left for a non-reaping pid 1 does not count). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Pids of live `ballot run`/`lock` watchdogs started by the ballot process `ballotPid`. */
export function watchdogsOf(ballotPid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return argv.includes('ballot-watchdog') && argv.includes(String(ballotPid));
      } catch {
        return false;
      }
    })
    .map(Number)
    .filter(isRunning);
}

/**
 * SIGKILLs a `ballot run`/`lock` (started with --json) once it reported `started`, whose command
 * printed "pids <command> <grandchild>", and returns
 * how long it took until neither of them, nor the watchdog, was running (gives up after `limitMs`).
 */
export async function killAndTimeOrphans(
  ballot: Proc,
  limitMs: number,
): Promise<{ ms: number; left: number[] }> {
  await ballot.json('stderr', { event: 'started' });
  const line = await ballot.line('stdout', (l) => l.startsWith('pids '));
  const [commandPid, grandchildPid] = line.split(' ').slice(1).map(Number) as [number, number];
  if (!isRunning(commandPid) || !isRunning(grandchildPid)) throw new Error(`not running: ${line}`);
  const started = performance.now();
  // Not `exited`: that waits for stdout to close, which an orphan holding it would delay.
  const gone = new Promise((resolve) => ballot.child.once('exit', resolve));
  ballot.kill('SIGKILL');
  await gone;
  for (;;) {
    const left = [commandPid, grandchildPid, ...watchdogsOf(ballot.pid)].filter(isRunning);
    const ms = performance.now() - started;
    if (left.length === 0 || ms > limitMs) {
      // Whatever a failing run left behind must not outlive the test.
      for (const pid of left) process.kill(pid, 'SIGKILL');
      if (left.length > 0) process.kill(-commandPid, 'SIGKILL');
      return { ms, left };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A stack trace's `at file:line:col` line: no user-facing error may print one. */
export const NO_STACK = /\n\s+at .+:\d+:\d+/;

/**
 * A checker of --json lines: each call checks `ts` (ISO 8601 UTC with milliseconds, a time between
 * `started` and now) and returns the line's other fields.
 */
export function stampedSince(
  started: number,
): (line: string | Record<string, unknown>) => Record<string, unknown> {
  return (line) => {
    const { ts, ...fields } = (typeof line === 'string' ? JSON.parse(line) : line) as Record<string, unknown>;
    assert.match(String(ts), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, `ts of ${JSON.stringify(line)}`);
    const at = Date.parse(String(ts));
    assert.ok(at >= started - 1000 && at <= Date.now() + 1000, `ts ${String(ts)} is now`);
    return fields;
  };
}

/** Kills whatever a failed test left running. */
export async function reap(...procs: (Proc | undefined)[]): Promise<void> {
  for (const p of procs) p?.kill('SIGKILL');
  await Promise.all(procs.map((p) => p?.exited));
}
