import { systemClock, type Clock } from '../core/clock.js';

/** What health and metrics read of a term: a LeaderElector's `term` fits. */
export interface TermView {
  /** Fencing token. */
  readonly token: bigint;
  /** Monotonic ms the term began. */
  readonly startedAt: number;
}

/** What health and metrics read of a session: a ballot Session fits. */
export interface SessionView {
  /** Session (liveness) id. */
  readonly id: string;
  /** Granted TTL in ms. */
  readonly ttlMs: number;
  /** Monotonic ms before which the backend cannot have expired the session. */
  readonly deadline: number;
  /** True while renewals are failing or overdue. */
  readonly suspended: boolean;
  /** Monotonic ms of the last acknowledged renewal. */
  readonly lastRenewalAt: number;
}

/**
 * The read-only view of one candidate that health and metrics need. A LeaderElector is one; the
 * CLI builds one around a session and a term. Every read is checked at call time.
 */
export interface LeadershipView {
  /** Election name. */
  readonly election: string;
  /** True while this candidate holds a current term (checked against the deadline now). */
  isLeader(): boolean;
  /** The current term, if leading. */
  readonly term: TermView | undefined;
  /** The session it campaigns on now, if any. */
  readonly currentSession: SessionView | undefined;
  /** The clock of the backend (default: the system's monotonic clock). */
  readonly clock?: Clock;
  /** True once the candidate has stopped for good. */
  readonly stopped?: boolean;
}

/** The clock a view's times are on. */
export function viewClock(view: LeadershipView): Clock {
  return view.clock ?? systemClock;
}
