import { Channel } from './channel.js';

/**
 * Shares one async source among many consumers: it runs while anyone listens, each item reaches
 * every consumer, and a consumer that joins late gets the latest item first. Used so that many
 * observers of one election on one client cost one watch, not one each.
 */
export class Multicast<T> {
  private readonly start: (signal: AbortSignal) => AsyncIterable<T>;
  private readonly consumers = new Set<Channel<T>>();
  private running?: AbortController;
  private latest?: { value: T };

  constructor(start: (signal: AbortSignal) => AsyncIterable<T>) {
    this.start = start;
  }

  /** Yields the latest item (if any) and every later one, until `signal` aborts or the source fails. */
  async *subscribe(signal: AbortSignal): AsyncGenerator<T, void, undefined> {
    const channel = new Channel<T>();
    if (this.latest) channel.push(this.latest.value);
    this.consumers.add(channel);
    const leave = () => channel.close();
    signal.addEventListener('abort', leave, { once: true });
    if (!this.running) this.run();
    try {
      yield* channel;
    } finally {
      signal.removeEventListener('abort', leave);
      this.consumers.delete(channel);
      if (this.consumers.size === 0) this.stop();
    }
  }

  private run(): void {
    const running = new AbortController();
    this.running = running;
    void (async () => {
      let failure: unknown;
      try {
        for await (const value of this.start(running.signal)) {
          this.latest = { value };
          for (const consumer of this.consumers) consumer.push(value);
        }
      } catch (err) {
        failure = err;
      }
      if (this.running !== running) return;
      // The source ended by itself: end every consumer, and start afresh for the next one.
      this.running = undefined;
      this.latest = undefined;
      for (const consumer of this.consumers) consumer.close(failure);
    })();
  }

  private stop(): void {
    this.running?.abort();
    this.running = undefined;
    this.latest = undefined;
  }
}
