import { isBallotCandidate } from '../backends/zookeeper/nodes.js';
import type { Leader } from '../index.js';

/** Why `ballot resign` will not delete a leader's entry without --force. */
export interface DeposeRisk {
  /** What the entry is and what deleting it would do; follows "its leader <value> (key <key>)". */
  what: string;
  /** What the operator can do instead. */
  instead: string;
  /** Printed after --force deleted it anyway; none when nobody is left believing it leads. */
  warning?: string;
}

/**
 * The risk of deleting this leader's entry, or undefined when its owner sees the delete (every
 * ballot entry, and every entry on etcd and PostgreSQL). On ZooKeeper an entry ballot did not
 * create belongs to Curator's LeaderLatch or InterProcessMutex (or another client), and Curator's
 * leader does not watch its own node: it goes on leading while the next candidate takes over.
 */
export function deposeRisk(kind: string, leader: Leader): DeposeRisk | undefined {
  if (kind !== 'zookeeper' || isBallotCandidate(leader.key)) return undefined;
  if (leader.lease === '')
    return {
      what: 'is a persistent node (no session owns it) that ballot did not create: whoever wrote it may rely on it',
      instead: 'add --force to delete it',
    };
  return {
    what:
      'is not a ballot candidate (a Curator LeaderLatch or InterProcessMutex, or another ZooKeeper client): ' +
      "Curator's leader does not watch its own node, so after the delete it would go on acting as " +
      'leader while the next candidate takes over, two leaders at once',
    instead:
      'stop or restart the process that holds it (its node goes with its session), or add --force ' +
      'to delete the node anyway',
    warning:
      'its owner may go on acting as leader beside the next one until its process restarts or its ' +
      'session ends: stop or restart that process now',
  };
}
