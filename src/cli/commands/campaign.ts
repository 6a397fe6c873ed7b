import type { Term } from '../../index.js';
import type { CommandContext } from '../context.js';
import { whileQueued } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { whenAborted } from '../interrupt.js';
import { describeEnd } from '../output.js';

/** Flags of `ballot campaign`. */
export interface CampaignFlags {
  /** Session TTL in whole seconds. */
  ttl: number;
  /** Aborts on SIGINT/SIGTERM: leave the line, or resign the term, and exit 0. */
  signal: AbortSignal;
}

/**
 * `ballot campaign <election> <value>`: waits in line, reports `elected`, holds the term until
 * the signal aborts, then resigns and exits 0. A term that ends any other way is reported as
 * `deposed` with its reason and exits DEPOSED.
 */
export async function campaign(
  election: string,
  value: string,
  { ttl, signal }: CampaignFlags,
  { backend, out, stderr }: CommandContext,
): Promise<number> {
  const session = await backend.session({ ttl });
  try {
    const race = session.election(election);
    if (!out.json) stderr.write(`campaigning for ${election} as ${value}\n`);
    let term: Term;
    try {
      term = await race.campaign(value, { signal });
    } catch (err) {
      // Interrupted while queued: the library already removed our entry, which is all we owe.
      if (signal.aborted) return ExitCode.OK;
      throw whileQueued(election, err, backend.kind);
    }
    out.elected({ election, value: term.value, key: term.key, token: term.token });
    const ended = await Promise.race([term.whenEnded(), whenAborted(signal)]);
    if (ended) {
      out.deposed(election, ended.reason);
      stderr.write(`ballot: ${describeEnd(election, term.token, ended.reason)}\n`);
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
    await session.close();
  }
}
