/**
 * leaderGate: the leader serves, followers forward (proxy) or redirect to it. The gate knows the
 * leader from the elector's 'leader' events only, so a request costs no backend read; leadership
 * itself is decided per request by elector.isLeader(), which checks the session deadline.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Advertise } from '../core/candidate-value.js';
import type { LeaderChange } from '../core/election.js';
import { InvalidArgumentError } from '../core/errors.js';
import { FORWARDED_HEADER, REFUSED_HEADER, TOKEN_HEADER } from './headers.js';
import { Forwarder, type ForwardTimeouts } from './proxy.js';

/** What the gate needs of a LeaderElector (any Tx): leadership now, its token, and the leader events. */
export interface GateElector {
  /** Election name, sent in the loop-guard header. */
  readonly election: string;
  isLeader(): boolean;
  readonly term: { readonly token: bigint } | undefined;
  /** The latest leader change the elector reported, if any. */
  readonly leaderChange?: LeaderChange | undefined;
  /** What this candidate advertises, to recognise its own entry. */
  readonly advertise?: Advertise | undefined;
  on(event: 'leader', listener: (change: LeaderChange) => void): unknown;
  off(event: 'leader', listener: (change: LeaderChange) => void): unknown;
}

/** Options of leaderGate. */
export interface LeaderGateOptions extends ForwardTimeouts {
  /** proxy: followers stream the request to the leader and its response back; redirect: 307/308 to it. */
  mode: 'proxy' | 'redirect';
  /** Status of a redirect (default 307: the method and body are kept; 308 lets clients cache it). */
  redirectStatus?: 307 | 308;
  /** Seconds in Retry-After of the gate's 503s (default 1). */
  retryAfter?: number;
  /** Response header carrying the leader's term token (default Ballot-Token). */
  tokenHeader?: string;
  /** Most kept-alive connections to the leader (default 128). */
  connections?: number;
}

/** A node:http request handler guarding `next` (the application): next runs on the leader only. */
export interface LeaderGate {
  (req: IncomingMessage, res: ServerResponse, next: () => void): void;
  /** The last leader change the gate heard of (undefined before the first). */
  readonly leader: LeaderChange | undefined;
  /** Stops listening to the elector and closes the connections to the leader; in-flight forwards are aborted. */
  close(): Promise<void>;
}

/** Why the gate answered 503 itself, sent in the Ballot-Refused header. */
export type RefusedReason =
  'no-leader' | 'unknown' | 'no-address' | 'unreachable' | 'loop' | 'not-leader' | 'closed';

/**
 * Guards a node:http handler with an election: on the leader (elector.isLeader() at request time)
 * it sets the Ballot-Token header and calls `next`; on a follower it forwards to the leader's
 * advertised http URL (proxy) or redirects there (redirect). A forwarded request that reaches a
 * non-leader, no known leader, a leader without an http address or one that does not answer within
 * the timeouts: 503 with Retry-After and a JSON body, never a hang. Create it right after the
 * elector (or later: it starts from elector.leaderChange), and close() it when done.
 */
export function leaderGate(elector: GateElector, options: LeaderGateOptions): LeaderGate {
  const opts = checkGateOptions(options);
  const tokenHeader = opts.tokenHeader.toLowerCase();
  let latest: LeaderChange | undefined = elector.leaderChange;
  const listen = (change: LeaderChange): void => {
    latest = change;
  };
  elector.on('leader', listen);
  const forwarder = opts.mode === 'proxy' ? new Forwarder(opts) : undefined;
  let closed = false;

  const refuse = (res: ServerResponse, reason: RefusedReason, detail: string): void =>
    refuse503(res, opts.retryAfter, reason, elector.election, detail);

  const gate = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (closed) return refuse(res, 'closed', 'this server is shutting down');
    const term = elector.isLeader() ? elector.term : undefined;
    if (term) {
      res.setHeader(tokenHeader, term.token.toString());
      return next();
    }
    if (req.headers[FORWARDED_HEADER] !== undefined)
      return refuse(res, 'loop', 'forwarded here as to the leader, but this server does not lead');
    const target = leaderUrl(latest, elector.advertise);
    if (typeof target !== 'string') return refuse(res, target.reason, target.detail);
    const url = joinUrl(target, req.url ?? '/');
    if (opts.mode === 'redirect') {
      res.statusCode = opts.redirectStatus;
      res.setHeader('location', url);
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end(`leader is at ${url}\n`);
      return;
    }
    forwarder!.forward(req, res, url, elector.election, (detail) => refuse(res, 'unreachable', detail));
  };

  // defineProperty, not Object.assign: assign would copy the getter's value once instead of the getter.
  Object.defineProperty(gate, 'leader', { get: () => latest, enumerable: true });
  return Object.assign(gate, {
    async close() {
      if (closed) return;
      closed = true;
      elector.off('leader', listen);
      await forwarder?.close();
    },
  }) as LeaderGate;
}

/** The leader's http URL, or why there is none to send to. */
function leaderUrl(
  change: LeaderChange | undefined,
  self: Advertise | undefined,
): string | { reason: RefusedReason; detail: string } {
  if (change === undefined) return { reason: 'unknown', detail: 'no leader has been observed yet' };
  if (change.kind === 'unknown') return { reason: 'unknown', detail: 'cut off from the election backend' };
  if (change.kind === 'none') return { reason: 'no-leader', detail: 'the election has no leader' };
  const http = change.advertise?.http;
  if (http === undefined) return { reason: 'no-address', detail: 'the leader advertises no http address' };
  // Our own entry while isLeader() is false: a term that just ended (or a wedged session). Forwarding
  // to ourselves would loop; the next leader event names whoever leads next.
  if (self?.http !== undefined && sameOrigin(self.http, http))
    return { reason: 'not-leader', detail: 'this server just stopped leading' };
  return http;
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return a === b;
  }
}

/** The advertised base (which may carry a path prefix) plus the request's path and query. */
export function joinUrl(base: string, path: string): string {
  const url = new URL(base);
  const prefix = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  return `${url.origin}${prefix}${path.startsWith('/') ? path : `/${path}`}`;
}

/** The gate's own 503: Retry-After, Ballot-Refused, a short JSON body; nothing if the head is out. */
export function refuse503(
  res: ServerResponse,
  retryAfter: number,
  reason: RefusedReason,
  election: string,
  detail: string,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: 'no leader to serve this request', reason, election, detail });
  res.writeHead(503, {
    'retry-after': String(retryAfter),
    [REFUSED_HEADER]: reason,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

type CheckedOptions = Required<Omit<LeaderGateOptions, keyof ForwardTimeouts>> & ForwardTimeouts;

function checkGateOptions(options: LeaderGateOptions): CheckedOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError("leaderGate needs options: { mode: 'proxy' } or { mode: 'redirect' }");
  const {
    mode,
    redirectStatus = 307,
    retryAfter = 1,
    tokenHeader = TOKEN_HEADER,
    connections = 128,
  } = options;
  if (mode !== 'proxy' && mode !== 'redirect')
    throw new InvalidArgumentError(`leaderGate mode must be 'proxy' or 'redirect', got ${String(mode)}`);
  if (redirectStatus !== 307 && redirectStatus !== 308)
    throw new InvalidArgumentError(`redirectStatus must be 307 or 308, got ${String(redirectStatus)}`);
  if (!Number.isInteger(retryAfter) || retryAfter < 0)
    throw new InvalidArgumentError(`retryAfter must be a whole number of seconds, got ${String(retryAfter)}`);
  if (typeof tokenHeader !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(tokenHeader))
    throw new InvalidArgumentError(`tokenHeader must be a valid header name, got ${String(tokenHeader)}`);
  if (!Number.isInteger(connections) || connections < 1)
    throw new InvalidArgumentError(`connections must be a positive whole number, got ${String(connections)}`);
  for (const name of ['connectTimeout', 'headersTimeout', 'bodyTimeout'] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isFinite(value) || value <= 0))
      throw new InvalidArgumentError(`${name} must be a positive number of ms, got ${String(value)}`);
  }
  return { ...options, mode, redirectStatus, retryAfter, tokenHeader, connections };
}
