import { EventEmitter } from 'node:events';
import { LeaderElector, type Backend, type Session, type Term } from '../../index.js';

/** What a demo candidate is doing, as the live view shows it. */
export type CandidateState = 'starting' | 'queued' | 'leader' | 'paused' | 'crashed' | 'stopped';

/** Outcome of the write a paused leader attempts with its old term once it runs again. */
export interface StaleWrite {
  candidate: string;
  token: bigint;
  /** Whether the term still looked current (it must not). */
  active: boolean;
  /** Why the term ended, as the candidate learned it. */
  reason: string | null;
  /** Whether the backend applied the write (it must not). */
  committed: boolean;
  /** True when the write was refused before sending (NOT_LEADER: the term was known to have ended). */
  notSent?: boolean;
  /** Set when the write failed outright rather than being refused. */
  error?: string;
}

/** One guarded write; `committed` is null when it failed outright. Times are monotonic ms. */
export interface WriteReport {
  token: bigint;
  seq: number;
  committed: boolean | null;
  stale: boolean;
  sentAt: number;
}

/** Events of a demo candidate; times are on the shared monotonic clock (ms). */
export interface CandidateEvents {
  session: [{ lease: string; deadline: number }];
  elected: [{ token: bigint; key: string; startedAt: number }];
  deposed: [{ token: bigint; reason: string; endedAt: number }];
  write: [WriteReport];
  /** The elector stopped for good (it should not, in the demo). */
  failed: [string];
}

/** How a guarded write went; `committed` is null when the call failed outright (`error` says why). */
type Outcome = { committed: boolean | null; notSent?: boolean; error?: string };

const WRITE_EVERY_MS = 250;
/** How often the candidate looks for the elector's new session (the elector announces none). */
const SESSION_POLL_MS = 50;

/**
 * One candidate of the demo: a LeaderElector, as users run one, and while it leads a guarded write
 * to a data key every 250 ms, as a real leader would. The same class runs in process (memory
 * backend, faults simulated) and in a child process (etcd, faults are signals).
 */
export class DemoCandidate extends EventEmitter<CandidateEvents> {
  /** Candidate name, also its campaign value. */
  readonly name: string;
  /** Guarded writes applied and refused so far. */
  readonly writes = { ok: 0, rejected: 0 };
  private readonly backend: Backend;
  private readonly election: string;
  private readonly ttl: number;
  private readonly dataKey: string;
  private elector?: LeaderElector;
  private tracked?: Session;
  private last?: Term;
  private writer?: NodeJS.Timeout;
  private poll?: NodeJS.Timeout;
  private seq = 0;
  /** Set while paused: a paused process opens no session, so the elector waits here to rejoin. */
  private frozen?: { until: Promise<void>; thaw: () => void };
  private crashed = false;
  private stopped = false;
  private stopping?: Promise<void>;

  constructor(backend: Backend, election: string, name: string, ttl: number, dataKey: string) {
    super();
    this.backend = backend;
    this.election = election;
    this.name = name;
    this.ttl = ttl;
    this.dataKey = dataKey;
  }

  /** The session in use (the memory harness partitions it to simulate faults). */
  get session(): Session | undefined {
    return this.elector?.currentSession;
  }

  /** Where the candidate stands now. */
  get state(): CandidateState {
    if (this.crashed) return 'crashed';
    if (this.stopped) return 'stopped';
    if (this.frozen) return 'paused';
    if (this.elector?.isLeader()) return 'leader';
    return this.tracked ? 'queued' : 'starting';
  }

  /** Token of the current term, if leading. */
  get token(): bigint | undefined {
    return this.elector?.term?.token;
  }

  /** Starts campaigning. */
  start(): void {
    if (this.elector) return;
    const elector = new LeaderElector({
      backend: gated(this.backend, () => this.frozen?.until),
      election: this.election,
      value: this.name,
      ttl: this.ttl,
      // The demo ends terms on purpose; a tripped flap guard would read as a broken candidate.
      flapGuard: false,
      backoff: { initial: 50, max: 1000 },
    });
    this.elector = elector;
    elector.on('elected', (term) => {
      this.last = term;
      this.emit('elected', { token: term.token, key: term.key, startedAt: term.startedAt });
      this.writer = setInterval(() => void this.write(term, false), WRITE_EVERY_MS);
    });
    elector.on('deposed', (term, reason) => {
      clearInterval(this.writer);
      this.emit('deposed', { token: term.token, reason, endedAt: term.ended?.at ?? 0 });
    });
    // A campaign on a lost session is retried on a new one; that is the elector's job, not news.
    elector.on('retrying', () => undefined);
    elector.on('error', (err) => this.emit('failed', err.message));
    this.poll = setInterval(() => this.track(), SESSION_POLL_MS);
    this.track();
  }

  /** Stops acting, as a paused process would: no writes, no new session until thaw(). */
  freeze(): void {
    if (this.frozen) return;
    let thaw = () => {};
    const until = new Promise<void>((resolve) => (thaw = resolve));
    this.frozen = { until, thaw };
  }

  /** Runs again after freeze(), and first tries the write it would have made with its old term. */
  async thaw(): Promise<StaleWrite | undefined> {
    const frozen = this.frozen;
    this.frozen = undefined;
    frozen?.thaw();
    const term = this.last;
    if (!term) return undefined;
    const result: StaleWrite = {
      candidate: this.name,
      token: term.token,
      active: term.active,
      reason: term.ended?.reason ?? null,
      committed: false,
    };
    const outcome = await this.write(term, true);
    result.committed = outcome.committed === true;
    if (outcome.notSent) result.notSent = true;
    if (outcome.error !== undefined) result.error = outcome.error;
    return result;
  }

  /** Dies without cleanup: says nothing more, and leaves its entry to its lease's expiry. */
  crash(): void {
    this.crashed = true;
    this.halt();
    const elector = this.elector;
    if (!elector) return;
    elector.removeAllListeners();
    elector.on('retrying', () => undefined);
    elector.on('error', () => undefined);
    // The harness cut the session off first, so this resigns and revokes nothing on the backend.
    this.stopping = elector.stop();
  }

  /** Steps aside and queues again at the back. */
  async concede(): Promise<void> {
    await this.elector?.concede();
  }

  /** Leaves the election: resigns if leading and closes the session (revoking its lease). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.frozen?.thaw();
    this.stopping ??= this.elector?.stop();
    await this.stopping;
    this.halt();
  }

  /** Resolves when the candidate has stopped (after stop() or crash()). */
  async settled(): Promise<void> {
    await this.stopping;
  }

  private halt(): void {
    clearInterval(this.writer);
    clearInterval(this.poll);
  }

  /** Reports each new session of the elector, and its deadline as keepalives move it. */
  private track(): void {
    const session = this.elector?.currentSession;
    if (!session || session === this.tracked) return;
    this.tracked = session;
    const report = (deadline: number) => this.emit('session', { lease: session.id, deadline });
    session.on('renewed', report);
    report(session.deadline);
  }

  private async write(term: Term, stale: boolean): Promise<Outcome> {
    if (!stale && (this.frozen || this.crashed || !term.active)) return { committed: null };
    const seq = this.seq++;
    const sentAt = this.backend.clock.now();
    let outcome: Outcome;
    try {
      const { committed } = await term.guard((tx) => tx.put(this.dataKey, `${this.name} ${term.token}`));
      outcome = { committed };
    } catch (err) {
      // NOT_LEADER is a refusal before sending: certain, unlike a call that failed.
      if ((err as { code?: unknown }).code === 'NOT_LEADER') outcome = { committed: false, notSent: true };
      else outcome = { committed: null, error: (err as Error).message };
    }
    if (!stale) {
      if (outcome.committed) this.writes.ok++;
      else this.writes.rejected++;
    }
    this.emit('write', { token: term.token, seq, committed: outcome.committed, stale, sentAt });
    return outcome;
  }
}

/** A session id as the view shows it: etcd's decimal lease ids in hex, as in their keys. */
export function leaseLabel(id: string): string {
  return /^\d+$/.test(id) ? BigInt(id).toString(16) : id;
}

/**
 * The backend as this candidate sees it: opening a session first waits for `until()`, so that a
 * paused candidate on the memory backend does not rejoin while paused (a stopped process could not).
 */
function gated(backend: Backend, until: () => Promise<void> | undefined): Backend {
  return new Proxy(backend, {
    get(target, prop) {
      if (prop === 'session')
        return async (...args: Parameters<Backend['session']>) => {
          await until();
          return target.session(...args);
        };
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
