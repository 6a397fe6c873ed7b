import { openBackend } from '../connect.js';
import { ExitCode } from '../exit-codes.js';
import { watchInterrupts } from '../interrupt.js';
import type { GlobalOptions } from '../options.js';
import { Output } from '../output.js';

/** `ballot observe <election>`: prints the leader now and at every change, "none" included, until interrupted. */
export async function observe(election: string, options: GlobalOptions): Promise<number> {
  const out = new Output(options.json);
  const interrupts = watchInterrupts();
  const backend = openBackend(options, 'observe');
  try {
    // Prints `unknown` once etcd has not answered within the call timeout, then the leader again.
    for await (const change of backend.observe(election, { signal: interrupts.signal }))
      out.leader(change, backend.clock.now());
    return ExitCode.OK;
  } finally {
    await backend.close();
    interrupts.dispose();
  }
}
