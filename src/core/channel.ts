/**
 * A minimal unbounded async queue: producers push from callbacks, one consumer pulls with
 * for-await. Used where a backend turns callbacks (watches, streams) into an async iterable.
 */
export class Channel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private wake?: () => void;
  private closed = false;
  private failure?: unknown;

  /** Queues an item for the consumer. */
  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    this.poke();
  }

  /** Ends the iteration after the queued items; with `error`, the consumer's loop throws it. */
  close(error?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = error;
    this.poke();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      if (this.items.length > 0) {
        yield this.items.shift() as T;
        continue;
      }
      if (this.closed) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
