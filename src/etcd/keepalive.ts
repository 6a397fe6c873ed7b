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
 * One LeaseKeepAlive stream shared by every lease of a client. etcd answers a stream's requests
 * in order, so replies for one lease are matched to its requests first-in, first-out.
 */
export class KeepAlives {
  private readonly connection: Connection;
  private stream?: Promise<{ index: number; stream: KeepAliveStreamT }>;
  private readonly waiters = new Map<string, Waiter[]>();
  private closed = false;

  constructor(connection: Connection) {
    this.connection = connection;
  }

  /** Sends one keepalive; resolves to the TTL etcd now grants (0 if the lease is gone). */
  keepAlive(id: string, timeout = this.connection.callTimeout): Promise<number> {
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
    this.reset(new BackendUnavailableError('keepalive stream closed'), false);
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
      return opened;
    });
    return this.stream;
  }

  private current?: KeepAliveStreamT;

  private onResponse(response: LeaseKeepAliveResponse): void {
    const queue = this.waiters.get(response.ID);
    const waiter = queue?.shift();
    if (queue && queue.length === 0) this.waiters.delete(response.ID);
    if (!waiter) return;
    clearTimeout(waiter.timer);
    waiter.resolve(Number(response.TTL));
  }

  private reset(err: Error, failover: boolean): void {
    const current = this.current;
    this.current = undefined;
    this.stream = undefined;
    if (current) {
      current.removeAllListeners('data');
      current.on('error', () => undefined);
      current.cancel();
    }
    if (failover) this.connection.failover(this.connection.endpoints.indexOf(this.connection.activeEndpoint));
    const waiters = [...this.waiters.values()].flat();
    this.waiters.clear();
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
  }
}
