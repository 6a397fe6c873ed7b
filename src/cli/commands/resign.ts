import { openEtcdClient } from '../connect.js';
import { deleteEntry, leaderEntry } from '../elections.js';
import { CliError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { GlobalOptions } from '../options.js';
import { Output } from '../output.js';

/**
 * `ballot resign <election>`: the operator's lever. Deletes the current leader's entry, guarded by
 * its create revision so a newer leader is never removed by mistake; the next candidate takes
 * over and the old leader's process sees its term end (reason key-deleted).
 */
export async function resign(election: string, options: GlobalOptions): Promise<number> {
  const out = new Output(options.json);
  const client = await openEtcdClient(options, 'resign');
  try {
    const entry = await leaderEntry(client, election);
    if (!entry) throw new CliError(`election ${election} has no leader to resign`, ExitCode.NO_LEADER);
    if (!(await deleteEntry(client, entry)))
      throw new CliError(
        `the leader of ${election} changed while resigning it (token ${entry.token} is gone); nothing was deleted`,
        ExitCode.CONFLICT,
      );
    out.event(
      { event: 'resigned', election, value: entry.value, key: entry.key, token: entry.token },
      `resigned ${election}: removed ${entry.value} (token ${entry.token}, key ${entry.key})`,
    );
    return ExitCode.OK;
  } finally {
    client.close();
  }
}
