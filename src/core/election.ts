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
  BallotError,
  BusyError,
  CampaignCancelledError,
  NotLeaderError,
  SessionLostError,
} from './errors.js';
import { Term, type TermEndReason } from './term.js';
import { checkStaleAfter, observeWithLiveness } from './liveness.js';
import { checkValue, type NamedLimits } from './validate.js';

/** The current leader of an election. */
export interface Leader {
  kind: 'leader';
  election: string;
  value: string;
  key: string;
  /** Fencing token of the leader's term. */
  token: bigint;
  /** Id of the session holding the entry (named `lease` since etcd came first). */
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
  private readonly limits: NamedLimits;
  private candidacy?: Candidacy;
  /** The entry as won, while `candidacy` leads or its resign has not been confirmed. */
  private entry?: Entry;
  private term?: Term;
  private unwatch?: Unwatch;
  private campaigning?: { controller: AbortController; done: Promise<unknown> };

  /** @internal use session.election(name). */
  constructor(name: string, session: SessionLink, driver: ElectionDriver, clock: Clock, limits: NamedLimits) {
    this.name = name;
    this.session = session;
    this.driver = driver;
    this.clock = clock;
    this.limits = limits;
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
    checkValue(value, this.limits);
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
    checkValue(value, this.limits);
    this.session.assertAlive();
    if (this.term?.active) return this.term;
    return this.exclusive(() => this.runTry(value));
  }

  /** Changes the leader's value, guarded by the term's token. Throws NOT_LEADER without a current term. */
  async proclaim(value: string): Promise<void> {
    checkValue(value, this.limits, 'proclaim value');
    const term = this.currentTerm;
    const c = this.candidacy;
    const entry = this.entry;
    if (!term || !c || !entry) throw new NotLeaderError(`cannot proclaim in "${this.name}": not the leader`);
    if (!(await this.driver.proclaim(entry, value))) {
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
    await this.driver.remove(this.entry ?? c);
    if (this.candidacy === c) this.forget();
  }

  /** Reads the current leader, or null when there is none. */
  leader(): Promise<Leader | null> {
    return readLeader(this.name, this.driver);
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
    let won: Won | null;
    try {
      won = await this.driver.tryLead(c, () => this.entryGone(c));
    } catch (err) {
      throw await this.failCampaign(err, this.session.lost, undefined, c);
    }
    if (!won) {
      await this.driver.remove(c);
      if (this.candidacy === c) this.forget();
      return null;
    }
    return this.startTerm(c, won, value);
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
      const won = await this.driver.lead(joined, signal, () => this.entryGone(joined));
      this.session.checkDeadline();
      if (signal.aborted) {
        won.unwatch();
        signal.throwIfAborted();
      }
      return this.startTerm(joined, won, value);
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
    const entry = this.entry;
    if (!stale || !entry || !this.term || this.term.token !== entry.token || this.term.active) return;
    await this.driver.remove(entry);
    if (this.candidacy === stale) this.forget();
  }

  private startTerm(c: Candidacy, won: Won, value: string): Term {
    const entry: Entry = { key: won.key, token: won.token, liveness: won.liveness };
    this.unwatch = won.unwatch;
    if (this.candidacy === c) this.entry = entry;
    const term = new Term({
      election: this.name,
      key: entry.key,
      token: entry.token,
      lease: entry.liveness,
      value,
      startedAt: this.clock.now(),
      host: {
        checkDeadline: () => this.session.checkDeadline(),
        guard: (builder) => this.driver.guard(entry, builder.ops),
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
      // A failed or cancelled campaign must not leave its entry behind (unlike some recipes').
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
    this.entry = undefined;
  }
}

/** Reads the leader of `name` through a driver; shared by Election and the session-less Backend view. */
export async function readLeader(name: string, driver: ElectionView): Promise<Leader | null> {
  const record = await driver.leader();
  return record ? toLeader(name, record) : null;
}

/** A backend's leader record as the public Leader. */
export function toLeader(election: string, record: LeaderRecord): Leader {
  const { key, value, token, liveness } = record;
  return { kind: 'leader', election, key, value, token, lease: liveness };
}
