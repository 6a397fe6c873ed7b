/**
 * The body shared by the fault-test candidate processes (pg-candidate.ts, zk-candidate.ts): it
 * campaigns (again after every term and every lost session when loop is set) and reports, as JSON
 * lines on stdout with CLOCK_MONOTONIC timestamps (comparable across processes on this host): each
 * session, each term's start and end, a failed campaign, and the verdict on a guarded write made
 * with a term that has just ended. stdin takes {"cmd":"resign"} and {"cmd":"close"} (close the
 * backend and end by itself); with `detail`, also {"cmd":"status"}. An unhandled error ends the
 * process with a non-zero code, which tests check.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Backend, Election, Session, Term } from '../../src/index.js';

/** What a candidate worker passes in: its backend and how it writes under a stale term. */
export interface CandidateBody<Tx> {
  /** The backend to campaign on; closed by {"cmd":"close"} and SIGTERM. */
  backend: Backend<Tx>;
  /** Election name (or path) to campaign in. */
  election: string;
  /** Value to campaign with; every line carries it. */
  value: string;
  /** Session TTL in seconds. */
  ttl: number;
  /** Campaign again after every term and every lost session. */
  loop: boolean;
  /** The write made under a term that has ended, which must be refused. */
  staleWrite: (tx: Tx, token: string) => unknown;
  /**
   * Also report session loss, the granted TTL, when a campaign failed, and status on demand: the
   * ZooKeeper tests read these; the PostgreSQL ones keep the shorter lines.
   */
  detail: boolean;
}

/** Runs the candidate until its loop ends or it is told to close. */
export async function runCandidate<Tx>(opts: CandidateBody<Tx>): Promise<void> {
  const { backend, election, value, ttl, loop, staleWrite, detail } = opts;
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  const say = (msg: Record<string, string | number | boolean | null>) =>
    process.stdout.write(`${JSON.stringify({ pid: process.pid, value, ...msg })}\n`);
  const errorFields = (err: unknown) => {
    const e = err as Error & { code?: string };
    return { code: e.code ?? null, message: e.message };
  };
  let current: { election: Election<Tx>; term?: Term<Tx> } | undefined;
  let stopping = false;

  /** A write guarded by a term that has ended: must be refused, by this process or by the server. */
  async function staleGuard(term: Term<Tx>): Promise<void> {
    const token = term.token.toString();
    try {
      const r = await term.guard((tx) => staleWrite(tx, token));
      say({ event: 'stale-guard', token, committed: r.committed });
    } catch (err) {
      say({ event: 'stale-guard-error', token, ...errorFields(err) });
    }
  }

  async function holdTerms(session: Session<Tx>): Promise<void> {
    const e = session.election(election);
    current = { election: e };
    while (!stopping && session.isAlive()) {
      let term: Term<Tx>;
      try {
        term = await e.campaign(value);
      } catch (err) {
        say({ event: 'campaign-error', ...errorFields(err), ...(detail ? { at: now() } : {}) });
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
      let session: Session<Tx>;
      try {
        session = await backend.session({ ttl });
      } catch (err) {
        say({ event: 'session-error', ...errorFields(err) });
        await sleep(200);
        continue;
      }
      if (detail) {
        session.once('lost', (err) =>
          say({ event: 'session-lost', id: session.id, ...errorFields(err), at: now() }),
        );
        // The granted timeout is the TTL used; the tests compare it with what they asked for.
        say({ event: 'session', id: session.id, ttl: session.ttl });
      } else say({ event: 'session', id: session.id });
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
    } else if (msg.cmd === 'status' && detail) {
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
}
