import type { Listener, ListenerEvents, SqlAdapter } from './adapter.js';
import { translate } from './errors.js';
import { PollingListener } from './polling-listener.js';

/**
 * Why a subscriber is called: a NOTIFY on its channel (with its payload), or a reconnect (or a
 * poll) after which it must read again.
 */
export type Wake = { kind: 'notify'; payload: string } | { kind: 'resync' };

const RESYNC: Wake = { kind: 'resync' };

/**
 * Shares one LISTEN connection among every election of a backend object: channels are listened
 * while at least one subscriber wants them, and each notification reaches only the subscribers
 * of its channel, so a handover wakes the one candidate waiting on that entry.
 */
export class Notifier {
  private readonly subscribers = new Map<string, Set<(wake: Wake) => void>>();
  /** The LISTEN of each channel, awaited by every subscriber that arrives while it is in flight. */
  private readonly listening = new Map<string, Promise<void>>();
  private listener?: Listener;
  /** Notifications received on the connection (each counted once, however many subscribers). */
  delivered = 0;

  /** `pollMs`: no LISTEN at all (e.g. behind PgBouncer in transaction mode); read again this often. */
  constructor(
    private readonly adapter: SqlAdapter,
    private readonly pollMs?: number,
  ) {}

  /**
   * Calls `fn` on every notification on `channel` and after every reconnect, until the returned
   * function is called. Resolves once the server listens (or, while it is unreachable, at once:
   * the reconnect listens and then calls `fn` with 'resync').
   */
  async subscribe(channel: string, fn: (wake: Wake) => void): Promise<() => void> {
    let set = this.subscribers.get(channel);
    if (!set) {
      this.subscribers.set(channel, (set = new Set()));
      this.listening.set(channel, this.connection().listen(channel));
    }
    set.add(fn);
    const listening = this.listening.get(channel);
    try {
      await listening;
    } catch (err) {
      // The LISTEN failed: leave no trace, so that the next subscriber LISTENs again.
      set.delete(fn);
      if (this.listening.get(channel) === listening) {
        this.listening.delete(channel);
        this.subscribers.delete(channel);
      }
      throw translate(err, this.adapter.where, `listening for changes on ${channel}`);
    }
    return () => {
      const current = this.subscribers.get(channel);
      if (!current?.delete(fn) || current.size > 0) return;
      this.subscribers.delete(channel);
      this.listening.delete(channel);
      void this.listener?.unlisten(channel);
    };
  }

  /** Closes the LISTEN connection. */
  async close(): Promise<void> {
    this.subscribers.clear();
    this.listening.clear();
    await this.listener?.close();
  }

  private connection(): Listener {
    const events: ListenerEvents = {
      notification: (channel, payload) => {
        this.delivered++;
        const wake: Wake = { kind: 'notify', payload };
        for (const fn of [...(this.subscribers.get(channel) ?? [])]) fn(wake);
      },
      resync: () => {
        for (const set of [...this.subscribers.values()]) for (const fn of [...set]) fn(RESYNC);
      },
    };
    this.listener ??= this.pollMs ? new PollingListener(this.pollMs, events) : this.adapter.listener(events);
    return this.listener;
  }
}
