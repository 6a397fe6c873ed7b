import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  ACK,
  CANCEL,
  DATA,
  END_HEADERS,
  END_STREAM,
  frame,
  GOAWAY,
  HEADERS,
  literal,
  MAX_STREAM_ID,
  PADDED,
  PING,
  PREFACE,
  RST_STREAM,
  SETTINGS,
  uint32,
  WINDOW_UPDATE,
} from './h2-frames.js';

/**
 * Unary gRPC calls sent ahead of time, all but their message: a call's HEADERS go out when it is
 * prepared, and its message (one DATA frame that ends the stream) in a single socket write made
 * inside fire() itself.
 *
 * Why hand-framed HTTP/2 instead of grpc-js or node:http2: both leave a write to the event loop's
 * check phase, after every callback and promise job of the current turn, and grpc-js adds about a
 * millisecond of call set-up. A SIGINT handler that resigns through them put its delete on the wire
 * 1.5-1.8 ms after the signal on the benchmark machine, against 0.3-0.6 ms for Go's etcdctl; a
 * plain socket write leaves at once. This speaks only what a prepared call needs: the client
 * preface, SETTINGS and PING acks, connection WINDOW_UPDATEs, and a response's DATA and end of
 * stream. Header blocks the server sends are never decoded (their HPACK table is the reader's own
 * state, and nothing here reads it), so a call that ends without a whole response message reports
 * "unknown" and its caller sends its regular call: only requests that are safe to repeat may be
 * prepared.
 *
 * The line is dialled by the first prepare() and closed once it holds no call. While it holds some
 * it pings the server every PING_EVERY_MS and drops itself when a ping went unanswered that long
 * (a member gone, or a load balancer that forgot the idle connection), so a resign does not wait
 * on a dead line. At most MAX_OPEN calls are held: a process holding thousands of terms prepares
 * the first few and leaves the rest to the regular path.
 */
export class PreparedCalls {
  private socket?: net.Socket;
  private pinger?: NodeJS.Timeout;
  private pingUnanswered = false;
  private nextStream = 1;
  private readonly open = new Map<number, PreparedCall>();
  private pending: Buffer = Buffer.alloc(0);
  private closed = false;
  /** Fired calls that got a whole answer, since the start. */
  private answeredCount = 0;

  constructor(private readonly target: PreparedTarget) {}

  /** Calls held unfired, and fired calls answered so far. */
  get stats(): { held: number; answered: number } {
    let held = 0;
    for (const call of this.open.values()) if (!call.isFired) held++;
    return { held, answered: this.answeredCount };
  }

  /** Sends the HEADERS of a call to `path` now; `headers` are extra request headers (e.g. an auth token). */
  prepare(path: string, headers: Readonly<Record<string, string>> = {}): PreparedCall | undefined {
    if (this.closed || this.nextStream > MAX_STREAM_ID || this.open.size >= MAX_OPEN) return undefined;
    const socket = this.connected();
    const id = this.nextStream;
    this.nextStream += 2;
    const call = new PreparedCall(id, socket, (answered) => {
      this.open.delete(id);
      if (answered) this.answeredCount++;
      if (this.open.size === 0) this.drop();
    });
    this.open.set(id, call);
    const block = [
      Buffer.from([0x83, this.target.tls ? 0x87 : 0x86]), // :method POST, :scheme https or http
      literal(':path', path),
      literal(':authority', this.target.authority),
      literal('content-type', 'application/grpc'),
      literal('te', 'trailers'),
      ...Object.entries(headers).map(([name, value]) => literal(name, value)),
    ];
    socket.write(frame(HEADERS, END_HEADERS, id, Buffer.concat(block)));
    return call;
  }

  /** Ends every call (as unknown) and closes the connection. */
  close(): void {
    this.closed = true;
    this.drop();
  }

  private connected(): net.Socket {
    if (this.socket) return this.socket;
    const { host, port } = this.target;
    const socket = this.target.tls
      ? tls.connect({ ...this.target.tls, host, port, ALPNProtocols: ['h2'] })
      : net.connect({ host, port });
    // Held calls must not keep the process alive; a fired one's deadline timer does until it ends.
    socket.unref();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) this.read(chunk);
    });
    const lost = () => {
      if (this.socket === socket) this.drop();
    };
    socket.on('error', lost);
    socket.on('close', lost);
    // SETTINGS_ENABLE_PUSH = 0: nothing here could read a pushed stream.
    socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.from([0, 2, 0, 0, 0, 0]))]));
    this.socket = socket;
    this.nextStream = 1;
    this.pingUnanswered = false;
    this.pinger = setInterval(() => this.ping(socket), PING_EVERY_MS).unref();
    return socket;
  }

  private ping(socket: net.Socket): void {
    if (this.pingUnanswered) return this.drop();
    this.pingUnanswered = true;
    socket.write(frame(PING, 0, 0, Buffer.alloc(8)));
  }

  /** Closes the line: calls still open end as unknown, and the next prepare() dials again. */
  private drop(): void {
    const socket = this.socket;
    if (!socket) return;
    this.socket = undefined;
    clearInterval(this.pinger);
    this.pending = Buffer.alloc(0);
    for (const call of [...this.open.values()]) call.end();
    socket.destroy();
  }

  private read(chunk: Buffer): void {
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (data.length >= 9) {
      const length = data.readUIntBE(0, 3);
      if (data.length < 9 + length) break;
      const [type, flags] = [data[3] ?? 0, data[4] ?? 0];
      const stream = data.readUInt32BE(5) & MAX_STREAM_ID;
      this.onFrame(type, flags, stream, data.subarray(9, 9 + length));
      // A frame may have ended the last call, and the line with it: the rest is for nobody.
      if (!this.socket) return;
      data = data.subarray(9 + length);
    }
    this.pending = data.length ? Buffer.from(data) : Buffer.alloc(0);
  }

  private onFrame(type: number, flags: number, stream: number, payload: Buffer): void {
    const socket = this.socket;
    if (!socket) return;
    switch (type) {
      case SETTINGS:
        if (!(flags & ACK)) socket.write(frame(SETTINGS, ACK, 0, Buffer.alloc(0)));
        return;
      case PING:
        if (!(flags & ACK)) socket.write(frame(PING, ACK, 0, payload));
        else this.pingUnanswered = false;
        return;
      case GOAWAY:
        // The server is going away: every call here falls back to its regular call, new ones dial again.
        this.drop();
        return;
      case DATA: {
        const body = flags & PADDED ? payload.subarray(1, payload.length - (payload[0] ?? 0)) : payload;
        // Give the connection window back at once: responses are small and calls are few.
        if (payload.length > 0) socket.write(frame(WINDOW_UPDATE, 0, 0, uint32(payload.length)));
        this.open.get(stream)?.data(body);
        if (flags & END_STREAM) this.open.get(stream)?.end();
        return;
      }
      case HEADERS:
        if (flags & END_STREAM) this.open.get(stream)?.end();
        return;
      case RST_STREAM:
        this.open.get(stream)?.end();
        return;
    }
  }
}

/** Where a PreparedCalls connection goes. */
export interface PreparedTarget {
  host: string;
  port: number;
  /** The :authority header, "host:port". */
  authority: string;
  /** TLS options for tls.connect (ALPN h2 is added); absent for plain TCP. */
  tls?: tls.ConnectionOptions;
}

/** One prepared call: fire() sends its message; cancel() gives it up unsent. */
export class PreparedCall {
  private readonly chunks: Buffer[] = [];
  private ended = false;
  private fired = false;
  private settle?: (message: Buffer | undefined) => void;

  constructor(
    private readonly id: number,
    private readonly socket: net.Socket,
    private readonly forget: (answered: boolean) => void,
  ) {}

  /** Whether fire() has sent the message. */
  get isFired(): boolean {
    return this.fired;
  }

  /**
   * Writes `message` to the socket before returning, then resolves with the response message, or
   * with undefined when the outcome is unknown (the stream or connection ended without a whole
   * response, or `timeoutMs` passed): the request may or may not have been applied.
   */
  fire(message: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
    if (this.fired || this.ended || this.socket.destroyed) return Promise.resolve(undefined);
    this.fired = true;
    const body = Buffer.alloc(5 + message.length);
    body.writeUInt32BE(message.length, 1);
    message.copy(body, 5);
    this.socket.write(frame(DATA, END_STREAM, this.id, body));
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.end(), timeoutMs);
      this.settle = (response) => {
        clearTimeout(timer);
        resolve(response);
      };
    });
  }

  /** Gives up a call that was never fired, so the server stops holding its stream. */
  cancel(): void {
    if (this.fired || this.ended) return;
    if (!this.socket.destroyed) this.socket.write(frame(RST_STREAM, 0, this.id, uint32(CANCEL)));
    this.end();
  }

  /** @internal a DATA frame's payload. */
  data(payload: Buffer): void {
    this.chunks.push(payload);
  }

  /** @internal the stream ended (or failed): settle with the response message, if whole. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const response = this.fired ? wholeMessage(Buffer.concat(this.chunks)) : undefined;
    this.forget(response !== undefined);
    this.settle?.(response);
  }
}

/**
 * How often a line with calls pings: also how long an unanswered ping is given. etcd's gRPC server
 * refuses pings closer than 5 s apart (--grpc-keepalive-min-time) with a GOAWAY.
 */
const PING_EVERY_MS = 10_000;
/** Calls one line holds at most (one open stream each on the server). */
const MAX_OPEN = 32;

/** The one uncompressed gRPC message in `body`, or undefined if it is not exactly that. */
function wholeMessage(body: Buffer): Buffer | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined;
  const length = body.readUInt32BE(1);
  return body.length === 5 + length ? body.subarray(5) : undefined;
}
