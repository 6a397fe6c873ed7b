/** A handle returned by Clock.setTimer. */
export interface TimerHandle {
  /** Cancels the timer; harmless after it fired. */
  cancel(): void;
}

/** Monotonic time and timers; injectable so the memory backend can run on virtual time. */
export interface Clock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /**
   * Calls fn once, after ms milliseconds. A `weak` timer does not by itself keep the process
   * alive (Node's unref); clocks without such a notion may ignore it.
   */
  setTimer(fn: () => void, ms: number, options?: { weak?: boolean }): TimerHandle;
}

/**
 * Real time from CLOCK_MONOTONIC. We use hrtime rather than performance.now() because every
 * process on a Linux host shares it, so terms recorded by different processes compare directly.
 */
export const systemClock: Clock = {
  now: () => Number(process.hrtime.bigint()) / 1e6,
  setTimer(fn, ms, options) {
    const t = setTimeout(fn, Math.max(0, ms));
    if (options?.weak) t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/**
 * Resolves after ms on `clock`, or at once when `signal` aborts (never rejects, leaves no timer).
 * With `weak`, the wait alone does not keep the process alive.
 */
export function sleep(
  clock: Clock,
  ms: number,
  signal: AbortSignal,
  options?: { weak?: boolean },
): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = clock.setTimer(done, ms, options);
    function done() {
      timer.cancel();
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** Virtual time for deterministic tests: nothing happens until you call advance(). */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  /** Current virtual time in milliseconds. */
  now(): number {
    return this.time;
  }

  /** Schedules fn at now() + ms of virtual time. */
  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer: PendingTimer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Moves time forward by ms, firing due timers in order and letting promise chains settle between them. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.time = Math.max(this.time, next.at);
      next.fn();
      await settle();
    }
    this.time = target;
    await settle();
  }
}

/** Lets pending promise callbacks and I/O-free async chains run to completion. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
