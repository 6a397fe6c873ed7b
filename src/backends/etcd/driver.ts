import { systemClock } from '../../core/clock.js';
import type {
  BackendDriver,
  BackendStats,
  ElectionDriver,
  LeaderRecord,
  LeaseDriver,
} from '../../core/contract.js';
import { Multicast } from '../../core/multicast.js';
import type { SharedRead } from '../../core/liveness.js';
import { BackendUnavailableError, InvalidArgumentError } from '../../core/errors.js';
import { EtcdClient } from '../../etcd/client.js';
import { warmCodecs } from '../../etcd/codec.js';
import type { ConnectionOptions } from '../../etcd/connection.js';
import { EtcdElection } from './election.js';
import { KeySpaces } from './keys.js';
import { electionNames } from './participants.js';
import { ServiceElection } from './service-election.js';
import { ServiceLock } from './service-lock.js';

/**
 * Who runs the election and lock recipes: ballot over KV/lease/watch ("client"), or etcd's
 * server-side v3election and v3lock services ("service"). See docs/etcd-modes.md.
 */
export type EtcdMode = 'client' | 'service';

/** Runs ballot's core on etcd through the client-side recipe. */
export class EtcdDriver implements BackendDriver {
  readonly kind = 'etcd';
  readonly clock = systemClock;
  readonly client: EtcdClient;
  /** Confirming reads shared by every observer of an election on this client (see SharedRead). */
  private readonly probes = new Map<string, SharedRead>();
  readonly lease: LeaseDriver;
  private connected?: Promise<void>;
  /** Leader streams shared by every observer of an election on this client. */
  private readonly observers = new Map<string, Multicast<LeaderRecord | null>>();
  /** Key spaces of every election and mutex opened here: guarded writes are refused inside them. */
  private readonly keySpaces = new KeySpaces();

  readonly mode: EtcdMode;

  constructor(options: ConnectionOptions, mode: EtcdMode = 'client') {
    if (mode !== 'client' && mode !== 'service')
      throw new InvalidArgumentError(`etcd mode must be "client" or "service", got ${JSON.stringify(mode)}`);
    this.mode = mode;
    this.client = new EtcdClient(options);
    const client = this.client;
    this.lease = {
      grant: (ttl) => client.leaseGrant(ttl),
      keepAlive: (id) => client.keepAlive(id),
      revoke: (id) => client.leaseRevoke(id),
    };
  }

  connect(): Promise<void> {
    this.connected ??= this.client
      .status(this.client.connection.dialTimeout)
      .then(() => {
        warmCodecs();
        // One no-op guarded txn runs the whole write path once, so that a short-lived process
        // (the CLI) does not pay for its first compilation in the middle of a handover.
        const key = Buffer.from('\0ballot/warm-up');
        void this.client
          .txn({
            compare: [{ result: 'EQUAL', target: 'CREATE', key, create_revision: '0' }],
            success: [],
            failure: [],
          })
          .catch(() => undefined);
      })
      .catch((err: Error) => {
        this.connected = undefined;
        if (!(err instanceof BackendUnavailableError)) throw err;
        throw new BackendUnavailableError(
          `cannot reach etcd within ${this.client.connection.dialTimeout} ms at ${this.client.connection.endpoints.join(', ')}: ` +
            `check the endpoints and that etcd is running (${err.message})`,
          { cause: err },
        );
      });
    return this.connected;
  }

  election(name: string, leaseId: string): ElectionDriver {
    this.keySpaces.add('election', name);
    return this.mode === 'service'
      ? new ServiceElection(this.client, name, leaseId, this.keySpaces)
      : new EtcdElection(this.client, name, leaseId, this.keySpaces, this.observers, this.probes);
  }

  mutex(name: string, leaseId: string): ElectionDriver {
    this.keySpaces.add('mutex', name);
    // Go's concurrency.Mutex is the election recipe with an empty value, so the client mode reuses it.
    return this.mode === 'service'
      ? new ServiceLock(this.client, name, leaseId, this.keySpaces)
      : new EtcdElection(this.client, name, leaseId, this.keySpaces);
  }

  async get(key: string): Promise<string | undefined> {
    const response = await this.client.range({ key: Buffer.from(key) });
    return response.kvs[0]?.value.toString();
  }

  elections(namePrefix: string): AsyncIterable<string> {
    return electionNames(this.client, namePrefix);
  }

  get callTimeout(): number {
    return this.client.connection.callTimeout;
  }

  stats(): BackendStats {
    return { events: this.client.watchEventsDelivered };
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
