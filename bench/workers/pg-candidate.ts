/**
 * A ballot candidate on PostgreSQL, for the crash-failover and partition benches: the same JSON lines
 * as ballot-candidate.ts (session granted and renewed, elected, term ended), times on CLOCK_MONOTONIC.
 *
 * Env: URL (connection string), ELECTION, VALUE, TTL (seconds).
 */
import { postgres } from '../../src/index.js';

const url = required('URL');
const election = required('ELECTION');
const value = required('VALUE');
const ttl = Number(required('TTL'));

const now = () => Number(process.hrtime.bigint()) / 1e6;
const say = (msg: Record<string, string | number | null>) => process.stdout.write(`${JSON.stringify(msg)}\n`);

// Library defaults apart from the server: the bench measures what a user gets.
const backend = postgres({ connectionString: url, env: {} });
const session = await backend.session({ ttl });
say({ event: 'lease', at: now(), ttl: session.ttl, margin: session.margin, deadline: session.deadline });
session.on('renewed', (deadline) => say({ event: 'renewed', at: now(), deadline }));
const term = await session.election(election).campaign(value);
say({ event: 'elected', at: term.startedAt, token: term.token.toString() });
term.signal.addEventListener('abort', () => {
  const ended = term.ended;
  say({ event: 'ended', at: ended?.at ?? null, noticedAt: now(), reason: ended?.reason ?? null });
});

function required(name: string): string {
  const found = process.env[name];
  if (!found) throw new Error(`${name} is not set`);
  return found;
}
