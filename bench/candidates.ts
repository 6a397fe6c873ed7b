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

/** A candidate process, with the proxy it talks to etcd through when partitions are to be injected. */
interface Candidate {
  worker: Worker;
  proxy?: FaultProxy;
}

const WORKERS: Record<Library, string> = {
  ballot: fileURLToPath(new URL('./workers/ballot-candidate.ts', import.meta.url)),
  etcd3: fileURLToPath(new URL('./workers/etcd3-candidate.ts', import.meta.url)),
};
// Process start (tsx) and the first campaign take a second or two on a busy 2-core machine.
const START_TIMEOUT_MS = 30_000;
// After its entry appears a waiter still sets up its watch; 300 ms also puts that watch past etcd's
// 100 ms unsynced-watcher loop, which would otherwise add to etcd3's numbers (see scenario 1).
const SETTLE_MS = 300;

/** Runs `trials` fault trials in a chain and returns their times; every process and proxy is closed. */
export async function faultTrials(opts: ChainOptions): Promise<FaultTrial[]> {
  const live = new Set<Candidate>();
  const prefix = opts.library === 'ballot' ? `${opts.election}/` : `election/${opts.election}/`;
  const start = async (value: string): Promise<Candidate> => {
    const proxy = opts.fault === 'partition' ? await startFaultProxy(opts.endpoint) : undefined;
    const worker = spawnWorker(WORKERS[opts.library], [], {
      ENDPOINT: proxy?.endpoint ?? opts.endpoint,
      ELECTION: opts.election,
      VALUE: value,
      TTL: String(opts.ttl),
    });
    const candidate: Candidate = proxy ? { worker, proxy } : { worker };
    live.add(candidate);
    return candidate;
  };
  const dispose = async (candidate: Candidate): Promise<void> => {
    live.delete(candidate);
    candidate.worker.kill('SIGKILL');
    await candidate.worker.exited;
    await candidate.proxy?.close();
  };

  try {
    let leader = await start('v0');
    await leader.worker.waitFor((m) => m['event'] === 'elected', START_TIMEOUT_MS);
    const trials: FaultTrial[] = [];
    for (let i = 1; i <= opts.trials; i++) {
      const waiter = await start(`v${i}`);
      await entries(opts.probe, prefix, 2, START_TIMEOUT_MS);
      // A random phase against the keepalive cycle, so the expiry lands anywhere in [2/3 TTL, TTL].
      await sleep(SETTLE_MS + Math.random() * ((opts.ttl * 1000) / 3));
      if (waiter.worker.messages.some((m) => m['event'] === 'elected'))
        throw new Error(`${opts.library} waiter v${i} led before the fault; the leader's lease ended early`);

      const faultAt = now();
      if (opts.fault === 'kill') leader.worker.kill('SIGKILL');
      else leader.proxy?.blackhole();
      const elected = await waiter.worker.waitFor((m) => m['event'] === 'elected', opts.ttl * 3000 + 10_000);
      const trial: FaultTrial = {
        faultAt,
        electedAt: num(elected, 'at'),
        expiresAt: expiry(leader, faultAt, opts.ttl),
      };
      if (opts.fault === 'partition') {
        const cap = opts.endCapMs ?? opts.ttl * 4000 + 5000;
        const ended = await leader.worker
          .waitFor((m) => m['event'] === 'ended', Math.max(1, faultAt + cap - now()))
          .catch(() => undefined);
        if (ended) {
          if (ended['at'] !== null) trial.endedAt = num(ended, 'at');
          trial.noticedAt = num(ended, 'noticedAt');
          trial.reason = String(ended['reason']);
        }
      }
      trials.push(trial);
      await dispose(leader);
      leader = waiter;
    }
    return trials;
  } finally {
    await Promise.all([...live].map(dispose));
  }
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

/** The old leader's lease expiry by etcd's reckoning: last keepalive acknowledged before the fault, plus TTL. */
function expiry(leader: Candidate, faultAt: number, ttl: number): number {
  let last: number | undefined;
  for (const m of leader.worker.messages) {
    if ((m['event'] === 'lease' || m['event'] === 'renewed') && num(m, 'at') <= faultAt) last = num(m, 'at');
  }
  if (last === undefined) throw new Error('the leader reported no lease before the fault');
  return last + ttl * 1000;
}

function num(msg: JsonObject, field: string): number {
  const found = msg[field];
  if (typeof found !== 'number') throw new Error(`expected a number in ${field}: ${JSON.stringify(msg)}`);
  return found;
}
