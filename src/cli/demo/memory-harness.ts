import { EventEmitter } from 'node:events';
import {
  InternalError,
  memory,
  systemClock,
  type LeaderChange,
  type MemoryBackend,
  type Session,
} from '../../index.js';
import { DemoCandidate, leaseLabel, type StaleWrite } from './candidate.js';
import type { CandidateView, Harness, HarnessEvents } from './harness.js';
import { KILLED } from './ledger.js';

/**
 * The demo's candidates in this process on the embedded backend. Faults are what a network does
 * to a session: a crash is a partition that never heals (the lease expires on the "server") and a
 * silenced candidate, a pause is a partition that heals after the TTL.
 */
export class MemoryHarness extends EventEmitter<HarnessEvents> implements Harness {
  readonly kind = 'memory';
  private readonly backend: MemoryBackend = memory();
  private readonly election: string;
  private readonly ttl: number;
  private readonly dataKey: string;
  private readonly live = new Map<string, DemoCandidate>();
  /** Crashed candidates: their terms still end by themselves, at their session deadline. */
  private readonly dead = new Map<string, DemoCandidate>();
  private readonly paused = new Map<string, Session>();
  private observer?: Session;

  constructor(election: string, ttl: number, dataKey: string) {
    super();
    this.election = election;
    this.ttl = ttl;
    this.dataKey = dataKey;
  }

  async start(name: string): Promise<void> {
    const candidate = new DemoCandidate(this.backend, this.election, name, this.ttl, this.dataKey);
    candidate.on('elected', (t) => this.emit('elected', { candidate: name, ...t }));
    candidate.on('deposed', (t) => this.emit('deposed', { candidate: name, ...t, announced: true }));
    candidate.on('write', (w) => this.emit('write', { candidate: name, ...w }));
    candidate.on('failed', (message) => this.emit('failed', { candidate: name, message }));
    this.live.set(name, candidate);
    this.dead.delete(name);
    const joined = new Promise<void>((resolve) => candidate.once('session', () => resolve()));
    candidate.start();
    await joined;
  }

  async leave(name: string): Promise<void> {
    await this.candidate(name).stop();
  }

  async crash(name: string): Promise<void> {
    const candidate = this.candidate(name);
    const session = candidate.session;
    // No revoke reaches the store: the lease lives on until its TTL runs out, as after a real crash.
    if (session) this.backend.partition(session);
    const token = candidate.token;
    candidate.crash();
    this.live.delete(name);
    this.dead.set(name, candidate);
    // A dead process reports nothing: its term is taken to end at the crash, as on etcd.
    if (token !== undefined)
      this.emit('deposed', {
        candidate: name,
        token,
        reason: KILLED,
        endedAt: systemClock.now(),
        announced: false,
      });
  }

  async pause(name: string): Promise<void> {
    const candidate = this.candidate(name);
    const session = candidate.session;
    if (session) {
      this.backend.partition(session);
      this.paused.set(name, session);
    }
    candidate.freeze();
  }

  async resume(name: string): Promise<StaleWrite | undefined> {
    const session = this.paused.get(name);
    this.paused.delete(name);
    if (session) this.backend.heal(session);
    return this.candidate(name).thaw();
  }

  async concede(name: string): Promise<void> {
    await this.candidate(name).concede();
  }

  candidates(): CandidateView[] {
    const all = new Map([...this.dead, ...this.live]);
    return [...all.values()]
      .map((c): CandidateView => {
        const view: CandidateView = { name: c.name, state: c.state, writes: { ...c.writes } };
        if (c.token !== undefined) view.token = c.token;
        const session = c.session;
        if (session && c.state !== 'crashed') {
          view.lease = leaseLabel(session.id);
          view.deadline = session.deadline;
        }
        return view;
      })
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async queue(): Promise<string[]> {
    return (await this.backend.participants(this.election)).map((entry) => entry.value);
  }

  async *observe(signal: AbortSignal): AsyncGenerator<LeaderChange, void, undefined> {
    this.observer ??= await this.backend.session({ ttl: this.ttl });
    yield* this.observer.election(this.election).observe({ signal });
  }

  async stopAll(): Promise<void> {
    for (const session of this.paused.values()) this.backend.heal(session);
    this.paused.clear();
    const live = [...this.live.values()];
    // Queued candidates leave first, so the only handover left is to "no leader".
    for (const c of live.filter((c) => c.state !== 'leader')) await c.stop();
    for (const c of live) await c.stop();
  }

  async close(): Promise<void> {
    await this.stopAll();
    await Promise.all([...this.dead.values()].map((c) => c.settled()));
    await this.backend.close();
  }

  private candidate(name: string): DemoCandidate {
    const candidate = this.live.get(name);
    if (!candidate) throw new InternalError(`no live candidate ${name}`);
    return candidate;
  }
}
