import type { Clock } from './clock.js';
import type { BackendDriver, BackendLimits, BackendStats } from './contract.js';
import { readLeader, type Leader, type LeaderChange, type ObserveOptions } from './election.js';
import { ClosedError } from './errors.js';
import { checkStaleAfter, observeWithLiveness } from './liveness.js';
import { checkName } from './validate.js';
import { Session, type SessionOptions } from './session.js';

/** A connection to one coordination service; opens sessions. Create it with etcd() or memory(). */
export class Backend implements AsyncDisposable {
  /** @internal */
  protected readonly driver: BackendDriver;
  private readonly sessions = new Set<Session>();
  private closed = false;

  /** @internal use etcd() or memory(). */
  constructor(driver: BackendDriver) {
    this.driver = driver;
  }

  /** "etcd", "memory", ... */
  get kind(): string {
    return this.driver.kind;
  }

  /** What values and TTLs this backend accepts (e.g. etcd: 1 MiB values, whole-second TTLs). */
  get limits(): BackendLimits {
    return this.driver.limits;
  }

  /** The monotonic clock this backend's deadlines run on. */
  get clock(): Clock {
    return this.driver.clock;
  }

  /** Opens a session: creates its liveness (on etcd, a lease) and starts renewing it. */
  async session(options: SessionOptions = {}): Promise<Session> {
    if (this.closed) throw new ClosedError(`${this.kind} backend`);
    const session = await Session.open(this.driver, options);
    this.sessions.add(session);
    session.once('lost', () => this.sessions.delete(session));
    return session;
  }

  /** Reads the current leader of an election without a session (nothing is created). */
  async leader(election: string): Promise<Leader | null> {
    const driver = this.driver.view(checkName(election));
    await this.driver.connect();
    return readLeader(election, driver);
  }

  /**
   * Streams an election's leader changes, "none" included, without a session; `kind: 'unknown'`
   * while cut off for longer than `staleAfter` (default: the backend's call timeout, e.g. 5 s).
   */
  async *observe(
    election: string,
    options: ObserveOptions = {},
  ): AsyncGenerator<LeaderChange, void, undefined> {
    const driver = this.driver.view(checkName(election));
    const staleAfter = checkStaleAfter(options.staleAfter ?? this.driver.callTimeout);
    await this.driver.connect();
    yield* observeWithLiveness(election, driver, this.driver.clock, staleAfter, options.signal);
  }

  /** Reads a plain key, e.g. one written by term.guard(). */
  get(key: string): Promise<string | undefined> {
    return this.driver.get(key);
  }

  /** Counters of backend events delivered to this client (used to measure herd effects). */
  stats(): BackendStats {
    return this.driver.stats();
  }

  /** Closes every session (ending its liveness), then the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.sessions].map((s) => s.close()));
    await this.driver.close();
  }

  /** Same as close(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
