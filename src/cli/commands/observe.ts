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
    // The session is only a handle for reading: observing never creates an entry.
    const session = await backend.session({ ttl: options.ttl });
    for await (const change of session.election(election).observe({ signal: interrupts.signal }))
      out.leader(change);
    return ExitCode.OK;
  } finally {
    await backend.close();
    interrupts.dispose();
  }
}
