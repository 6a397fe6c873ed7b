/**
 * One process, one ballot session on PostgreSQL, COUNT elections, all campaigned at once
 * (holdManyElections() in protocol.ts). Its own process, so its RSS is ballot's (plus Node and tsx).
 *
 * Env: URL (connection string), COUNT, TTL (seconds), APP (application_name).
 */
import { postgres } from '../../src/index.js';
import { holdManyElections, required } from './protocol.js';

const backend = postgres({ connectionString: required('URL'), env: {}, applicationName: required('APP') });
await holdManyElections(backend, {
  count: Number(required('COUNT')),
  concurrency: 0,
  ttl: Number(required('TTL')),
  prefix: 'bench-pg-many-',
});
