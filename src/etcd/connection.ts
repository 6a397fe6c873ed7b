import * as grpc from '@grpc/grpc-js';
import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import { AuthError, BallotError, ClosedError, InvalidArgumentError } from '../core/errors.js';
import { codecFor } from './codec.js';
import {
  FAILOVER_CODES,
  isBareConnectFailure,
  isInvalidAuthToken,
  isUnauthenticated,
  neverSent,
  translate,
} from './errors.js';
import { PreparedCalls, type PreparedTarget } from './prepared-calls.js';
import { speaksTls, TLS_PROBE_MS } from './tls-probe.js';
import type { ServerStreamMethods, StreamMethods, UnaryMethods } from './messages.js';

/** TLS material, as PEM buffers or strings. */
export interface TlsOptions {
  /** CA certificate(s) used to verify the server; system roots when omitted. */
  ca?: Buffer | string;
  /** Client certificate for mutual TLS. */
  cert?: Buffer | string;
  /** Private key of the client certificate. */
  key?: Buffer | string;
}

/** Options of an etcd connection. */
export interface ConnectionOptions {
  /** "host:port" or "http(s)://host:port"; tried in order, failing over when one is down. */
  endpoints: string[];
  /** TLS settings; `https://` endpoints imply TLS with system roots. */
  tls?: TlsOptions;
  /** Username and password for etcd auth; the token is refreshed when etcd rejects it. */
  auth?: { username: string; password: string };
  /** How long connect() may take, in ms (default 5000). */
  dialTimeout?: number;
  /** Deadline of each unary call, in ms (default 5000). */
  callTimeout?: number;
}

/** Per-call options. */
export interface CallOptions {
  /** Deadline in ms (default: the connection's callTimeout; Infinity for calls that block, like Campaign). */
  timeout?: number;
  /** Cancels the call; it then rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * False for calls whose result would be misread if repeated: a failed attempt may still have been
   * applied, so the call fails instead of being sent again to another endpoint (default true). One
   * that provably never reached etcd (see neverSent in ./errors.ts) is still sent once more.
   */
  retry?: boolean;
}

/** A unary call whose request is on its way but for its message (see Connection.prepare). */
export interface PreparedUnary<P extends keyof UnaryMethods> {
  /** Sends the message before returning; resolves with the response, or undefined when the outcome is unknown. */
  fire(timeoutMs: number): Promise<UnaryMethods[P][1] | undefined>;
  /** Gives the call up unsent. */
  cancel(): void;
}

/** Unary calls in flight per connection; more wait for a slot before their deadline starts. */
const MAX_IN_FLIGHT = 256;

/**
 * A retryable call waits this fraction of its deadline (at least ATTEMPT_FLOOR_MS) for one endpoint
 * before trying the next: a member that is paused or cut off keeps its TCP connection open and
 * answers nothing, and waiting the whole deadline on it is what made recovery slow. A healthy member
 * answers in milliseconds; one that takes a fifth of the call timeout (1 s by default) is stalled.
 */
const ATTEMPT_FRACTION = 0.2;
const ATTEMPT_FLOOR_MS = 500;

/** How long an endpoint that stopped answering is passed over when failing over (unless all are). */
const UNRESPONSIVE_MS = 10_000;

/** A counting semaphore: acquire() resolves with a release function once a slot is free. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.free > 0) this.free--;
    else {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const i = this.waiting.indexOf(grant);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal?.reason);
        };
        const grant = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        this.waiting.push(grant);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

/** Server name sent in TLS to an IP endpoint: RFC 6066 forbids an IP there, and Node warns (DEP0123). */
const IP_SERVERNAME_PLACEHOLDER = 'ip-endpoint.invalid';

/**
 * The channel layer: one gRPC client per endpoint, created lazily, with failover to the next
 * endpoint, per-call deadlines, TLS and auth tokens. Every etcd call goes through here.
 */
export class Connection {
  readonly endpoints: readonly string[];
  readonly dialTimeout: number;
  readonly callTimeout: number;
  private readonly secure: boolean;
  private readonly tls?: TlsOptions;
  private readonly auth?: { username: string; password: string };
  private readonly clients: (grpc.Client | undefined)[];
  private current = 0;
  private token?: Promise<string>;
  /** The token once known: a prepared call's headers are written without waiting. */
  private tokenValue?: string;
  /** Per endpoint, the connection that holds prepared calls, opened on first use. */
  private readonly preparedCalls: (PreparedCalls | undefined)[];
  private readonly slots = new Slots(MAX_IN_FLIGHT);
  /** Endpoints (by index) that have answered a call: a server that spoke plain gRPC needs no TLS probe. */
  private readonly answered = new Set<number>();
  /** One TLS probe per endpoint at most, so an outage does not pay for one on every failed call. */
  private readonly tlsProbes = new Map<number, Promise<boolean>>();
  private readonly closing = new AbortController();
  private closed = false;
  /** Endpoints (by index) that stopped answering, and when: failover passes over them for a while. */
  private readonly unresponsive = new Map<number, number>();
  private readonly unresponsiveListeners = new Set<(index: number) => void>();

  constructor(options: ConnectionOptions) {
    if (!Array.isArray(options.endpoints) || options.endpoints.length === 0)
      throw new InvalidArgumentError('etcd needs at least one endpoint, e.g. endpoints: ["127.0.0.1:2379"]');
    const parsed = options.endpoints.map(parseEndpoint);
    this.endpoints = parsed.map((p) => p.address);
    this.secure = options.tls !== undefined || parsed.some((p) => p.secure);
    if (options.tls) this.tls = options.tls;
    if (options.auth && (!options.auth.username || typeof options.auth.password !== 'string'))
      throw new InvalidArgumentError('etcd auth needs both a username and a password');
    this.auth = options.auth;
    this.dialTimeout = options.dialTimeout ?? 5000;
    this.callTimeout = options.callTimeout ?? 5000;
    this.clients = this.endpoints.map(() => undefined);
    this.preparedCalls = this.endpoints.map(() => undefined);
  }

  /** The endpoint new calls and streams go to. */
  get activeEndpoint(): string {
    return this.endpoints[this.current] ?? '';
  }

  /** Makes a unary call with a deadline, failing over across endpoints and refreshing the auth token. */
  async call<P extends keyof UnaryMethods>(
    path: P,
    request: UnaryMethods[P][0],
    options: CallOptions = {},
  ): Promise<UnaryMethods[P][1]> {
    // Bounded concurrency: 10,000 calls issued at once would otherwise all start their deadlines
    // together and time out in the queue. Blocking calls (Campaign, Lock) do not take a slot.
    const release = options.timeout === Infinity ? () => undefined : await this.slots.acquire(options.signal);
    try {
      return await this.attempt(path, request, options);
    } finally {
      release();
    }
  }

  private async attempt<P extends keyof UnaryMethods>(
    path: P,
    request: UnaryMethods[P][0],
    options: CallOptions,
  ): Promise<UnaryMethods[P][1]> {
    const timeout = options.timeout ?? this.callTimeout;
    const deadline = Date.now() + timeout;
    const signal = options.signal;
    // Only a call that may be sent again gets an attempt deadline shorter than its own: one sent
    // with `retry: false` stays on its endpoint, so an ambiguous outcome is reported, never repeated.
    const hedged = options.retry !== false && Number.isFinite(timeout) && this.endpoints.length > 1;
    const attemptMs = Math.max(ATTEMPT_FLOOR_MS, timeout * ATTEMPT_FRACTION);
    const tried = new Set<number>();
    let lastError: grpc.ServiceError | undefined;
    let lastIndex = this.current;
    let reauthenticated = false;
    let resentUnsent = false;
    for (let attempt = 0; attempt < this.endpoints.length + 1; attempt++) {
      if (this.closed) throw new ClosedError('etcd connection');
      signal?.throwIfAborted();
      const index = this.current;
      // The last endpoint not yet tried by this call gets the rest of the call's time.
      const last = !hedged || tried.has(index) || tried.size >= this.endpoints.length - 1;
      const attemptDeadline = last ? deadline : Math.min(deadline, Date.now() + attemptMs);
      tried.add(index);
      try {
        const metadata = await this.metadata(path);
        const response = await this.unary(index, path, request, metadata, attemptDeadline, signal);
        this.answered.add(index);
        this.unresponsive.delete(index);
        return response as UnaryMethods[P][1];
      } catch (err) {
        if (err instanceof BallotError) throw err; // already translated (e.g. by authenticate())
        signal?.throwIfAborted();
        const e = err as grpc.ServiceError;
        lastError = e;
        lastIndex = index;
        if (isUnauthenticated(e) && isInvalidAuthToken(e) && this.auth && !reauthenticated) {
          reauthenticated = true;
          this.token = undefined;
          this.tokenValue = undefined;
          continue;
        }
        if (!FAILOVER_CODES.has(e.code)) break;
        if (e.code === grpc.status.DEADLINE_EXCEEDED) this.markUnresponsive(index);
        else this.failover(index);
        if (options.retry === false) {
          // Not resent, unless it provably never left the client (as Go's transparent retry): once.
          if (resentUnsent || !neverSent(e)) break;
          resentUnsent = true;
        }
        if (Date.now() >= deadline) break;
        // A timed-out attempt (not the call) moves on: the request may have been applied, which
        // only calls that may be repeated risk (e.g. a second LeaseGrant: an unused lease expires
        // after its TTL).
        if (e.code === grpc.status.DEADLINE_EXCEEDED && attemptDeadline >= deadline) break;
      }
    }
    throw await this.diagnosePlainToTls(this.translate(path, lastError), lastError, lastIndex);
  }

  /** Opens a bidirectional stream on the active endpoint. */
  async stream<P extends keyof StreamMethods>(
    path: P,
  ): Promise<{ index: number; stream: grpc.ClientDuplexStream<StreamMethods[P][0], StreamMethods[P][1]> }> {
    if (this.closed) throw new ClosedError('etcd connection');
    const index = this.current;
    const metadata = await this.metadata(path);
    const codec = codecFor(path);
    const stream = this.client(index).makeBidiStreamRequest(
      path,
      codec.serialize as (v: StreamMethods[P][0]) => Buffer,
      codec.deserialize as (b: Buffer) => StreamMethods[P][1],
      metadata,
    );
    return { index, stream };
  }

  /** Opens a server stream on the active endpoint; `signal` cancels it. */
  async serverStream<P extends keyof ServerStreamMethods>(
    path: P,
    request: ServerStreamMethods[P][0],
    signal: AbortSignal,
  ): Promise<{ index: number; stream: grpc.ClientReadableStream<ServerStreamMethods[P][1]> }> {
    if (this.closed) throw new ClosedError('etcd connection');
    const index = this.current;
    const metadata = await this.metadata(path);
    const codec = codecFor(path);
    const stream = this.client(index).makeServerStreamRequest(
      path,
      codec.serialize as (v: ServerStreamMethods[P][0]) => Buffer,
      codec.deserialize as (b: Buffer) => ServerStreamMethods[P][1],
      request,
      metadata,
    );
    const cancel = () => stream.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    stream.on('close', () => signal.removeEventListener('abort', cancel));
    return { index, stream };
  }

  /**
   * Moves to the next endpoint if `index` is still the active one (called when it failed), passing
   * over endpoints that recently stopped answering unless every other one did.
   */
  failover(index: number): void {
    if (index !== this.current) return;
    const n = this.endpoints.length;
    const now = Date.now();
    for (let step = 1; step < n; step++) {
      const next = (index + step) % n;
      const since = this.unresponsive.get(next);
      if (since === undefined || now - since >= UNRESPONSIVE_MS) {
        this.current = next;
        return;
      }
    }
    this.current = (index + 1) % n;
  }

  /**
   * Records that endpoint `index` stopped answering (a call attempt or a keepalive timed out while
   * its connection stayed open): new calls go elsewhere, and the streams on it are told to move
   * (see onUnresponsive). With a single endpoint there is nowhere to go and nothing is told.
   */
  markUnresponsive(index: number): void {
    if (this.closed || index < 0 || index >= this.endpoints.length) return;
    this.unresponsive.set(index, Date.now());
    this.failover(index);
    if (this.current === index) return;
    for (const listener of this.unresponsiveListeners) listener(index);
  }

  /** Calls `listener` with an endpoint's index when it is marked unresponsive; returns how to stop. */
  onUnresponsive(listener: (index: number) => void): () => void {
    this.unresponsiveListeners.add(listener);
    return () => this.unresponsiveListeners.delete(listener);
  }

  /** Forgets the auth token so the next call authenticates again (used when a stream was refused). */
  invalidateToken(): void {
    this.token = undefined;
    this.tokenValue = undefined;
  }

  /** Maps a gRPC error onto ballot's error classes (see ./errors.ts). */
  translate(what: string, err: grpc.ServiceError | undefined): BallotError {
    if (this.closed) return new ClosedError('etcd connection');
    return translate(err, { what, endpoints: this.endpoints, secure: this.secure, credentials: !!this.auth });
  }

  /**
   * For a plain connection to endpoint `index` that failed with no socket error of its own: if it answers a
   * TLS handshake, the server expects TLS, which retrying cannot fix; the error says what to change.
   * Otherwise `error` unchanged.
   */
  private async diagnosePlainToTls(
    error: Error,
    cause: grpc.ServiceError | undefined,
    index: number,
  ): Promise<Error> {
    if (this.secure || this.answered.has(index) || !isBareConnectFailure(cause)) return error;
    const endpoint = this.endpoints[index] ?? '';
    let probe = this.tlsProbes.get(index);
    if (!probe) {
      probe = speaksTls(endpoint, Math.min(this.dialTimeout, TLS_PROBE_MS), this.closing.signal);
      this.tlsProbes.set(index, probe);
    }
    if (!(await probe)) return error;
    return new AuthError(
      `etcd at ${endpoint} expects TLS but the connection is plain: use https://${endpoint} ` +
        '(system roots) or give the CA with --cacert (tls.ca)',
      { cause },
    );
  }

  /**
   * A unary call on the active endpoint whose request goes out now but for its message, which
   * fire() writes to the socket at once (see prepared-calls.ts for why grpc-js is bypassed). For
   * requests that are safe to send twice only: an unknown outcome is for the caller to settle with
   * call(). Undefined when the connection is closed, or auth is on and no token is known yet.
   */
  prepare<P extends keyof UnaryMethods>(path: P, request: UnaryMethods[P][0]): PreparedUnary<P> | undefined {
    if (this.closed || (this.auth && this.tokenValue === undefined)) return undefined;
    const index = this.current;
    const calls = (this.preparedCalls[index] ??= new PreparedCalls(
      preparedTarget(this.endpoints[index] ?? '', this.secure, this.tls),
    ));
    const call = calls.prepare(path, this.tokenValue === undefined ? {} : { token: this.tokenValue });
    if (!call) return undefined;
    const codec = codecFor(path);
    const message = codec.serialize(request);
    return {
      fire: async (timeoutMs) => {
        const response = await call.fire(message, timeoutMs);
        return response && (codec.deserialize(response) as UnaryMethods[P][1]);
      },
      cancel: () => call.cancel(),
    };
  }

  /** Prepared calls held unfired, and fired ones answered, over every endpoint (for tests and stats). */
  preparedStats(): { held: number; answered: number } {
    const total = { held: 0, answered: 0 };
    for (const calls of this.preparedCalls) {
      total.held += calls?.stats.held ?? 0;
      total.answered += calls?.stats.answered ?? 0;
    }
    return total;
  }

  /** Closes every channel; pending calls fail with CLOSED. */
  close(): void {
    this.closed = true;
    this.closing.abort();
    this.unresponsiveListeners.clear();
    for (const client of this.clients) client?.close();
    for (const calls of this.preparedCalls) calls?.close();
  }

  private client(index: number): grpc.Client {
    let client = this.clients[index];
    if (!client) {
      const endpoint = this.endpoints[index] ?? '';
      const options: grpc.ChannelOptions = {
        // Detect half-open TCP connections (e.g. a partitioned member) instead of waiting on them forever.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.keepalive_permit_without_calls': 1,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1_000,
      };
      let credentials = grpc.credentials.createInsecure();
      if (this.secure) {
        const host = hostOf(endpoint);
        const ca = toBuffer(this.tls?.ca);
        const [key, cert] = [toBuffer(this.tls?.key), toBuffer(this.tls?.cert)];
        if (isIP(host) === 0) credentials = grpc.credentials.createSsl(ca, key, cert);
        else {
          // grpc-js sends the target host as the TLS server name, and Node warns (DEP0123) when it is
          // an IP. Another name goes out instead; the certificate is still checked against the IP.
          options['grpc.ssl_target_name_override'] = IP_SERVERNAME_PLACEHOLDER;
          credentials = grpc.credentials.createSsl(ca, key, cert, {
            checkServerIdentity: (_name, certificate) => checkServerIdentity(host, certificate),
          });
        }
      }
      client = new grpc.Client(endpoint, credentials, options);
      this.clients[index] = client;
    }
    return client;
  }

  private unary(
    index: number,
    path: string,
    request: unknown,
    metadata: grpc.Metadata,
    deadline: number,
    signal: AbortSignal | undefined,
  ) {
    const codec = codecFor(path);
    return new Promise<unknown>((resolve, reject) => {
      const call = this.client(index).makeUnaryRequest(
        path,
        codec.serialize,
        codec.deserialize,
        request,
        metadata,
        { deadline },
        (err, value) => {
          signal?.removeEventListener('abort', cancel);
          if (err) reject(err);
          else resolve(value);
        },
      );
      const cancel = () => call.cancel();
      signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  private async metadata(path: string): Promise<grpc.Metadata> {
    const metadata = new grpc.Metadata();
    if (this.auth && path !== '/etcdserverpb.Auth/Authenticate') {
      this.token ??= this.authenticate();
      try {
        this.tokenValue = await this.token;
        metadata.set('token', this.tokenValue);
      } catch (err) {
        this.token = undefined;
        this.tokenValue = undefined;
        throw err;
      }
    }
    return metadata;
  }

  private async authenticate(): Promise<string> {
    const auth = this.auth as { username: string; password: string };
    const response = await this.call('/etcdserverpb.Auth/Authenticate', {
      name: auth.username,
      password: auth.password,
    });
    return response.token;
  }
}

function parseEndpoint(endpoint: string): { address: string; secure: boolean } {
  if (typeof endpoint !== 'string' || endpoint.trim() === '')
    throw new InvalidArgumentError(`invalid etcd endpoint ${JSON.stringify(endpoint)}: use "host:port"`);
  const match = /^(?:(https?|unix):\/\/)?([^/]+?)\/?$/.exec(endpoint.trim());
  const port = /:(\d+)$/.exec(match?.[2] ?? '')?.[1];
  if (!match || port === undefined)
    throw new InvalidArgumentError(
      `invalid etcd endpoint "${endpoint}": use "host:port", e.g. 127.0.0.1:2379`,
    );
  if (!isPort(port))
    throw new InvalidArgumentError(
      `invalid etcd endpoint "${endpoint}": port ${port} is not from 1 to 65535, e.g. 127.0.0.1:2379`,
    );
  return { address: match[2] as string, secure: match[1] === 'https' };
}

/** Whether `text` (digits) is a TCP port: 1 to 65535. */
export function isPort(text: string): boolean {
  const port = Number(text);
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** Where an endpoint's prepared calls connect, with the TLS material its gRPC channel uses. */
function preparedTarget(address: string, secure: boolean, tls: TlsOptions | undefined): PreparedTarget {
  const host = hostOf(address);
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  if (!secure) return { host, port, authority: address };
  const material = { ca: toBuffer(tls?.ca), key: toBuffer(tls?.key), cert: toBuffer(tls?.cert) };
  const options = Object.fromEntries(Object.entries(material).filter(([, v]) => v !== null));
  return { host, port, authority: address, tls: options };
}

/** The host of "host:port" or "[v6]:port", without brackets. */
function hostOf(address: string): string {
  const host = address.slice(0, address.lastIndexOf(':'));
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function toBuffer(value: Buffer | string | undefined): Buffer | null {
  if (value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value) : value;
}
