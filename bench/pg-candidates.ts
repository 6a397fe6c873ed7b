/**
 * Candidates on PostgreSQL as processes, for the scenarios that kill or cut off a leader: a chain of
 * trials in which the leader process is faulted while one candidate process waits behind it; the
 * waiter becomes the next trial's leader (as bench/candidates.ts does for etcd).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startFaultProxy, type FaultProxy } from '../test/fixtures/fault-proxy.js';
import type { PostgresServer } from '../test/fixtures/postgres.js';
import { spawnWorker, type JsonObject, type Worker } from '../test/fixtures/processes.js';
import { now, type FaultTrial } from './candidates.js';
import { BALLOT_ENTRIES, type PgProbe } from './pg-common.js';

/** ballot's postgres() backend, or the advisory-lock npm package. */
export type PgLibrary = 'ballot' | 'advisory-lock';

/**
 * kill: SIGKILL the leader. partition: blackhole its proxy. partition-drop: blackhole it and have
 * the server end the leader's connections at once (pg_terminate_backend), which is what the server
 * does when its TCP keepalive or a pooler finally gives up on a dead client.
 */
export type PgFault = 'kill' | 'partition' | 'partition-drop';

/** Settings of one chain of trials. */
export interface PgChainOptions {
  library: PgLibrary;
  fault: PgFault;
  /** ballot's session TTL in seconds (advisory-lock has none). */
  ttl: number;
  trials: number;
  server: PostgresServer;
  probe: PgProbe;
  /** Election (ballot) or lock name (advisory-lock); give each chain its own. */
  election: string;
  /** How long to wait for the waiter to lead, from the fault (ms). */
  electCapMs: number;
  /** Partition only: how long to wait for the old leader to be told, from the fault (ms). */
  endCapMs: number;
}

/** One trial; electedAt is NaN when the waiter did not lead within the cap. */
export type PgTrial = Omit<FaultTrial, 'expiresAt'> & { expiresAt?: number };

interface Candidate {
  worker: Worker;
  appName: string;
  proxy?: FaultProxy;
}

const WORKERS: Record<PgLibrary, string> = {
  ballot: fileURLToPath(new URL('./workers/pg-candidate.ts', import.meta.url)),
  'advisory-lock': fileURLToPath(new URL('./workers/advisory-lock-candidate.ts', import.meta.url)),
};
const START_TIMEOUT_MS = 30_000;
const SETTLE_MS = 300;

/** Runs `trials` trials in a chain; every process and proxy is closed afterwards. */
export async function pgFaultTrials(opts: PgChainOptions): Promise<PgTrial[]> {
  const live = new Set<Candidate>();
  let counter = 0;
  const start = async (value: string): Promise<Candidate> => {
    const proxy =
      opts.fault === 'kill' ? undefined : await startFaultProxy(`${opts.server.host}:${opts.server.port}`);
    const url = new URL(opts.server.url());
    if (proxy) url.port = String(proxy.port);
    // Its own application_name, so the bench can find this process's connections on the server.
    const appName = `bench-${opts.election}-${counter++}`;
    url.searchParams.set('application_name', appName);
    const env: Record<string, string> =
      opts.library === 'ballot'
        ? { URL: url.toString(), ELECTION: opts.election, VALUE: value, TTL: String(opts.ttl) }
        : { URL: url.toString(), LOCK: opts.election };
    const worker = spawnWorker(WORKERS[opts.library], [], env);
    const candidate: Candidate = proxy ? { worker, appName, proxy } : { worker, appName };
    live.add(candidate);
    return candidate;
  };
  const dispose = async (candidate: Candidate): Promise<void> => {
    live.delete(candidate);
    candidate.worker.kill('SIGKILL');
    await candidate.worker.exited;
    await candidate.proxy?.close();
    // A blackholed leader's session is still open on the server; end it so the next trial starts clean.
    await opts.server.terminate(`application_name = '${candidate.appName}'`).catch(() => 0);
  };
  const queued = (waiter: Candidate) =>
    opts.library === 'ballot'
      ? opts.probe.atLeast(BALLOT_ENTRIES, [opts.election], 2, START_TIMEOUT_MS)
      : opts.probe.atLeast(
          `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
           WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = $1`,
          [waiter.appName],
          1,
          START_TIMEOUT_MS,
        );

  try {
    let leader = await start('v0');
    await leader.worker.waitFor((m) => m['event'] === 'elected', START_TIMEOUT_MS);
    const trials: PgTrial[] = [];
    for (let i = 1; i <= opts.trials; i++) {
      const waiter = await start(`v${i}`);
      await queued(waiter);
      await sleep(SETTLE_MS + Math.random() * ((opts.ttl * 1000) / 3));
      if (waiter.worker.messages.some((m) => m['event'] === 'elected'))
        throw new Error(`${opts.library} waiter v${i} led before the fault`);

      const faultAt = now();
      if (opts.fault === 'kill') leader.worker.kill('SIGKILL');
      else leader.proxy?.blackhole();
      if (opts.fault === 'partition-drop')
        await opts.server.terminate(`application_name = '${leader.appName}'`);
      const elected = await waiter.worker
        .waitFor((m) => m['event'] === 'elected', opts.electCapMs)
        .catch(() => undefined);
      const trial: PgTrial = {
        faultAt,
        electedAt: elected ? num(elected, 'at') : Number.NaN,
        expiresAt: opts.library === 'ballot' ? expiry(leader, faultAt, opts.ttl) : undefined,
      };
      if (opts.fault !== 'kill') {
        const ended = await leader.worker
          .waitFor((m) => m['event'] === 'ended', Math.max(1, faultAt + opts.endCapMs - now()))
          .catch(() => undefined);
        if (ended) {
          if (ended['at'] !== null) trial.endedAt = num(ended, 'at');
          trial.noticedAt = num(ended, 'noticedAt');
          trial.reason = String(ended['reason']);
        }
      }
      trials.push(trial);
      await dispose(leader);
      if (!elected) {
        // The waiter never led: nothing to chain on. Start over with a fresh leader.
        await dispose(waiter);
        if (i < opts.trials) {
          leader = await start(`v${i}-restart`);
          await leader.worker.waitFor((m) => m['event'] === 'elected', START_TIMEOUT_MS);
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

/** When the server expires the old leader's session: its last acknowledged renewal plus the TTL. */
function expiry(leader: Candidate, faultAt: number, ttl: number): number {
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
