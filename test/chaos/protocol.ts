/**
 * The JSON-lines protocol between the chaos harness and its recorder workers. Every time is a
 * CLOCK_MONOTONIC reading in milliseconds (process.hrtime), which all processes on the host share,
 * so intervals recorded by different workers compare directly. Tokens travel as decimal strings.
 */

/**
 * How a candidate drives the library: the high-level LeaderElector, its own loop over Election, or
 * its own loop over session.mutex() (lock and unlock), which queues in the same line of entries.
 */
export type CandidateMode = 'elector' | 'election' | 'mutex';

/** What a lab's candidates elect on. */
export type Backend = 'etcd' | 'postgres' | 'zookeeper';

/**
 * The application_name of a PostgreSQL candidate's connections (pool and LISTEN), by which the
 * harness terminates them; unique per trial and at most 63 bytes, PostgreSQL's limit.
 */
export function applicationNameOf(trial: string, cand: string): string {
  return `${trial}/${cand}`.slice(0, 63);
}

/** Which etcd mode the candidate's backend runs: ballot's client-side recipe or etcd's v3election/v3lock. */
export type EtcdMode = 'client' | 'service';

/** One candidate to start: its id, the API it drives and the etcd mode under it. */
export interface CandidateSpec {
  id: string;
  mode: CandidateMode;
  etcd: EtcdMode;
}

/** Harness → worker: start candidates of one trial on a fresh backend. */
export interface JoinCommand {
  cmd: 'join';
  trial: string;
  election: string;
  /** Shared key every leader writes under its term's guard (on ZooKeeper: the node writes are created under). */
  writeKey: string;
  ttl: number;
  callTimeout: number;
  /** Pause between a leader's guarded writes. */
  writeEveryMs: number;
  /** Indexes into the worker's endpoints, in the order the backend should try them. */
  order: number[];
  cands: CandidateSpec[];
}

/** Harness → worker: the candidate steps down (elector.concede(), or resign and queue again). */
export interface ConcedeCommand {
  cmd: 'concede';
  trial: string;
  cand: string;
}

/** Harness → worker: report every candidate's view now. */
export interface StatusCommand {
  cmd: 'status';
  trial: string;
  req: number;
}

/** Harness → worker: stop one candidate for good (LeaderElector.stop(), or resign and close). */
export interface StopCommand {
  cmd: 'stop';
  trial: string;
  cand: string;
}

/** Harness → worker: stop every candidate of the trial and close its backend. */
export interface LeaveCommand {
  cmd: 'leave';
  trial: string;
}

/** Anything the harness sends. */
export type Command = JoinCommand | ConcedeCommand | StopCommand | StatusCommand | LeaveCommand;

/** One candidate's view, as reported by a status request. */
export interface CandidateStatus {
  cand: string;
  /** isLeader() (or term.active) now. */
  leader: boolean;
  /** Token of the term it holds, if any. */
  token: string | null;
  /**
   * Its current session as its entry key ends (etcd: the lease in lowercase hex; PostgreSQL: the
   * session id) or, on ZooKeeper, as its node's ephemeralOwner (Session.id), if it has one.
   */
  lease: string | null;
  /** The last leader its observer reported: a token, 'none', or null before the first report. */
  observed: string | null;
  stopping: boolean;
}

/** Worker → harness. */
export type WorkerEvent =
  | { ev: 'ready'; pid: number }
  | { ev: 'joined'; trial: string }
  | {
      ev: 'elected';
      trial: string;
      cand: string;
      token: string;
      /** The entry key the term holds (term.key). */
      key: string;
      startedAt: number;
      at: number;
    }
  | {
      ev: 'ended';
      trial: string;
      cand: string;
      token: string;
      /** term.ended.reason; null means the library gave none (a violation). */
      reason: string | null;
      /** term.ended.at: when the library says the term ended. */
      endedAt: number | null;
      /** The last sample at which the candidate still believed it led this term. */
      lastActive: number;
      at: number;
    }
  | {
      ev: 'write';
      trial: string;
      cand: string;
      token: string;
      seq: number;
      /** The backend's verdict; null when the call failed and the outcome is unknown. */
      committed: boolean | null;
      /** Made after the term ended, to prove the backend refuses it. */
      stale: boolean;
      error?: string;
      sentAt: number;
      at: number;
    }
  | { ev: 'leader'; trial: string; cand: string; token: string | null; at: number }
  | { ev: 'retrying'; trial: string; cand: string; error: string; at: number }
  | { ev: 'error'; trial: string; cand: string; error: string; at: number }
  | { ev: 'conceded'; trial: string; cand: string; error?: string; at: number }
  | { ev: 'stopped'; trial: string; cand: string; ms: number; at: number }
  | { ev: 'status'; trial: string; req: number; cands: CandidateStatus[]; at: number }
  | { ev: 'left'; trial: string; ms: number; at: number }
  | { ev: 'crash'; kind: string; error: string; at: number };

/** The value a guarded write puts: which term wrote it. */
export interface WriteValue {
  /** Token. */
  t: string;
  /** Candidate. */
  c: string;
  /** Sequence number within the term. */
  s: number;
}

/** CLOCK_MONOTONIC in milliseconds, the clock every record uses. */
export function monotonicNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
