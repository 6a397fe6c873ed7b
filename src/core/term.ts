import { BallotError, InternalError, NotLeaderError } from './errors.js';
import type { GuardBody, GuardResult, GuardReturn, KvTxn } from './guard.js';

/** Why a term ended. */
export type TermEndReason =
  /** This candidate resigned (or conceded). */
  | 'resigned'
  /** The backend reported the session's liveness gone. */
  | 'session-lost'
  /** No renewal was acknowledged before the session deadline: the liveness may have expired. */
  | 'unreachable'
  /** Someone else deleted the leader entry (an operator, another tool). */
  | 'key-deleted'
  /** This candidate handed leadership to another (election.transfer, elector.transferTo). */
  | 'transferred'
  /** The session or election was closed. */
  | 'closed';

/**
 * The abort reason of a term's signal: says why and when the term ended. It carries no stack: where
 * finish() ran says nothing its message does not, and capturing one cost about 0.1 ms on the way
 * from a resign to its delete.
 */
export class TermEndedError extends BallotError {
  /** Why the term ended. */
  readonly reason: TermEndReason;
  constructor(reason: TermEndReason, election: string, token: bigint) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super('NOT_LEADER', `term ${token} of election "${election}" ended: ${reason}`);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.reason = reason;
  }
}

/** What a Term needs from its owner: a deadline check and the backend guard. */
export interface TermHost<Tx> {
  /** Ends every term of the session if its deadline has passed. */
  checkDeadline(): void;
  /** Runs the body under the backend's guard for this term's entry. */
  guard(body: GuardBody<Tx>): Promise<GuardResult>;
}

/**
 * One stretch of leadership, with its fencing token and an AbortSignal that fires when it ends.
 * `Tx` is the backend's guard transaction (etcd: EtcdTxn; memory: MemoryTxn).
 */
export class Term<Tx = KvTxn> {
  /** Election name. */
  readonly election: string;
  /** Backend key of the leader entry. */
  readonly key: string;
  /** Fencing token: strictly increases across the terms of one election. */
  readonly token: bigint;
  /** Id of the session whose liveness keeps the entry alive (named `lease` since etcd came first). */
  readonly lease: string;
  /** When the term began, in monotonic milliseconds (process.hrtime on real time). */
  readonly startedAt: number;
  private currentValue: string;
  /** Made on first use of `signal`: a term nobody watches that way ends without an event dispatch. */
  private controller?: AbortController;
  private readonly host: TermHost<Tx>;
  private end?: { at: number; reason: TermEndReason };
  /** Made on first use, possibly after finish(): a resign's delete goes out before it is built. */
  private endError?: TermEndedError;
  /** whenEnded()'s callers while the term is current. */
  private waiters?: ((ended: TermEndedError) => void)[];
  /** @internal set by metrics: told each guard's outcome; one `if` per guard when absent. */
  probe?: (outcome: 'committed' | 'refused' | 'failed') => void;

  /** @internal created by Election when a campaign wins. */
  constructor(init: {
    election: string;
    key: string;
    token: bigint;
    lease: string;
    value: string;
    startedAt: number;
    host: TermHost<Tx>;
  }) {
    this.election = init.election;
    this.key = init.key;
    this.token = init.token;
    this.lease = init.lease;
    this.currentValue = init.value;
    this.startedAt = init.startedAt;
    this.host = init.host;
  }

  /** The leader's value (updated by proclaim). */
  get value(): string {
    return this.currentValue;
  }

  /**
   * Aborts the moment the term ends: its listeners run inside the step that ends it, before a
   * resign's delete is sent. Reading it first checks the session deadline.
   */
  get signal(): AbortSignal {
    this.host.checkDeadline();
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.end) this.controller.abort(this.endedError());
    }
    return this.controller.signal;
  }

  /** True while the term is current, checked against the session deadline at call time. */
  get active(): boolean {
    // The same answer as !signal.aborted (only finish() aborts it) without creating the signal,
    // which costs each held term most of a KB.
    this.host.checkDeadline();
    return this.end === undefined;
  }

  /** When and why the term ended, or undefined while it is current. */
  get ended(): { at: number; reason: TermEndReason } | undefined {
    this.host.checkDeadline();
    return this.end;
  }

  /**
   * Runs `body` as one backend operation that commits only while this term is current; the
   * backend decides what its `tx` is (etcd, memory: put/delete/get collected into one atomic
   * step). A guard called after the term ended (`signal` aborted, the session deadline included)
   * rejects with NotLeaderError and runs nothing, on every backend; so does one whose term ended
   * while an async body ran. A guard sent while the term was current may still be refused by the
   * backend, which decides, not this process: then it resolves `committed: false`. If the body
   * throws, nothing is sent and guard() rejects with that error. Keys inside an election's or
   * mutex's key space are refused with InvalidArgumentError (they would become entries).
   */
  async guard<T>(body: (tx: Tx) => T | Promise<T>): Promise<GuardResult<GuardReturn<T>>> {
    const probe = this.probe;
    const checked = async (tx: Tx) => {
      const returned = await body(tx);
      this.assertCurrent('not committed');
      return returned;
    };
    if (probe === undefined) {
      this.assertCurrent('not sent');
      return (await this.host.guard(checked)) as GuardResult<GuardReturn<T>>;
    }
    // The same steps, told to metrics; no extra promise, so metrics cost a guard next to nothing.
    try {
      this.assertCurrent('not sent');
      const outcome = await this.host.guard(checked);
      probe(outcome.committed ? 'committed' : 'refused');
      return outcome as GuardResult<GuardReturn<T>>;
    } catch (err) {
      probe('failed');
      throw err;
    }
  }

  private assertCurrent(what: string): void {
    this.host.checkDeadline();
    const end = this.end;
    if (!end) return;
    throw new NotLeaderError(
      `guard ${what}: term ${this.token} of election "${this.election}" already ended (${end.reason})`,
      { cause: this.endedError() },
    );
  }

  /** Resolves when the term ends (never rejects), in a microtask after the step that ended it. */
  whenEnded(): Promise<TermEndedError> {
    this.host.checkDeadline();
    if (this.end) return Promise.resolve(this.endedError());
    return new Promise((resolve) => (this.waiters ??= []).push(resolve));
  }

  private endedError(): TermEndedError {
    const end = this.end;
    if (!end) throw new InternalError('Term.endedError() before the term ended'); // callers check first
    this.endError ??= new TermEndedError(end.reason, this.election, this.token);
    return this.endError;
  }

  /** @internal */
  setValue(value: string): void {
    this.currentValue = value;
  }

  /** @internal ends the term once; `at` lets a deadline expiry be dated when it happened, not when noticed. */
  finish(reason: TermEndReason, at: number): void {
    if (this.end) return;
    this.end = { at, reason };
    this.controller?.abort(this.endedError());
    const waiters = this.waiters;
    if (!waiters) return;
    this.waiters = undefined;
    // Their promises would settle in a microtask anyway; building the error there too keeps it off
    // the synchronous path from a resign to its delete (readyResign writes it within that path).
    queueMicrotask(() => {
      const ended = this.endedError();
      for (const resolve of waiters) resolve(ended);
    });
  }
}
