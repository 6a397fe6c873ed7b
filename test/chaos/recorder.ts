/**
 * The chaos recorder: a worker process hosting the candidates of one or more trials. It talks to
 * etcd (or, with BACKEND=postgres, to PostgreSQL at PG_URL; with BACKEND=zookeeper, to the
 * ensemble) only through its own fault proxies (ENDPOINTS), so the harness can partition it alone. Each candidate campaigns (LeaderElector, or
 * its own loop over Election), makes guarded writes while it leads (a shared key on etcd, a row of
 * chaos.writes on PostgreSQL), samples its own belief every few milliseconds, and reports all of
 * it as JSON lines on the shared monotonic clock. See protocol.ts for the messages.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  etcd,
  postgres,
  zookeeper,
  LeaderElector,
  type PgTxn,
  type ZkTxn,
  type Backend,
  type LeaderChange,
  type Session,
  type Term,
} from '../../src/index.js';
import { CHAOS_WRITE_SQL } from './pg-store.js';
import {
  applicationNameOf,
  monotonicNow as now,
  type CandidateSpec,
  type CandidateStatus,
  type EtcdMode,
  type Command,
  type JoinCommand,
  type WorkerEvent,
  type WriteValue,
} from './protocol.js';

const ENDPOINTS = (process.env['ENDPOINTS'] ?? '').split(',').filter(Boolean);
const ON_POSTGRES = process.env['BACKEND'] === 'postgres';
const ON_ZOOKEEPER = process.env['BACKEND'] === 'zookeeper';

/** PG_URL with its host and port replaced by this worker's proxy, so faults can cut it off alone. */
function proxiedPgUrl(): string {
  const url = new URL(process.env['PG_URL'] ?? '');
  const [host, port] = (ENDPOINTS[0] ?? '').split(':');
  url.hostname = host ?? '';
  url.port = port ?? '';
  return url.toString();
}
const SAMPLE_EVERY_MS = 5;

function say(event: WorkerEvent): void {
  // Pipes are written synchronously on Linux, so a line is out before any SIGKILL can lose it.
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return `${err.name}${typeof code === 'string' ? `[${code}]` : ''}: ${err.message}`;
}

// The library must never leak a rejection or an exception: the harness counts each as a bug.
process.on('unhandledRejection', (reason) => {
  say({
    ev: 'crash',
    kind: 'unhandledRejection',
    error: `${describe(reason)}\n${stackOf(reason)}`,
    at: now(),
  });
});
process.on('uncaughtException', (err) => {
  say({ ev: 'crash', kind: 'uncaughtException', error: `${describe(err)}\n${stackOf(err)}`, at: now() });
});
process.on('SIGTERM', () => process.exit(0));

function stackOf(err: unknown): string {
  return err instanceof Error ? (err.stack ?? '') : '';
}

function leaderToken(change: LeaderChange): string | null {
  return change.kind === 'leader' ? change.token.toString() : null;
}

/**
 * The candidates of one trial in this process, sharing one backend (one connection) per etcd mode;
 * on PostgreSQL one backend per candidate, named after it, so the harness can terminate exactly
 * that candidate's connections; on ZooKeeper one per candidate too (a session is a connection anyway).
 */
class TrialContext {
  readonly cmd: JoinCommand;
  readonly cands = new Map<string, Candidate>();
  readonly backends = new Map<string, Backend>();
  closing = false;

  constructor(cmd: JoinCommand) {
    this.cmd = cmd;
  }

  /** The backend for candidate `cand` in `mode`, opened on first use. */
  backend(mode: EtcdMode, cand: string): Backend {
    const slot = ON_POSTGRES || ON_ZOOKEEPER ? cand : mode;
    let backend = this.backends.get(slot);
    if (!backend) {
      if (ON_POSTGRES) {
        backend = postgres({
          connectionString: proxiedPgUrl(),
          applicationName: applicationNameOf(this.cmd.trial, cand),
          callTimeout: this.cmd.callTimeout,
          // The harness created the tables; a candidate needs no DDL.
          migrate: false,
        });
      } else {
        const endpoints = this.cmd.order.map((i) => ENDPOINTS[i] as string);
        backend = ON_ZOOKEEPER
          ? zookeeper({ connect: endpoints.join(','), callTimeout: this.cmd.callTimeout, env: {} })
          : etcd({ endpoints, mode, callTimeout: this.cmd.callTimeout });
      }
      this.backends.set(slot, backend);
    }
    return backend;
  }
}

interface Held {
  term: Term;
  lastActive: number;
}

/** What every candidate records, whichever API drives it. */
abstract class Candidate {
  readonly id: string;
  protected readonly ctx: TrialContext;
  protected readonly backend: Backend;
  protected stopping = false;
  protected observed: string | null = null;
  private held?: Held;
  private readonly reported = new WeakSet<Term>();

  constructor(spec: CandidateSpec, ctx: TrialContext) {
    this.id = spec.id;
    this.ctx = ctx;
    this.backend = ctx.backend(spec.etcd, spec.id);
  }

  /** Whether this candidate believes, right now, that it leads with `term`. */
  protected abstract believes(term: Term): boolean;
  /** Steps down and queues again. */
  abstract concede(): Promise<void>;
  /** Stops for good: resigns, leaves, closes its session. */
  abstract stop(): Promise<void>;
  /** The token of the term it believes it holds now, if any. */
  protected abstract currentToken(): string | null;
  /** The session it queues with now, if any. */
  protected abstract currentSession(): Session | undefined;

  status(): CandidateStatus {
    const token = this.currentToken();
    const session = this.currentSession();
    return {
      cand: this.id,
      leader: token !== null,
      token,
      lease: session ? (ON_POSTGRES || ON_ZOOKEEPER ? session.id : BigInt(session.id).toString(16)) : null,
      observed: this.observed,
      stopping: this.stopping,
    };
  }

  /** Samples belief: the time is taken before asking, so a `true` answer was true at that time. */
  sample(): void {
    const held = this.held;
    if (!held) return;
    const at = now();
    if (this.believes(held.term)) held.lastActive = at;
  }

  protected began(term: Term): void {
    const held: Held = { term, lastActive: term.startedAt };
    this.held = held;
    say({
      ev: 'elected',
      trial: this.ctx.cmd.trial,
      cand: this.id,
      token: term.token.toString(),
      key: term.key,
      startedAt: term.startedAt,
      at: now(),
    });
    void this.writeLoop(held);
  }

  /** Reports a term's end once; `announced` is the reason the API gave (event argument or error). */
  protected finished(term: Term, announced: string | null): void {
    if (this.reported.has(term)) return;
    this.reported.add(term);
    const held = this.held?.term === term ? this.held : undefined;
    if (held) this.held = undefined;
    const ended = term.ended;
    say({
      ev: 'ended',
      trial: this.ctx.cmd.trial,
      cand: this.id,
      token: term.token.toString(),
      reason: announced,
      endedAt: ended?.at ?? null,
      lastActive: held?.lastActive ?? term.startedAt,
      at: now(),
    });
  }

  protected observedChange(change: LeaderChange): void {
    // 'unknown' says the observer is cut off, not that nobody leads: it is no observation.
    if (change.kind === 'unknown') return;
    const token = leaderToken(change);
    this.observed = token ?? 'none';
    say({ ev: 'leader', trial: this.ctx.cmd.trial, cand: this.id, token, at: now() });
  }

  protected report(kind: 'retrying' | 'error', err: unknown): void {
    say({ ev: kind, trial: this.ctx.cmd.trial, cand: this.id, error: describe(err), at: now() });
  }

  /** While the term is believed: a guarded write, a pause, again. Then one write with the ended term. */
  private async writeLoop(held: Held): Promise<void> {
    const { term } = held;
    let seq = 0;
    for (;;) {
      const sentAt = now();
      if (this.stopping || !this.believes(term)) break;
      held.lastActive = Math.max(held.lastActive, sentAt);
      await this.write(term, seq++, false, sentAt);
      await sleep(this.ctx.cmd.writeEveryMs);
    }
    // A write made with a term that has ended must be refused: by this process when it knows the
    // term ended (NOT_LEADER, nothing sent), else by the backend (committed: false).
    if (!this.stopping && !this.ctx.closing) await this.write(term, seq, true, now());
  }

  private async write(term: Term, seq: number, stale: boolean, sentAt: number): Promise<void> {
    const value: WriteValue = { t: term.token.toString(), c: this.id, s: seq };
    const base = {
      ev: 'write',
      trial: this.ctx.cmd.trial,
      cand: this.id,
      token: value.t,
      seq,
      stale,
      sentAt,
    } as const;
    try {
      const { trial, writeKey } = this.ctx.cmd;
      // On PostgreSQL the guard writes a real table; its commit-ordered log is the fencing record.
      // On ZooKeeper each write creates a node of its own (see zk-store.ts) in the guard's multi.
      const result = ON_POSTGRES
        ? await term.guard(async (tx) => {
            await (tx as PgTxn).query(CHAOS_WRITE_SQL, [trial, value.t, value.c, value.s]);
          })
        : ON_ZOOKEEPER
          ? await term.guard((tx) => {
              (tx as ZkTxn).create(`${writeKey}/${value.t}-${value.c}-${value.s}`, JSON.stringify(value));
            })
          : await term.guard((tx) => tx.put(writeKey, JSON.stringify(value)));
      say({ ...base, committed: result.committed, at: now() });
    } catch (err) {
      // NOT_LEADER is a refusal before sending: certain, unlike an unknown outcome.
      const refused = (err as { code?: unknown }).code === 'NOT_LEADER';
      say({ ...base, committed: refused ? false : null, error: describe(err), at: now() });
    }
  }
}

/** A candidate driven by LeaderElector, the way the README recommends. */
class ElectorCandidate extends Candidate {
  private readonly elector: LeaderElector;

  constructor(spec: CandidateSpec, ctx: TrialContext) {
    super(spec, ctx);
    this.elector = new LeaderElector({
      backend: this.backend,
      election: ctx.cmd.election,
      value: spec.id,
      ttl: ctx.cmd.ttl,
      // Faults end terms on purpose; a flap guard tripping would read as a stuck candidate.
      flapGuard: false,
      backoff: { initial: 50, max: 1000 },
    });
    this.elector.on('elected', (term) => this.began(term));
    this.elector.on('deposed', (term, reason) => this.finished(term, reason));
    this.elector.on('leader', (change) => this.observedChange(change));
    this.elector.on('retrying', (err) => this.report('retrying', err));
    this.elector.on('error', (err) => this.report('error', err));
  }

  protected believes(term: Term): boolean {
    return this.elector.term === term;
  }

  protected currentToken(): string | null {
    return this.elector.isLeader() ? (this.elector.term?.token.toString() ?? null) : null;
  }

  protected currentSession(): Session | undefined {
    return this.elector.currentSession;
  }

  async concede(): Promise<void> {
    await this.elector.concede();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.elector.stop();
  }
}

/** A candidate driving Session and Election itself, as a user of the lower-level API would. */
class ElectionCandidate extends Candidate {
  private readonly quit = new AbortController();
  private readonly loop: Promise<void>;
  private session?: Session;
  private term?: Term;
  private observer?: AbortController;
  private conceding?: Promise<void>;

  constructor(spec: CandidateSpec, ctx: TrialContext) {
    super(spec, ctx);
    this.loop = this.run();
  }

  protected believes(term: Term): boolean {
    return term.active;
  }

  protected currentToken(): string | null {
    return this.term?.active ? this.term.token.toString() : null;
  }

  protected currentSession(): Session | undefined {
    return this.session;
  }

  /** Queues on `session` and resolves with the term once it leads. */
  protected acquire(session: Session, signal: AbortSignal): Promise<Term> {
    return session.election(this.ctx.cmd.election).campaign(this.id, { signal });
  }

  /** Gives up the term, or the place in line. */
  protected release(session: Session): Promise<void> {
    return session.election(this.ctx.cmd.election).resign();
  }

  async concede(): Promise<void> {
    const session = this.session;
    if (!session || !this.term?.active) return;
    this.conceding = this.release(session);
    try {
      await this.conceding;
    } finally {
      this.conceding = undefined;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.quit.abort();
    await this.loop;
    const session = this.session;
    if (session) {
      try {
        if (session.isAlive()) await this.release(session);
      } catch {
        // close() revokes the lease, which removes the entry anyway.
      }
      this.observer?.abort();
      await session.close();
    }
    const term = this.term;
    if (term) this.finished(term, term.ended?.reason ?? null);
  }

  private async run(): Promise<void> {
    const stop = this.quit.signal;
    let delay = 50;
    while (!stop.aborted) {
      try {
        const session = await this.ensureSession();
        const term = await this.acquire(session, stop);
        delay = 50;
        this.term = term;
        this.began(term);
        const ended = await Promise.race([term.whenEnded(), untilAborted(stop)]);
        if (!ended) break; // stop() resigns the held term and reports it
        this.finished(term, ended.reason);
        // Queue again only once our resign is through, so the old entry is not taken up again.
        if (this.conceding) await this.conceding.catch(() => undefined);
      } catch (err) {
        if (stop.aborted) break;
        this.report('retrying', err);
        await sleep(delay, undefined, { signal: stop }).catch(() => undefined);
        delay = Math.min(delay * 2, 1000);
      }
    }
  }

  private async ensureSession(): Promise<Session> {
    if (this.session && !this.session.isAlive()) {
      this.observer?.abort();
      await this.session.close();
      this.session = undefined;
    }
    if (!this.session) {
      this.session = await this.backend.session({ ttl: this.ctx.cmd.ttl });
      this.observe(this.session);
    }
    return this.session;
  }

  private observe(session: Session): void {
    const controller = new AbortController();
    this.observer = controller;
    const signal = AbortSignal.any([controller.signal, session.lost, this.quit.signal]);
    void (async () => {
      try {
        // Session-less: a mutex candidate may not also open an election of the same name on its
        // session (they would share one entry), so every candidate observes the same way.
        const changes = this.backend.observe(this.ctx.cmd.election, {
          signal,
          staleAfter: session.ttl * 1000,
        });
        for await (const change of changes) this.observedChange(change);
      } catch (err) {
        if (!signal.aborted) this.report('error', err);
      }
    })();
  }
}

/**
 * A candidate holding session.mutex(election) with lock() and unlock(). Its entries (value '') queue
 * in the same line as the other candidates' campaigns, so the checker judges mutex holders and
 * election leaders as one sequence: no two may overlap, and every guarded write must be fenced.
 */
class MutexCandidate extends ElectionCandidate {
  protected override acquire(session: Session, signal: AbortSignal): Promise<Term> {
    return session.mutex(this.ctx.cmd.election).lock({ signal });
  }

  protected override release(session: Session): Promise<void> {
    return session.mutex(this.ctx.cmd.election).unlock();
  }
}

function untilAborted(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}

function createCandidate(spec: CandidateSpec, ctx: TrialContext): Candidate {
  switch (spec.mode) {
    case 'elector':
      return new ElectorCandidate(spec, ctx);
    case 'election':
      return new ElectionCandidate(spec, ctx);
    case 'mutex':
      return new MutexCandidate(spec, ctx);
  }
}

const trials = new Map<string, TrialContext>();

setInterval(() => {
  for (const ctx of trials.values()) for (const cand of ctx.cands.values()) cand.sample();
}, SAMPLE_EVERY_MS);

async function handle(cmd: Command): Promise<void> {
  switch (cmd.cmd) {
    case 'join': {
      const ctx = new TrialContext(cmd);
      trials.set(cmd.trial, ctx);
      for (const spec of cmd.cands) ctx.cands.set(spec.id, createCandidate(spec, ctx));
      say({ ev: 'joined', trial: cmd.trial });
      return;
    }
    case 'concede': {
      const cand = trials.get(cmd.trial)?.cands.get(cmd.cand);
      try {
        await cand?.concede();
        say({ ev: 'conceded', trial: cmd.trial, cand: cmd.cand, at: now() });
      } catch (err) {
        say({ ev: 'conceded', trial: cmd.trial, cand: cmd.cand, error: describe(err), at: now() });
      }
      return;
    }
    case 'stop': {
      const started = now();
      await trials.get(cmd.trial)?.cands.get(cmd.cand)?.stop();
      say({ ev: 'stopped', trial: cmd.trial, cand: cmd.cand, ms: now() - started, at: now() });
      return;
    }
    case 'status': {
      const ctx = trials.get(cmd.trial);
      const cands = ctx ? [...ctx.cands.values()].map((c) => c.status()) : [];
      say({ ev: 'status', trial: cmd.trial, req: cmd.req, cands, at: now() });
      return;
    }
    case 'leave': {
      const ctx = trials.get(cmd.trial);
      const started = now();
      if (ctx) {
        ctx.closing = true;
        await Promise.all([...ctx.cands.values()].map((c) => c.stop()));
        await Promise.all([...ctx.backends.values()].map((b) => b.close()));
        trials.delete(cmd.trial);
      }
      say({ ev: 'left', trial: cmd.trial, ms: now() - started, at: now() });
      return;
    }
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line) as Command;
  handle(cmd).catch((err: unknown) => {
    say({ ev: 'crash', kind: `command ${cmd.cmd}`, error: `${describe(err)}\n${stackOf(err)}`, at: now() });
  });
});
// Exiting with the harness: a closed stdin means nobody is listening any more.
process.stdin.on('end', () => process.exit(0));

say({ ev: 'ready', pid: process.pid });
