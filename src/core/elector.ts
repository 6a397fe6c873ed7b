import { EventEmitter } from 'node:events';
import type { Backend } from './backend.js';
import type { CampaignOptions, Election, LeaderChange } from './election.js';
import { checkCandidateMeta, encodeCandidateValue, type Advertise } from './candidate-value.js';
import { sleep, type Clock } from './clock.js';
import {
  BallotError,
  CampaignCancelledError,
  FlappingError,
  InternalError,
  InvalidArgumentError,
  TransferError,
} from './errors.js';
import type { TransferOptions, TransferResult } from './transfer.js';
import {
  checkPriorityTransfer,
  followPriority,
  prioritySettings,
  type PriorityTransferOptions,
} from './priority.js';
import { checkSessionOptions, type Session, type SessionOptions } from './session.js';
import type { KvTxn } from './guard.js';
import { checkLogger, errorFields, type Logger } from './logger.js';
import type { Term, TermEndedError, TermEndReason } from './term.js';
import { checkMillis, checkName, checkValue } from './validate.js';

/**
 * Codes that no retry can fix: bad input, refused credentials, and a backend closed under the
 * elector. BACKEND is not among them: a backend may report a liveness that expired behind our back so,
 * and a new session fixes it. UNAVAILABLE, SESSION_LOST, ENTRY_DELETED are what retrying is for.
 */
const FATAL_CODES: ReadonlySet<string> = new Set(['INVALID_ARGUMENT', 'AUTH', 'CLOSED']);

/** Options of a LeaderElector; `Tx` (the backend's guard transaction) is inferred from `backend`. */
export interface LeaderElectorOptions<Tx = KvTxn> {
  /** Where to campaign: etcd(...) or memory(). */
  backend: Backend<Tx>;
  /** Election name. */
  election: string;
  /** This candidate's value (e.g. its name); observers see it while it leads. */
  value: string;
  /**
   * Where this candidate serves, e.g. `{ http: 'http://10.0.0.5:8080' }`: stored with its value, so
   * `leader` events, observers and participants() carry the leader's address (see leaderGate).
   */
  advertise?: Advertise;
  /** This candidate's priority (default 0), published with its value. */
  priority?: number;
  /**
   * The priority policy: while leading, hand leadership to a waiting candidate with a strictly
   * higher `priority` once it has waited `hysteresisMs` (default one TTL), checking the line every
   * `intervalMs` (default TTL / 3). Equal priorities never transfer. `true` takes the defaults.
   */
  priorityTransfer?: PriorityTransferOptions | boolean;
  /** Session TTL in seconds (default 10). */
  ttl?: number;
  /** Deadline safety margin in ms (see SessionOptions.margin). */
  margin?: number;
  /** Retry delays after a failed campaign, in ms (default 100 doubling to 5000). */
  backoff?: { initial?: number; max?: number };
  /** Stop after more than maxTerms terms within windowMs (default 10 in 60 s); false disables. */
  flapGuard?: { maxTerms: number; windowMs: number } | false;
  /**
   * Where the elector and its sessions log (default: silent): any object with debug/info/warn/error
   * taking `(fields, msg)`, e.g. pino. With a logger, retries are logged instead of the process warning.
   */
  logger?: Logger;
}

/**
 * Events of a LeaderElector. Listeners run synchronously on the event loop, in registration order,
 * from inside the elector's loop: the loop goes on only after they return, so long work belongs in
 * a queue. A listener that throws is an uncaught exception, as with any EventEmitter.
 */
export interface LeaderElectorEvents<Tx = KvTxn> {
  /** This candidate became leader. */
  elected: [Term<Tx>];
  /** This candidate's term ended; the reason says why. */
  deposed: [Term<Tx>, TermEndReason];
  /**
   * The election's leader changed (any candidate, or none), or it became unknown: the elector lost
   * contact with the backend for a session TTL. After contact is back, the leader is reported again.
   */
  leader: [LeaderChange];
  /**
   * A campaign (or opening its session, or the leader observer) failed and will be retried after
   * `delayMs`. Emitted from the first failure on. Without a listener, one process warning
   * (code BALLOT_ELECTOR_RETRYING) is emitted instead, until a campaign succeeds again.
   */
  retrying: [Error, number];
  /**
   * The elector stopped for good: the flap guard tripped, or an error retrying cannot fix
   * (INVALID_ARGUMENT, AUTH, CLOSED). Without a listener and without a running terms() loop it is
   * thrown as an uncaught exception, like any EventEmitter 'error' nobody listens to.
   */
  error: [Error];
  /**
   * The elector opened a new session (at start, and after a session was lost); the argument is its
   * id (on etcd, the lease id in decimal; etcdctl prints it in hex). Emitted before campaigning on it.
   */
  session: [string];
  /**
   * The elector has stopped for good: after stop(), or after a fatal `error`. Emitted exactly once
   * and last, once the term is resigned and the session closed; the argument is the fatal error, if any.
   */
  stopped: [Error | undefined];
}

/** Options of LeaderElector.terms(). */
export interface TermsOptions {
  /**
   * Terms kept for a consumer that has not taken them yet (default 16). When one more is won, the
   * oldest waiting term is dropped and counted in the stream's `skipped`.
   */
  buffer?: number;
}

/** What LeaderElector.terms() returns: the terms in the order won, and how many were dropped unseen. */
export type TermStream<Tx = KvTxn> = AsyncGenerator<Term<Tx>, void, undefined> & {
  /** Terms won while this consumer's buffer was full, dropped (oldest first) without being yielded. */
  readonly skipped: number;
};

/** The terms one terms() consumer has yet to take. */
interface TermQueue<Tx> {
  readonly pending: Term<Tx>[];
  readonly limit: number;
  skipped: number;
}

/** Default of TermsOptions.buffer: more than a flap guard at its default lets be won in its window. */
const TERMS_BUFFER = 16;

/**
 * The high-level loop: campaigns, holds the term, re-campaigns after any loss with backoff,
 * and reports everything as events. `isLeader()` is computed against the session deadline at
 * call time, never read from a stale flag.
 */
export class LeaderElector<Tx = KvTxn>
  extends EventEmitter<LeaderElectorEvents<Tx>>
  implements AsyncDisposable
{
  /** Election name. */
  readonly election: string;
  private readonly options: LeaderElectorOptions<Tx>;
  private readonly stopController = new AbortController();
  private readonly termStarts: number[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly termQueues = new Set<TermQueue<Tx>>();
  private session?: Session<Tx>;
  private current?: Term<Tx>;
  private observing?: AbortController;
  private conceding = false;
  private readonly loop: Promise<void>;
  private failure?: Error;
  private consumers = 0;
  private warned = false;
  private lastChange?: LeaderChange;
  /** The priority policy of the current term, if it runs (awaited on stop). */
  private policy: Promise<void> = Promise.resolve();
  private finished = false;
  private campaignStart?: number;
  private readonly logger: Logger;

  constructor(options: LeaderElectorOptions<Tx>) {
    super();
    checkOptions(options);
    this.election = checkName(options.election);
    this.options = options;
    this.logger = checkLogger(options.logger);
    // Deferred one tick so that listeners attached right after construction see every event.
    this.loop = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.run());
  }

  /** True while this candidate holds a current term (checked against the deadline now). */
  isLeader(): boolean {
    return this.current?.active ?? false;
  }

  /** The session the elector campaigns on now (it opens a new one after a loss). */
  get currentSession(): Session<Tx> | undefined {
    return this.session;
  }

  /** The latest 'leader' event's change (undefined before the first), for helpers created after it. */
  get leaderChange(): LeaderChange | undefined {
    return this.lastChange;
  }

  /** What this candidate advertises (LeaderElectorOptions.advertise), e.g. to recognise its own entry. */
  get advertise(): Advertise | undefined {
    return this.options.advertise;
  }

  /** Monotonic time (ms) the campaign now running (or the one that won the current term) began. */
  get campaignStartedAt(): number | undefined {
    return this.campaignStart;
  }

  /** The monotonic clock of the backend; terms and deadlines are times on it. */
  get clock(): Clock {
    return this.options.backend.clock;
  }

  /** True once the elector has stopped for good (`stopped` was emitted). */
  get stopped(): boolean {
    return this.finished;
  }

  /** The current term, if leading. */
  get term(): Term<Tx> | undefined {
    return this.current?.active ? this.current : undefined;
  }

  /** Steps aside: ends the current term and queues again at the back. No-op when not leading. */
  async concede(): Promise<void> {
    const term = this.term;
    if (!term || !this.session) return;
    this.conceding = true;
    try {
      await this.session.election(this.election).resign();
    } finally {
      this.conceding = false;
    }
  }

  /**
   * Hands leadership to the waiting candidate whose value is `candidateId` (see Election.transfer):
   * one atomic backend step, then resolves once it leads. This elector's term ends ('transferred')
   * and it campaigns again at the back. Rejects with TransferError: 'not-leader' when not leading,
   * 'candidate-not-found' (leadership kept), or 'timeout' (the step committed; this elector has
   * re-queued).
   */
  async transferTo(candidateId: string, options: TransferOptions = {}): Promise<TransferResult> {
    const session = this.session;
    if (!this.term || !session)
      throw new TransferError(
        'not-leader',
        `cannot transfer "${this.election}": this elector does not lead it`,
      );
    return session.election(this.election).transfer(candidateId, options);
  }

  /** Resigns, leaves the election and closes the session. Idempotent. */
  async stop(): Promise<void> {
    if (!this.stopController.signal.aborted)
      this.stopController.abort(new CampaignCancelledError('elector stopped'));
    await this.loop;
  }

  /** Same as stop(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * Yields every term won from this call on (the one held at the call first), each once and in
   * order, until the elector stops; then throws FlappingError (or the fatal error) if it stopped on
   * one. A term that ended before the consumer took it is yielded all the same, with `active` false
   * and `ended` saying why: a consumer busy with one term still learns of each term won and lost
   * meanwhile. At most `buffer` terms wait (default 16); beyond that the oldest waiting one is
   * dropped and counted in the returned stream's `skipped`, so no term is missed silently.
   */
  terms(options: TermsOptions = {}): TermStream<Tx> {
    const limit = options.buffer ?? TERMS_BUFFER;
    if (!Number.isInteger(limit) || limit < 1)
      throw new InvalidArgumentError(
        `terms() buffer must be a positive integer, e.g. 16; got ${String(limit)}`,
      );
    const queue: TermQueue<Tx> = { pending: [], limit, skipped: 0 };
    if (this.current?.active) queue.pending.push(this.current);
    // Taken from the call on, not from the first next(): a term won in between is not lost.
    this.termQueues.add(queue);
    const stream = this.streamTerms(queue);
    Object.defineProperty(stream, 'skipped', { get: () => queue.skipped, enumerable: true });
    return stream as TermStream<Tx>;
  }

  private async *streamTerms(queue: TermQueue<Tx>): AsyncGenerator<Term<Tx>, void, undefined> {
    // While a loop runs here, a fatal error reaches it as a rejection instead of an uncaught exception.
    this.consumers++;
    try {
      for (;;) {
        const term = queue.pending.shift();
        if (term) {
          yield term;
          continue;
        }
        if (this.failure) throw this.failure;
        if (this.stopController.signal.aborted) return;
        await new Promise<void>((resolve) => this.waiters.add(resolve));
      }
    } finally {
      this.consumers--;
      this.termQueues.delete(queue);
    }
  }

  /** Hands a newly won term to every terms() consumer, dropping the oldest waiting one where full. */
  private queueTerm(term: Term<Tx>): void {
    for (const queue of this.termQueues) {
      if (queue.pending.length >= queue.limit) {
        const dropped = queue.pending.shift();
        queue.skipped++;
        this.logger.warn(
          { election: this.election, token: String(dropped?.token), skipped: queue.skipped },
          'terms() consumer is behind: a term was dropped unseen (raise terms({ buffer }))',
        );
      }
      queue.pending.push(term);
    }
  }

  /** Stops the elector with an error no retry can fix, and makes sure someone hears of it. */
  private fail(error: Error): void {
    if (this.failure || this.finished) return;
    this.failure = error;
    this.logger.error({ election: this.election, ...errorFields(error) }, 'elector stopped by an error');
    this.stopController.abort(error);
    this.wakeWaiters();
    if (this.listenerCount('error') > 0) this.tell('error', error);
    else if (this.consumers === 0)
      // Outside the run loop's promise, so it is an uncaught exception rather than a lost rejection.
      process.nextTick(() => {
        throw error;
      });
  }

  /** Reports a retryable failure: to 'retrying' listeners, else once as a process warning. */
  private reportRetry(error: Error, delay: number): void {
    if (this.finished) return;
    this.logger.warn({ election: this.election, delayMs: delay, ...errorFields(error) }, 'retrying');
    if (this.listenerCount('retrying') > 0) {
      this.tell('retrying', error, delay);
      return;
    }
    if (this.warned || this.options.logger) return;
    this.warned = true;
    process.emitWarning(
      `LeaderElector for "${this.election}" keeps retrying: ${error.message} ` +
        "(listen to 'retrying' to handle this yourself)",
      { code: 'BALLOT_ELECTOR_RETRYING' },
    );
  }

  /**
   * Emits `event` to its listeners. One that throws is an uncaught exception, as documented, not a
   * failure of the loop that emitted: caught there it was taken for a failed campaign (a 'session'
   * listener's throw left the session without a leader observer; an 'elected' one's had the term
   * reported twice), and a throwing 'stopped' listener made stop() reject.
   */
  private tell<K extends keyof LeaderElectorEvents<Tx>>(event: K, ...args: LeaderElectorEvents<Tx>[K]): void {
    try {
      (this.emit as (event: K, ...args: LeaderElectorEvents<Tx>[K]) => boolean)(event, ...args);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  private wakeWaiters(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  private async run(): Promise<void> {
    const stop = this.stopController.signal;
    const initial = this.options.backoff?.initial ?? 100;
    const max = this.options.backoff?.max ?? 5000;
    let delay = initial;
    let held: Term<Tx> | undefined;
    while (!stop.aborted) {
      const attemptStart = this.options.backend.clock.now();
      try {
        const election = await this.ensureSession();
        this.campaignStart = this.options.backend.clock.now();
        this.logger.debug({ election: this.election, session: this.session?.id }, 'campaigning');
        const term = await election.campaign(this.options.value, this.campaignOptions(stop));
        delay = initial;
        this.warned = false;
        if (this.flapping()) break;
        this.current = term;
        this.queueTerm(term);
        this.wakeWaiters();
        this.logger.info(
          { election: this.election, session: term.lease, token: String(term.token) },
          'elected',
        );
        this.tell('elected', term);
        this.followPriority(term, election);
        const ended = await endedOrStopped(term, stop);
        if (!ended) {
          held = term;
          break;
        }
        this.logDeposed(term, ended.reason);
        this.tell('deposed', term, ended.reason);
        this.wakeWaiters();
        if (ended.reason === 'resigned' && this.conceding) await this.settleConcede();
      } catch (err) {
        if (stop.aborted) break;
        const error =
          err instanceof Error ? err : new InternalError(`non-Error thrown: ${String(err)}`, { cause: err });
        if (isFatal(error)) {
          this.fail(error);
          break;
        }
        // A failure after a long attempt (a campaign that waited, a session that held) is a new
        // fault, retried after `initial`: the backoff of failures long past (up to `max`) must not
        // delay recovery from it. Failures in quick succession still back off.
        if (this.options.backend.clock.now() - attemptStart >= max) delay = initial;
        this.reportRetry(error, delay);
        await sleep(this.options.backend.clock, delay, stop);
        delay = Math.min(delay * 2, max);
      }
    }
    await this.shutdown(held);
    this.finished = true;
    this.logger.info({ election: this.election }, 'elector stopped');
    this.tell('stopped', this.failure);
  }

  private logDeposed(term: Term<Tx>, reason: TermEndReason): void {
    const ended = term.ended;
    const fields = {
      election: this.election,
      session: term.lease,
      token: String(term.token),
      reason,
      termMs: ended ? Math.round(ended.at - term.startedAt) : undefined,
    };
    // Ends this process chose (stop, concede, a transfer) are no trouble: info, not warn.
    if (reason === 'resigned' || reason === 'closed' || reason === 'transferred')
      this.logger.info(fields, 'deposed');
    else this.logger.warn(fields, 'deposed');
  }

  private campaignOptions(signal: AbortSignal): CampaignOptions {
    const options: CampaignOptions = { signal };
    if (this.options.advertise !== undefined) options.advertise = this.options.advertise;
    if (this.options.priority !== undefined) options.priority = this.options.priority;
    return options;
  }

  /** Starts the priority policy (see priority.ts) for `term`, if enabled. */
  private followPriority(term: Term<Tx>, election: Election<Tx>): void {
    const option = this.options.priorityTransfer;
    if (option === undefined || option === false) return;
    const ttl = this.options.ttl ?? 10;
    const { hysteresisMs, intervalMs } = prioritySettings(option, ttl);
    this.policy = followPriority(term as Term<unknown>, {
      clock: this.options.backend.clock,
      priority: this.options.priority ?? 0,
      hysteresisMs,
      intervalMs,
      participants: () => election.participants(),
      transfer: (key) => this.transferTo(key, { timeout: ttl * 1000 }),
      failed: (error, delay) => this.reportRetry(error, delay),
    });
  }

  /** Waits until concede()'s resign has finished before queueing again, so we rejoin at the back. */
  private async settleConcede(): Promise<void> {
    while (this.conceding) await new Promise((resolve) => setImmediate(resolve));
  }

  private async ensureSession(): Promise<Election<Tx>> {
    if (this.session && !this.session.isAlive()) {
      // The old observer keeps watching until the next session's takes over, so that an outage that
      // also prevents a new session is still reported (as 'unknown') through the leader event.
      await this.session.close();
      this.session = undefined;
    }
    if (!this.session) {
      const options: SessionOptions = {};
      if (this.options.ttl !== undefined) options.ttl = this.options.ttl;
      if (this.options.margin !== undefined) options.margin = this.options.margin;
      if (this.options.logger !== undefined) options.logger = this.options.logger;
      this.session = await this.options.backend.session(options);
      this.logger.info({ election: this.election, session: this.session.id }, 'session opened');
      this.tell('session', this.session.id);
      this.observe(this.session);
    }
    return this.session.election(this.election);
  }

  /**
   * Relays leader changes until the next session starts its own observer. An observer that fails
   * is reported like a failed campaign: fatal errors stop the elector, others are retried.
   */
  private observe(session: Session<Tx>): void {
    const previous = this.observing;
    const controller = new AbortController();
    this.observing = controller;
    previous?.abort();
    const signal = AbortSignal.any([controller.signal, this.stopController.signal]);
    const clock = this.options.backend.clock;
    const initial = this.options.backoff?.initial ?? 100;
    const max = this.options.backoff?.max ?? 5000;
    void (async () => {
      for (let delay = initial; !signal.aborted; delay = Math.min(delay * 2, max)) {
        try {
          for await (const change of session.election(this.election).observe({ signal })) {
            delay = initial;
            // A change that arrives while stopping is not reported: 'stopped' must stay the last event.
            if (signal.aborted || this.finished) return;
            this.lastChange = change;
            this.tell('leader', change);
          }
        } catch (err) {
          if (signal.aborted) return;
          const error =
            err instanceof Error
              ? err
              : new InternalError(`non-Error thrown: ${String(err)}`, { cause: err });
          if (isFatal(error)) return this.fail(error);
          this.reportRetry(error, delay);
        }
        await sleep(clock, delay, signal);
      }
    })();
  }

  private flapping(): boolean {
    const guard = this.options.flapGuard ?? { maxTerms: 10, windowMs: 60_000 };
    if (guard === false) return false;
    const now = this.options.backend.clock.now();
    this.termStarts.push(now);
    while ((this.termStarts[0] ?? now) < now - guard.windowMs) this.termStarts.shift();
    if (this.termStarts.length <= guard.maxTerms) return false;
    this.fail(
      new FlappingError(
        `elector for "${this.election}" won ${this.termStarts.length} terms within ${guard.windowMs} ms; ` +
          'stopped campaigning (raise flapGuard.maxTerms or fix what ends the terms)',
      ),
    );
    return true;
  }

  /** Resigns the held term (if any) and closes the session; `held` is a term the stop interrupted. */
  private async shutdown(held: Term<Tx> | undefined): Promise<void> {
    this.observing?.abort();
    const session = this.session;
    this.session = undefined;
    if (session) {
      try {
        if (session.isAlive()) await session.election(this.election).resign();
      } catch {
        // close() ends the session's liveness, which removes the entry anyway.
      }
      await session.close();
    }
    await this.policy;
    if (held) {
      const reason = held.ended?.reason ?? 'closed';
      this.logDeposed(held, reason);
      this.tell('deposed', held, reason);
    }
    this.wakeWaiters();
  }
}

/** Shape, not instanceof: an ESM and a CommonJS copy of ballot in one program have distinct classes. */
function isBackend(backend: unknown): backend is Backend<unknown> {
  const b = backend as Partial<Backend<unknown>> | null;
  return (
    typeof b === 'object' &&
    b !== null &&
    typeof b.session === 'function' &&
    typeof b.observe === 'function' &&
    typeof b.clock?.now === 'function' &&
    typeof b.limits === 'object'
  );
}

function isFatal(error: Error): boolean {
  return error instanceof BallotError && FATAL_CODES.has(error.code);
}

/** Throws InvalidArgumentError for the first option no campaign could ever accept. */
function checkOptions(options: LeaderElectorOptions<unknown>): void {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('LeaderElector needs an options object: { backend, election, value }');
  if (!isBackend(options.backend))
    throw new InvalidArgumentError(
      'LeaderElector option backend must be a ballot Backend: pass etcd({...}) or memory()',
    );
  checkName(options.election);
  const limits = { ...options.backend.limits, backend: options.backend.kind };
  checkValue(options.value, limits);
  checkLogger(options.logger);
  checkCandidateMeta({ advertise: options.advertise, priority: options.priority });
  checkPriorityTransfer(options.priorityTransfer);
  checkValue(
    encodeCandidateValue(options.value, { advertise: options.advertise, priority: options.priority }),
    limits,
    'campaign value with what it advertises',
  );
  const session: SessionOptions = { ttl: options.ttl ?? 10 };
  if (options.margin !== undefined) session.margin = options.margin;
  checkSessionOptions(session, limits);
  const backoff: unknown = options.backoff;
  if (backoff !== undefined) {
    if (typeof backoff !== 'object' || backoff === null)
      throw new InvalidArgumentError('backoff must be an object like { initial: 100, max: 5000 }');
    const { initial, max } = options.backoff ?? {};
    if (initial !== undefined) checkMillis(initial, 'backoff.initial');
    if (max !== undefined) checkMillis(max, 'backoff.max');
    if ((initial ?? 100) > (max ?? 5000))
      throw new InvalidArgumentError(
        `backoff.initial (${initial ?? 100} ms) must not exceed backoff.max (${max ?? 5000} ms)`,
      );
  }
  const guard: unknown = options.flapGuard;
  if (guard === undefined || guard === false) return;
  if (typeof guard !== 'object' || guard === null)
    throw new InvalidArgumentError('flapGuard must be false or { maxTerms, windowMs }');
  const { maxTerms, windowMs } = guard as { maxTerms?: unknown; windowMs?: unknown };
  if (typeof maxTerms !== 'number' || !Number.isInteger(maxTerms) || maxTerms < 1)
    throw new InvalidArgumentError(
      `flapGuard.maxTerms must be a positive whole number, got ${String(maxTerms)}`,
    );
  if (typeof windowMs !== 'number' || !Number.isFinite(windowMs) || windowMs <= 0)
    throw new InvalidArgumentError(
      `flapGuard.windowMs must be a positive number of milliseconds, got ${String(windowMs)}`,
    );
}

/**
 * The term's end, or undefined once `stop` aborts. Removes its listener from `stop` when the term
 * ends first: one left behind per term would pile up on the elector's long-lived signal.
 */
function endedOrStopped<Tx>(term: Term<Tx>, stop: AbortSignal): Promise<TermEndedError | undefined> {
  if (stop.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onStop = () => resolve(undefined);
    stop.addEventListener('abort', onStop, { once: true });
    void term.whenEnded().then((ended) => {
      stop.removeEventListener('abort', onStop);
      resolve(ended);
    });
  });
}
