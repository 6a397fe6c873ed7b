/**
 * A candidate process for the ZooKeeper fault tests (body: candidate-body.ts). It also reports
 * session loss, the granted TTL and failure times, and answers {"cmd":"status"} (is it leading
 * now, and with which token). Env: CONNECT, ELECTION, VALUE, TTL, LOOP=1, WRITE_KEY, CALL_TIMEOUT.
 */
import { zookeeper, type ZkTxn } from '../../src/index.js';
import { runCandidate } from './candidate-body.js';

const value = process.env['VALUE'] ?? String(process.pid);
/** Where the late guard would write: the tests read it to prove nothing was written. */
const writeKey = process.env['WRITE_KEY'] ?? 'fault-writes';

await runCandidate<ZkTxn>({
  backend: zookeeper({
    connect: process.env['CONNECT'] ?? '',
    callTimeout: Number(process.env['CALL_TIMEOUT'] ?? '1000'),
    env: {},
  }),
  election: process.env['ELECTION'] ?? '/faults/leader',
  value,
  ttl: Number(process.env['TTL'] ?? '2'),
  loop: process.env['LOOP'] === '1',
  staleWrite: (tx, token) => tx.put(writeKey, `${value}#${token}`),
  detail: true,
});
