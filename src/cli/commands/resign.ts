import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { deposeRisk } from '../foreign-leader.js';

/** Flags of `ballot resign`. */
export interface ResignFlags {
  /** Delete the leader's entry even when that is risky (see deposeRisk). */
  force: boolean;
}

/**
 * `ballot resign <election>`: the operator's lever (backend.depose). Deletes the current leader's
 * entry, guarded by its token so a newer leader is never removed by mistake; the next candidate
 * takes over and the old leader's process sees its term end (reason key-deleted). A leader that
 * would not see the delete (a Curator one, on ZooKeeper) is refused without --force: CONFLICT, as
 * for a leader that changed meanwhile, since the command is right and the leader in place is not.
 */
export async function resign(
  election: string,
  { backend, out, stderr }: CommandContext,
  { force }: ResignFlags = { force: false },
): Promise<number> {
  const current = await backend.leader(election);
  if (!current) throw new CliError(`election ${election} has no leader to resign`, ExitCode.NO_LEADER);
  const risk = deposeRisk(backend.kind, current);
  if (risk && !force)
    throw new CliError(
      `refusing to resign ${election}: its leader ${current.value} (key ${current.key}) ${risk.what}. ` +
        `Nothing was deleted: ${risk.instead}`,
      ExitCode.CONFLICT,
    );
  const result = await backend.depose(election, { token: current.token });
  if (result.outcome === 'none')
    throw new CliError(`election ${election} has no leader to resign`, ExitCode.NO_LEADER);
  if (result.outcome === 'changed')
    throw new CliError(
      `the leader of ${election} changed while resigning it (token ${current.token} is gone); nothing was deleted`,
      ExitCode.CONFLICT,
    );
  const { value, key, token } = result.leader;
  out.event(
    { event: 'resigned', election, value, key, token },
    `resigned ${election}: removed ${value} (token ${token}, key ${key})`,
  );
  if (risk?.warning) stderr.write(`ballot: warning: --force deleted the node of ${value}: ${risk.warning}\n`);
  return ExitCode.OK;
}
