import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Backend, Session, Term } from '../../index.js';

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

/** Events of a demo candidate; times are on the shared monotonic clock (ms). */
export interface CandidateEvents {
  session: [{ lease: string; deadline: number }];
  elected: [{ token: bigint; key: string; startedAt: number }];
  deposed: [{ token: bigint; reason: string; endedAt: number }];
  write: [{ token: bigint; committed: boolean }];
}

const WRITE_EVERY_MS = 250;

/**
 * One candidate of the demo: campaigns, and while it leads, writes to a data key every 250 ms
 * under term.guard(), as a real leader would; after any loss it queues again on a fresh session.
 * The same class runs in process (memory backend) and in a child process (etcd).
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
  private readonly quit = new AbortController();
  private readonly quitting = new Promise<undefined>((resolve) =>
    this.quit.signal.addEventListener('abort', () => resolve(undefined), { once: true }),
  );
  private current?: Session;
  private term?: Term;
  private last?: Term;
  private frozen?: { until: Promise<void>; thaw: () => void };
  private conceding?: Promise<void>;
  private crashed = false;
  private stopped = false;
  private loop?: Promise<void>;

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
    return this.current;
  }

  /** Where the candidate stands now. */
  get state(): CandidateState {
    if (this.crashed) return 'crashed';
    if (this.stopped) return 'stopped';
    if (this.frozen) return 'paused';
    if (this.term?.active) return 'leader';
    return this.current ? 'queued' : 'starting';
  }

  /** Token of the current term, if leading. */
  get token(): bigint | undefined {
    return this.term?.active ? this.term.token : undefined;
  }

  /** Starts campaigning. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops acting, as a paused process would: no writes, no new campaign until thaw(). */
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
    try {
      result.committed = (
        await term.guard((tx) => tx.put(this.dataKey, `${this.name} ${term.token}`))
      ).committed;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'NOT_LEADER') result.notSent = true;
      else result.error = (err as Error).message;
    }
    return result;
  }

  /** Dies without cleanup: no resign, no revoke, nothing more ever happens. */
  crash(): void {
    this.crashed = true;
  }

  /** Steps aside and queues again at the back. */
  async concede(): Promise<void> {
    const session = this.current;
    if (!this.term?.active || !session) return;
    this.conceding = session.election(this.election).resign();
    try {
      await this.conceding;
    } finally {
      this.conceding = undefined;
    }
  }

  /** Leaves the election: resigns if leading and closes the session (revoking its lease). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.frozen?.thaw();
    this.quit.abort();
    await this.loop;
  }

  /** Resolves when the loop has ended (after stop(), or after a crash once the term is gone). */
  async settled(): Promise<void> {
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped && !this.crashed) {
      await this.frozen?.until;
      if (this.stopped || this.crashed) break;
      try {
        await this.campaignOnce();
      } catch {
        // A campaign that failed (session lost while queued): the next round opens a new session.
        if (!this.stopped && !this.crashed) await sleep(100);
      }
    }
    if (this.crashed) return;
    const session = this.current;
    this.current = undefined;
    if (session?.isAlive())
      await session
        .election(this.election)
        .resign()
        .catch(() => undefined);
    await session?.close();
  }

  private async campaignOnce(): Promise<void> {
    const session = await this.ensureSession();
    const term = await session.election(this.election).campaign(this.name, { signal: this.quit.signal });
    this.term = this.last = term;
    this.emit('elected', { token: term.token, key: term.key, startedAt: term.startedAt });
    const writer = setInterval(() => void this.write(term), WRITE_EVERY_MS);
    try {
      const ended = await Promise.race([term.whenEnded(), this.quitting]);
      if (!ended) {
        // Stopping while leading: resign here so the deposed event carries the real end.
        await session
          .election(this.election)
          .resign()
          .catch(() => undefined);
      }
    } finally {
      clearInterval(writer);
    }
    const end = term.ended;
    this.emit('deposed', { token: term.token, reason: end?.reason ?? 'closed', endedAt: end?.at ?? 0 });
    await this.conceding;
  }

  private async ensureSession(): Promise<Session> {
    if (this.current?.isAlive()) return this.current;
    await this.current?.close();
    const session = await this.backend.session({ ttl: this.ttl });
    this.current = session;
    const report = (deadline: number) => this.emit('session', { lease: session.id, deadline });
    session.on('renewed', report);
    report(session.deadline);
    return session;
  }

  private async write(term: Term): Promise<void> {
    if (this.frozen || this.crashed || !term.active) return;
    try {
      const { committed } = await term.guard((tx) => tx.put(this.dataKey, `${this.name} ${term.token}`));
      if (committed) this.writes.ok++;
      else this.writes.rejected++;
      this.emit('write', { token: term.token, committed });
    } catch {
      this.writes.rejected++;
    }
  }
}
