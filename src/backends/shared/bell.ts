/**
 * A wake-up that callbacks ring and one waiter awaits: a ring that comes while nobody waits is kept
 * for the next wait, so a NOTIFY that lands between a read and the wait is never lost.
 */
export class Bell {
  private rung = false;
  private waiter?: () => void;

  /** Whether it rang since the last wait returned. */
  get pending(): boolean {
    return this.rung;
  }

  /** Rings: wakes the waiter, or the next one. */
  readonly ring = (): void => {
    this.rung = true;
    this.waiter?.();
  };

  /** Resolves once rung (since the last wait returned), after `ms`, or when `signal` aborts. */
  async wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (!this.rung && !signal?.aborted)
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          this.waiter = undefined;
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        this.waiter = done;
        signal?.addEventListener('abort', done, { once: true });
      });
    this.rung = false;
  }
}
