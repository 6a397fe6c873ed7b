import { Backend } from '../../core/backend.js';
import { systemClock, type Clock } from '../../core/clock.js';
import type {
  BackendDriver,
  BackendLimits,
  BackendStats,
  ElectionDriver,
  ElectionView,
  Liveness,
} from '../../core/contract.js';
import { BackendUnavailableError } from '../../core/errors.js';
import type { Session } from '../../core/session.js';
import { KeySpaces } from '../shared/key-spaces.js';
import { escapeName } from '../shared/names.js';
import { parseEntryKey } from '../shared/lease-entries.js';
import { MemoryElection, type Link } from './election.js';
import { MemoryStore } from './store.js';
import type { MemoryTxn } from './txn.js';

export { MemoryTxn } from './txn.js';

/** Options of the memory backend. */
export interface MemoryOptions {
  /** Time source; pass a ManualClock to drive TTLs and deadlines by hand in tests. */
  clock?: Clock;
}

class MemoryDriver implements BackendDriver<MemoryTxn>, Link {
  readonly kind = 'memory';
  readonly clock: Clock;
  /** Nothing in memory is slow; this only bounds session-less observers' staleness. */
  readonly callTimeout = 5000;
  readonly store: MemoryStore;
  /** The same bounds as etcd, so that code tested on memory runs on etcd unchanged. */
  readonly limits: BackendLimits = {
    maxValueBytes: 1024 * 1024,
    ttl: { minMs: 1000, maxMs: 86_400_000, granularityMs: 1000 },
  };
  readonly liveness: Liveness;
  readonly partitioned = new Map<string, (() => void)[]>();
  /** Key spaces of every election and mutex opened here: guarded writes are refused inside them. */
  private readonly keySpaces = new KeySpaces();

  constructor(clock: Clock) {
    this.clock = clock;
    this.store = new MemoryStore(clock);
    this.liveness = {
      open: async (ttlMs) => ({ id: this.store.grant(ttlMs), ttlMs }),
      renew: async (id) => {
        this.check(id);
        return this.store.renew(id);
      },
      end: async (id) => {
        this.check(id);
        this.store.revoke(id);
      },
    };
  }

  check(lease: string | undefined): void {
    if (lease !== undefined && this.partitioned.has(lease))
      throw new BackendUnavailableError(`memory backend: session ${lease} is partitioned (simulated fault)`);
  }

  deliver(lease: string | undefined, fn: () => void): void {
    const queued = lease === undefined ? undefined : this.partitioned.get(lease);
    if (queued) queued.push(fn);
    else fn();
  }

  async connect(): Promise<void> {}

  election(name: string, leaseId: string): ElectionDriver<MemoryTxn> {
    this.keySpaces.add('election', name);
    return new MemoryElection(this.store, this, name, leaseId, this.keySpaces);
  }

  mutex(name: string, leaseId: string): ElectionDriver<MemoryTxn> {
    this.keySpaces.add('mutex', name);
    return new MemoryElection(this.store, this, name, leaseId, this.keySpaces);
  }

  view(name: string): ElectionView {
    return new MemoryElection(this.store, this, name, undefined, this.keySpaces);
  }

  async get(key: string): Promise<string | undefined> {
    return this.store.get(key)?.value;
  }

  async *elections(namePrefix: string): AsyncGenerator<string> {
    const names = new Set<string>();
    for (const [key, stored] of this.store.list(escapeName(namePrefix))) {
      const parsed = parseEntryKey(key, stored.lease);
      if (parsed?.candidate && parsed.election.startsWith(namePrefix)) names.add(parsed.election);
    }
    yield* names;
  }

  stats(): BackendStats {
    return { events: this.store.events };
  }

  async close(): Promise<void> {}
}

/**
 * The embedded backend: ballot's semantics in one process, for single-process services and for
 * testing leader logic. Its fault methods simulate what a network does to a real session.
 * Guards hand their body a MemoryTxn (the same put/delete/get as etcd's EtcdTxn).
 */
export class MemoryBackend extends Backend<MemoryTxn> {
  private readonly memory: MemoryDriver;

  /** @internal use memory(). */
  constructor(options: MemoryOptions = {}) {
    const driver = new MemoryDriver(options.clock ?? systemClock);
    super(driver);
    this.memory = driver;
  }

  /** Cuts a session off: its calls fail, its keepalives go unanswered, its notifications wait. */
  partition(session: Session): void {
    if (!this.memory.partitioned.has(session.id)) this.memory.partitioned.set(session.id, []);
  }

  /** Reconnects a partitioned session and delivers what it missed. */
  heal(session: Session): void {
    const queued = this.memory.partitioned.get(session.id) ?? [];
    this.memory.partitioned.delete(session.id);
    for (const fn of queued) fn();
  }

  /** Deletes a key as an operator would (e.g. another tool removing a leader entry). */
  async deleteKey(key: string): Promise<boolean> {
    return this.memory.store.delete(key);
  }
}

/** Creates an embedded in-process backend: `memory()` or `memory({ clock: new ManualClock() })`. */
export function memory(options: MemoryOptions = {}): MemoryBackend {
  return new MemoryBackend(options);
}
