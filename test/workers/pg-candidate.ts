/**
 * A candidate process for the PostgreSQL fault tests (body: candidate-body.ts). Its late guard
 * INSERTs into public.fault_writes. Env: URL, ELECTION, VALUE, TTL, LOOP=1, APP, CALL_TIMEOUT.
 */
import { postgres, type PgTxn } from '../../src/index.js';
import { runCandidate } from './candidate-body.js';

const election = process.env['ELECTION'] ?? 'faults';
const value = process.env['VALUE'] ?? String(process.pid);

await runCandidate<PgTxn>({
  backend: postgres({
    connectionString: process.env['URL'] ?? '',
    applicationName: process.env['APP'] ?? 'ballot',
    callTimeout: Number(process.env['CALL_TIMEOUT'] ?? '1000'),
    env: {},
  }),
  election,
  value,
  ttl: Number(process.env['TTL'] ?? '2'),
  loop: process.env['LOOP'] === '1',
  staleWrite: (tx, token) =>
    tx.query('INSERT INTO public.fault_writes (election, token, value) VALUES ($1, $2, $3)', [
      election,
      token,
      value,
    ]),
  detail: false,
});
