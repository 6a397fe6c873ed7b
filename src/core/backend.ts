import type { Clock } from './clock.js';
import { EventEmitter } from 'node:events';
import type { BackendDriver, BackendLimits, BackendStats, BackendWarning } from './contract.js';
import { readLeader, type Leader, type LeaderChange, type ObserveOptions } from './election.js';
import { ClosedError, InvalidArgumentError } from './errors.js';
import type { KvTxn } from './guard.js';
import { checkStaleAfter, observeWithLiveness } from './liveness.js';
import {
  deposeLeader,
  readParticipants,
  type DeposeOptions,
  type DeposeResult,
  type Participant,
} from './participants.js';
import { checkName } from './validate.js';
import { transferAsOperator, type BackendTransferOptions, type TransferResult } from './transfer.js';
import { Session, type SessionOptions } from './session.js';

/**
 * Events a Backend emits. Listeners run synchronously inside the backend's own callbacks; a
 * listener that throws is an uncaught exception.
 */
export interface BackendEvents {
  /**
   * A condition worth acting on that is not the error of any one call (see BackendWarning).
   * Without a listener, each code is emitted once per backend as a process warning
   * (code BALLOT_WARNING).
   */
  warning: [BackendWarning];
}

/**
 * A connection to one coordination service; opens sessions. Create it with etcd() or memory().
 * `Tx` is what its guards hand the body of term.guard() (etcd: EtcdTxn; memory: MemoryTxn).
 */
export class Backend<Tx = KvTxn> extends EventEmitter<BackendEvents> implements AsyncDisposable {
  /** @internal */
  protected readonly driver: BackendDriver<Tx>;
  private readonly sessions = new Set<Session<Tx>>();
  private closed = false;
  /** Warning codes already emitted as process warnings, so that nobody listening is told once. */
  private readonly warned = new Set<string>();

  /** @internal use etcd() or memory(). */
  constructor(driver: BackendDriver<Tx>) {
    super();
    this.driver = driver;
    driver.onWarning?.((warning) => this.warn(warning));
  }

  private warn(warning: BackendWarning): void {
    if (this.listenerCount('warning') > 0) {
      this.emit('warning', warning);
      return;
    }
    if (warning.quiet || this.warned.has(warning.code)) return;
    this.warned.add(warning.code);
    process.emitWarning(`ballot ${this.kind}: ${warning.message}`, { code: 'BALLOT_WARNING' });
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
  async session(options: SessionOptions = {}): Promise<Session<Tx>> {
    if (this.closed) throw new ClosedError(`${this.kind} backend`);
    const session = await Session.open(this.driver, options);
    // close() ran while it opened: it did not see this session, so nothing else would end it.
    if (this.closed) {
      await session.close();
      throw new ClosedError(`${this.kind} backend`);
    }
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

  /**
   * Reads an election's line without a session: the leader first, then the waiting candidates in
   * the order they will lead, each with its value, token and lease seconds left. [] when nobody campaigns.
   */
  async participants(election: string): Promise<Participant[]> {
    const driver = this.driver.view(checkName(election));
    await this.driver.connect();
    return readParticipants(election, driver);
  }

  /**
   * The operator's lever: makes the current leader step down by deleting its entry, guarded by its
   * token so that a newer leader is never removed. The next candidate takes over, and the old
   * leader's term ends with reason 'key-deleted'. With `token`, only the leader holding it is deposed.
   */
  async depose(election: string, options: DeposeOptions = {}): Promise<DeposeResult> {
    const { token } = options;
    if (token !== undefined && typeof token !== 'bigint')
      throw new InvalidArgumentError(`depose token must be a bigint (e.g. term.token), got ${typeof token}`);
    const driver = this.driver.view(checkName(election));
    await this.driver.connect();
    return deposeLeader(election, driver, token);
  }

  /**
   * The operator's transfer (`ballot transfer`): hands the leadership of `election` to the waiting
   * candidate whose value is `options.to`, in one atomic step guarded by the leader's token as read
   * (see depose), then resolves once that candidate leads. The old leader's term ends with reason
   * 'key-deleted' (it learns of it by its watch) and a LeaderElector queues again at the back.
   * Rejects with TransferError (code TRANSFER_FAILED) as Election.transfer does.
   */
  async transfer(election: string, options: BackendTransferOptions): Promise<TransferResult> {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError("transfer needs options with the target: { to: 'node-2' }");
    const driver = this.driver.view(checkName(election));
    await this.driver.connect();
    return transferAsOperator(election, driver, this.driver.clock, options);
  }

  /**
   * Names of the elections (and mutexes) whose name starts with `prefix` and that have at least one
   * candidate, sorted. The prefix is plain text: "team" lists "team", "team/sub" and "teams".
   * Names no election could have (e.g. a foreign key with a control character) are left out.
   */
  async elections(prefix = ''): Promise<string[]> {
    if (typeof prefix !== 'string')
      throw new InvalidArgumentError(`election prefix must be a string, got ${typeof prefix}`);
    await this.driver.connect();
    const names: string[] = [];
    for await (const name of this.driver.elections(prefix)) if (isName(name)) names.push(name);
    return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
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

/** Whether ballot accepts `name`: a key written by another tool may start with one it refuses. */
function isName(name: string): boolean {
  try {
    checkName(name);
    return true;
  } catch {
    return false;
  }
}
