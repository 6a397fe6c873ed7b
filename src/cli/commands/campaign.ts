import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger, Term } from '../../index.js';
import { CommandLeadership, serveHealth } from '../health.js';
import type { CommandContext } from '../context.js';
import { whileQueued } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { whenAborted } from '../interrupt.js';
import { describeEnd } from '../output.js';
import { warmHandoverPath } from '../warm-up.js';

/**
 * How long after its resign is answered `campaign` waits before ending its session (the lease's
 * revoke). The revoke is a write that etcd commits like any other: sent at once it lands in the
 * successor's first milliseconds, queueing the successor's first writes behind it and, on a shared
 * host, competing with its wake-up for the CPU (about 0.4 ms of the process-level handover at p50 in a
 * diagnostic run of bench/cli-handover.ts). The entry is gone already, so the lease holds nothing.
 */
const SESSION_END_AFTER_RESIGN_MS = 20;

/** Flags of `ballot campaign`. */
export interface CampaignFlags {
  /** Session TTL in whole seconds. */
  ttl: number;
  /** Aborts on SIGINT/SIGTERM: leave the line, or resign the term, and exit 0. */
  signal: AbortSignal;
  /** Runs a hook on the first SIGINT/SIGTERM before `signal` aborts; returns how to remove it. */
  onInterrupt?: (hook: () => void) => () => void;
  /** --health host:port: serve /healthz and /readyz there while campaigning. */
  health?: string;
  /** Where the session logs (--log-level). */
  logger?: Logger;
}

/**
 * `ballot campaign <election> <value>`: waits in line, reports `elected`, holds the term until
 * the signal aborts, then resigns and exits 0. A term that ends any other way is reported as
 * `deposed` with its reason and exits DEPOSED.
 */
export async function campaign(
  election: string,
  value: string,
  { ttl, signal, onInterrupt, health, logger }: CampaignFlags,
  { backend, out, stderr }: CommandContext,
): Promise<number> {
  await warmHandoverPath();
  const session = await backend.session(logger ? { ttl, logger } : { ttl });
  const view = new CommandLeadership(election, backend.clock);
  view.currentSession = session;
  let server: Awaited<ReturnType<typeof serveHealth>> | undefined;
  let resigned = false;
  try {
    if (health !== undefined) {
      server = await serveHealth(health, view);
      out.event(
        { event: 'health', election, url: server.url },
        `health: ${server.url}/healthz, ${server.url}/readyz`,
      );
    }
    const race = session.election(election);
    if (!out.json) stderr.write(`campaigning for ${election} as ${value}\n`);
    let term: Term;
    try {
      term = await race.campaign(value, { signal });
    } catch (err) {
      // Interrupted while queued: the library already removed our entry, which is all we owe.
      if (signal.aborted) return ExitCode.OK;
      throw whileQueued(election, err, backend.kind);
    }
    view.hold(term);
    // On SIGINT the delete is the whole handover: resign() starts in the signal handler, ahead of
    // the abort's listeners and the promise hops below, and still ends the term before the delete
    // is sent (with the backend's readyResign, in the same synchronous run).
    let resigning: Promise<void> | undefined;
    const resignNow = () => {
      if (resigning) return;
      resigning = race.resign();
      resigning.catch(() => undefined);
    };
    const unhook = onInterrupt?.(resignNow);
    signal.addEventListener('abort', resignNow, { once: true });
    out.elected({ election, value: term.value, key: term.key, token: term.token });
    const ended = await Promise.race([term.whenEnded(), whenAborted(signal)]);
    // A term that ended on its own (resign() ends it as 'resigned') is reported as deposed.
    if (ended && ended.reason !== 'resigned') {
      unhook?.();
      signal.removeEventListener('abort', resignNow);
      await resigning?.catch(() => undefined);
      out.deposed(election, ended.reason);
      stderr.write(`ballot: ${describeEnd(election, term.token, ended.reason)}\n`);
      return ExitCode.DEPOSED;
    }
    try {
      await (resigning ?? race.resign());
      resigned = true;
    } finally {
      // The term ended the moment resign() began; say so even if deleting the key failed (the
      // key then goes with the lease, which close() revokes or the TTL expires).
      out.deposed(election, term.ended?.reason ?? 'resigned');
    }
    return ExitCode.OK;
  } finally {
    view.stopped = true;
    await server?.close();
    // After a resign that failed, the revoke is what removes the entry: then it goes at once.
    if (resigned) await sleep(SESSION_END_AFTER_RESIGN_MS);
    await session.close();
  }
}
