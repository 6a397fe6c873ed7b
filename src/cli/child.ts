import { spawn } from 'node:child_process';
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
}

const POLL_MS = 20;

/**
 * Starts `command` in a new process group (detached), with stdio inherited, so that the whole
 * group, grandchildren included, can be signalled at once and a terminal's Ctrl-C reaches only
 * ballot, which then stops the group itself. Rejects with NOT_FOUND/CANNOT_EXEC if it cannot start.
 */
export function spawnGroup(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<GroupChild> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { detached: true, stdio: 'inherit', env });
    const exited = new Promise<ChildExit>((done) =>
      child.once('exit', (code, signal) => done({ code, signal })),
    );
    child.once('spawn', () => resolve({ pid: child.pid as number, exited }));
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return;
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
 * the term that allowed it to run.
 */
export async function stopGroup(child: GroupChild, graceMs: number, termSent = false): Promise<ChildExit> {
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
