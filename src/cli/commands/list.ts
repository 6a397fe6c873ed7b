import { openEtcdClient } from '../connect.js';
import { leaseTtls, listElections } from '../elections.js';
import { ExitCode } from '../exit-codes.js';
import type { GlobalOptions } from '../options.js';
import { Output, formatTable, jsonLine } from '../output.js';

/**
 * `ballot list [prefix]`: every election whose name starts with the prefix, with its leader, the
 * queued candidates in line order and the seconds left on each one's lease. A key without a lease
 * under an election's prefix is shown in its place in line (see listElections): it is what
 * `ballot leader` reports when it is the oldest. With --json, one object per election.
 */
export async function list(prefix: string, options: GlobalOptions): Promise<number> {
  const out = new Output(options.json);
  const client = await openEtcdClient(options, 'list');
  try {
    const elections = await listElections(client, prefix);
    const ttls = await leaseTtls(
      client,
      elections.flatMap((e) => e.entries.map((entry) => entry.lease)),
    );
    if (options.json) {
      for (const { election, entries } of elections) {
        const [first, ...queue] = entries.map((e) => ({
          value: e.value,
          key: e.key,
          token: e.token,
          // A key without a lease never expires: null, not -1 ("expired").
          lease: e.lease === '0' ? null : BigInt(e.lease).toString(16),
          ttl: e.lease === '0' ? null : (ttls.get(e.lease) ?? -1),
        }));
        process.stdout.write(`${jsonLine({ event: 'election', election, leader: first ?? null, queue })}\n`);
      }
      return ExitCode.OK;
    }
    if (elections.length === 0) {
      out.note(prefix ? `no elections under "${prefix}"` : 'no elections');
      return ExitCode.OK;
    }
    const rows = [['ELECTION', 'ROLE', 'VALUE', 'TOKEN', 'KEY', 'TTL']];
    for (const { election, entries } of elections)
      entries.forEach((e, i) => {
        const ttl = ttls.get(e.lease) ?? -1;
        rows.push([
          election,
          i === 0 ? 'leader' : `#${i}`,
          e.value,
          e.token.toString(),
          e.key,
          e.lease === '0' ? 'no lease' : ttl < 0 ? 'expired' : `${ttl}s`,
        ]);
      });
    out.note(formatTable(rows));
    return ExitCode.OK;
  } finally {
    client.close();
  }
}
