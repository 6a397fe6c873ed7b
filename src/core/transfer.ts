/**
 * Leadership transfer, shared by Election.transfer (the leader hands over), LeaderElector.transferTo
 * and the operator's Backend.transfer: find the named candidate in the line, run the backend's
 * atomic step (ElectionView.transfer, see TRANSFER in contract.ts), then wait until the target is
 * the observed leader. No new waiting mechanism: after the step the target is the oldest entry and
 * leads through its ordinary predecessor wait.
 */
import type { Clock } from './clock.js';
import type { ElectionView, EntryRef, TransferRecord } from './contract.js';
import { toLeader, type Leader } from './election.js';
import { InvalidArgumentError, TransferError } from './errors.js';
import { readParticipants, type Participant } from './participants.js';
import { checkMillis } from './validate.js';

/** Default bound on a transfer, from the first read to the target leading. */
export const DEFAULT_TRANSFER_TIMEOUT_MS = 10_000;

/** Options of a transfer. */
export interface TransferOptions {
  /** How long the whole transfer may take, in ms, up to the target leading (default 10 s). */
  timeout?: number;
}

/** Options of the operator's Backend.transfer. */
export interface BackendTransferOptions extends TransferOptions {
  /** The candidate to hand leadership to: its value (or its entry key). */
  to: string;
  /** Transfer only from the leader holding this token; any other leader is 'not-leader'. */
  token?: bigint;
}

/** What a completed transfer did. */
export interface TransferResult {
  /** Token of the term that ended. */
  from: bigint;
  /** The new leader, as observed (its token is greater than `from`). */
  to: Leader;
}

/** The timeout in ms, validated. */
export function transferTimeout(options: TransferOptions | undefined): number {
  if (options !== undefined && (typeof options !== 'object' || options === null))
    throw new InvalidArgumentError('transfer options must be an object like { timeout: 5000 }');
  const timeout = options?.timeout;
  return timeout === undefined ? DEFAULT_TRANSFER_TIMEOUT_MS : checkMillis(timeout, 'transfer timeout');
}

/**
 * The one waiting candidate named `candidate` (by value, else by entry key), behind `leaderKey`.
 * Throws TransferError('candidate-not-found') for none, several, or the leader itself. A candidate
 * whose process died but whose session has not expired yet still stands in line and is found: the
 * transfer then succeeds to a leader that will not act, until its session expires, like any crash.
 */
export function pickTarget(
  election: string,
  line: Participant[],
  leaderKey: string,
  candidate: string,
): Participant {
  if (typeof candidate !== 'string' || candidate === '')
    throw new InvalidArgumentError(
      'transfer needs the target candidate: its value (e.g. its id) as a non-empty string',
    );
  // An entry whose lease is already gone (ttl -1) is about to go too: no one to hand over to.
  const waiting = line.filter((p) => p.key !== leaderKey && p.ttl !== -1);
  let found = waiting.filter((p) => p.value === candidate);
  if (found.length === 0) found = waiting.filter((p) => p.key === candidate);
  const [target] = found;
  if (found.length === 1 && target) return target;
  const self = line.find((p) => p.key === leaderKey);
  throw new TransferError(
    'candidate-not-found',
    found.length > 1
      ? `cannot transfer "${election}" to "${candidate}": ${found.length} waiting candidates have that value; give each a unique value or pass its key`
      : self?.value === candidate
        ? `cannot transfer "${election}" to "${candidate}": it already leads`
        : `cannot transfer "${election}" to "${candidate}": no waiting candidate has that value (waiting: ${
            waiting.map((p) => JSON.stringify(p.value)).join(', ') || 'none'
          }); leadership is unchanged`,
  );
}

/** Maps a step that did not commit to its error; nothing changed in either case. */
export function refusal(
  election: string,
  candidate: string,
  outcome: Exclude<TransferRecord, 'transferred'>,
): TransferError {
  return outcome === 'target-gone'
    ? new TransferError(
        'candidate-not-found',
        `cannot transfer "${election}" to "${candidate}": it left the line before the transfer; leadership is unchanged`,
      )
    : new TransferError(
        'not-leader',
        `cannot transfer "${election}": the leader changed (or lost its entry) before the transfer`,
      );
}

/**
 * Waits until `target` is the observed leader of the election, at most until `deadline` on
 * `clock`. Rejects with TransferError('timeout') otherwise: the step has committed by then, so
 * the old leader is already back in line.
 */
export async function awaitLeader(
  election: string,
  view: ElectionView,
  clock: Clock,
  target: EntryRef,
  deadline: number,
  candidate: string,
): Promise<Leader> {
  const controller = new AbortController();
  const left = deadline - clock.now();
  const timer = clock.setTimer(() => controller.abort(), Math.max(0, left));
  // A timeout already spent fails here, not after whichever comes first, the read or the timer.
  if (left <= 0) controller.abort();
  try {
    if (!controller.signal.aborted)
      for await (const record of view.observe(controller.signal)) {
        if (record?.key === target.key && record.token === target.token) return toLeader(election, record);
        // The target's token is the newest it can lead with: any later leader means it never will.
        if (record && record.token > target.token) break;
      }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  } finally {
    timer.cancel();
    controller.abort();
  }
  throw new TransferError(
    'timeout',
    `transfer of "${election}" to "${candidate}" committed, but it did not take over in time (did it stop?); ` +
      'the old leader lost its place and queues again',
  );
}

/**
 * The operator's transfer (Backend.transfer, `ballot transfer`): reads the leader and the line,
 * runs the step guarded by the leader's token as read, then waits for the target to lead.
 */
export async function transferAsOperator(
  election: string,
  view: ElectionView,
  clock: Clock,
  options: BackendTransferOptions,
): Promise<TransferResult> {
  const timeout = transferTimeout(options);
  const { to, token } = options;
  if (token !== undefined && typeof token !== 'bigint')
    throw new InvalidArgumentError(`transfer token must be a bigint (e.g. term.token), got ${typeof token}`);
  const deadline = clock.now() + timeout;
  const line = await readParticipants(election, view);
  const leader = line[0];
  if (!leader || (token !== undefined && leader.token !== token))
    throw new TransferError(
      'not-leader',
      leader
        ? `cannot transfer "${election}": its leader holds token ${leader.token}, not ${token}`
        : `cannot transfer "${election}": it has no leader`,
    );
  const target = pickTarget(election, line, leader.key, to);
  const outcome = await view.transfer(leader, target, line);
  if (outcome !== 'transferred') throw refusal(election, to, outcome);
  const now = await awaitLeader(election, view, clock, target, deadline, to);
  return { from: leader.token, to: now };
}
