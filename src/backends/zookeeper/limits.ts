import type { BackendLimits } from '../../core/contract.js';

/**
 * ZooKeeper's limits: a node holds at most jute.maxbuffer (1 MiB by default) with the request
 * around it, so values stop a little short; the session timeout is in ms and the server
 * negotiates it into its own range (2..20 × tickTime by default), which is then the TTL used.
 */
export const ZOOKEEPER_LIMITS: BackendLimits = {
  maxValueBytes: 1_000_000,
  ttl: { minMs: 1000, maxMs: 3_600_000, granularityMs: 1 },
};
