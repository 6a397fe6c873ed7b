import { openBackend } from '../connect.js';
import { ExitCode } from '../exit-codes.js';
import type { GlobalOptions } from '../options.js';
import { Output } from '../output.js';

/** `ballot leader <election>`: prints the current leader once; exits NO_LEADER when there is none. */
export async function leader(election: string, options: GlobalOptions): Promise<number> {
  const out = new Output(options.json);
  const backend = openBackend(options, 'leader');
  try {
    const current = await backend.leader(election);
    out.leader(current ?? { kind: 'none', election, value: null, key: null, token: null, lease: null });
    return current ? ExitCode.OK : ExitCode.NO_LEADER;
  } finally {
    await backend.close();
  }
}
