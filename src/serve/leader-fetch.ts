/**
 * leaderFetch: a caller's fetch that goes to the current leader directly (no follower hop), knowing
 * the leader from a session-less observer, so that a call costs no backend read.
 */
import { Agent, fetch, type RequestInit, type Response } from 'undici';
import { sleep, systemClock } from '../core/clock.js';
import type { LeaderChange, ObserveOptions } from '../core/election.js';
import { BallotError, InvalidArgumentError } from '../core/errors.js';
import { joinUrl } from './gate.js';
import { REFUSED_HEADER } from './headers.js';

/** Where leaderFetch learns the leader: a Backend (its session-less observe), or anything alike. */
export interface LeaderSource {
  observe(election: string, options?: ObserveOptions): AsyncIterable<LeaderChange>;
}

/** Options of leaderFetch. */
export interface LeaderFetchOptions {
  /** How long a call waits for a leader with an http address, and after a failure for the next one (ms, default 5000). */
  waitForLeader?: number;
  /** Retry once on the next leader after a refusal or a connection failure (default true). */
  retry?: boolean;
  /** Passed to observe(): after this long without contact the leader counts as unknown. */
  staleAfter?: number;
  /** Opening a connection to the leader (ms, default 1000). */
  connectTimeout?: number;
  /** From sending to the response head (ms, default 10000). */
  headersTimeout?: number;
  /** Longest silence within a response body (ms, default 30000). */
  bodyTimeout?: number;
}

/** A fetch bound to an election's leader: call it with a path (and query) on the leader's http URL. */
export interface LeaderFetch {
  (path: string, init?: RequestInit): Promise<Response>;
  /** The latest leader change observed (undefined before the first). */
  readonly leader: LeaderChange | undefined;
  /** Stops observing and closes the connection pool; calls made afterwards reject with CLOSED. */
  close(): Promise<void>;
}

/** No leader with an http address was known within waitForLeader; the message says what was seen. */
export class LeaderUnavailableError extends BallotError {
  /** The last leader change observed, if any. */
  readonly leader: LeaderChange | undefined;
  constructor(message: string, leader: LeaderChange | undefined, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
    this.leader = leader;
  }
}

const NOT_SENT = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * Returns a fetch for `election`'s leader: `call('/jobs', { method: 'POST', body })` sends to the
 * leader's advertised http URL plus the path, on a pooled keep-alive Agent. It follows leader changes
 * from `source.observe(election)`, started at once. A call waits up to waitForLeader for a leader
 * with an http address, else rejects with LeaderUnavailableError (code UNAVAILABLE). If the leader
 * refuses (a gate's own 503, marked Ballot-Refused: the app never saw it) or cannot be connected to,
 * the call waits for the next leader (up to waitForLeader) and sends there, again while that
 * leader's gate still refuses (it has not yet heard that it leads), within waitForLeader; a request
 * whose sending may have reached the app (a reset after connecting) is retried only for idempotent
 * methods, and a streamed body never. Otherwise the response, whatever its status, is returned as
 * fetch returns it. close() when done: it ends the observer and the pool.
 */
export function leaderFetch(
  source: LeaderSource,
  election: string,
  options: LeaderFetchOptions = {},
): LeaderFetch {
  const waitForLeader = options.waitForLeader ?? 5000;
  if (!Number.isFinite(waitForLeader) || waitForLeader < 0)
    throw new InvalidArgumentError(`waitForLeader must be a number of ms, got ${String(waitForLeader)}`);
  const agent = new Agent({
    connect: { timeout: options.connectTimeout ?? 1000 },
    headersTimeout: options.headersTimeout ?? 10_000,
    bodyTimeout: options.bodyTimeout ?? 30_000,
  });
  const stop = new AbortController();
  let latest: LeaderChange | undefined;
  const waiters = new Set<() => void>();
  const observing = follow(source, election, options.staleAfter, stop.signal, (change) => {
    latest = change;
    for (const wake of [...waiters]) wake();
  });

  /** The first observed leader with an http address that `accept` takes, within `ms`. */
  const leaderWithin = (
    ms: number,
    accept: (leader: AddressedLeader) => boolean,
    signal?: AbortSignal | null,
  ) =>
    new Promise<AddressedLeader | undefined>((resolve) => {
      const check = () => {
        const change = latest;
        if (
          change?.kind === 'leader' &&
          change.advertise?.http !== undefined &&
          accept(change as AddressedLeader)
        )
          done(change as AddressedLeader);
        else if (stop.signal.aborted || signal?.aborted) done(undefined);
      };
      const timer = setTimeout(() => done(undefined), ms);
      const done = (leader: AddressedLeader | undefined) => {
        clearTimeout(timer);
        waiters.delete(check);
        signal?.removeEventListener('abort', check);
        resolve(leader);
      };
      waiters.add(check);
      signal?.addEventListener('abort', check);
      check();
    });

  const call = async (path: string, init: RequestInit = {}): Promise<Response> => {
    if (stop.signal.aborted) throw new BallotError('CLOSED', `leaderFetch for "${election}" is closed`);
    const first = await leaderWithin(waitForLeader, () => true, init.signal);
    if (!first)
      throw init.signal?.aborted ? init.signal.reason : unavailable(election, latest, waitForLeader);
    const send = (leader: AddressedLeader) =>
      fetch(joinUrl(leader.advertise.http, path), { ...init, dispatcher: agent });
    const deadline = performance.now() + waitForLeader;
    /**
     * The next leader's gate refuses until its own process has heard that it leads, which can come
     * after this observer saw its entry become the oldest: a refusal reached no app, so send again
     * (every REFUSED_RETRY_MS) until it accepts or waitForLeader has passed.
     */
    const sendToNext = async (leader: AddressedLeader): Promise<Response> => {
      for (;;) {
        const response = await send(leader);
        if (response.status !== 503 || !response.headers.has(REFUSED_HEADER)) return response;
        if (performance.now() + REFUSED_RETRY_MS > deadline || init.signal?.aborted || stop.signal.aborted)
          return response;
        await response.body?.cancel();
        await sleep(systemClock, REFUSED_RETRY_MS, init.signal ?? stop.signal);
      }
    };
    const method = (init.method ?? 'GET').toUpperCase();
    const mayRetry = options.retry !== false && replayable(init.body);
    let failure: unknown;
    try {
      const response = await send(first);
      if (!mayRetry || response.status !== 503 || !response.headers.has(REFUSED_HEADER)) return response;
      const next = await leaderWithin(waitForLeader, (l) => l.token !== first.token, init.signal);
      if (!next) return response;
      await response.body?.cancel();
      return await sendToNext(next);
    } catch (err) {
      failure = err;
    }
    const code = causeCode(failure);
    if (!mayRetry || !(NOT_SENT.has(code) || (IDEMPOTENT.has(method) && code !== 'ABORT_ERR'))) throw failure;
    const next = await leaderWithin(waitForLeader, (l) => l.token !== first.token, init.signal);
    if (!next) throw failure;
    return sendToNext(next);
  };

  // defineProperty, not Object.assign: assign would copy the getter's value once instead of the getter.
  Object.defineProperty(call, 'leader', { get: () => latest, enumerable: true });
  return Object.assign(call, {
    async close() {
      if (!stop.signal.aborted) stop.abort();
      for (const wake of [...waiters]) wake();
      await observing;
      await agent.close();
    },
  }) as LeaderFetch;
}

/** How often a call re-sends to a new leader whose gate still refuses (see sendToNext). */
const REFUSED_RETRY_MS = 25;

type AddressedLeader = Extract<LeaderChange, { kind: 'leader' }> & { advertise: { http: string } };

/** Feeds every observed change to `report` until `signal`, reopening the observer after a failure. */
async function follow(
  source: LeaderSource,
  election: string,
  staleAfter: number | undefined,
  signal: AbortSignal,
  report: (change: LeaderChange) => void,
): Promise<void> {
  for (let delay = 100; !signal.aborted; delay = Math.min(delay * 2, 2000)) {
    try {
      const options: ObserveOptions = { signal };
      if (staleAfter !== undefined) options.staleAfter = staleAfter;
      for await (const change of source.observe(election, options)) {
        delay = 100;
        report(change);
      }
    } catch (err) {
      if (signal.aborted) return;
      // Fatal for observing at all (a closed backend, a bad name): nothing later would fix it.
      if (err instanceof BallotError && (err.code === 'CLOSED' || err.code === 'INVALID_ARGUMENT')) return;
    }
    // sleep() removes its abort listener when the delay passes: one left per retry piled up on `signal`.
    await sleep(systemClock, delay, signal);
  }
}

function unavailable(election: string, seen: LeaderChange | undefined, ms: number): LeaderUnavailableError {
  const what =
    seen === undefined
      ? 'nothing observed yet (is the backend reachable?)'
      : seen.kind === 'leader'
        ? `the leader "${seen.value}" advertises no http address (set LeaderElectorOptions.advertise.http)`
        : seen.kind === 'none'
          ? 'no candidate leads'
          : 'the observer is cut off from the backend';
  return new LeaderUnavailableError(`no leader to send to in "${election}" within ${ms} ms: ${what}`, seen);
}

/** A body fetch can send twice: absent, or held in memory. */
function replayable(body: RequestInit['body']): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof URLSearchParams ||
    body instanceof Blob
  );
}

function causeCode(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; name?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if ((err as { name?: unknown } | null)?.name === 'AbortError') return 'ABORT_ERR';
  return typeof cause?.name === 'string' ? cause.name : '';
}
