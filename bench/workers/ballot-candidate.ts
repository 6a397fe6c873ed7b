/**
 * A ballot candidate process for the crash-failover and partition benches. It opens a session,
 * campaigns once and reports, as JSON lines on stdout with CLOCK_MONOTONIC milliseconds (which every
 * process on the host shares): when its lease was granted and each keepalive acknowledged (so the
 * bench knows when etcd will expire the lease), when it was elected, and when its term ended.
 *
 * Env: ENDPOINT (host:port), ELECTION, VALUE, TTL (seconds).
 */
import { etcd } from '../../src/index.js';

const endpoint = required('ENDPOINT');
const election = required('ELECTION');
const value = required('VALUE');
const ttl = Number(required('TTL'));

const now = () => Number(process.hrtime.bigint()) / 1e6;
const say = (msg: Record<string, string | number | null>) => process.stdout.write(`${JSON.stringify(msg)}\n`);

// Library defaults apart from the endpoint: the bench measures what a user gets.
const backend = etcd({ endpoints: [endpoint] });
const session = await backend.session({ ttl });
say({ event: 'lease', at: now(), ttl: session.ttl, margin: session.margin, deadline: session.deadline });
session.on('renewed', (deadline) => say({ event: 'renewed', at: now(), deadline }));
const term = await session.election(election).campaign(value);
say({ event: 'elected', at: term.startedAt, token: term.token.toString() });
// `ended.at` is when the term ended by the library's clock (for a deadline, the deadline itself, which
// term.active already honours); `noticedAt` is when code waiting on term.signal was told.
term.signal.addEventListener('abort', () => {
  const ended = term.ended;
  say({ event: 'ended', at: ended?.at ?? null, noticedAt: now(), reason: ended?.reason ?? null });
});

function required(name: string): string {
  const found = process.env[name];
  if (!found) throw new Error(`${name} is not set`);
  return found;
}
