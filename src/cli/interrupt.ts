import { ExitCode } from './exit-codes.js';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** SIGINT/SIGTERM (and SIGHUP) handling for one command run. */
export interface Interrupts {
  /** Aborts on the first SIGINT, SIGTERM or SIGHUP; the reason is the signal name. */
  readonly signal: AbortSignal;
  /** Registers what to do on a second signal, before the process exits with 130 (e.g. SIGKILL a child). */
  onForce(hook: () => void): void;
  /**
   * Registers what to run on the first signal before `signal` aborts (a resign that should not wait
   * for the abort's listeners); returns how to unregister it.
   */
  onFirst(hook: () => void): () => void;
  /** Removes the signal handlers. */
  dispose(): void;
}

/**
 * Turns the first SIGINT/SIGTERM into an abort so the command can resign and clean up; a second
 * one means "now": the force hooks run and the process exits at once.
 */
export function watchInterrupts(): Interrupts {
  const controller = new AbortController();
  const hooks: (() => void)[] = [];
  const first = new Set<() => void>();
  const handler = (name: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      for (const hook of first) hook();
      controller.abort(name);
      return;
    }
    for (const hook of hooks) hook();
    process.exit(ExitCode.INTERRUPTED);
  };
  // SIGHUP too: `run` puts its command in a session of its own, beyond the terminal's hangup, so
  // ballot dying of SIGHUP would leave the command running without a term.
  for (const name of SIGNALS) process.on(name, handler);
  warmAbort();
  return {
    signal: controller.signal,
    onForce: (hook) => void hooks.push(hook),
    onFirst(hook) {
      first.add(hook);
      return () => void first.delete(hook);
    },
    dispose() {
      for (const name of SIGNALS) process.off(name, handler);
    },
  };
}

/** Resolves with undefined once `signal` aborts (never rejects). */
export function whenAborted(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}

/**
 * Runs an abort with a listener once, so that the first real SIGINT does not pay for compiling
 * Node's AbortSignal and EventTarget dispatch (about half a millisecond, measured between the
 * signal handler and the campaign's resign) in the middle of a handover.
 */
function warmAbort(): void {
  const controller = new AbortController();
  controller.signal.addEventListener('abort', () => undefined, { once: true });
  controller.abort('SIGINT');
  void whenAborted(controller.signal);
}
