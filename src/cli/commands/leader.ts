import { electionPrefix } from '../../backends/etcd/keys.js';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';

/** `ballot leader <election>`: prints the current leader once; exits NO_LEADER when there is none. */
export async function leader(election: string, { backend, out, stderr }: CommandContext): Promise<number> {
  const current = await backend.leader(election);
  out.leader(current ?? { kind: 'none', election, value: null, key: null, token: null, lease: null });
  // The oldest key leads, whoever wrote it (see `ballot list`); one without a lease never goes away.
  if (current?.lease === '' && backend.kind === 'zookeeper')
    stderr.write(
      `ballot: warning: the leading node of ${election}, ${current.key}, is persistent (no session owns it): ` +
        `no candidate can be elected until it is deleted (ballot resign ${election} --force)\n`,
    );
  else if (current?.lease === '')
    stderr.write(
      `ballot: warning: the oldest key under "${electionPrefix(election)}", ${current.key}, has no lease: ` +
        `no candidate can be elected until it is deleted (ballot resign ${election})\n`,
    );
  return current ? ExitCode.OK : ExitCode.NO_LEADER;
}
