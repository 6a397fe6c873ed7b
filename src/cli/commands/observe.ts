import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';

/** `ballot observe <election>`: prints the leader now and at every change, "none" included, until `signal` aborts. */
export async function observe(
  election: string,
  signal: AbortSignal,
  { backend, out }: CommandContext,
): Promise<number> {
  // Prints `unknown` once the backend has not answered within its call timeout, then the leader again.
  for await (const change of backend.observe(election, { signal })) out.leader(change, backend.clock.now());
  return ExitCode.OK;
}
