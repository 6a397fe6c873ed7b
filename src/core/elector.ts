import { EventEmitter } from 'node:events';
import type { Backend } from './backend.js';
import type { Election, LeaderChange } from './election.js';
import { sleep } from './clock.js';
import { CampaignCancelledError, FlappingError } from './errors.js';
import type { Session } from './session.js';
import type { Term, TermEndReason } from './term.js';
import { checkMillis, checkName, checkValue } from './validate.js';

/** Options of a LeaderElector. */
export interface LeaderElectorOptions {
  /** Where to campaign: etcd(...) or memory(). */
  backend: Backend;
  /** Election name. */
  election: string;
  /** This candidate's value (e.g. its address); observers see it while it leads. */
  value: string;
  /** Session TTL in seconds (default 10). */
  ttl?: number;
  /** Deadline safety margin in ms (see SessionOptions.margin). */
  margin?: number;
  /** Retry delays after a failed campaign, in ms (default 100 doubling to 5000). */
  backoff?: { initial?: number; max?: number };
  /** Stop after more than maxTerms terms within windowMs (default 10 in 60 s); false disables. */
  flapGuard?: { maxTerms: number; windowMs: number } | false;
}

/** Events of a LeaderElector. Listeners run synchronously on the event loop, in registration order. */
export interface LeaderElectorEvents {
  /** This candidate became leader. */
  elected: [Term];
  /** This candidate's term ended; the reason says why. */
  deposed: [Term, TermEndReason];
  /** The election's leader changed (any candidate, or none). */
  leader: [LeaderChange];
  /** A campaign failed and will be retried after `delayMs`. */
  retrying: [Error, number];
  /** The elector gave up (flap guard) and stopped. */
  error: [Error];
}

/**
 * The high-level loop: campaigns, holds the term, re-campaigns after any loss with backoff,
 * and reports everything as events. `isLeader()` is computed against the session deadline at
 * call time, never read from a stale flag.
 */
export class LeaderElector extends EventEmitter<LeaderElectorEvents> implements AsyncDisposable {
  /** Election name. */
  readonly election: string;
  private readonly options: LeaderElectorOptions;
  private readonly stopController = new AbortController();
  private readonly termStarts: number[] = [];
  private readonly waiters = new Set<() => void>();
  private session?: Session;
  private current?: Term;
  private observing?: AbortController;
  private conceding = false;
  private readonly loop: Promise<void>;
  private failure?: Error;

  constructor(options: LeaderElectorOptions) {
    super();
    this.election = checkName(options.election);
    checkValue(options.value);
    if (options.backoff?.initial !== undefined) checkMillis(options.backoff.initial, 'backoff.initial');
    if (options.backoff?.max !== undefined) checkMillis(options.backoff.max, 'backoff.max');
    this.options = options;
    // Deferred one tick so that listeners attached right after construction see every event.
    this.loop = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.run());
  }

  /** True while this candidate holds a current term (checked against the deadline now). */
  isLeader(): boolean {
    return this.current?.active ?? false;
  }

  /** The session the elector campaigns on now (it opens a new one after a loss). */
  get currentSession(): Session | undefined {
    return this.session;
  }

  /** The current term, if leading. */
  get term(): Term | undefined {
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

  /** Yields each term as it is won, until the elector stops. Throws FlappingError if the flap guard tripped. */
  async *terms(): AsyncGenerator<Term, void, undefined> {
    let seen: Term | undefined;
    for (;;) {
      const term = this.current;
      if (term && term !== seen && term.active) {
        seen = term;
        yield term;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.stopController.signal.aborted) return;
      await new Promise<void>((resolve) => this.waiters.add(resolve));
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
    let held: Term | undefined;
    while (!stop.aborted) {
      try {
        const election = await this.ensureSession();
        const term = await election.campaign(this.options.value, { signal: stop });
        delay = initial;
        if (this.flapping()) break;
        this.current = term;
        this.wakeWaiters();
        this.emit('elected', term);
        const ended = await Promise.race([term.whenEnded(), aborted(stop)]);
        if (!ended) {
          held = term;
          break;
        }
        this.emit('deposed', term, ended.reason);
        this.wakeWaiters();
        if (ended.reason === 'resigned' && this.conceding) await this.settleConcede();
      } catch (err) {
        if (stop.aborted) break;
        const error = err instanceof Error ? err : new Error(String(err));
        this.emit('retrying', error, delay);
        await sleep(this.options.backend.clock, delay, stop);
        delay = Math.min(delay * 2, max);
      }
    }
    await this.shutdown(held);
  }

  /** Waits until concede()'s resign has finished before queueing again, so we rejoin at the back. */
  private async settleConcede(): Promise<void> {
    while (this.conceding) await new Promise((resolve) => setImmediate(resolve));
  }

  private async ensureSession(): Promise<Election> {
    if (this.session && !this.session.isAlive()) {
      this.observing?.abort();
      await this.session.close();
      this.session = undefined;
    }
    if (!this.session) {
      const options: { ttl?: number; margin?: number } = {};
      if (this.options.ttl !== undefined) options.ttl = this.options.ttl;
      if (this.options.margin !== undefined) options.margin = this.options.margin;
      this.session = await this.options.backend.session(options);
      this.observe(this.session);
    }
    return this.session.election(this.election);
  }

  /** Relays leader changes while this session lives; a new session starts a new observer. */
  private observe(session: Session): void {
    const controller = new AbortController();
    this.observing = controller;
    const signal = AbortSignal.any([controller.signal, session.lost, this.stopController.signal]);
    void (async () => {
      try {
        for await (const change of session.election(this.election).observe({ signal }))
          this.emit('leader', change);
      } catch {
        // The observer ends with its session; the next session starts a new one.
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
    this.failure = new FlappingError(
      `elector for "${this.election}" won ${this.termStarts.length} terms within ${guard.windowMs} ms; ` +
        'stopped campaigning (raise flapGuard.maxTerms or fix what ends the terms)',
    );
    this.stopController.abort(this.failure);
    this.emit('error', this.failure);
    return true;
  }

  /** Resigns the held term (if any) and closes the session; `held` is a term the stop interrupted. */
  private async shutdown(held: Term | undefined): Promise<void> {
    this.observing?.abort();
    const session = this.session;
    this.session = undefined;
    if (session) {
      try {
        if (session.isAlive()) await session.election(this.election).resign();
      } catch {
        // close() revokes the lease, which removes the entry anyway.
      }
      await session.close();
    }
    if (held) this.emit('deposed', held, held.ended?.reason ?? 'closed');
    this.wakeWaiters();
  }
}

function aborted(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}
