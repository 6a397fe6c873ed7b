import { BackendUnavailableError } from '../core/errors.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { isLeaseNotFound } from './errors.js';
import { KeepAlives } from './keepalive.js';
import { ConcurrencyServices } from './services.js';
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseTimeToLiveResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  StatusResponse,
  TxnRequest,
  TxnResponse,
} from './messages.js';
import { TxnBatcher, type SmallTxn } from './txn-batch.js';
import { WatchHub, type WatchHandler, type WatchSpec, type Watcher } from './watch.js';

/**
 * A small etcd v3 client: the KV, Lease, Watch and Maintenance calls ballot needs, over one
 * connection with failover, one shared keepalive stream and one multiplexed watch stream.
 */
export class EtcdClient {
  readonly connection: Connection;
  /** etcd's server-side election and lock services. */
  readonly services: ConcurrencyServices;
  private readonly keepAlives: KeepAlives;
  private readonly watches: WatchHub;
  private readonly batcher = new TxnBatcher((request) => this.txn(request));

  constructor(options: ConnectionOptions) {
    this.connection = new Connection(options);
    this.services = new ConcurrencyServices(this.connection);
    this.keepAlives = new KeepAlives(this.connection);
    this.watches = new WatchHub(this.connection);
  }

  /** Watch events delivered so far. */
  get watchEventsDelivered(): number {
    return this.watches.delivered;
  }

  /** Reads keys. */
  range(request: RangeRequest): Promise<RangeResponse> {
    return this.connection.call('/etcdserverpb.KV/Range', request);
  }

  /** Writes a key. */
  put(request: PutRequest): Promise<PutResponse> {
    return this.connection.call('/etcdserverpb.KV/Put', request);
  }

  /** Deletes keys. */
  deleteRange(request: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.connection.call('/etcdserverpb.KV/DeleteRange', request);
  }

  /** Runs a transaction; `retry: false` when a repeat could misreport an applied txn as failed. */
  txn(request: TxnRequest, options: { retry?: boolean } = {}): Promise<TxnResponse> {
    return this.connection.call('/etcdserverpb.KV/Txn', request, options);
  }

  /**
   * Runs a one-compare txn, merged with others issued in the same turn (see TxnBatcher); `group`
   * (an election's key prefix) is what two txns of one batch must not share.
   */
  smallTxn(txn: SmallTxn, group: string): Promise<TxnResponse> {
    return this.batcher.txn(txn, group);
  }

  /** Grants a lease; `ttl` in seconds. */
  async leaseGrant(ttl: number): Promise<{ id: string; ttl: number }> {
    const response = await this.connection.call('/etcdserverpb.Lease/LeaseGrant', { TTL: ttl });
    if (response.error) throw new BackendUnavailableError(`etcd refused a lease: ${response.error}`);
    this.keepAlives.granted(response.ID, Number(response.TTL));
    return { id: response.ID, ttl: Number(response.TTL) };
  }

  /** Revokes a lease, deleting its keys. A lease that is already gone is not an error. */
  async leaseRevoke(id: string): Promise<void> {
    this.keepAlives.forget(id);
    try {
      await this.connection.call('/etcdserverpb.Lease/LeaseRevoke', { ID: id });
    } catch (err) {
      if (!isLeaseNotFound(err)) throw err;
    }
  }

  /** Remaining TTL of a lease (-1 when it does not exist). */
  leaseTimeToLive(id: string, keys = false): Promise<LeaseTimeToLiveResponse> {
    return this.connection.call('/etcdserverpb.Lease/LeaseTimeToLive', { ID: id, keys });
  }

  /** Renews a lease over the shared keepalive stream; resolves to the granted TTL, 0 if gone. */
  keepAlive(id: string): Promise<number> {
    return this.keepAlives.keepAlive(id);
  }

  /** Starts a watcher on the shared watch stream. */
  watch(spec: WatchSpec, handler: WatchHandler): Watcher {
    return this.watches.watch(spec, handler);
  }

  /** Status of the member at the active endpoint. */
  status(timeout?: number): Promise<StatusResponse> {
    return this.connection.call(
      '/etcdserverpb.Maintenance/Status',
      {},
      timeout === undefined ? {} : { timeout },
    );
  }

  /** Closes streams and channels. */
  close(): void {
    this.keepAlives.close();
    this.watches.close();
    this.connection.close();
  }
}
