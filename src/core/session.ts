import { EventEmitter } from 'node:events';
import type { TimerHandle } from './clock.js';
import type { BackendDriver } from './contract.js';
import { Election } from './election.js';
import type { KvTxn } from './guard.js';
import { Mutex } from './mutex.js';
import {
  BackendUnavailableError,
  InvalidArgumentError,
  SessionLostError,
  type SessionLossCause,
} from './errors.js';
import { checkLogger, errorFields, type Logger } from './logger.js';
import type { TermEndReason } from './term.js';
import { checkMillis, checkName, checkTtl, type NamedLimits } from './validate.js';

/** Options for backend.session(). */
export interface SessionOptions {
  /**
   * TTL in seconds (default 10), within the backend's limits (etcd: whole seconds from 1 to 86400).
   * The backend may grant more; the granted TTL is used.
   */
  ttl?: number;
  /**
   * Safety margin in ms subtracted from every deadline, covering clock-rate drift between this
   * host and the backend (default: 1% of the TTL, at least 100 ms).
   */
  margin?: number;
  /** Where the session logs renewals failing, recovering and the loss (default: silent). */
  logger?: Logger;
}

/**
 * Throws unless `options` can open a session on a backend with these limits; returns the TTL and
 * the margin in ms (default margin: 1% of the TTL, at least 100 ms). LeaderElector checks its
 * options with it too, so a bad TTL fails in its constructor, not in every campaign after.
 */
export function checkSessionOptions(
  options: SessionOptions,
  limits: NamedLimits,
): { ttlMs: number; margin: number } {
  const ttlMs = checkTtl(options.ttl ?? 10, limits);
  const margin =
    options.margin === undefined ? Math.max(100, ttlMs / 100) : checkMillis(options.margin, 'session margin');
  if (margin >= ttlMs)
    throw new InvalidArgumentError(
      `session margin (${margin} ms) must be smaller than the TTL (${ttlMs / 1000} s)`,
    );
  return { ttlMs, margin };
}

/**
 * Events a Session emits. Listeners run synchronously on the event loop, in registration order,
 * inside the renewal or timer callback that caused them: a slow listener delays the session's own
 * bookkeeping, so hand long work to a queue. A listener that throws is an uncaught exception.
 */
export interface SessionEvents {
  /** The session ended; every term on it has already ended. */
  lost: [SessionLostError];
  /** A renewal was acknowledged; the argument is the new deadline. */
  renewed: [number];
  /**
   * Renewals are in trouble: one failed, or one went unanswered for half the renewal interval
   * (TTL/6). Arguments: the error (BackendUnavailableError when overdue) and the ms left before the
   * deadline. Terms still hold until the deadline; emitted once until `recovered` or `lost`.
   */
  suspended: [Error, number];
  /** A renewal succeeded after `suspended`; the argument is the ms left before the new deadline. */
  recovered: [number];
}

/** @internal what metrics install on a session; each call site costs one `if` when absent. */
export interface SessionProbe {
  /** A renewal settled after `latencyMs`; `failed` when it was refused or did not reach the backend. */
  renewal(latencyMs: number, failed: boolean): void;
}

/** What a session holds under one name: an election, or a mutex (an election underneath). */
type SessionEntry<Tx> =
  { kind: 'election'; election: Election<Tx> } | { kind: 'mutex'; election: Election<Tx>; mutex: Mutex<Tx> };

function sharedName(name: string, used: string, wanted: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `"${name}" is already used as ${used === 'mutex' ? 'a mutex' : 'an election'} on this session; ` +
      `${wanted} and ${used === 'mutex' ? 'a mutex' : 'an election'} of the same name would share one entry: ` +
      `use another name or another session`,
  );
}

/**
 * A term begins only on a session whose last acknowledged renewal is at most this fraction of the
 * TTL old. Renewals go out every TTL/3 at the latest, so a healthy session's last acknowledgement is
 * never older than TTL/3 plus one round trip and passes at once; one older than TTL/2 has missed a
 * renewal, and its term could end (`unreachable`) less than TTL/2 after it began. Such a session
 * renews first and the term begins only once that renewal is acknowledged (see whenFresh()).
 */
const FRESH_FRACTION = 0.5;

/**
 * Each renewal interval after the first is drawn from [RENEW_JITTER, 1] x TTL/3, so that sessions
 * opened together (1,000 in one process) renew together once and then drift apart. Never later than
 * TTL/3: the deadline arithmetic (and the `suspended` threshold) assume a renewal at least that
 * often. The first renewal comes exactly TTL/3 after opening, so one session on virtual time renews
 * at predictable times until its first renewal.
 */
const RENEW_JITTER = 0.8;

const LOSS_TO_TERM_END: Record<SessionLossCause, TermEndReason> = {
  expired: 'session-lost',
  unreachable: 'unreachable',
  closed: 'closed',
};

/**
 * One process's liveness toward a backend (see LIVENESS in core/contract.ts), renewed every TTL/3
 * (jittered down by up to a fifth) and shared by every election opened on it. The session keeps a deadline,
 * `sendTime(last acknowledged renewal) + TTL - margin`, on the monotonic clock; the server cannot
 * expire the liveness before it. When the deadline passes or the server says the liveness is gone,
 * the session is lost and every term on it ends at once. `Tx` is the backend's guard transaction.
 */
export class Session<Tx = KvTxn> extends EventEmitter<SessionEvents> implements AsyncDisposable {
  /** Liveness id: opaque, defined by the backend. */
  readonly id: string;
  /** TTL in seconds as granted by the backend. */
  readonly ttl: number;
  /** The same TTL in milliseconds. */
  readonly ttlMs: number;
  /** Safety margin in milliseconds. */
  readonly margin: number;
  private readonly driver: BackendDriver<Tx>;
  private readonly lostController = new AbortController();
  private readonly limits: NamedLimits;
  /**
   * One entry per name: an election and a mutex of the same name would share the backend entry
   * of this session's liveness, so a name is either one or the other here.
   */
  private readonly entries = new Map<string, SessionEntry<Tx>>();
  private deadlineAt: number;
  private renewTimer?: TimerHandle;
  private deadlineTimer?: TimerHandle;
  private overdueTimer?: TimerHandle;
  private closing?: Promise<void>;
  private loss?: SessionLostError;
  private readonly logger: Logger;
  private suspendedAt?: number;
  private failures = 0;
  private acknowledgedAt: number;
  /** Renewals sent and not yet settled. */
  private inFlight = 0;
  /** whenFresh() callers waiting for the next acknowledged renewal. */
  private freshWaiters: { resolve(): void; reject(err: Error): void }[] = [];
  /** @internal set by metrics (ballotMetrics); undefined otherwise. */
  probe?: SessionProbe;

  private constructor(
    driver: BackendDriver<Tx>,
    id: string,
    ttlMs: number,
    margin: number,
    sentAt: number,
    logger: Logger,
  ) {
    super();
    this.logger = logger;
    this.acknowledgedAt = driver.clock.now();
    this.driver = driver;
    this.limits = { ...driver.limits, backend: driver.kind };
    this.id = id;
    this.ttl = ttlMs / 1000;
    this.ttlMs = ttlMs;
    this.margin = margin;
    this.deadlineAt = sentAt + ttlMs - margin;
  }

  /** @internal use backend.session(). */
  static async open<Tx>(driver: BackendDriver<Tx>, options: SessionOptions = {}): Promise<Session<Tx>> {
    const { ttlMs, margin } = checkSessionOptions(options, { ...driver.limits, backend: driver.kind });
    const logger = checkLogger(options.logger, 'session logger');
    await driver.connect();
    const sentAt = driver.clock.now();
    const grant = await driver.liveness.open(ttlMs);
    const session = new Session(driver, grant.id, grant.ttlMs, margin, sentAt, logger);
    logger.debug({ backend: driver.kind, session: grant.id, ttlMs: grant.ttlMs }, 'session opened');
    session.armDeadline();
    session.scheduleRenewal(session.renewInterval());
    return session;
  }

  /** Aborts when the session is lost or closed; its reason is a SessionLostError. */
  get lost(): AbortSignal {
    this.checkDeadline();
    return this.lostController.signal;
  }

  /** Monotonic time (ms) before which the server cannot have expired the liveness. */
  get deadline(): number {
    return this.deadlineAt;
  }

  /** True between `suspended` and `recovered`: renewals are failing or overdue. */
  get suspended(): boolean {
    return this.suspendedAt !== undefined;
  }

  /** Renewals that failed in a row since the last acknowledged one (0 while healthy). */
  get renewalFailures(): number {
    return this.failures;
  }

  /** Monotonic time (ms) the last renewal was acknowledged (the session's opening, before any). */
  get lastRenewalAt(): number {
    return this.acknowledgedAt;
  }

  /** True while the deadline has not passed and the liveness is not known to be gone. */
  isAlive(): boolean {
    return !this.lost.aborted;
  }

  /** The election `name` on this session; the same object for the same name. */
  election(name: string): Election<Tx> {
    checkName(name);
    const entry = this.entries.get(name);
    if (entry?.kind === 'election') return entry.election;
    if (entry) throw sharedName(name, 'mutex', 'an election');
    const election = new Election(
      name,
      this,
      this.driver.election(name, this.id),
      this.driver.clock,
      this.limits,
    );
    this.entries.set(name, { kind: 'election', election });
    return election;
  }

  /** The mutex `name` on this session; the same object for the same name. */
  mutex(name: string): Mutex<Tx> {
    checkName(name, 'mutex name');
    const entry = this.entries.get(name);
    if (entry?.kind === 'mutex') return entry.mutex;
    if (entry) throw sharedName(name, 'election', 'a mutex');
    const election = new Election(
      name,
      this,
      this.driver.mutex(name, this.id),
      this.driver.clock,
      this.limits,
    );
    const mutex = new Mutex(name, election);
    this.entries.set(name, { kind: 'mutex', election, mutex });
    return mutex;
  }

  /** Ends every term, stops renewing and ends the liveness (its entries go with it). */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Same as close(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Declares the session lost if its deadline has passed; terms check this whenever they are read. */
  checkDeadline(): void {
    if (this.loss) return;
    if (this.driver.clock.now() >= this.deadlineAt) {
      this.lose('unreachable', `no renewal acknowledged within the ${this.ttl}s TTL`, this.deadlineAt);
    }
  }

  /**
   * @internal undefined if a renewal was acknowledged within the last TTL/2 (FRESH_FRACTION), the
   * usual case. Otherwise renews now (unless a renewal is already on its way) and returns a promise
   * that resolves once a renewal is acknowledged and rejects with the loss if the session ends
   * first. Election begins a term only after it, so no term starts on a session whose renewals have
   * stopped being answered.
   */
  whenFresh(): Promise<void> | undefined {
    this.assertAlive();
    if (this.driver.clock.now() - this.acknowledgedAt <= this.ttlMs * FRESH_FRACTION) return undefined;
    const fresh = new Promise<void>((resolve, reject) => this.freshWaiters.push({ resolve, reject }));
    if (this.inFlight === 0) this.renew();
    return fresh;
  }

  /** @internal throws the loss reason if the session can no longer be used. */
  assertAlive(): void {
    this.checkDeadline();
    if (this.loss) throw this.loss;
  }

  private async shutdown(): Promise<void> {
    const wasAlive = !this.loss;
    this.lose('closed', 'close() was called', this.driver.clock.now());
    await Promise.all(this.allElections().map((e) => e.settle()));
    if (wasAlive) await this.driver.liveness.end(this.id).catch(() => undefined);
  }

  private allElections(): Election<Tx>[] {
    return [...this.entries.values()].map((entry) => entry.election);
  }

  /**
   * TTL/3 in whole milliseconds. On a ManualClock, fractional times (666.67 ms at a 2 s TTL) made the
   * observer's staleness loop (liveness.ts) wait a difference smaller than a float can add to the time,
   * forever; whole milliseconds avoid it, and renewing under a millisecond early changes nothing.
   */
  private renewInterval(): number {
    return Math.max(50, Math.floor(this.ttlMs / 3));
  }

  /** The wait before the next regular renewal: the interval, jittered down (see RENEW_JITTER), in whole ms. */
  private nextInterval(): number {
    return Math.floor(this.renewInterval() * (RENEW_JITTER + (1 - RENEW_JITTER) * Math.random()));
  }

  private scheduleRenewal(ms: number): void {
    this.renewTimer?.cancel();
    this.renewTimer = this.driver.clock.setTimer(() => this.renew(), ms);
  }

  private renew(): void {
    if (this.loss) return;
    const clock = this.driver.clock;
    const sentAt = clock.now();
    let settled = false;
    // An unanswered renewal is trouble long before it times out: say so at half the interval.
    this.overdueTimer?.cancel();
    this.overdueTimer = clock.setTimer(() => {
      if (!settled && !this.loss)
        this.suspend(
          new BackendUnavailableError(
            `session ${this.id}: renewal unanswered for ${Math.round(clock.now() - sentAt)} ms`,
          ),
        );
    }, this.renewInterval() / 2);
    this.inFlight++;
    this.driver.liveness.renew(this.id).then(
      (ttlMs) => {
        settled = true;
        this.inFlight--;
        if (this.loss) return;
        const now = clock.now();
        if (this.probe) this.probe.renewal(now - sentAt, ttlMs <= 0);
        if (ttlMs <= 0) {
          this.lose('expired', `the backend reports session ${this.id} gone`, now);
          return;
        }
        this.failures = 0;
        this.acknowledgedAt = now;
        this.settleFresh();
        const next = sentAt + ttlMs - this.margin;
        if (next > this.deadlineAt) {
          this.deadlineAt = next;
          this.armDeadline();
          this.emit('renewed', next);
        }
        if (this.suspendedAt !== undefined) {
          const left = this.deadlineAt - now;
          this.logger.info(
            {
              session: this.id,
              deadlineLeftMs: Math.round(left),
              suspendedMs: Math.round(now - this.suspendedAt),
            },
            'session renewals recovered',
          );
          this.suspendedAt = undefined;
          this.emit('recovered', left);
        }
      },
      // A failed renewal is retried soon; the deadline, not the error, decides loss.
      (err: unknown) => {
        settled = true;
        this.inFlight--;
        if (this.loss) return;
        this.failures++;
        if (this.probe) this.probe.renewal(clock.now() - sentAt, true);
        const error = err instanceof Error ? err : new BackendUnavailableError(String(err));
        this.logger.debug(
          { session: this.id, failures: this.failures, ...errorFields(error) },
          'session renewal failed',
        );
        this.suspend(error);
        this.scheduleRenewal(Math.min(250, this.renewInterval()));
      },
    );
    this.scheduleRenewal(this.nextInterval());
  }

  /** Resolves every whenFresh() waiter: a renewal was just acknowledged. */
  private settleFresh(): void {
    if (this.freshWaiters.length === 0) return;
    const waiters = this.freshWaiters;
    this.freshWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** Enters the suspended state once; `recovered` or `lost` leaves it. */
  private suspend(error: Error): void {
    if (this.suspendedAt !== undefined || this.loss) return;
    const now = this.driver.clock.now();
    this.suspendedAt = now;
    const left = Math.max(0, this.deadlineAt - now);
    this.logger.warn(
      { session: this.id, deadlineLeftMs: Math.round(left), ...errorFields(error) },
      'session renewals failing',
    );
    this.emit('suspended', error, left);
  }

  private armDeadline(): void {
    this.deadlineTimer?.cancel();
    this.deadlineTimer = this.driver.clock.setTimer(
      () => {
        this.checkDeadline();
        // Timers may fire a little before the monotonic deadline; check again until it has passed.
        if (!this.lostController.signal.aborted) this.armDeadline();
      },
      this.deadlineAt - this.driver.clock.now() + 1,
    );
  }

  private lose(cause: SessionLossCause, detail: string, at: number): void {
    // Set before anything else runs: ending terms reads `lost`, which checks the deadline again.
    if (this.loss) return;
    const error = new SessionLostError(cause, detail);
    this.loss = error;
    this.renewTimer?.cancel();
    this.deadlineTimer?.cancel();
    this.overdueTimer?.cancel();
    this.suspendedAt = undefined;
    const waiters = this.freshWaiters;
    this.freshWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
    (cause === 'closed' ? this.logger.debug : this.logger.error).call(
      this.logger,
      { session: this.id, reason: cause, ...errorFields(error) },
      cause === 'closed' ? 'session closed' : 'session lost',
    );
    for (const election of this.allElections()) election.sessionEnded(LOSS_TO_TERM_END[cause], at, error);
    this.lostController.abort(error);
    // Best effort: if the backend is back, drop our entries now rather than after the TTL.
    if (cause !== 'closed') void this.driver.liveness.end(this.id).catch(() => undefined);
    this.emit('lost', error);
  }
}
