import { TransferError } from '../../index.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { deposeRisk } from '../foreign-leader.js';

/** Flags of `ballot transfer`. */
export interface TransferFlags {
  /** How long to wait for the target to lead, in ms. */
  timeout: number;
  /** Delete the leader's entry even when that is risky (see deposeRisk). */
  force: boolean;
}

/**
 * `ballot transfer <election> <candidate>`: the operator hands leadership to a named waiting
 * candidate (backend.transfer). One atomic step, guarded by the leader's token as read, deletes the
 * leader's entry and those ahead of the candidate's; then the command waits until the candidate
 * leads. The old leader's process sees its term end (key-deleted) and queues again, as do the
 * candidates passed over. Exit codes as for resign: 3 no leader, 9 nothing changed (the leader
 * changed, the candidate is not waiting, or a Curator leader without --force), and 5 when the step
 * committed but the candidate did not lead within --timeout.
 */
export async function transfer(
  election: string,
  candidate: string,
  { backend, out, stderr }: CommandContext,
  { timeout, force }: TransferFlags,
): Promise<number> {
  const current = await backend.leader(election);
  if (!current) throw new CliError(`election ${election} has no leader to transfer from`, ExitCode.NO_LEADER);
  const risk = deposeRisk(backend.kind, current);
  if (risk && !force)
    throw new CliError(
      `refusing to transfer ${election}: its leader ${current.value} (key ${current.key}) ${risk.what}. ` +
        `Nothing was deleted: ${risk.instead}`,
      ExitCode.CONFLICT,
    );
  try {
    const result = await backend.transfer(election, { to: candidate, token: current.token, timeout });
    const { value, key, token } = result.to;
    out.event(
      { event: 'transferred', election, from: current.value, fromToken: result.from, value, key, token },
      `transferred ${election}: ${current.value} (token ${result.from}) -> ${value} (token ${token}, key ${key})`,
    );
  } catch (err) {
    if (!(err instanceof TransferError)) throw err;
    if (err.reason === 'timeout')
      throw new CliError(`${err.message} (raise --timeout if it is just slow)`, ExitCode.UNAVAILABLE);
    throw new CliError(`${err.message}; nothing was deleted`, ExitCode.CONFLICT);
  }
  if (risk?.warning)
    stderr.write(`ballot: warning: --force deleted the node of ${current.value}: ${risk.warning}\n`);
  return ExitCode.OK;
}
