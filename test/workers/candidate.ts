/**
 * A candidate process for cross-process fault tests. It campaigns once and reports, as JSON lines
 * on stdout with CLOCK_MONOTONIC timestamps (comparable across processes on this host):
 * elected, every tick of its "work" loop (whether it believed it led), the end of its term, and
 * the verdict on a guarded write made with its ended term (NOT_LEADER, or refused by the backend).
 */
import { etcd } from '../../src/index.js';

const endpoints = (process.env['ENDPOINTS'] ?? '').split(',');
const election = process.env['ELECTION'] ?? 'faults';
const value = process.env['VALUE'] ?? String(process.pid);
const ttl = Number(process.env['TTL'] ?? '2');

const now = () => Number(process.hrtime.bigint()) / 1e6;
const say = (msg: Record<string, string | number | boolean | null>) =>
  process.stdout.write(`${JSON.stringify({ pid: process.pid, ...msg })}\n`);

const backend = etcd({ endpoints, callTimeout: 1000 });
const session = await backend.session({ ttl });
const term = await session.election(election).campaign(value);
say({ event: 'elected', token: term.token.toString(), at: term.startedAt });

// The work loop: act only while the term is current; report each decision with its time.
const tick = setInterval(() => {
  // The time first, then the decision: a pause between the two then dates the decision early, which
  // the test reads conservatively; the other order stamped a pre-pause "leader" with a post-pause time.
  const at = now();
  const leader = term.active;
  say({ event: 'tick', leader, at });
  if (!leader) {
    clearInterval(tick);
    const ended = term.ended;
    say({ event: 'ended', reason: ended?.reason ?? null, at: ended?.at ?? null });
    void term
      .guard((tx) => tx.put(`${election}-fenced`, value))
      .then(
        (result) => say({ event: 'stale-guard', committed: result.committed }),
        (err: Error & { code?: string }) =>
          say({ event: 'stale-guard-error', code: err.code ?? null, message: err.message }),
      );
  }
}, 20);

process.on('SIGTERM', () => {
  clearInterval(tick);
  void backend.close().then(() => process.exit(0));
});
