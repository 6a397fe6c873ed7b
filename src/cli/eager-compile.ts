import { setFlagsFromString } from 'node:v8';

/**
 * Commands that hold a term until a signal and then hand it over: their resign path runs once,
 * at the moment that matters, and V8 would compile and interpret it cold right then.
 */
const HANDOVER_COMMANDS: ReadonlySet<string> = new Set(['campaign', 'run']);

/**
 * For `ballot campaign` and `ballot run`, compiles every function as it loads, to baseline machine
 * code, and keeps it: SIGINT → delete sent → successor elected then runs warm code. Measured with
 * bench/cli-handover.ts: handover p50 about 1 ms shorter; the cost is about 0.2 s more start-up
 * and about 20 MB more RSS, which a command that campaigns for hours can pay and `ballot leader`
 * should not. Must run before the CLI's modules load (main.ts imports them afterwards): the flags
 * apply to code compiled from then on, and only to compilation, which is why setting them at run
 * time is sound here.
 */
export function compileEagerlyFor(argv: readonly string[]): void {
  if (!HANDOVER_COMMANDS.has(argv[2] ?? '')) return;
  // Parse every function when its module loads, not on its first call.
  setFlagsFromString('--no-lazy');
  // Baseline-compile each function at once instead of interpreting it until it is hot.
  setFlagsFromString('--always-sparkplug');
  // Keep that code: V8 otherwise drops the bytecode of functions idle for a while, as resign is.
  setFlagsFromString('--no-flush-bytecode');
}
