/**
 * One process, one ballot session on etcd, COUNT elections (holdManyElections() in protocol.ts).
 * Runs as its own process so its RSS is ballot's (plus Node and tsx), not the bench's.
 *
 * Env: ENDPOINT (host:port), COUNT, CONCURRENCY (campaigns in flight; 0 = all at once), TTL (seconds).
 */
import { etcd } from '../../src/index.js';
import { holdManyElections, required } from './protocol.js';

await holdManyElections(etcd({ endpoints: [required('ENDPOINT')] }), {
  count: Number(required('COUNT')),
  concurrency: Number(required('CONCURRENCY')),
  ttl: Number(required('TTL')),
  prefix: 'bench-many-',
});
