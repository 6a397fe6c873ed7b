/**
 * Candidates on PostgreSQL as processes, for the scenarios that kill or cut off a leader: a chain of
 * trials in which the leader process is faulted while one candidate process waits behind it; the
 * waiter becomes the next trial's leader (as bench/candidates.ts does for etcd).
 */
import { fileURLToPath } from 'node:url';
import { startFaultProxy } from '../test/fixtures/fault-proxy.js';
import type { PostgresServer } from '../test/fixtures/postgres.js';
import { spawnWorker } from '../test/fixtures/processes.js';
import { chainTrials, type ChainCandidate, type ChainTrial } from './candidates.js';
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
export type PgTrial = ChainTrial;

interface Candidate extends ChainCandidate {
  appName: string;
}

const WORKERS: Record<PgLibrary, string> = {
  ballot: fileURLToPath(new URL('./workers/pg-candidate.ts', import.meta.url)),
  'advisory-lock': fileURLToPath(new URL('./workers/advisory-lock-candidate.ts', import.meta.url)),
};
const START_TIMEOUT_MS = 30_000;

/** Runs `trials` trials in a chain; every process and proxy is closed afterwards. */
export function pgFaultTrials(opts: PgChainOptions): Promise<PgTrial[]> {
  let counter = 0;
  return chainTrials<Candidate>({
    library: opts.library,
    trials: opts.trials,
    ttl: opts.ttl,
    start: async (value) => {
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
      return proxy ? { worker, appName, proxy } : { worker, appName };
    },
    queued: (waiter) =>
      opts.library === 'ballot'
        ? opts.probe.atLeast(BALLOT_ENTRIES, [opts.election], 2, START_TIMEOUT_MS)
        : opts.probe.atLeast(
            `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
             WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = $1`,
            [waiter.appName],
            1,
            START_TIMEOUT_MS,
          ),
    fault: async (leader) => {
      if (opts.fault === 'kill') leader.worker.kill('SIGKILL');
      else leader.proxy?.blackhole();
      if (opts.fault === 'partition-drop')
        await opts.server.terminate(`application_name = '${leader.appName}'`);
    },
    // A blackholed leader's session is still open on the server; end it so the next trial starts clean.
    release: async (candidate) =>
      void (await opts.server.terminate(`application_name = '${candidate.appName}'`).catch(() => 0)),
    electCapMs: opts.electCapMs,
    restartOnMiss: true,
    endCapMs: opts.fault === 'kill' ? undefined : opts.endCapMs,
    expires: opts.library === 'ballot',
  });
}
