import type { Clock, TimerHandle } from '../../core/clock.js';
import { BackendError } from '../../core/errors.js';

/** One stored key. */
export interface StoredKey {
  value: string;
  createRevision: bigint;
  lease?: string;
}

interface StoredLease {
  ttlMs: number;
  keys: Set<string>;
  expiry: TimerHandle;
  /** When the lease expires unless renewed, on the clock. */
  expiresAt: number;
}

/** Called after a key changes; `deleted` tells which kind of change. */
export type KeyListener = (key: string, deleted: boolean) => void;

/**
 * The in-process "server": a revisioned key space with leases that expire on the injected clock.
 * Listeners are per key or per prefix, so a change wakes only those who asked about it.
 */
export class MemoryStore {
  readonly clock: Clock;
  /** Wake-ups delivered to listeners (the memory backend's "watch events"). */
  events = 0;
  private revision = 0n;
  private nextLease = 0x7b00_0000n;
  private readonly keys = new Map<string, StoredKey>();
  private readonly leases = new Map<string, StoredLease>();
  private readonly keyListeners = new Map<string, Set<KeyListener>>();
  private readonly prefixListeners = new Map<string, Set<KeyListener>>();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Creates a lease that expires after ttlMs unless renewed. */
  grant(ttlMs: number): string {
    const id = (this.nextLease++).toString();
    this.leases.set(id, {
      ttlMs,
      keys: new Set(),
      expiry: this.expireLater(id, ttlMs),
      expiresAt: this.clock.now() + ttlMs,
    });
    return id;
  }

  /** Renews a lease; returns its TTL in ms, or 0 if it no longer exists. */
  renew(id: string): number {
    const lease = this.leases.get(id);
    if (!lease) return 0;
    lease.expiry.cancel();
    lease.expiry = this.expireLater(id, lease.ttlMs);
    lease.expiresAt = this.clock.now() + lease.ttlMs;
    return lease.ttlMs;
  }

  /** Whole seconds left on a lease (rounded down, as etcd reports them), or -1 if it is gone. */
  timeToLive(id: string): number {
    const lease = this.leases.get(id);
    if (!lease) return -1;
    return Math.max(0, Math.floor((lease.expiresAt - this.clock.now()) / 1000));
  }

  /** Deletes a lease and its keys. */
  revoke(id: string): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    lease.expiry.cancel();
    this.leases.delete(id);
    for (const key of [...lease.keys]) this.delete(key);
  }

  /** Reads a key. */
  get(key: string): StoredKey | undefined {
    return this.keys.get(key);
  }

  /** Keys under a prefix, oldest first. */
  list(prefix: string): [string, StoredKey][] {
    return [...this.keys.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort((a, b) => (a[1].createRevision < b[1].createRevision ? -1 : 1));
  }

  /** Writes a key, keeping its create revision if it exists. Returns the stored key. */
  put(key: string, value: string, lease?: string): StoredKey {
    if (lease !== undefined && !this.leases.has(lease))
      throw new BackendError(`lease ${lease} not found: it expired or was revoked`);
    const existing = this.keys.get(key);
    const stored: StoredKey = existing
      ? { ...existing, value }
      : { value, createRevision: ++this.revision, ...(lease === undefined ? {} : { lease }) };
    if (existing) this.revision++;
    this.keys.set(key, stored);
    if (lease !== undefined) this.leases.get(lease)?.keys.add(key);
    this.notify(key, false);
    return stored;
  }

  /** Deletes a key if it exists. */
  delete(key: string): boolean {
    const existing = this.keys.get(key);
    if (!existing) return false;
    this.revision++;
    this.keys.delete(key);
    if (existing.lease !== undefined) this.leases.get(existing.lease)?.keys.delete(key);
    this.notify(key, true);
    return true;
  }

  /** Listens to changes of one key. */
  onKey(key: string, listener: KeyListener): () => void {
    return subscribe(this.keyListeners, key, listener);
  }

  /** Listens to changes of every key under a prefix. */
  onPrefix(prefix: string, listener: KeyListener): () => void {
    return subscribe(this.prefixListeners, prefix, listener);
  }

  private expireLater(id: string, ttlMs: number): TimerHandle {
    return this.clock.setTimer(() => this.revoke(id), ttlMs);
  }

  private notify(key: string, deleted: boolean): void {
    const listeners = [...(this.keyListeners.get(key) ?? [])];
    for (const [prefix, set] of this.prefixListeners) if (key.startsWith(prefix)) listeners.push(...set);
    for (const listener of listeners) {
      this.events++;
      listener(key, deleted);
    }
  }
}

function subscribe(map: Map<string, Set<KeyListener>>, at: string, listener: KeyListener): () => void {
  let set = map.get(at);
  if (!set) map.set(at, (set = new Set()));
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0 && map.get(at) === set) map.delete(at);
  };
}
