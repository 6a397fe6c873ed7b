/**
 * An etcd3 (npm) candidate process for the crash-failover and partition benches, reporting the same
 * JSON lines as ballot-candidate.ts: lease granted, keepalives acknowledged, elected, ended (etcd3's
 * campaign 'error', the only way it tells a leader that it lost). Times are CLOCK_MONOTONIC ms.
 *
 * Env: ENDPOINT (host:port), ELECTION, VALUE, TTL (seconds).
 */
import { Etcd3, type Lease } from 'etcd3';

const endpoint = required('ENDPOINT');
const election = required('ELECTION');
const value = required('VALUE');
const ttl = Number(required('TTL'));

const now = () => Number(process.hrtime.bigint()) / 1e6;
const say = (msg: Record<string, string | number | null>) => process.stdout.write(`${JSON.stringify(msg)}\n`);

const client = new Etcd3({ hosts: endpoint });
const campaign = client.election(election, ttl).campaign(value);
// The campaign's lease is private in etcd3's types; the bench reads its keepalive events only to
// know when etcd will expire it, which no public API tells.
const lease = (campaign as unknown as { lease: Lease }).lease;
lease.on('keepaliveSucceeded', () => say({ event: 'renewed', at: now() }));
campaign.on('elected', () => say({ event: 'elected', at: now() }));
campaign.on('error', (err: Error) => {
  const at = now();
  say({ event: 'ended', at, noticedAt: at, reason: err.constructor.name });
});
await lease.grant();
say({ event: 'lease', at: now(), ttl });

function required(name: string): string {
  const found = process.env[name];
  if (!found) throw new Error(`${name} is not set`);
  return found;
}
