import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

/**
 * `ballot resign <election>`: the operator's lever (backend.depose). Deletes the current leader's
 * entry, guarded by its token so a newer leader is never removed by mistake; the next candidate
 * takes over and the old leader's process sees its term end (reason key-deleted).
 */
export async function resign(election: string, { backend, out }: CommandContext): Promise<number> {
  const result = await backend.depose(election);
  if (result.outcome === 'none')
    throw new CliError(`election ${election} has no leader to resign`, ExitCode.NO_LEADER);
  const { value, key, token } = result.leader;
  if (result.outcome === 'changed')
    throw new CliError(
      `the leader of ${election} changed while resigning it (token ${token} is gone); nothing was deleted`,
      ExitCode.CONFLICT,
    );
  out.event(
    { event: 'resigned', election, value, key, token },
    `resigned ${election}: removed ${value} (token ${token}, key ${key})`,
  );
  return ExitCode.OK;
}
