import type { EventEmitter } from 'node:events';
import type { LeaderChange } from '../../index.js';
import type { CandidateState, StaleWrite, WriteReport } from './candidate.js';

/** One candidate as the live view shows it. */
export interface CandidateView {
  name: string;
  state: CandidateState;
  /** Token of the term it holds, if leading. */
  token?: bigint;
  /** Lease id in hex, as in its key. */
  lease?: string;
  /** Session deadline on the monotonic clock (ms). */
  deadline?: number;
  writes: { ok: number; rejected: number };
}

/** What a harness reports; times are monotonic ms. */
export interface HarnessEvents {
  elected: [{ candidate: string; token: bigint; key: string; startedAt: number }];
  /** `announced` is false when the harness inferred the end (it killed the process). */
  deposed: [{ candidate: string; token: bigint; reason: string; endedAt: number; announced: boolean }];
  /** A guarded write returned. */
  write: [{ candidate: string } & WriteReport];
  /** A candidate's elector stopped for good. */
  failed: [{ candidate: string; message: string }];
}

/**
 * Runs the demo's candidates somewhere and injects faults into them: in this process on the
 * memory backend (faults simulated by partitions), or as child processes on etcd (real signals).
 */
export interface Harness extends EventEmitter<HarnessEvents> {
  /** "memory", "etcd", "postgres" or "zookeeper". */
  readonly kind: string;
  /**
   * How much later than the TTL a crashed or paused leader's entry may still go (the server's own
   * expiry check, the handover): those handovers are bounded by the TTL plus this (default 1.5 s).
   */
  readonly expirySlackMs?: number;
  /** Starts (or restarts) a candidate; it queues at the back. */
  start(name: string): Promise<void>;
  /** The candidate resigns and leaves, as on a graceful shutdown. */
  leave(name: string): Promise<void>;
  /** The candidate dies without resigning or revoking its lease. */
  crash(name: string): Promise<void>;
  /** The candidate stops running, keeping its sockets (SIGSTOP, or a partition in memory). */
  pause(name: string): Promise<void>;
  /** The paused candidate runs again and tries a write with its old term. */
  resume(name: string): Promise<StaleWrite | undefined>;
  /** The leader steps aside and queues again at the back. */
  concede(name: string): Promise<void>;
  /** Every candidate, for the view. */
  candidates(): CandidateView[];
  /** Candidate names in line order, leader first, as the backend stores them. */
  queue(): Promise<string[]>;
  /** Leader changes as an independent observer sees them. */
  observe(signal: AbortSignal): AsyncIterable<LeaderChange>;
  /** Stops every candidate: queued ones first, the leader last, so observers end on "no leader". */
  stopAll(): Promise<void>;
  /** Releases everything (after stopAll); idempotent. */
  close(): Promise<void>;
}
