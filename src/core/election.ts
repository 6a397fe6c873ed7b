import type { Clock } from './clock.js';
import type { Candidacy, ElectionDriver, LeaderRecord, Unwatch } from './contract.js';
import {
  BallotError,
  BusyError,
  CampaignCancelledError,
  NotLeaderError,
  SessionLostError,
} from './errors.js';
import { Term, type TermEndReason } from './term.js';
import { checkStaleAfter, observeWithLiveness } from './liveness.js';
import { readParticipants, type Participant } from './participants.js';
import { checkValue } from './validate.js';

/** The current leader of an election. */
export interface Leader {
  kind: 'leader';
  election: string;
  value: string;
  key: string;
  /** Fencing token of the leader's term. */
  token: bigint;
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
}

/** What an Election needs from its Session. */
export interface SessionLink {
  readonly id: string;
  readonly ttl: number;
  readonly lost: AbortSignal;
  checkDeadline(): void;
  assertAlive(): void;
}

/**
 * One election seen from one session: campaign for it, hold a term, resign, observe.
 * Methods are safe to call concurrently; a second concurrent campaign() is rejected with BUSY.
 */
export class Election {
  /** Election name. */
  readonly name: string;
  private readonly session: SessionLink;
  private readonly driver: ElectionDriver;
  private readonly clock: Clock;
  private candidacy?: Candidacy;
  private term?: Term;
  private unwatch?: Unwatch;
  private campaigning?: { controller: AbortController; done: Promise<unknown> };

  /** @internal use session.election(name). */
  constructor(name: string, session: SessionLink, driver: ElectionDriver, clock: Clock) {
    this.name = name;
    this.session = session;
    this.driver = driver;
    this.clock = clock;
  }

  /** The current term, if this session leads the election. */
  get currentTerm(): Term | undefined {
    return this.term?.active ? this.term : undefined;
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
  async campaign(value: string, options: CampaignOptions = {}): Promise<Term> {
    checkValue(value);
    this.session.assertAlive();
    if (this.term?.active) return this.term;
    if (options.signal?.aborted) throw new CampaignCancelledError();
    return this.exclusive((controller) => this.runCampaign(value, controller, options.signal));
  }

  /**
   * Leads at once if nobody is ahead, else leaves the queue and resolves to null. Never waits.
   * Used by Mutex.tryLock().
   */
  async tryCampaign(value: string): Promise<Term | null> {
    checkValue(value);
    this.session.assertAlive();
    if (this.term?.active) return this.term;
    return this.exclusive(() => this.runTry(value));
  }

  /** Changes the leader's value, guarded by the term's token. Throws NOT_LEADER without a current term. */
  async proclaim(value: string): Promise<void> {
    checkValue(value, 'proclaim value');
    const term = this.currentTerm;
    const c = this.candidacy;
    if (!term || !c) throw new NotLeaderError(`cannot proclaim in "${this.name}": not the leader`);
    if (!(await this.driver.proclaim(c, value))) {
      this.entryGone(c);
      throw new NotLeaderError(`cannot proclaim in "${this.name}": the leader entry was deleted`);
    }
    term.setValue(value);
  }

  /**
   * Ends the term (its signal aborts before anything is sent) and deletes the entry, or cancels a
   * running campaign. If the backend call fails, the entry is kept and resign() can be retried.
   */
  async resign(): Promise<void> {
    const running = this.campaigning;
    if (running) {
      running.controller.abort(new CampaignCancelledError('campaign cancelled by resign()'));
      await running.done;
    }
    const c = this.candidacy;
    if (!c) return;
    this.term?.finish('resigned', this.clock.now());
    await this.driver.remove(c);
    if (this.candidacy === c) this.forget();
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

  /** @internal called by Session when it is lost or closed. */
  sessionEnded(reason: TermEndReason, at: number, error: SessionLostError): void {
    this.term?.finish(reason, at);
    this.campaigning?.controller.abort(error);
    this.forget();
  }

  /** @internal resolves once no campaign is running. */
  async settle(): Promise<void> {
    await this.campaigning?.done;
  }

  /**
   * Runs one campaign at a time: the slot is taken synchronously, before any await, so a second
   * concurrent campaign() or tryCampaign() is rejected BUSY instead of sharing this entry.
   */
  private async exclusive<T>(body: (controller: AbortController) => Promise<T>): Promise<T> {
    if (this.campaigning) throw new BusyError(`a campaign for "${this.name}" is already running`);
    const controller = new AbortController();
    const run = (async () => {
      await this.dropResignedEntry();
      return body(controller);
    })();
    this.campaigning = { controller, done: run.catch(() => undefined) };
    try {
      return await run;
    } finally {
      if (this.campaigning?.controller === controller) this.campaigning = undefined;
    }
  }

  private async runTry(value: string): Promise<Term | null> {
    const c = await this.driver.join(value);
    this.candidacy = c;
    let unwatch: Unwatch | null;
    try {
      unwatch = await this.driver.tryLead(c, () => this.entryGone(c));
    } catch (err) {
      throw await this.failCampaign(err, this.session.lost, undefined, c);
    }
    if (!unwatch) {
      await this.driver.remove(c);
      if (this.candidacy === c) this.forget();
      return null;
    }
    return this.startTerm(c, value, unwatch);
  }

  private async runCampaign(value: string, controller: AbortController, user?: AbortSignal): Promise<Term> {
    const signal = AbortSignal.any(
      user ? [controller.signal, this.session.lost, user] : [controller.signal, this.session.lost],
    );
    let c: Candidacy | undefined;
    try {
      c = await this.driver.join(value);
      this.candidacy = c;
      signal.throwIfAborted();
      const joined = c;
      const unwatch = await this.driver.lead(joined, signal, () => this.entryGone(joined));
      this.session.checkDeadline();
      if (signal.aborted) {
        unwatch();
        signal.throwIfAborted();
      }
      return this.startTerm(joined, value, unwatch);
    } catch (err) {
      throw await this.failCampaign(err, signal, user, c);
    }
  }

  /**
   * A resign whose delete failed keeps its entry so it can be retried. A new campaign must not
   * resume that entry: its term would reuse the resigned term's token. Finish the delete first.
   */
  private async dropResignedEntry(): Promise<void> {
    const stale = this.candidacy;
    if (!stale || !this.term || this.term.token !== stale.token || this.term.active) return;
    await this.driver.remove(stale);
    if (this.candidacy === stale) this.forget();
  }

  private startTerm(c: Candidacy, value: string, unwatch: Unwatch): Term {
    this.unwatch = unwatch;
    const term = new Term({
      election: this.name,
      key: c.key,
      token: c.token,
      lease: c.lease,
      value,
      startedAt: this.clock.now(),
      host: {
        checkDeadline: () => this.session.checkDeadline(),
        guard: (builder) => this.driver.guard(c, builder.ops),
      },
    });
    this.term = term;
    return term;
  }

  /** Cleans up after a campaign that did not win and returns the error to reject with. */
  private async failCampaign(
    err: unknown,
    signal: AbortSignal,
    user: AbortSignal | undefined,
    c: Candidacy | undefined,
  ): Promise<unknown> {
    const lost = this.session.lost;
    const error = lost.aborted
      ? lost.reason
      : user?.aborted
        ? new CampaignCancelledError()
        : signal.aborted
          ? signal.reason
          : err;
    if (c && this.candidacy === c && !lost.aborted) {
      // A failed or cancelled campaign must not leave its entry behind (unlike Go's, etcd #21128).
      // If the delete itself fails, the entry stays known so resign() or close() can remove it.
      try {
        await this.driver.remove(c);
        if (this.candidacy === c) this.forget();
      } catch {
        /* kept for a later resign() */
      }
    }
    return error instanceof BallotError || error instanceof Error ? error : new Error(String(error));
  }

  private entryGone(c: Candidacy): void {
    this.session.checkDeadline();
    if (this.candidacy !== c) return;
    this.term?.finish('key-deleted', this.clock.now());
    this.forget();
  }

  private forget(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.candidacy = undefined;
  }
}

/** Reads the leader of `name` through a driver; shared by Election and the session-less Backend view. */
export async function readLeader(name: string, driver: ElectionDriver): Promise<Leader | null> {
  const record = await driver.leader();
  return record ? toLeader(name, record) : null;
}

function toLeader(election: string, record: LeaderRecord): Leader {
  return { kind: 'leader', election, ...record };
}
