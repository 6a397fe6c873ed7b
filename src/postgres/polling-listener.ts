import type { Listener, ListenerEvents } from './adapter.js';

/**
 * Stands in for LISTEN where it cannot work (PgBouncer in transaction mode hands each statement to
 * any server connection, so a LISTEN would be lost): every `intervalMs` while any channel is
 * wanted, it tells every subscriber to read again. Handover then takes up to one interval.
 */
export class PollingListener implements Listener {
  private readonly channels = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly intervalMs: number,
    private readonly events: ListenerEvents,
  ) {}

  async listen(channel: string): Promise<void> {
    this.channels.add(channel);
    this.timer ??= setInterval(() => this.events.resync(), this.intervalMs);
  }

  async unlisten(channel: string): Promise<void> {
    this.channels.delete(channel);
    if (this.channels.size === 0) this.stop();
  }

  async close(): Promise<void> {
    this.channels.clear();
    this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
