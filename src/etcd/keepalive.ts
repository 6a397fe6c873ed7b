import type * as grpc from '@grpc/grpc-js';
import { BackendUnavailableError } from '../core/errors.js';
import type { Connection } from './connection.js';
import { isUnauthenticated } from './errors.js';
import type { LeaseKeepAliveResponse } from './messages.js';

interface Waiter {
  resolve(ttl: number): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

type KeepAliveStreamT = grpc.ClientDuplexStream<{ ID: string }, LeaseKeepAliveResponse>;

/**
 * How long a keepalive waits for its reply, as a fraction of its lease's TTL. Sessions renew every
 * TTL/3 and lose their term TTL after the last acknowledged renewal, so a reply not back within
 * TTL/4 means the stream is stuck (e.g. its member is paused): moving to another member then, and
 * retrying, still lands well before the deadline. Waiting the whole call timeout (5 s by default)
 * outlasted short TTLs altogether.
 */
const REPLY_FRACTION_OF_TTL = 0.25;
/** Never less: a keepalive is forwarded to the raft leader, which may be a round trip away. */
const REPLY_FLOOR_MS = 250;

/**
 * One LeaseKeepAlive stream shared by every lease of a client. etcd answers a stream's requests
 * in order, so replies for one lease are matched to its requests first-in, first-out.
 */
export class KeepAlives {
  private readonly connection: Connection;
  private stream?: Promise<{ index: number; stream: KeepAliveStreamT }>;
  private readonly waiters = new Map<string, Waiter[]>();
  /** TTL in ms of each lease renewed here (from its grant, then from every reply). */
  private readonly ttls = new Map<string, number>();
  private closed = false;
  private readonly stopListening: () => void;

  constructor(connection: Connection) {
    this.connection = connection;
    // Another call found the stream's member unresponsive: do not wait for our own timeout.
    this.stopListening = connection.onUnresponsive((index) => {
      if (this.currentIndex === index)
        this.reset(new BackendUnavailableError('etcd keepalive stream: its member stopped answering'), false);
    });
  }

  /** Records a lease's granted TTL (seconds), which sets how long its keepalives wait for a reply. */
  granted(id: string, ttl: number): void {
    if (ttl > 0) this.ttls.set(id, ttl * 1000);
  }

  /** Forgets a lease (revoked or expired). */
  forget(id: string): void {
    this.ttls.delete(id);
  }

  /** Sends one keepalive; resolves to the TTL etcd now grants (0 if the lease is gone). */
  keepAlive(id: string, timeout = this.replyTimeout(id)): Promise<number> {
    if (this.closed) return Promise.reject(new BackendUnavailableError('keepalive stream closed'));
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A reply that does not come means the stream is stuck (e.g. a partition): start afresh.
        this.reset(
          new BackendUnavailableError(`etcd keepalive for lease ${id} timed out after ${timeout} ms`),
          true,
        );
      }, timeout);
      const queue = this.waiters.get(id) ?? [];
      queue.push({ resolve, reject, timer });
      this.waiters.set(id, queue);
      this.open().then(
        ({ stream }) => stream.write({ ID: id }),
        (err: Error) => this.reset(err, false),
      );
    });
  }

  /** Ends the stream and fails pending keepalives. */
  close(): void {
    this.closed = true;
    this.stopListening();
    this.ttls.clear();
    this.reset(new BackendUnavailableError('keepalive stream closed'), false);
  }

  private replyTimeout(id: string): number {
    const ttlMs = this.ttls.get(id);
    const callTimeout = this.connection.callTimeout;
    if (ttlMs === undefined) return callTimeout;
    return Math.min(callTimeout, Math.max(REPLY_FLOOR_MS, ttlMs * REPLY_FRACTION_OF_TTL));
  }

  private open(): Promise<{ index: number; stream: KeepAliveStreamT }> {
    this.stream ??= this.connection.stream('/etcdserverpb.Lease/LeaseKeepAlive').then((opened) => {
      const { stream, index } = opened;
      stream.on('data', (response: LeaseKeepAliveResponse) => this.onResponse(response));
      stream.on('error', (err: grpc.ServiceError) => {
        if (this.stream && this.current === stream) {
          this.connection.failover(index);
          if (isUnauthenticated(err)) this.connection.invalidateToken();
          this.reset(this.connection.translate('LeaseKeepAlive', err), false);
        }
      });
      stream.on('end', () => {
        if (this.current === stream)
          this.reset(new BackendUnavailableError('etcd closed the keepalive stream'), false);
      });
      this.current = stream;
      this.currentIndex = index;
      return opened;
    });
    return this.stream;
  }

  private current?: KeepAliveStreamT;
  /** The endpoint the current stream runs on. */
  private currentIndex?: number;

  private onResponse(response: LeaseKeepAliveResponse): void {
    const ttl = Number(response.TTL);
    if (ttl > 0) this.granted(response.ID, ttl);
    else this.forget(response.ID);
    const queue = this.waiters.get(response.ID);
    const waiter = queue?.shift();
    if (queue && queue.length === 0) this.waiters.delete(response.ID);
    if (!waiter) return;
    clearTimeout(waiter.timer);
    waiter.resolve(ttl);
  }

  private reset(err: Error, unresponsive: boolean): void {
    const current = this.current;
    const index = this.currentIndex;
    this.current = undefined;
    this.currentIndex = undefined;
    this.stream = undefined;
    if (current) {
      current.removeAllListeners('data');
      current.on('error', () => undefined);
      current.cancel();
    }
    // The member the stuck stream ran on, not whichever is active now: that may have moved already.
    if (unresponsive) {
      if (index !== undefined) this.connection.markUnresponsive(index);
      else this.connection.failover(this.connection.endpoints.indexOf(this.connection.activeEndpoint));
    }
    const waiters = [...this.waiters.values()].flat();
    this.waiters.clear();
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
  }
}
