import type { LeaderRecord } from '../../core/contract.js';
import type { SharedRead } from '../../core/liveness.js';
import type { Multicast } from '../../core/multicast.js';
import type { ZkConnection } from '../../zookeeper/connection.js';
import { translate } from '../../zookeeper/errors.js';
import type { KeySpaces } from '../shared/key-spaces.js';

/** What every election, view and guard of one zookeeper backend object shares. */
export interface ZkContext {
  /** The connect string, for messages. */
  readonly where: string;
  /** The connection for session-less reads and observers (its session holds nothing). */
  reader(): Promise<ZkConnection>;
  /** Key spaces of the elections and mutexes opened here (guards' key-value writes are refused inside them). */
  readonly keySpaces: Pick<KeySpaces, 'add' | 'check'>;
  /** One leader stream per election path, however many observers. */
  readonly observers: Map<string, Multicast<LeaderRecord | null>>;
  /** One confirming read per election path and interval. */
  readonly probes: Map<string, SharedRead>;
}

/** Runs a ZooKeeper call; errors come back as BallotErrors saying what was being done. */
export async function attempt<T>(where: string, doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw translate(err, where, doing);
  }
}
