import { systemClock } from '../../core/clock.js';
import type {
  BackendDriver,
  BackendLimits,
  BackendStats,
  BackendWarning,
  ElectionDriver,
  ElectionView,
  Liveness,
} from '../../core/contract.js';
import { BackendUnavailableError, InvalidArgumentError } from '../../core/errors.js';
import { EtcdClient } from '../../etcd/client.js';
import { warmCodecs } from '../../etcd/codec.js';
import type { ConnectionOptions } from '../../etcd/connection.js';
import { composeDriver, type Fence } from '../shared/compose.js';
import { ServiceStalls } from './campaign-watchdog.js';
import { EtcdElection } from './election.js';
import { guardTxn } from './fence.js';
import { KeySpaces } from './keys.js';
import { reportKnownBugs } from './known-bugs.js';
import { electionNames } from './participants.js';
import { ServiceElection } from './service-election.js';
import { ServiceLock } from './service-lock.js';
import type { EtcdTxn } from './txn.js';
import { EtcdView, type ViewShares } from './view.js';

/**
 * etcd's limits: requests are capped at 1.5 MiB (--max-request-bytes), so values stop at 1 MiB to
 * leave room for the rest; leases have whole-second TTLs, and etcd raises very short ones to its
 * own minimum (usually 2 s).
 */
export const ETCD_LIMITS: BackendLimits = {
  maxValueBytes: 1024 * 1024,
  ttl: { minMs: 1000, maxMs: 86_400_000, granularityMs: 1000 },
};

/**
 * Who runs the election and lock recipes: ballot over KV/lease/watch ("client"), or etcd's
 * server-side v3election and v3lock services ("service"). See docs/etcd-modes.md.
 */
export type EtcdMode = 'client' | 'service';

/** Runs ballot's core on etcd through the client-side recipe. */
export class EtcdDriver implements BackendDriver<EtcdTxn> {
  readonly kind = 'etcd';
  readonly clock = systemClock;
  readonly client: EtcdClient;
  readonly limits = ETCD_LIMITS;
  readonly liveness: Liveness;
  private connected?: Promise<void>;
  /** Leader streams and confirming reads shared by every observer on this client, per read path. */
  private readonly shares: { client: ViewShares; service: ViewShares } = {
    client: { observers: new Map(), probes: new Map() },
    service: { observers: new Map(), probes: new Map() },
  };
  /** Key spaces of every election and mutex opened here: guarded writes are refused inside them. */
  private readonly keySpaces = new KeySpaces();
  /** The guarded write of every election and mutex of this client: one txn fenced by the entry's revision. */
  private readonly fence: Fence<EtcdTxn> = (e, body) => guardTxn(this.client, this.keySpaces, e, body);

  readonly mode: EtcdMode;
  /** Where warnings go once Backend installed its sink (see onWarning). */
  private warn: (warning: BackendWarning) => void = () => undefined;
  /**
   * Stalled server-side campaigns per election; one call timeout is the bound, since a Campaign
   * whose entry is already the oldest answers within one watch event.
   */
  private readonly stalls: ServiceStalls;

  /** Whether client-mode terms keep their delete ready (EtcdOptions.readyResign). */
  private readonly readyResign: boolean;

  constructor(options: ConnectionOptions, mode: EtcdMode = 'client', extras: { readyResign?: boolean } = {}) {
    if (mode !== 'client' && mode !== 'service')
      throw new InvalidArgumentError(`etcd mode must be "client" or "service", got ${JSON.stringify(mode)}`);
    this.mode = mode;
    this.readyResign = mode === 'client' && extras.readyResign !== false;
    this.client = new EtcdClient(options);
    this.stalls = new ServiceStalls(this.client.connection.callTimeout, (w) => this.warn(w));
    const client = this.client;
    // Core validated the TTL against ETCD_LIMITS, so it is a whole number of seconds.
    this.liveness = {
      open: async (ttlMs) => {
        const grant = await client.leaseGrant(ttlMs / 1000);
        return { id: grant.id, ttlMs: grant.ttl * 1000 };
      },
      renew: async (id) => (await client.keepAlive(id)) * 1000,
      end: (id) => client.leaseRevoke(id),
    };
  }

  connect(): Promise<void> {
    this.connected ??= this.client
      .status(this.client.connection.dialTimeout)
      .then((status) => {
        reportKnownBugs(status.version, this.client.connection.activeEndpoint, this.warn);
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
        // In service mode nothing watches before the first term, whose watch on its own key would
        // then open the shared stream after Campaign returns, on the handover's path: open it now.
        if (this.mode === 'service')
          this.client
            .watch({ key, startRevision: 0n }, { onEvents: () => undefined, onEnd: () => undefined })
            .cancel();
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

  election(name: string, lease: string): ElectionDriver<EtcdTxn> {
    this.keySpaces.add('election', name);
    const recipe = new EtcdElection(this.client, name, lease, this.readyResign);
    return composeDriver(
      this.mode === 'service' ? new ServiceElection(this.client, name, lease, recipe, this.stalls) : recipe,
      this.view(name),
      this.fence,
    );
  }

  mutex(name: string, lease: string): ElectionDriver<EtcdTxn> {
    this.keySpaces.add('mutex', name);
    // v3lock has no Leader or Observe call, so a mutex is read through the client path in both modes.
    const view = new EtcdView(this.client, name, false, this.shares.client);
    // Go's concurrency.Mutex is the election recipe with an empty value, so the client mode reuses it.
    const recipe = new EtcdElection(this.client, name, lease);
    return composeDriver(
      this.mode === 'service' ? new ServiceLock(this.client, name, lease, recipe, this.stalls) : recipe,
      view,
      this.fence,
    );
  }

  view(name: string): ElectionView {
    const service = this.mode === 'service';
    return new EtcdView(this.client, name, service, service ? this.shares.service : this.shares.client);
  }

  async get(key: string): Promise<string | undefined> {
    const response = await this.client.range({ key: Buffer.from(key) });
    return response.kvs[0]?.value.toString();
  }

  elections(namePrefix: string): AsyncIterable<string> {
    return electionNames(this.client, namePrefix);
  }

  onWarning(sink: (warning: BackendWarning) => void): void {
    this.warn = sink;
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
