/**
 * A ballot candidate on ZooKeeper for the crash-failover bench: the same JSON lines as
 * ballot-candidate.ts (runCandidate() in protocol.ts).
 *
 * Env: CONNECT (host:port), ELECTION, VALUE, TTL (seconds).
 */
import { zookeeper } from '../../src/index.js';
import { required, runCandidate } from './protocol.js';

// Library defaults apart from the server: the bench measures what a user gets.
await runCandidate(zookeeper({ connect: required('CONNECT'), env: {} }));
