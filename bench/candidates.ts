/**
 * Candidates as processes, for the scenarios that kill or cut off a leader: a chain of trials in
 * which a leader process is faulted (SIGKILL, or a blackholed TCP proxy between it and etcd) while
 * one candidate process waits behind it; the waiter becomes the next trial's leader.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { prefixEnd } from '../src/backends/etcd/keys.js';
import type { EtcdClient } from '../src/etcd/client.js';
import { startFaultProxy, type FaultProxy } from '../test/fixtures/fault-proxy.js';
import { spawnWorker, type JsonObject, type Worker } from '../test/fixtures/processes.js';
import { seconds, signed, type Result } from './report.js';
import { summarize } from './stats.js';

/** A library whose candidates run as bench/workers/<library>-candidate.ts. */
export type Library = 'ballot' | 'etcd3';

/** How a trial takes the leader away. */
export type Fault = 'kill' | 'partition';

/** One trial: times on CLOCK_MONOTONIC (ms), comparable across the processes of this host. */
export interface FaultTrial {
  /** Just before the SIGKILL was sent or the proxy blackholed. */
  faultAt: number;
  /** When the waiting candidate's term began. */
  electedAt: number;
  /**
   * When etcd expires the old leader's lease: its last acknowledged keepalive (or the grant) plus the
   * TTL. etcd took the keepalive between its send and this ack, so this is late by under a round trip.
   */
  expiresAt: number;
  /** Partition only: when the old leader's term ended by its library's clock; undefined if it never said. */
  endedAt?: number;
  /** Partition only: when the old leader's code was told (signal aborted, 'error' emitted). */
  noticedAt?: number;
  /** Partition only: the old leader's reason for the end. */
  reason?: string;
}

/** Settings of one chain of fault trials. */
export interface ChainOptions {
  library: Library;
  fault: Fault;
  /** Lease TTL in seconds. */
  ttl: number;
  trials: number;
  /** etcd's client endpoint, host:port. */
  endpoint: string;
  /** A client of the same etcd, to see when a waiter's entry exists. */
  probe: EtcdClient;
  /** Election name; give each chain its own. */
  election: string;
  /** Partition only: how long to wait for the old leader to say it lost, from the fault (ms). */
  endCapMs?: number;
}

/** A candidate process, with the proxy it talks to the server through when partitions are to be injected. */
export interface ChainCandidate {
  worker: Worker;
  proxy?: FaultProxy;
}

/** One trial of a chain; electedAt is NaN when the waiter did not lead within the cap. */
export type ChainTrial = Omit<FaultTrial, 'expiresAt'> & { expiresAt?: number };

/** What a chain of fault trials needs from its server and library. */
export interface Chain<C extends ChainCandidate> {
  /** For error messages. */
  library: string;
  trials: number;
  /** Session TTL in seconds; sets the random wait before each fault. */
  ttl: number;
  /** Spawns a candidate process campaigning with `value`. */
  start(value: string): Promise<C>;
  /** Resolves once the server shows the waiter queued behind the leader. */
  queued(waiter: C): Promise<void>;
  /** Takes the leader away (after faultAt is taken). */
  fault(leader: C): Promise<void>;
  /** After the process is killed and its proxy closed: whatever the server still holds for it. */
  release?(candidate: C): Promise<void>;
  /** How long to wait for the waiter to lead, from the fault (ms). */
  electCapMs: number;
  /** true: a waiter that never leads is a NaN trial and the chain starts over; false: the chain fails. */
  restartOnMiss: boolean;
  /** How long to wait for the old leader to say its term ended, from the fault; undefined: do not wait. */
  endCapMs: number | undefined;
  /** Whether the leader reports a session whose expiry the trial should record. */
  expires: boolean;
}

// Process start (tsx) and the first campaign take a second or two on a busy 2-core machine.
const START_TIMEOUT_MS = 30_000;
// After its entry appears a waiter still sets up its watch; 300 ms also puts that watch past etcd's
// 100 ms unsynced-watcher loop, which would otherwise add to etcd3's numbers (see scenario 1).
const SETTLE_MS = 300;

/**
 * Runs a chain of trials: each time a waiter joins behind the leader, the leader is faulted, and the
 * waiter becomes the next trial's leader. Every process and proxy is closed afterwards.
 */
export async function chainTrials<C extends ChainCandidate>(chain: Chain<C>): Promise<ChainTrial[]> {
  const live = new Set<C>();
  const start = async (value: string): Promise<C> => {
    const candidate = await chain.start(value);
    live.add(candidate);
    return candidate;
  };
  const dispose = async (candidate: C): Promise<void> => {
    live.delete(candidate);
    candidate.worker.kill('SIGKILL');
    await candidate.worker.exited;
    await candidate.proxy?.close();
    await chain.release?.(candidate);
  };
  const elected = (candidate: C) =>
    candidate.worker.waitFor((m) => m['event'] === 'elected', START_TIMEOUT_MS);

  try {
    let leader = await start('v0');
    await elected(leader);
    const trials: ChainTrial[] = [];
    for (let i = 1; i <= chain.trials; i++) {
      const waiter = await start(`v${i}`);
      await chain.queued(waiter);
      // A random phase against the keepalive cycle, so the expiry lands anywhere in [2/3 TTL, TTL].
      await sleep(SETTLE_MS + Math.random() * ((chain.ttl * 1000) / 3));
      if (waiter.worker.messages.some((m) => m['event'] === 'elected'))
        throw new Error(
          `${chain.library} waiter v${i} led before the fault; the leader's session ended early`,
        );

      const faultAt = now();
      await chain.fault(leader);
      const waiting = waiter.worker.waitFor((m) => m['event'] === 'elected', chain.electCapMs);
      const led = chain.restartOnMiss ? await waiting.catch(() => undefined) : await waiting;
      const trial: ChainTrial = {
        faultAt,
        electedAt: led ? num(led, 'at') : Number.NaN,
        expiresAt: chain.expires ? expiry(leader, faultAt, chain.ttl) : undefined,
      };
      if (chain.endCapMs !== undefined) {
        const ended = await leader.worker
          .waitFor((m) => m['event'] === 'ended', Math.max(1, faultAt + chain.endCapMs - now()))
          .catch(() => undefined);
        if (ended) {
          if (ended['at'] !== null) trial.endedAt = num(ended, 'at');
          trial.noticedAt = num(ended, 'noticedAt');
          trial.reason = String(ended['reason']);
        }
      }
      trials.push(trial);
      await dispose(leader);
      if (!led) {
        // The waiter never led: nothing to chain on. Start over with a fresh leader.
        await dispose(waiter);
        if (i < chain.trials) {
          leader = await start(`v${i}-restart`);
          await elected(leader);
        }
        continue;
      }
      leader = waiter;
    }
    return trials;
  } finally {
    await Promise.all([...live].map(dispose));
  }
}

const WORKERS: Record<Library, string> = {
  ballot: fileURLToPath(new URL('./workers/ballot-candidate.ts', import.meta.url)),
  etcd3: fileURLToPath(new URL('./workers/etcd3-candidate.ts', import.meta.url)),
};

/** Runs `trials` fault trials in a chain and returns their times; every process and proxy is closed. */
export async function faultTrials(opts: ChainOptions): Promise<FaultTrial[]> {
  const prefix = opts.library === 'ballot' ? `${opts.election}/` : `election/${opts.election}/`;
  const trials = await chainTrials<ChainCandidate>({
    library: opts.library,
    trials: opts.trials,
    ttl: opts.ttl,
    start: async (value) => {
      const proxy = opts.fault === 'partition' ? await startFaultProxy(opts.endpoint) : undefined;
      const worker = spawnWorker(WORKERS[opts.library], [], {
        ENDPOINT: proxy?.endpoint ?? opts.endpoint,
        ELECTION: opts.election,
        VALUE: value,
        TTL: String(opts.ttl),
      });
      return proxy ? { worker, proxy } : { worker };
    },
    queued: () => entries(opts.probe, prefix, 2, START_TIMEOUT_MS),
    fault: async (leader) => {
      if (opts.fault === 'kill') leader.worker.kill('SIGKILL');
      else leader.proxy?.blackhole();
    },
    electCapMs: opts.ttl * 3000 + 10_000,
    restartOnMiss: false,
    endCapMs: opts.fault === 'partition' ? (opts.endCapMs ?? opts.ttl * 4000 + 5000) : undefined,
    expires: true,
  });
  // restartOnMiss is false and expires true: every trial led and has its expiry.
  return trials.map((t) => ({ ...t, expiresAt: t.expiresAt ?? Number.NaN }));
}

/** CLOCK_MONOTONIC in milliseconds, the clock the workers stamp their lines with. */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Polls until at least `count` keys exist under `prefix`. */
export async function entries(
  client: EtcdClient,
  prefix: string,
  count: number,
  timeoutMs: number,
): Promise<void> {
  const key = Buffer.from(prefix);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const response = await client.range({ key, range_end: prefixEnd(prefix), count_only: true });
    if (Number(response.count) >= count) return;
    if (performance.now() > deadline) throw new Error(`fewer than ${count} entries under ${prefix}`);
    await sleep(10);
  }
}

/** The old leader's session expiry by the server's reckoning: last renewal acknowledged before the fault, plus TTL. */
function expiry(leader: ChainCandidate, faultAt: number, ttl: number): number {
  let last: number | undefined;
  for (const m of leader.worker.messages) {
    if ((m['event'] === 'lease' || m['event'] === 'renewed') && num(m, 'at') <= faultAt) last = num(m, 'at');
  }
  if (last === undefined) throw new Error('the leader reported no session before the fault');
  return last + ttl * 1000;
}

function num(msg: JsonObject, field: string): number {
  const found = msg[field];
  if (typeof found !== 'number') throw new Error(`expected a number in ${field}: ${JSON.stringify(msg)}`);
  return found;
}

/** Column titles of a crash-failover row, in the words of the backend's expiry. */
export interface FailoverColumns {
  /** Title of "the session expired (as estimated) after the kill", p50 (min–max). */
  expiry: string;
  /** Title of "the waiter led after that expiry", p50 / max. */
  after: string;
}

/**
 * One crash-failover table row from chained kill trials: failover from the kill to the waiter's term,
 * the estimated expiry after the kill, how long after it the waiter led, and p99 against the TTL.
 */
export function chainFailoverRow(
  scenario: string,
  name: string,
  ttl: number,
  trials: ChainTrial[],
  columns: FailoverColumns,
): Result {
  const led = trials.filter((t) => Number.isFinite(t.electedAt));
  const failover = summarize(led.map((t) => t.electedAt - t.faultAt));
  const expiry = led.map((t) => (t.expiresAt ?? Number.NaN) - t.faultAt);
  const after = summarize(led.map((t) => t.electedAt - (t.expiresAt ?? Number.NaN)));
  return {
    scenario,
    name,
    ...failover,
    extra: {
      [columns.expiry]: `${seconds(summarize(expiry).p50)} (${seconds(Math.min(...expiry))}–${seconds(Math.max(...expiry))})`,
      [columns.after]: `${Math.round(after.p50)} / ${Math.round(after.max)} ms`,
      'p99 − TTL': `${signed(failover.p99 - ttl * 1000)} ms`,
    },
    note: led.length < trials.length ? `${trials.length - led.length} waiter(s) never led` : undefined,
  };
}
