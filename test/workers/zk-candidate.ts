/**
 * A candidate process for the ZooKeeper fault tests. It campaigns (again after every term and
 * every lost session when LOOP=1) and reports, as JSON lines on stdout with CLOCK_MONOTONIC
 * timestamps (comparable across processes on this host): each session and its loss, each term's
 * start and end, a failed campaign, and the verdict on a guarded put made with a term that has
 * just ended. stdin takes {"cmd":"resign"}, {"cmd":"status"} (is it leading now, and with which
 * token) and {"cmd":"close"} (close the backend and end by itself). An unhandled error ends the
 * process with a non-zero code, which tests check.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { zookeeper, type Election, type Session, type Term, type ZkTxn } from '../../src/index.js';

const connect = process.env['CONNECT'] ?? '';
const election = process.env['ELECTION'] ?? '/faults/leader';
const value = process.env['VALUE'] ?? String(process.pid);
const ttl = Number(process.env['TTL'] ?? '2');
const loop = process.env['LOOP'] === '1';
/** Where the late guard would write: the tests read it to prove nothing was written. */
const writeKey = process.env['WRITE_KEY'] ?? 'fault-writes';

const now = () => Number(process.hrtime.bigint()) / 1e6;
const say = (msg: Record<string, string | number | boolean | null>) =>
  process.stdout.write(`${JSON.stringify({ pid: process.pid, value, ...msg })}\n`);
const errorFields = (err: unknown) => {
  const e = err as Error & { code?: string };
  return { code: e.code ?? null, message: e.message };
};

const backend = zookeeper({
  connect,
  callTimeout: Number(process.env['CALL_TIMEOUT'] ?? '1000'),
  env: {},
});
let current: { election: Election<ZkTxn>; term?: Term<ZkTxn> } | undefined;
let stopping = false;

/** A write guarded by a term that has ended: must be refused, by this process or by the server. */
async function staleGuard(term: Term<ZkTxn>): Promise<void> {
  const token = term.token.toString();
  try {
    const r = await term.guard((tx) => tx.put(writeKey, `${value}#${token}`));
    say({ event: 'stale-guard', token, committed: r.committed });
  } catch (err) {
    say({ event: 'stale-guard-error', token, ...errorFields(err) });
  }
}

async function holdTerms(session: Session<ZkTxn>): Promise<void> {
  const e = session.election(election);
  current = { election: e };
  while (!stopping && session.isAlive()) {
    let term: Term<ZkTxn>;
    try {
      term = await e.campaign(value);
    } catch (err) {
      say({ event: 'campaign-error', ...errorFields(err), at: now() });
      if (!session.isAlive()) return;
      await sleep(100);
      continue;
    }
    current.term = term;
    say({ event: 'elected', token: term.token.toString(), session: session.id, at: term.startedAt });
    const end = await term.whenEnded();
    say({ event: 'ended', token: term.token.toString(), reason: end.reason, at: term.ended?.at ?? null });
    await staleGuard(term);
    if (!loop) return;
  }
}

async function main(): Promise<void> {
  do {
    let session: Session<ZkTxn>;
    try {
      session = await backend.session({ ttl });
    } catch (err) {
      say({ event: 'session-error', ...errorFields(err) });
      await sleep(200);
      continue;
    }
    session.once('lost', (err) =>
      say({ event: 'session-lost', id: session.id, ...errorFields(err), at: now() }),
    );
    // The granted timeout is the TTL used; the tests compare it with what they asked for.
    say({ event: 'session', id: session.id, ttl: session.ttl });
    await holdTerms(session);
    if (!loop) return;
    await session.close().catch(() => undefined);
  } while (!stopping);
}

// Keeps the process up between terms; cleared by close, after which nothing may be left open.
const idle = setInterval(() => undefined, 1 << 30);
const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  const msg = JSON.parse(line) as { cmd?: string };
  if (msg.cmd === 'close') {
    stopping = true;
    clearInterval(idle);
    commands.close();
    process.stdin.destroy();
    // No process.exit: the process must end by itself, or backend.close() left something open.
    void backend.close().then(() => say({ event: 'closed' }));
  } else if (msg.cmd === 'status') {
    const term = current?.term;
    const leading = current?.election.isLeader() ?? false;
    say({ event: 'status', leading, token: leading && term ? term.token.toString() : null, at: now() });
  } else if (msg.cmd === 'resign' && current)
    void current.election.resign().then(
      () => say({ event: 'resigned' }),
      (err: unknown) => say({ event: 'resign-error', ...errorFields(err) }),
    );
});

process.on('SIGTERM', () => {
  stopping = true;
  void backend.close().then(() => process.exit(0));
});

await main();
