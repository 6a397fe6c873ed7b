import type { Clock } from './clock.js';
import type {
  Candidacy,
  ElectionDriver,
  ElectionView,
  Entry,
  LeaderRecord,
  Unwatch,
  Won,
} from './contract.js';
import {
  BusyError,
  CampaignCancelledError,
  EntryDeletedError,
  InternalError,
  NotLeaderError,
  SessionLostError,
  TransferError,
} from './errors.js';
import type { GuardBody, GuardResult, KvTxn } from './guard.js';
import { Term, type TermEndReason, type TermHost } from './term.js';
import { checkStaleAfter, observeWithLiveness } from './liveness.js';
import { readParticipants, type Participant } from './participants.js';
import { checkValue, type NamedLimits } from './validate.js';
import {
  awaitLeader,
  pickTarget,
  refusal,
  transferTimeout,
  type TransferOptions,
  type TransferResult,
} from './transfer.js';
import {
  checkCandidateMeta,
  decodeCandidateValue,
  encodeCandidateValue,
  type Advertise,
  type CandidateMeta,
} from './candidate-value.js';

/** The current leader of an election. */
export interface Leader {
  kind: 'leader';
  election: string;
  /** The leader's value as it campaigned with it (without what it advertises). */
  value: string;
  /** Where the leader serves, if it advertised (see CandidateMeta); undefined otherwise. */
  advertise?: Advertise;
  /** The leader's priority, if it set one. */
  priority?: number;
  key: string;
  /** Fencing token of the leader's term. */
  token: bigint;
  /** Id of the session holding the entry (named `lease` since etcd came first); '' for a key no session keeps. */
  lease: string;
}

/** No candidate leads the election. */
export interface NoLeader {
  kind: 'none';
  election: string;
  value: null;
  key: null;
  token: null;
  lease: null;
}

/**
 * The observer has lost contact with the backend and can no longer vouch for any leader: nothing
 * (no change, no confirming read) arrived for its `staleAfter` bound. Once contact is back, the
 * observer reports the leader (or none) again, even if it did not change.
 */
export interface UnknownLeader {
  kind: 'unknown';
  election: string;
  value: null;
  key: null;
  token: null;
  lease: null;
  /** When the last confirmed view was taken, on the backend's monotonic clock (ms). */
  since: number;
}

/** One observed state of an election: a leader, none, or unknown (cut off from the backend). */
export type LeaderChange = Leader | NoLeader | UnknownLeader;

/** Options for observe(). */
export interface ObserveOptions {
  /** Ends the observation. */
  signal?: AbortSignal;
  /**
   * After this many ms without contact the observer yields `kind: 'unknown'`. Default: the
   * session's TTL for Election.observe(), the backend's call timeout for Backend.observe().
   */
  staleAfter?: number;
}

/** Options for campaign(). */
export interface CampaignOptions {
  /** Aborting it cancels the campaign and removes the entry. */
  signal?: AbortSignal;
  /** Where this candidate serves; stored with its value (see candidate-value.ts), kept by proclaim. */
  advertise?: Advertise;
  /** This candidate's priority, stored with its value; used by the elector's priority policy. */
  priority?: number;
}

/** What an Election needs from its Session. */
export interface SessionLink {
  readonly id: string;
  readonly ttl: number;
  readonly lost: AbortSignal;
  checkDeadline(): void;
  assertAlive(): void;
  /** Undefined while renewals are answered; else resolves once one is (see Session.whenFresh). */
  whenFresh(): Promise<void> | undefined;
}

/** No entry of ours exists (or it went with the session). */
interface Idle {
  kind: 'idle';
}

/**
 * A campaign() or tryCampaign() is running. `entry` is what exists on the backend for it right
 * now (a leftover being removed first, then the joined candidacy), so that a campaign that ends
 * without a term knows what to remove; `gone` records that the entry was deleted before the term
 * could start.
 */
interface Campaigning {
  kind: 'campaigning';
  controller: AbortController;
  done: Promise<unknown>;
  entry?: Candidacy | Entry;
  gone: boolean;
}

/** This session leads with `entry`; `term` is current until it ends. */
interface Leading<Tx> {
  kind: 'leading';
  joined: Candidacy;
  entry: Entry;
  term: Term<Tx>;
  unwatch: Unwatch;
  /** When a transfer's step was sent (monotonic ms), while it runs: the term ends dated then if it commits. */
  transferSentAt?: number;
}

/**
 * An entry that must go before anything else: a resigned term's (its delete is in flight or
 * failed) or a failed campaign's. resign() retries the delete; a new campaign finishes it first,
 * so it never resumes a resigned entry (its term would reuse the resigned term's token).
 */
interface Releasing {
  kind: 'releasing';
  entry: Candidacy | Entry;
}

type ElectionState<Tx> = Idle | Campaigning | Leading<Tx> | Releasing;

const IDLE: Idle = { kind: 'idle' };

/**
 * One election seen from one session: campaign for it, hold a term, resign, observe.
 * Methods are safe to call concurrently; a second concurrent campaign() is rejected with BUSY.
 * `Tx` is the backend's guard transaction, handed to term.guard()'s body.
 */
export class Election<Tx = KvTxn> {
  /** Election name. */
  readonly name: string;
  private readonly session: SessionLink;
  private readonly driver: ElectionDriver<Tx>;
  private readonly clock: Clock;
  private readonly limits: NamedLimits;
  private state: ElectionState<Tx> = IDLE;
  /** What the current or last campaign published with its value; proclaim keeps it. */
  private meta: CandidateMeta = {};

  /** @internal use session.election(name). */
  constructor(
    name: string,
    session: SessionLink,
    driver: ElectionDriver<Tx>,
    clock: Clock,
    limits: NamedLimits,
  ) {
    this.name = name;
    this.session = session;
    this.driver = driver;
    this.clock = clock;
    this.limits = limits;
  }

  /** The current term, if this session leads the election. */
  get currentTerm(): Term<Tx> | undefined {
    const state = this.state;
    // Reading `active` checks the session deadline, which may end the term (and change the state).
    return state.kind === 'leading' && state.term.active ? state.term : undefined;
  }

  /** True if this session leads, checked against the session deadline now. */
  isLeader(): boolean {
    return this.currentTerm !== undefined;
  }

  /**
   * Joins the election and resolves with a Term once this candidate leads. Waits behind older
   * candidates in creation order. Rejects with SessionLostError if the session ends first, with
   * CampaignCancelledError if the signal aborts; either way the entry is removed.
   */
  async campaign(value: string, options: CampaignOptions = {}): Promise<Term<Tx>> {
    checkValue(value, this.limits);
    const meta = checkCandidateMeta({ advertise: options.advertise, priority: options.priority });
    const stored = encodeCandidateValue(value, meta);
    checkValue(stored, this.limits, 'campaign value with what it advertises');
    this.session.assertAlive();
    const current = this.currentTerm;
    if (current) return current;
    if (options.signal?.aborted) throw new CampaignCancelledError();
    return this.exclusive((run) => {
      this.meta = meta;
      return this.runCampaign(stored, run, options.signal);
    });
  }

  /**
   * Leads at once if nobody is ahead, else leaves the queue and resolves to null. Never waits.
   * Used by Mutex.tryLock().
   */
  async tryCampaign(value: string): Promise<Term<Tx> | null> {
    checkValue(value, this.limits);
    const stored = encodeCandidateValue(value);
    checkValue(stored, this.limits);
    this.session.assertAlive();
    const current = this.currentTerm;
    if (current) return current;
    return this.exclusive((run) => {
      this.meta = {};
      return this.runTry(stored, run);
    });
  }

  /**
   * Changes the leader's value, guarded by the term's token. Throws NOT_LEADER without a current term
   * or once the entry is gone. Never resent after an ambiguous failure: UNAVAILABLE whose message
   * says "outcome unknown" means the value may or may not be set (the term goes on; read the leader
   * or proclaim again), never a definite refusal.
   */
  async proclaim(value: string): Promise<void> {
    checkValue(value, this.limits, 'proclaim value');
    const term = this.currentTerm;
    const leading = this.state;
    if (!term || leading.kind !== 'leading')
      throw new NotLeaderError(`cannot proclaim in "${this.name}": not the leader`);
    const stored = encodeCandidateValue(value, this.meta);
    checkValue(stored, this.limits, 'proclaim value with what it advertises');
    if (!(await this.driver.proclaim(leading.entry, stored))) {
      this.entryGone(leading.joined);
      throw new NotLeaderError(`cannot proclaim in "${this.name}": the leader entry was deleted`);
    }
    term.setValue(value);
  }

  /**
   * Ends the term (its signal aborts before anything is sent) and deletes the entry, or cancels a
   * running campaign. If the backend call fails, the entry is kept and resign() can be retried.
   */
  async resign(): Promise<void> {
    const running = this.state;
    if (running.kind === 'campaigning') {
      running.controller.abort(new CampaignCancelledError('campaign cancelled by resign()'));
      await running.done;
    }
    const state = this.state;
    if (state.kind === 'leading') {
      state.term.finish('resigned', this.clock.now());
      state.unwatch();
      this.state = { kind: 'releasing', entry: state.entry };
    }
    const releasing = this.state;
    if (releasing.kind !== 'releasing') return;
    await this.driver.remove(releasing.entry);
    if (this.state === releasing) this.state = IDLE;
  }

  /**
   * Hands leadership to the waiting candidate whose value is `candidate` (or whose entry key it is),
   * in one atomic backend step (see TRANSFER in contract.ts), then resolves once that candidate is
   * the observed leader. The term stays current until the step commits and ends with reason
   * 'transferred', dated when the step was sent; this election is then idle (a LeaderElector
   * campaigns again, at the back). Candidates between this leader and the target lose their entries
   * and queue again at the back. Rejects with TransferError: 'not-leader' or 'candidate-not-found'
   * (also when the target left before the step) with leadership unchanged; 'timeout' when the step
   * committed but the target did not lead within `timeout` (this candidate's term has ended).
   */
  async transfer(candidate: string, options: TransferOptions = {}): Promise<TransferResult> {
    const timeout = transferTimeout(options);
    const deadline = this.clock.now() + timeout;
    const leading = this.leadingNow();
    const line = await this.participants();
    if (this.state !== leading || !leading.term.active)
      throw this.notLeader('lost leadership while reading the line');
    const target = pickTarget(this.name, line, leading.entry.key, candidate);
    if (leading.transferSentAt !== undefined)
      throw new TransferError('not-leader', `a transfer of "${this.name}" is already running`);
    const from = leading.entry.token;
    leading.transferSentAt = this.clock.now();
    let outcome;
    try {
      outcome = await this.driver.transfer(leading.entry, target, line);
    } finally {
      if (outcome === 'transferred') this.transferred(leading);
      else if (this.state === leading) leading.transferSentAt = undefined;
    }
    if (outcome !== 'transferred') throw refusal(this.name, candidate, outcome);
    const to = await awaitLeader(this.name, this.driver, this.clock, target, deadline, candidate);
    return { from, to };
  }

  /** Reads the current leader, or null when there is none. */
  leader(): Promise<Leader | null> {
    return readLeader(this.name, this.driver);
  }

  /** Reads the election's line: the leader first, then the waiting candidates in order ([] for none). */
  participants(): Promise<Participant[]> {
    return readParticipants(this.name, this.driver);
  }

  /**
   * Yields the leader now and at every change, including `kind: 'none'`, and `kind: 'unknown'`
   * while cut off from the backend for longer than `staleAfter` (default: the session TTL).
   * Ends when the signal aborts.
   */
  observe(options: ObserveOptions = {}): AsyncGenerator<LeaderChange, void, undefined> {
    const staleAfter = checkStaleAfter(options.staleAfter ?? this.session.ttl * 1000);
    return observeWithLiveness(this.name, this.driver, this.clock, staleAfter, options.signal);
  }

  /** @internal called by Session when it is lost or closed: the session's entries went with it. */
  sessionEnded(reason: TermEndReason, at: number, error: SessionLostError): void {
    const state = this.state;
    this.state = IDLE;
    if (state.kind === 'leading') {
      state.term.finish(reason, at);
      state.unwatch();
    } else if (state.kind === 'campaigning') {
      state.controller.abort(error);
    }
  }

  /** @internal resolves once no campaign is running. */
  async settle(): Promise<void> {
    const state = this.state;
    if (state.kind === 'campaigning') await state.done;
  }

  /**
   * Runs one campaign at a time: the slot is taken synchronously, before any await, so a second
   * concurrent campaign() or tryCampaign() is rejected BUSY instead of sharing this entry. An entry
   * left to release is removed first. However the campaign ends, the state leaves 'campaigning':
   * to 'leading' (set by startTerm), else to 'releasing' if an entry is left, else to 'idle'.
   */
  private async exclusive<T>(body: (run: Campaigning) => Promise<T>): Promise<T> {
    const before = this.state;
    if (before.kind === 'campaigning')
      throw new BusyError(`a campaign for "${this.name}" is already running`);
    const run: Campaigning = {
      kind: 'campaigning',
      controller: new AbortController(),
      done: Promise.resolve(),
      gone: false,
    };
    if (before.kind === 'releasing') run.entry = before.entry;
    this.state = run;
    const result = (async () => {
      if (run.entry) {
        await this.driver.remove(run.entry);
        run.entry = undefined;
      }
      return body(run);
    })();
    run.done = result.catch(() => undefined);
    try {
      return await result;
    } finally {
      if (this.state === run) this.state = run.entry ? { kind: 'releasing', entry: run.entry } : IDLE;
    }
  }

  private async runTry(value: string, run: Campaigning): Promise<Term<Tx> | null> {
    const c = await this.driver.join(value);
    run.entry = c;
    let won: Won | null;
    try {
      won = await this.driver.tryLead(c, () => this.entryGone(c));
    } catch (err) {
      throw await this.failCampaign(err, this.session.lost, undefined, run);
    }
    if (!won) {
      await this.driver.remove(c);
      run.entry = undefined;
      return null;
    }
    try {
      const stale = this.confirmFresh(won, this.session.lost);
      if (stale) await stale;
    } catch (err) {
      throw await this.failCampaign(err, this.session.lost, undefined, run);
    }
    return this.startTerm(run, c, won, value);
  }

  private async runCampaign(value: string, run: Campaigning, user?: AbortSignal): Promise<Term<Tx>> {
    // The session's loss aborts run.controller (sessionEnded), so only a user signal needs combining:
    // AbortSignal.any costs each campaign a signal and a weak reference held by session.lost.
    const signal = user ? AbortSignal.any([run.controller.signal, user]) : run.controller.signal;
    try {
      const c = await this.driver.join(value);
      run.entry = c;
      signal.throwIfAborted();
      const won = await this.driver.lead(c, signal, () => this.entryGone(c));
      this.session.checkDeadline();
      if (signal.aborted) {
        won.unwatch();
        signal.throwIfAborted();
      }
      // No await unless the session is stale: a handover pays for no extra tick.
      const stale = this.confirmFresh(won, signal);
      if (stale) await stale;
      return this.startTerm(run, c, won, value);
    } catch (err) {
      throw await this.failCampaign(err, signal, user, run);
    }
  }

  /**
   * Undefined while the session's renewals are answered. After a stall (its last acknowledged
   * renewal older than TTL/2) a promise that waits for a fresh one, so that no term begins that its
   * session could not keep; it rejects if the session is lost or `signal` aborts first, and the
   * watch is then stopped.
   */
  private confirmFresh(won: Won, signal: AbortSignal): Promise<void> | undefined {
    let fresh: Promise<void> | undefined;
    try {
      fresh = this.session.whenFresh();
    } catch (err) {
      won.unwatch();
      throw err;
    }
    if (!fresh) return undefined;
    return untilAborted(fresh, signal).catch((err: unknown) => {
      won.unwatch();
      throw err;
    });
  }

  private startTerm(run: Campaigning, joined: Candidacy, won: Won, value: string): Term<Tx> {
    const entry: Entry = { key: won.key, token: won.token, liveness: won.liveness };
    if (run.gone || this.state !== run) {
      // Deleted (or the session ended) between winning and now: no term may start on it.
      won.unwatch();
      run.entry = undefined;
      throw this.state === run ? new EntryDeletedError(entry.key) : this.session.lost.reason;
    }
    run.entry = entry;
    const term = new Term<Tx>({
      election: this.name,
      key: entry.key,
      token: entry.token,
      lease: entry.liveness,
      value: decodeCandidateValue(value).value,
      startedAt: this.clock.now(),
      host: new TermLink(this.session, this.driver, entry),
    });
    this.state = { kind: 'leading', joined, entry, term, unwatch: won.unwatch };
    return term;
  }

  /** Cleans up after a campaign that did not win and returns the error to reject with. */
  private async failCampaign(
    err: unknown,
    signal: AbortSignal,
    user: AbortSignal | undefined,
    run: Campaigning,
  ): Promise<unknown> {
    const lost = this.session.lost;
    const error = lost.aborted
      ? lost.reason
      : user?.aborted
        ? new CampaignCancelledError()
        : signal.aborted
          ? signal.reason
          : err;
    const entry = run.entry;
    if (entry && this.state === run && !lost.aborted) {
      // A failed or cancelled campaign must not leave its entry behind (unlike some recipes').
      // If the delete itself fails, the entry is left to release: resign() or close() removes it.
      try {
        await this.driver.remove(entry);
        run.entry = undefined;
      } catch {
        /* left to release */
      }
    }
    return error instanceof Error
      ? error
      : new InternalError(`campaign failed with a non-Error: ${String(error)}`, { cause: error });
  }

  private leadingNow(): Leading<Tx> {
    const state = this.state;
    if (state.kind === 'leading' && state.term.active) return state;
    throw this.notLeader('this session does not lead it');
  }

  private notLeader(why: string): TransferError {
    return new TransferError('not-leader', `cannot transfer "${this.name}": ${why}`);
  }

  /** A transfer's step committed (or its entry vanished while the step was in flight): the term ends. */
  private transferred(leading: Leading<Tx>): void {
    if (this.state !== leading) return;
    this.state = IDLE;
    leading.unwatch();
    leading.term.finish('transferred', leading.transferSentAt ?? this.clock.now());
  }

  /** The backend reports the entry joined as `c` deleted by someone else. */
  private entryGone(c: Candidacy): void {
    this.session.checkDeadline();
    const state = this.state;
    if (state.kind === 'campaigning' && state.entry === c) {
      state.gone = true;
    } else if (state.kind === 'leading' && state.joined === c) {
      if (state.transferSentAt !== undefined) return this.transferred(state);
      this.state = IDLE;
      state.unwatch();
      state.term.finish('key-deleted', this.clock.now());
    }
  }
}

/** What a term calls back: its session's deadline check and the guard on its entry. A class, so a held term carries no closures. */
class TermLink<Tx> implements TermHost<Tx> {
  constructor(
    private readonly session: SessionLink,
    private readonly driver: ElectionDriver<Tx>,
    private readonly entry: Entry,
  ) {}

  checkDeadline(): void {
    this.session.checkDeadline();
  }

  guard(body: GuardBody<Tx>): Promise<GuardResult> {
    return this.driver.guard(this.entry, body);
  }
}

/** Settles like `promise`, or rejects with the signal's reason once it aborts, whichever is first. */
function untilAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as unknown);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as unknown);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Reads the leader of `name` through a driver; shared by Election and the session-less Backend view. */
export async function readLeader(name: string, driver: ElectionView): Promise<Leader | null> {
  const record = await driver.leader();
  return record ? toLeader(name, record) : null;
}

/** A backend's leader record as the public Leader. */
export function toLeader(election: string, record: LeaderRecord): Leader {
  const { key, token, liveness } = record;
  return { kind: 'leader', election, key, token, lease: liveness, ...decodeCandidateValue(record.value) };
}
