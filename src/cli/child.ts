import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError } from './errors.js';
import { ExitCode } from './exit-codes.js';

/** How a child process ended. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A command running as the leader of its own process group. */
export interface GroupChild {
  /** Pid of the command, which is also its process group id. */
  readonly pid: number;
  /** Resolves when the command itself has exited. */
  readonly exited: Promise<ChildExit>;
  /** Tells the watchdog the group is gone (or no longer ours to stop), so it exits without a kill. */
  release(): void;
}

const POLL_MS = 20;

/** What ballot writes to the watchdog when it has stopped the group itself. */
const RELEASED = 'released';

/**
 * The watchdog: it holds the read end of a pipe whose only writer is ballot. It first reads the
 * group to guard, then waits; EOF without RELEASED means ballot died (SIGKILL included, which no
 * handler sees), so the group is killed at once: nobody watches the term any more, and a command
 * holding leadership or a lock with no supervisor must not keep running. SIGKILL rather than
 * SIGTERM plus a grace: the grace would need a timer here, and the point is that the command never
 * outlives its supervisor; every path on which ballot lives still gives it SIGTERM first.
 */
const WATCHDOG = `read -r pgid || exit 0
read -r msg
[ "$msg" = ${RELEASED} ] || kill -s KILL -- "-$pgid" 2>/dev/null`;

/** A watchdog process waiting for the group it guards. */
interface Watchdog {
  /** Hands it the process group to kill should ballot die. */
  guard(pgid: number): void;
  /** Tells it the group is gone (or never started), so it exits without a kill. */
  release(): void;
}

/**
 * Starts the watchdog in a session of its own: a terminal's Ctrl-C or hangup, meant for ballot,
 * must not take it away while ballot may still die without cleaning up. It exits as soon as ballot
 * releases it or dies, so it outlives neither. Started before the command, so the only moment
 * ballot can die unwatched is between the command's fork and the guard() write right after it.
 */
function startWatchdog(): Watchdog {
  // ballot's pid in argv names the watchdog's owner in `ps`.
  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'ballot-watchdog', String(process.pid)], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // Child stdio pipes are sockets; the Writable type hides unref().
  const pipe = watchdog.stdin as Socket | null;
  // A watchdog that could not start or whose pipe broke has nothing left to guard; never fail the run.
  watchdog.on('error', () => undefined);
  pipe?.on('error', () => undefined);
  // The watchdog's lifetime is bound to ballot's, never the reason ballot stays up.
  watchdog.unref();
  pipe?.unref();
  let guarding = false;
  let released = false;
  return {
    guard(pgid) {
      guarding = true;
      pipe?.write(`${pgid}\n`);
    },
    release() {
      if (released) return;
      released = true;
      // Unguarded (the command never started): EOF before any group lets it exit without a kill.
      if (guarding) pipe?.end(`${RELEASED}\n`);
      else pipe?.end();
    },
  };
}

/**
 * Starts `command` in a new process group (detached), with stdio inherited, so that the whole
 * group, grandchildren included, can be signalled at once and a terminal's Ctrl-C reaches only
 * ballot, which then stops the group itself. A watchdog kills the group if ballot dies first.
 * Rejects with NOT_FOUND/CANNOT_EXEC if it cannot start.
 */
export function spawnGroup(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<GroupChild> {
  return new Promise((resolve, reject) => {
    const watchdog = startWatchdog();
    const child = spawn(command, args, { detached: true, stdio: 'inherit', env });
    if (child.pid !== undefined) watchdog.guard(child.pid);
    const exited = new Promise<ChildExit>((done) =>
      child.once('exit', (code, signal) => done({ code, signal })),
    );
    const release = () => watchdog.release();
    child.once('spawn', () => resolve({ pid: child.pid as number, exited, release }));
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return;
      release();
      const notFound = err.code === 'ENOENT';
      reject(
        new CliError(
          `cannot run ${command}: ${notFound ? 'command not found' : err.message}`,
          notFound ? ExitCode.NOT_FOUND : ExitCode.CANNOT_EXEC,
        ),
      );
    });
  });
}

/** The shell's view of an exit: the code, or 128+N when signal N ended the process. */
export function exitStatus(exit: ChildExit): number {
  if (exit.code !== null) return exit.code;
  const signum = exit.signal ? constants.signals[exit.signal] : undefined;
  return signum === undefined ? ExitCode.INTERNAL : 128 + signum;
}

/** Sends `signal` to every process in the group; false if the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    // EPERM means a member exists that we may not signal: still alive, as far as we can tell.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops the group: SIGTERM now (unless `termSent`), SIGKILL to whatever is left after `graceMs`.
 * Resolves once the command has exited and its group is empty, so nothing it started outlives
 * the term that allowed it to run; then releases the watchdog.
 */
export async function stopGroup(child: GroupChild, graceMs: number, termSent = false): Promise<ChildExit> {
  try {
    return await waitGroup(child, graceMs, termSent);
  } finally {
    child.release();
  }
}

async function waitGroup(child: GroupChild, graceMs: number, termSent: boolean): Promise<ChildExit> {
  if (!termSent) signalGroup(child.pid, 'SIGTERM');
  let exit: ChildExit | undefined;
  void child.exited.then((e) => (exit = e));
  const killAt = Date.now() + graceMs;
  let killed = false;
  for (;;) {
    // A group whose leader has exited can still hold grandchildren; wait for those too. Once SIGKILL
    // is sent nothing in the group can run again, and what is left may be zombies that a container's
    // pid 1 never reaps, so there is nothing more to wait for.
    if (exit && (killed || !signalGroup(child.pid, 0))) return exit;
    if (!killed && Date.now() >= killAt) {
      killed = true;
      signalGroup(child.pid, 'SIGKILL');
    }
    await sleep(POLL_MS);
  }
}
