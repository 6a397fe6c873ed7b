import { EventEmitter } from 'node:events';
import type { TimerHandle } from './clock.js';
import type { BackendDriver } from './contract.js';
import { Election } from './election.js';
import { Mutex } from './mutex.js';
import { InvalidArgumentError, SessionLostError, type SessionLossCause } from './errors.js';
import type { TermEndReason } from './term.js';
import { checkMillis, checkName, checkTtl } from './validate.js';

/** Options for backend.session(). */
export interface SessionOptions {
  /** Lease TTL in seconds (default 10). The backend may grant more; the granted TTL is used. */
  ttl?: number;
  /**
   * Safety margin in ms subtracted from every deadline, covering clock-rate drift between this
   * host and the backend (default: 1% of the TTL, at least 100 ms).
   */
  margin?: number;
}

/** Events a Session emits. Listeners run synchronously on the event loop, in registration order. */
export interface SessionEvents {
  /** The session ended; every term on it has already ended. */
  lost: [SessionLostError];
  /** A keepalive was acknowledged; the argument is the new deadline. */
  renewed: [number];
}

const LOSS_TO_TERM_END: Record<SessionLossCause, TermEndReason> = {
  expired: 'session-lost',
  unreachable: 'unreachable',
  closed: 'closed',
};

/**
 * One process's liveness toward a backend: a lease and its keepalive, shared by every election
 * opened on it. The session keeps a deadline, `sendTime(last acknowledged keepalive) + TTL - margin`,
 * on the monotonic clock; the server cannot expire the lease before it. When the deadline passes or
 * the server says the lease is gone, the session is lost and every term on it ends at once.
 */
export class Session extends EventEmitter<SessionEvents> implements AsyncDisposable {
  /** Lease id (decimal string). */
  readonly id: string;
  /** TTL in seconds as granted by the backend. */
  readonly ttl: number;
  /** Safety margin in milliseconds. */
  readonly margin: number;
  private readonly driver: BackendDriver;
  private readonly lostController = new AbortController();
  private readonly elections = new Map<string, Election>();
  private readonly mutexes = new Map<string, Mutex>();
  private readonly lockElections = new Set<Election>();
  private deadlineAt: number;
  private keepAliveTimer?: TimerHandle;
  private deadlineTimer?: TimerHandle;
  private closing?: Promise<void>;
  private loss?: SessionLostError;

  private constructor(driver: BackendDriver, id: string, ttl: number, margin: number, sentAt: number) {
    super();
    this.driver = driver;
    this.id = id;
    this.ttl = ttl;
    this.margin = margin;
    this.deadlineAt = sentAt + ttl * 1000 - margin;
  }

  /** @internal use backend.session(). */
  static async open(driver: BackendDriver, options: SessionOptions = {}): Promise<Session> {
    const ttl = checkTtl(options.ttl ?? 10);
    const margin =
      options.margin === undefined ? Math.max(100, ttl * 10) : checkMillis(options.margin, 'session margin');
    if (margin >= ttl * 1000)
      throw new InvalidArgumentError(`session margin (${margin} ms) must be smaller than the TTL (${ttl} s)`);
    await driver.connect();
    const sentAt = driver.clock.now();
    const grant = await driver.lease.grant(ttl);
    const session = new Session(driver, grant.id, grant.ttl, margin, sentAt);
    session.armDeadline();
    session.scheduleKeepAlive(session.keepAliveInterval());
    return session;
  }

  /** Aborts when the session is lost or closed; its reason is a SessionLostError. */
  get lost(): AbortSignal {
    this.checkDeadline();
    return this.lostController.signal;
  }

  /** Monotonic time (ms) before which the server cannot have expired the lease. */
  get deadline(): number {
    return this.deadlineAt;
  }

  /** True while the deadline has not passed and the lease is not known to be gone. */
  isAlive(): boolean {
    return !this.lost.aborted;
  }

  /** The election `name` on this session; the same object for the same name. */
  election(name: string): Election {
    checkName(name);
    let election = this.elections.get(name);
    if (!election) {
      election = new Election(name, this, this.driver.election(name, this.id), this.driver.clock);
      this.elections.set(name, election);
    }
    return election;
  }

  /** The mutex `name` on this session; the same object for the same name. */
  mutex(name: string): Mutex {
    checkName(name, 'mutex name');
    let mutex = this.mutexes.get(name);
    if (!mutex) {
      const election = new Election(name, this, this.driver.mutex(name, this.id), this.driver.clock);
      mutex = new Mutex(name, election);
      this.mutexes.set(name, mutex);
      this.lockElections.add(election);
    }
    return mutex;
  }

  /** Ends every term, stops the keepalive and revokes the lease (its entries go with it). */
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
      this.lose('unreachable', `no keepalive acknowledged within the ${this.ttl}s TTL`, this.deadlineAt);
    }
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
    if (wasAlive) await this.driver.lease.revoke(this.id).catch(() => undefined);
  }

  private allElections(): Election[] {
    return [...this.elections.values(), ...this.lockElections];
  }

  private keepAliveInterval(): number {
    return Math.max(50, (this.ttl * 1000) / 3);
  }

  private scheduleKeepAlive(ms: number): void {
    this.keepAliveTimer?.cancel();
    this.keepAliveTimer = this.driver.clock.setTimer(() => this.keepAlive(), ms);
  }

  private keepAlive(): void {
    if (this.loss) return;
    const sentAt = this.driver.clock.now();
    this.driver.lease.keepAlive(this.id).then(
      (ttl) => {
        if (this.loss) return;
        if (ttl <= 0) {
          this.lose('expired', `the backend reports lease ${this.id} gone`, this.driver.clock.now());
          return;
        }
        const next = sentAt + ttl * 1000 - this.margin;
        if (next > this.deadlineAt) {
          this.deadlineAt = next;
          this.armDeadline();
          this.emit('renewed', next);
        }
      },
      // A failed keepalive is retried soon; the deadline, not the error, decides loss.
      () => this.scheduleKeepAlive(Math.min(250, this.keepAliveInterval())),
    );
    this.scheduleKeepAlive(this.keepAliveInterval());
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
    this.keepAliveTimer?.cancel();
    this.deadlineTimer?.cancel();
    for (const election of this.allElections()) election.sessionEnded(LOSS_TO_TERM_END[cause], at, error);
    this.lostController.abort(error);
    // Best effort: if the backend is back, drop our entries now rather than after the TTL.
    if (cause !== 'closed') void this.driver.lease.revoke(this.id).catch(() => undefined);
    this.emit('lost', error);
  }
}
