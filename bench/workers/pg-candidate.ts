/**
 * A ballot candidate on PostgreSQL for the crash-failover and partition benches: the same JSON lines
 * as ballot-candidate.ts (runCandidate() in protocol.ts).
 *
 * Env: URL (connection string), ELECTION, VALUE, TTL (seconds).
 */
import { postgres } from '../../src/index.js';
import { required, runCandidate } from './protocol.js';

// Library defaults apart from the server: the bench measures what a user gets.
await runCandidate(postgres({ connectionString: required('URL'), env: {} }));
