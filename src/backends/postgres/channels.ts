import { createHash } from 'node:crypto';

/**
 * NOTIFY channel names. Built here and stored in each entry row (the trigger reads them from there),
 * so that they never depend on the database's encoding or md5(). Short enough for PostgreSQL's
 * 63-byte identifiers whatever the election's name.
 */
export function electionChannel(schema: string, election: string): string {
  return `ballot_${createHash('sha256').update(`${schema}\0${election}`).digest('hex').slice(0, 24)}`;
}

/** The channel that the deletion of the entry with `seq` is announced on (what its successor waits for). */
export function entryChannel(electionChannel: string, seq: bigint): string {
  return `${electionChannel}_${seq}`;
}
