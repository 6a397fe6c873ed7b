import type { Term } from '../../index.js';
import { openBackend } from '../connect.js';
import { whileQueued } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { watchInterrupts, whenAborted } from '../interrupt.js';
import type { GlobalOptions } from '../options.js';
import { Output, describeEnd } from '../output.js';

/**
 * `ballot campaign <election> <value>`: waits in line, reports `elected`, holds the term until
 * SIGINT/SIGTERM, then resigns and exits 0. A term that ends any other way is reported as
 * `deposed` with its reason and exits DEPOSED.
 */
export async function campaign(election: string, value: string, options: GlobalOptions): Promise<number> {
  const out = new Output(options.json);
  const interrupts = watchInterrupts();
  const backend = openBackend(options, 'campaign');
  try {
    const session = await backend.session({ ttl: options.ttl });
    const race = session.election(election);
    if (!options.json) process.stderr.write(`campaigning for ${election} as ${value}\n`);
    let term: Term;
    try {
      term = await race.campaign(value, { signal: interrupts.signal });
    } catch (err) {
      // Interrupted while queued: the library already removed our entry, which is all we owe.
      if (interrupts.signal.aborted) return ExitCode.OK;
      throw whileQueued(election, err);
    }
    out.elected({ election, value: term.value, key: term.key, token: term.token });
    const ended = await Promise.race([term.whenEnded(), whenAborted(interrupts.signal)]);
    if (ended) {
      out.deposed(election, ended.reason);
      process.stderr.write(`ballot: ${describeEnd(election, term.token, ended.reason)}\n`);
      return ExitCode.DEPOSED;
    }
    try {
      await race.resign();
    } finally {
      // The term ended the moment resign() began; say so even if deleting the key failed (the
      // key then goes with the lease, which close() revokes or the TTL expires).
      out.deposed(election, term.ended?.reason ?? 'resigned');
    }
    return ExitCode.OK;
  } finally {
    await backend.close();
    interrupts.dispose();
  }
}
