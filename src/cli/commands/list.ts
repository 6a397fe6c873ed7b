import type { Participant } from '../../index.js';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatTable } from '../output.js';

/**
 * `ballot list [prefix]`: every election whose name starts with the prefix, with its leader, the
 * queued candidates in line order and the seconds left on each one's lease. A key without a lease
 * under an election's prefix is shown in its place in line: the oldest key leads, whoever wrote it,
 * so it is what `ballot leader` reports when it is the oldest. With --json, one object per election.
 */
export async function list(prefix: string, { backend, out }: CommandContext): Promise<number> {
  const elections: { election: string; line: Participant[] }[] = [];
  for (const election of await backend.elections(prefix)) {
    const line = await backend.participants(election);
    // Emptied between the two reads: nobody campaigns any more.
    if (line.length > 0) elections.push({ election, line });
  }
  if (out.json) {
    for (const { election, line } of elections) {
      const [first, ...queue] = line.map((p) => ({
        value: p.value,
        key: p.key,
        token: p.token,
        // A key without a lease never expires: null, not -1 ("expired").
        lease: p.lease === null ? null : leaseLabel(p.lease, backend.kind),
        ttl: p.lease === null ? null : p.ttl,
      }));
      out.event({ event: 'election', election, leader: first ?? null, queue }, '');
    }
    return ExitCode.OK;
  }
  if (elections.length === 0) {
    out.note(prefix ? `no elections under "${prefix}"` : 'no elections');
    return ExitCode.OK;
  }
  const rows = [['ELECTION', 'ROLE', 'VALUE', 'TOKEN', 'KEY', 'TTL']];
  for (const { election, line } of elections)
    line.forEach((p, i) => {
      rows.push([
        election,
        i === 0 ? 'leader' : `#${i}`,
        p.value,
        p.token.toString(),
        p.key,
        p.lease === null ? 'no lease' : p.ttl === null ? 'unknown' : p.ttl < 0 ? 'expired' : `${p.ttl}s`,
      ]);
    });
  out.note(formatTable(rows));
  return ExitCode.OK;
}

/**
 * A lease id as etcdctl prints it (hex) when it is numeric, else as the backend names it. On
 * PostgreSQL it is the session's id as sessions.id and the entry's key show it, in decimal; on
 * ZooKeeper the session id is already hex, as zkCli.sh prints ephemeralOwner (and may be all digits).
 */
function leaseLabel(lease: string, kind: string): string {
  return kind !== 'postgres' && kind !== 'zookeeper' && /^\d+$/.test(lease)
    ? BigInt(lease).toString(16)
    : lease;
}
