/**
 * What the bench's worker processes share, whatever backend they run on: settings from the
 * environment, JSON lines on stdout with CLOCK_MONOTONIC times, memory after a full collection, and
 * the two bodies (one candidate; many elections held until "close").
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Backend, Term } from '../../src/index.js';

/** The environment variable `name`; a worker cannot run without it. */
export function required(name: string): string {
  const found = process.env[name];
  if (!found) throw new Error(`${name} is not set`);
  return found;
}

/** CLOCK_MONOTONIC in milliseconds, which every process on the host shares. */
export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Writes one JSON line to stdout, where the bench reads it. */
export const say = (msg: Record<string, string | number | null>): void =>
  void process.stdout.write(`${JSON.stringify(msg)}\n`);

let gc: (() => void) | undefined;

/** Memory after a full collection, so it is what the worker holds, not garbage. */
export function memory(): Record<string, number> {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  const usage = process.memoryUsage();
  return {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
  };
}

/**
 * One candidate (env ELECTION, VALUE, TTL): opens a session, campaigns once and reports when its
 * session was granted and each renewal acknowledged (so the bench knows when the server will expire
 * it), when it was elected, and when its term ended.
 */
export async function runCandidate(backend: Backend): Promise<void> {
  const election = required('ELECTION');
  const value = required('VALUE');
  const ttl = Number(required('TTL'));
  const session = await backend.session({ ttl });
  say({ event: 'lease', at: now(), ttl: session.ttl, margin: session.margin, deadline: session.deadline });
  session.on('renewed', (deadline) => say({ event: 'renewed', at: now(), deadline }));
  const term = await session.election(election).campaign(value);
  say({ event: 'elected', at: term.startedAt, token: term.token.toString() });
  // `ended.at` is when the term ended by the library's clock (for a deadline, the deadline itself, which
  // term.active already honours); `noticedAt` is when code waiting on term.signal was told.
  term.signal.addEventListener('abort', () => {
    const ended = term.ended;
    say({ event: 'ended', at: ended?.at ?? null, noticedAt: now(), reason: ended?.reason ?? null });
  });
}

/** How a many-elections worker campaigns. */
export interface ManyOptions {
  /** Elections to campaign in, named `${prefix}${i}`. */
  count: number;
  /** Campaigns in flight at once; 0 = all at once. */
  concurrency: number;
  /** Session TTL in seconds. */
  ttl: number;
  prefix: string;
}

/**
 * One session, `count` elections: campaigns in all of them, reports how long that took and the memory
 * held, then keeps every term, reporting memory when sent "memory" on stdin, until sent "close".
 */
export async function holdManyElections(backend: Backend, opts: ManyOptions): Promise<void> {
  const { count, concurrency } = opts;
  const session = await backend.session({ ttl: opts.ttl });
  say({ event: 'ready', ...memory() });

  const terms: Term[] = [];
  let failed = 0;
  let firstError: string | null = null;
  const campaign = async (i: number) => {
    try {
      terms.push(await session.election(`${opts.prefix}${i}`).campaign(`v${i}`));
    } catch (err) {
      failed += 1;
      firstError ??=
        err instanceof Error ? `${err.constructor.name}: ${err.message}`.slice(0, 300) : String(err);
    }
  };
  const active = () => terms.filter((t) => t.active).length;
  const started = performance.now();
  if (concurrency <= 0) {
    // What `await Promise.all(names.map((n) => session.election(n).campaign(v)))` does.
    await Promise.all(Array.from({ length: count }, (_, i) => campaign(i)));
  } else {
    let next = 0;
    const lane = async () => {
      while (next < count) await campaign(next++);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  }
  const ms = performance.now() - started;
  say({ event: 'campaigned', ms, ok: terms.length, failed, firstError, active: active(), ...memory() });

  // Commands from the bench, one JSON string per line: "memory" reports memory now, "close" closes.
  let input = '';
  process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
    input += chunk;
    const lines = input.split('\n');
    input = lines.pop() ?? '';
    for (const command of lines.map((l) => l.trim())) {
      if (command === '"memory"') say({ event: 'memory', active: active(), ...memory() });
      if (command !== '"close"') continue;
      // Nothing else may hold the process open: if it does not exit after this, the bench reports a leak.
      process.stdin.destroy();
      const closing = performance.now();
      void backend.close().then(() => say({ event: 'closed', ms: performance.now() - closing }));
    }
  });
}
