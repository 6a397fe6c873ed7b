/**
 * One process, one ballot session on ZooKeeper, COUNT elections, all campaigned at once
 * (holdManyElections() in protocol.ts). Its own process, so its RSS is ballot's (plus Node and tsx).
 *
 * Env: CONNECT (host:port), COUNT, TTL (seconds).
 */
import { zookeeper } from '../../src/index.js';
import { holdManyElections, required } from './protocol.js';

await holdManyElections(zookeeper({ connect: required('CONNECT'), env: {} }), {
  count: Number(required('COUNT')),
  concurrency: 0,
  ttl: Number(required('TTL')),
  prefix: 'bench-zk-many-',
});
