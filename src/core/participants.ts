/**
 * The line of an election as an operator sees it, and the operator's lever on its leader. Every
 * backend answers these from its contract (ElectionDriver.participants/depose), so `ballot list`
 * and `ballot resign` work the same on each.
 */
import { decodeCandidateValue, type Advertise } from './candidate-value.js';
import type { DeposeRecord, ElectionView } from './contract.js';
import { toLeader, type Leader } from './election.js';

/** One entry in an election's line: participants()[0] leads, the rest wait in this order. */
export interface Participant {
  election: string;
  key: string;
  /** The candidate's value as it campaigned with it (without what it advertises). */
  value: string;
  /** Where the candidate serves, if it advertised; undefined otherwise. */
  advertise?: Advertise;
  /** The candidate's priority, if it set one. */
  priority?: number;
  /** Fencing token of the term this entry holds or will hold; the line is in token order. */
  token: bigint;
  /** Id of the lease (session) that keeps the entry alive; null for a key tied to none, which never expires. */
  lease: string | null;
  /**
   * Whole seconds the entry's lease has left, -1 when the lease is already gone (the entry goes
   * with it), null when it has no lease or the backend cannot tell.
   */
  ttl: number | null;
}

/** What backend.depose() did. */
export type DeposeResult =
  /** The leader's entry was deleted: the next candidate takes over, its term ends ('key-deleted'). */
  | { outcome: 'deposed'; leader: Leader }
  /** The election had no leader; nothing was deleted. */
  | { outcome: 'none' }
  /** The leader found (`leader`) did not hold the expected token, or lost it before the delete; nothing was deleted. */
  | { outcome: 'changed'; leader: Leader };

/** Options for backend.depose(). */
export interface DeposeOptions {
  /** Depose only the leader holding this token (e.g. one read before); any other leader is 'changed'. */
  token?: bigint;
}

/** Reads the line of `election` through a driver; shared by Election and the session-less Backend view. */
export async function readParticipants(election: string, driver: ElectionView): Promise<Participant[]> {
  const records = await driver.participants();
  return records.map((record) => ({ election, ...record, ...decodeCandidateValue(record.value) }));
}

/** Deposes the leader of `election` through a driver, as a public result. */
export async function deposeLeader(
  election: string,
  driver: ElectionView,
  token: bigint | undefined,
): Promise<DeposeResult> {
  const record: DeposeRecord = await driver.depose(token);
  if (record.outcome === 'none') return record;
  return { outcome: record.outcome, leader: toLeader(election, record.leader) };
}
