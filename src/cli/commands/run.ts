import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Session, Term } from '../../index.js';
import { CommandLeadership, serveHealth, type HealthServer } from '../health.js';
import { cliLogger } from '../logger.js';
import { exitStatus, signalGroup, spawnGroup, stopGroup, type ChildExit, type GroupChild } from '../child.js';
import { explainUnavailable, openBackend } from '../connect.js';
import { UsageError, whileQueued } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { watchInterrupts, whenAborted } from '../interrupt.js';
import type { GlobalOptions } from '../options.js';
import { Output } from '../output.js';
import { warmHandoverPath } from '../warm-up.js';

/** Flags of `ballot run`. */
export interface RunOptions {
  /** Campaign value (default host:pid). */
  value?: string;
  /** How long the command's group gets between SIGTERM and SIGKILL, in ms. */
  grace: number;
  /** Campaign again (at the back of the line) after the command exits or the term ends. */
  requeue: boolean;
  /** --health host:port: serve /healthz and /readyz there while running. */
  health?: string;
}

/** A command that exits this fast is not restarted at once with --requeue: no hot loop on a broken command. */
const REQUEUE_PAUSE_MS = 1000;

/** What `run` holds while the command runs: an election's leadership or a mutex. */
export type RunTarget = 'election' | 'lock';

/** The one thing `run` needs from an election or a mutex: win it, then give it up. */
interface Contender {
  name: string;
  acquire(signal: AbortSignal): Promise<Term>;
  release(): Promise<void>;
}

function contender(session: Session, target: RunTarget, name: string, value: string): Contender {
  if (target === 'lock') {
    const mutex = session.mutex(name);
    return { name, acquire: (signal) => mutex.lock({ signal }), release: () => mutex.unlock() };
  }
  const election = session.election(name);
  return {
    name,
    acquire: (signal) => election.campaign(value, { signal }),
    release: () => election.resign(),
  };
}

/** The environment that tells the command what it holds. */
function holderEnv(target: RunTarget, name: string, term: Term): NodeJS.ProcessEnv {
  return target === 'lock'
    ? { BALLOT_LOCK: name, BALLOT_TOKEN: term.token.toString(), BALLOT_LOCK_KEY: term.key }
    : { BALLOT_ELECTION: name, BALLOT_TOKEN: term.token.toString(), BALLOT_LEADER_KEY: term.key };
}

type Outcome = { kind: 'exited'; exit: ChildExit } | { kind: 'ended'; term: Term } | { kind: 'interrupted' };

/**
 * `ballot run <election> -- <cmd> [args...]`: runs the command only while this process leads.
 * The command gets BALLOT_ELECTION, BALLOT_TOKEN and BALLOT_LEADER_KEY; when the term ends, its
 * whole process group gets SIGTERM at once, then SIGKILL after the grace period. Events go to
 * stderr so the command's stdout stays its own.
 */
export async function run(
  election: string,
  command: readonly string[],
  flags: RunOptions,
  options: GlobalOptions,
  target: RunTarget = 'election',
): Promise<number> {
  const [program, ...args] = command;
  if (program === undefined)
    throw new UsageError('missing command: ballot run <election> -- <cmd> [args...]');
  const value = flags.value ?? `${hostname()}:${process.pid}`;
  const out = new Output(options.json, process.stderr);
  const interrupts = watchInterrupts();
  const interrupted = whenAborted(interrupts.signal);
  let child: GroupChild | undefined;
  interrupts.onForce(() => child && signalGroup(child.pid, 'SIGKILL'));
  const backend = openBackend(options, 'run');
  const logger = cliLogger(options.logLevel);
  const view = new CommandLeadership(election, backend.clock);
  let server: HealthServer | undefined;
  let session: Session | undefined;
  try {
    await warmHandoverPath();
    if (flags.health !== undefined) {
      server = await serveHealth(flags.health, view);
      out.event(
        { event: 'health', election, url: server.url },
        `health: ${server.url}/healthz, ${server.url}/readyz`,
      );
    }
    for (;;) {
      if (!session?.isAlive()) {
        await session?.close();
        session = await backend.session(logger ? { ttl: options.ttl, logger } : { ttl: options.ttl });
        view.currentSession = session;
      }
      const race = contender(session, target, election, value);
      let term: Term;
      try {
        term = await race.acquire(interrupts.signal);
      } catch (err) {
        if (interrupts.signal.aborted) return ExitCode.OK;
        throw whileQueued(election, err, backend.kind);
      }
      view.hold(term);
      out.elected({ election, value, key: term.key, token: term.token });
      const startedAt = Date.now();
      try {
        child = await spawnGroup(program, args, { ...process.env, ...holderEnv(target, election, term) });
      } catch (err) {
        await resignAndReport(race, term, out);
        throw err;
      }
      const running = child;
      // Stop the group the instant the term ends, synchronously, before any other callback runs.
      const onTermEnd = () => signalGroup(running.pid, 'SIGTERM');
      // The term may have ended while the command was starting; an aborted signal fires no event.
      if (term.signal.aborted) onTermEnd();
      else term.signal.addEventListener('abort', onTermEnd, { once: true });
      out.event(
        { event: 'started', election, pid: running.pid },
        `started ${election}: pid ${running.pid} ${command.join(' ')}`,
      );
      const outcome = await Promise.race<Outcome>([
        running.exited.then((exit) => ({ kind: 'exited', exit })),
        term.whenEnded().then(() => ({ kind: 'ended', term })),
        interrupted.then(() => ({ kind: 'interrupted' })),
      ]);
      if (outcome.kind === 'ended') {
        out.deposed(election, term.ended?.reason ?? 'closed');
        reportExit(out, election, await stopGroup(running, flags.grace, true));
        child = undefined;
        if (flags.requeue && !interrupts.signal.aborted) continue;
        return ExitCode.DEPOSED;
      }
      term.signal.removeEventListener('abort', onTermEnd);
      // Interrupted: stop the command the same way a lost term would. Exited: reap what it left running.
      const exit = await stopGroup(running, flags.grace, false);
      child = undefined;
      reportExit(out, election, exit);
      await resignAndReport(race, term, out);
      if (outcome.kind === 'exited' && flags.requeue && !interrupts.signal.aborted) {
        const ranFor = Date.now() - startedAt;
        if (ranFor < REQUEUE_PAUSE_MS)
          await sleep(REQUEUE_PAUSE_MS - ranFor, undefined, { signal: interrupts.signal }).catch(
            () => undefined,
          );
        if (interrupts.signal.aborted) return exitStatus(exit);
        continue;
      }
      return exitStatus(exit);
    }
  } catch (err) {
    throw explainUnavailable(err, options);
  } finally {
    if (child) await stopGroup(child, flags.grace, false);
    view.stopped = true;
    await server?.close();
    await backend.close();
    interrupts.dispose();
  }
}

/** Resigns and reports the end of the term, even when the backend call fails (every end is announced). */
async function resignAndReport(race: Contender, term: Term, out: Output): Promise<void> {
  try {
    await race.release();
  } finally {
    out.deposed(race.name, term.ended?.reason ?? 'resigned');
  }
}

function reportExit(out: Output, election: string, exit: ChildExit): void {
  out.event(
    { event: 'exited', election, code: exit.code, signal: exit.signal },
    `exited ${election}: ${exit.signal ? `signal ${exit.signal}` : `code ${String(exit.code)}`}`,
  );
}
