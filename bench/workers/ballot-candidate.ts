/**
 * A ballot candidate process on etcd for the crash-failover and partition benches; the JSON lines it
 * writes are runCandidate()'s (protocol.ts).
 *
 * Env: ENDPOINT (host:port), ELECTION, VALUE, TTL (seconds).
 */
import { etcd } from '../../src/index.js';
import { required, runCandidate } from './protocol.js';

// Library defaults apart from the endpoint: the bench measures what a user gets.
await runCandidate(etcd({ endpoints: [required('ENDPOINT')] }));
