import type { Election } from './election.js';
import type { KvTxn } from './guard.js';
import type { Term } from './term.js';

/**
 * A held lock: the same object as an election Term. `token` is its fencing token, `signal` aborts
 * when the lock is lost, and `guard(...)` commits only while it is held.
 */
export type Lock<Tx = KvTxn> = Term<Tx>;

/**
 * A distributed mutex on a session: waiters queue in FIFO order and each waits only on the one
 * ahead of it. Backends may share its layout with their native locks (see docs/etcd-modes.md).
 * `Tx` is the backend's guard transaction, handed to lock.guard()'s body.
 */
export class Mutex<Tx = KvTxn> {
  /** Lock name. */
  readonly name: string;
  private readonly election: Election<Tx>;

  /** @internal use session.mutex(name). */
  constructor(name: string, election: Election<Tx>) {
    this.name = name;
    this.election = election;
  }

  /** Waits for the lock. Aborting the signal gives up and removes this waiter. */
  lock(options: { signal?: AbortSignal } = {}): Promise<Lock<Tx>> {
    return this.election.campaign('', options);
  }

  /** Takes the lock if it is free right now; otherwise resolves to null without waiting. */
  tryLock(): Promise<Lock<Tx> | null> {
    return this.election.tryCampaign('');
  }

  /** Releases the lock, or stops waiting for it; a no-op when neither. If the call fails, retry it. */
  unlock(): Promise<void> {
    return this.election.resign();
  }

  /** True while this session holds the lock (checked against the session deadline now). */
  isLocked(): boolean {
    return this.election.isLeader();
  }
}
