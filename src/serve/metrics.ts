import type { BackendStats } from '../core/contract.js';
import type { LeaderChange } from '../core/election.js';
import type { LeaderElector } from '../core/elector.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { Session } from '../core/session.js';
import type { Term, TermEndReason } from '../core/term.js';
import { loadPromClient, type PromClient } from './prom.js';

/** The part of a prom-client Registry that serving needs (structural, so prom-client's types stay optional). */
export interface MetricsRegistry {
  /** The Content-Type of metrics(). */
  readonly contentType: string;
  /** The exposition text of every metric registered. */
  metrics(): Promise<string>;
}

/** Options of ballotMetrics(). */
export interface MetricsOptions {
  /** A prom-client Registry (default: prom-client's global `register`). */
  register?: MetricsRegistry;
  /** The prom-client module to use (default: `import('prom-client')`); pass yours if you bundle a copy. */
  promClient?: unknown;
  /** The elector's backend, for ballot_backend_events_total (its stats()); left out if absent. */
  backend?: { readonly kind: string; stats(): BackendStats };
}

/** What ballotMetrics() returns. */
export interface BallotMetrics {
  /** The registry the metrics are in: serve it at /metrics (serveHandler does). */
  readonly register: MetricsRegistry;
  /** Stops recording this elector (its listeners and hooks are removed); the metrics stay registered. */
  detach(): void;
}

/** Anything a LeaderElector of any backend, seen by metrics. */
type AnyElector = LeaderElector<unknown>;

/** One registry's ballot metrics, shared by every elector recorded into it. */
interface Instruments {
  electors: Set<AnyElector>;
  backends: Set<{ readonly kind: string; stats(): BackendStats }>;
  terms: import('prom-client').Counter<'election' | 'reason'>;
  termDuration: import('prom-client').Histogram<'election'>;
  campaign: import('prom-client').Histogram<'election'>;
  handover: import('prom-client').Histogram<'election'>;
  renewal: import('prom-client').Histogram<'election'>;
  renewalFailures: import('prom-client').Counter<'election'>;
  suspensions: import('prom-client').Counter<'election'>;
  sessions: import('prom-client').Counter<'election'>;
  guardCounts: Map<AnyElector, GuardCounts>;
  /** Each elector's flush of its queued events; a scrape runs them first. */
  flushes: Set<() => void>;
  leaderChanges: import('prom-client').Counter<'election'>;
}

const byRegistry = new WeakMap<object, Instruments>();

/**
 * Records a LeaderElector into prom-client metrics (ballot_ prefix, seconds, `_total` counters).
 * prom-client is an optional peer dependency: it is loaded here, on first use, and nowhere else;
 * without it this rejects with InvalidArgumentError saying how to install it. Several electors
 * may share a registry; each series carries its `election` label. Recording starts when this is
 * called (before prom-client has loaded), so call it right after constructing the elector.
 *
 * ballot_handover_seconds is a handover as the new leader saw it, recorded for each term of this
 * candidate that follows another candidate's (seen through `leader` events): from the first
 * `leader` event that no longer named the previous leader (kind 'none', or a new leader) to this
 * candidate's `elected`; 0 when `elected` came first (its campaign noticed the departure before
 * its observer did, as on etcd, where the observer reads the new leader before reporting).
 * Its count is the number of terms taken over from another candidate.
 */
export async function ballotMetrics<Tx>(
  elector: LeaderElector<Tx>,
  options: MetricsOptions = {},
): Promise<BallotMetrics> {
  const e = elector as unknown as AnyElector;
  // Listen at once, before prom-client has loaded, so that nothing the elector does meanwhile is missed.
  // Events are queued and recorded on the next turn of the event loop (or at the next scrape): a
  // listener then costs the elector a push, never prom-client's label hashing on a handover's path.
  let instruments: Instruments | undefined;
  let scheduled = false;
  const pending: ((m: Instruments) => void)[] = [];
  const flush = () => {
    scheduled = false;
    if (instruments) for (const record of pending.splice(0)) record(instruments);
  };
  const use = (record: (m: Instruments) => void) => {
    pending.push(record);
    if (instruments && !scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const guardCounts: GuardCounts = { committed: 0, refused: 0, failed: 0 };
  const detach = record(e, use, guardCounts);
  try {
    const client = (options.promClient as PromClient | undefined) ?? (await loadPromClient());
    if (typeof client?.Registry !== 'function' || typeof client.Counter !== 'function')
      throw new InvalidArgumentError(
        'promClient must be the prom-client module (import * as promClient from "prom-client")',
      );
    const register = (options.register ?? client.register) as import('prom-client').Registry;
    if (typeof register?.getSingleMetric !== 'function')
      throw new InvalidArgumentError('register must be a prom-client Registry (new promClient.Registry())');
    instruments = instrumentsFor(client, register);
    flush();
    instruments.electors.add(e);
    instruments.flushes.add(flush);
    instruments.guardCounts.set(e, guardCounts);
    if (options.backend) instruments.backends.add(options.backend);
    const m = instruments;
    return {
      register,
      detach() {
        detach();
        flush();
        m.electors.delete(e);
        m.guardCounts.delete(e);
        m.flushes.delete(flush);
      },
    };
  } catch (err) {
    detach();
    throw err;
  }
}

/** Guard outcomes of one elector, counted as plain numbers and read by the counter at scrape time. */
type GuardCounts = Record<'committed' | 'refused' | 'failed', number>;

/**
 * Installs the listeners and hooks that feed the instruments (through `use`, which queues). Guards
 * are the hot path (hundreds of thousands a second on memory): each costs one increment here.
 */
function record(
  elector: AnyElector,
  use: (record: (m: Instruments) => void) => void,
  guardCounts: GuardCounts,
): () => void {
  const election = { election: elector.election };
  const clock = elector.clock;
  let lastLeader: string | undefined;
  // Handover: another candidate was seen leading (`previous`), then seen gone at `departedAt`.
  let previous: bigint | undefined;
  let departedAt: number | undefined;
  const renewalProbe = {
    renewal(latencyMs: number, failed: boolean) {
      if (failed) use((m) => m.renewalFailures.inc(election));
      else use((m) => m.renewal.observe(election, latencyMs / 1000));
    },
  };
  const onSuspended = () => use((m) => m.suspensions.inc(election));
  let watched: Session<unknown> | undefined;
  const watch = (session: Session<unknown> | undefined) => {
    if (watched === session) return;
    if (watched) {
      watched.probe = undefined;
      watched.off('suspended', onSuspended);
    }
    watched = session;
    if (session) {
      session.probe = renewalProbe;
      session.on('suspended', onSuspended);
    }
  };
  const onSession = () => {
    use((m) => m.sessions.inc(election));
    watch(elector.currentSession);
  };
  const guardProbe = (outcome: 'committed' | 'refused' | 'failed') => {
    guardCounts[outcome]++;
  };
  const onElected = (term: Term<unknown>) => {
    term.probe = guardProbe;
    const started = elector.campaignStartedAt;
    if (started !== undefined) {
      const seconds = Math.max(0, term.startedAt - started) / 1000;
      use((m) => m.campaign.observe(election, seconds));
    }
    if (previous !== undefined) {
      // No departure seen yet: this campaign noticed it first, so nothing was lost in between.
      const seconds = Math.max(0, term.startedAt - (departedAt ?? term.startedAt)) / 1000;
      use((m) => m.handover.observe(election, seconds));
    }
    previous = undefined;
    departedAt = undefined;
  };
  const onDeposed = (term: Term<unknown>, reason: TermEndReason) => {
    const seconds = Math.max(0, (term.ended?.at ?? clock.now()) - term.startedAt) / 1000;
    use((m) => {
      m.terms.inc({ ...election, reason });
      m.termDuration.observe(election, seconds);
    });
  };
  const onLeader = (change: LeaderChange) => {
    if (change.kind === 'unknown') return;
    const id = change.kind === 'leader' ? `${change.token}` : 'none';
    if (id !== lastLeader && lastLeader !== undefined) use((m) => m.leaderChanges.inc(election));
    lastLeader = id;
    // Our own entry, reported before or after `elected`: matched by session, not by term.
    if (change.kind === 'leader' && change.lease !== elector.currentSession?.id) {
      previous = change.token;
      departedAt = undefined;
    } else if (previous !== undefined && departedAt === undefined) departedAt = clock.now();
  };
  elector.on('session', onSession);
  elector.on('elected', onElected);
  elector.on('deposed', onDeposed);
  elector.on('leader', onLeader);
  // Attached to a running elector: count its session and term once.
  if (elector.currentSession && !elector.stopped) use((m) => m.sessions.inc(election));
  watch(elector.currentSession);
  const current = elector.term;
  if (current) onElected(current);
  return () => {
    elector.off('session', onSession);
    elector.off('elected', onElected);
    elector.off('deposed', onDeposed);
    elector.off('leader', onLeader);
    watch(undefined);
    const term = elector.term;
    if (term?.probe === guardProbe) term.probe = undefined;
  };
}

/** The registry's ballot metrics, created on its first elector and shared by the next ones. */
function instrumentsFor(client: PromClient, register: import('prom-client').Registry): Instruments {
  const known = byRegistry.get(register);
  if (known) return known;
  const electors = new Set<AnyElector>();
  const guardCounts = new Map<AnyElector, GuardCounts>();
  const flushes = new Set<() => void>();
  const backends = new Set<{ readonly kind: string; stats(): BackendStats }>();
  const registers = [register];
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new client.Counter<L>({ name, help, labelNames, registers });
  const histogram = (name: string, help: string, buckets: number[]) =>
    new client.Histogram<'election'>({ name, help, labelNames: ['election'], buckets, registers });
  new client.Gauge<'election'>({
    name: 'ballot_is_leader',
    help: '1 while this process leads the election, else 0',
    labelNames: ['election'],
    registers,
    // Registered first, so collected first: records every queued event before any metric is read.
    collect() {
      for (const flush of flushes) flush();
      this.reset();
      for (const e of electors) this.set({ election: e.election }, e.isLeader() ? 1 : 0);
    },
  });
  new client.Gauge<'election'>({
    name: 'ballot_session_deadline_headroom_seconds',
    help: 'Seconds left before the session deadline (renewals push it forward); absent without a session',
    labelNames: ['election'],
    registers,
    collect() {
      this.reset();
      for (const e of electors) {
        const session = e.currentSession;
        if (session && !e.stopped)
          this.set({ election: e.election }, Math.max(0, session.deadline - e.clock.now()) / 1000);
      }
    },
  });
  new client.Counter<'backend'>({
    name: 'ballot_backend_events_total',
    help: 'Backend events (watch events, wake-ups) delivered to this client; divide by ballot_leader_changes_total for wake-ups per change',
    labelNames: ['backend'],
    registers,
    collect() {
      this.reset();
      for (const b of backends) this.inc({ backend: b.kind }, b.stats().events);
    },
  });
  new client.Counter<'election' | 'outcome'>({
    name: 'ballot_guards_total',
    help: 'Guarded operations by outcome: committed, refused (the term had ended on the backend), failed (error)',
    labelNames: ['election', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const [e, counts] of guardCounts)
        for (const outcome of ['committed', 'refused', 'failed'] as const)
          if (counts[outcome] > 0) this.inc({ election: e.election, outcome }, counts[outcome]);
    },
  });
  const instruments: Instruments = {
    electors,
    backends,
    terms: counter('ballot_terms_total', 'Terms of this process that ended, by reason', [
      'election',
      'reason',
    ]),
    termDuration: histogram('ballot_term_duration_seconds', 'How long terms of this process lasted', [
      1,
      10,
      60,
      300,
      900,
      3600,
      4 * 3600,
      24 * 3600,
    ]),
    campaign: histogram(
      'ballot_campaign_duration_seconds',
      'From the start of a campaign to winning it (waiting in line included)',
      [0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
    ),
    handover: histogram(
      'ballot_handover_seconds',
      "From seeing the previous leader gone to this process's term (0 when the campaign saw it first)",
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    renewal: histogram(
      'ballot_session_renewal_duration_seconds',
      'Round trip of acknowledged session renewals',
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    ),
    renewalFailures: counter(
      'ballot_session_renewal_failures_total',
      'Session renewals that failed or were refused',
      ['election'],
    ),
    suspensions: counter(
      'ballot_session_suspensions_total',
      'Times a session entered the suspended state (renewals failing or overdue)',
      ['election'],
    ),
    sessions: counter('ballot_sessions_total', 'Sessions the elector opened', ['election']),
    guardCounts,
    flushes,
    leaderChanges: counter(
      'ballot_leader_changes_total',
      'Leader changes this process observed (none counts as a leader)',
      ['election'],
    ),
  };
  byRegistry.set(register, instruments);
  return instruments;
}
