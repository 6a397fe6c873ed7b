import { systemClock } from '../../core/clock.js';
import type {
  Confirmation,
  DeposeRecord,
  ElectionView,
  EntryRef,
  LeaderRecord,
  ParticipantRecord,
  TransferRecord,
} from '../../core/contract.js';
import { SharedRead } from '../../core/liveness.js';
import { Multicast } from '../../core/multicast.js';
import type { EtcdClient } from '../../etcd/client.js';
import { followLeader } from './client-observe.js';
import { electionPrefix, escapeName } from './keys.js';
import { readLeader, toRecord } from './leader-read.js';
import { deleteLeaderEntry, readLine } from './participants.js';
import { observeService } from './service-observe.js';
import { transferTxn } from './transfer.js';

/** What every view of an election on one client shares, keyed by the election's key prefix. */
export interface ViewShares {
  /** One leader stream per election, however many observers (see Multicast). */
  readonly observers: Map<string, Multicast<LeaderRecord | null>>;
  /** One confirming read per election and interval, however many observers (see SharedRead). */
  readonly probes: Map<string, SharedRead>;
}

/**
 * The read side of an election in either mode: leader reads, the shared leader stream and the
 * shared confirming read. Needs no lease, so sessions and session-less readers use the same one.
 */
export class EtcdView implements ElectionView {
  private readonly prefix: string;
  private readonly keyName: string;

  constructor(
    private readonly client: EtcdClient,
    name: string,
    private readonly service: boolean,
    private readonly shares: ViewShares,
  ) {
    this.prefix = electionPrefix(name);
    this.keyName = escapeName(name);
  }

  async leader(): Promise<LeaderRecord | null> {
    if (!this.service) return (await readLeader(this.client, this.prefix)).record;
    const kv = await this.client.services.leader(this.keyName);
    return kv ? toRecord(kv) : null;
  }

  observe(signal: AbortSignal): AsyncIterable<LeaderRecord | null> {
    let shared = this.shares.observers.get(this.prefix);
    if (!shared) {
      shared = new Multicast((s) =>
        this.service
          ? observeService(this.client, this.keyName, this.prefix, s)
          : followLeader(this.client, this.prefix, s),
      );
      this.shares.observers.set(this.prefix, shared);
    }
    return shared.subscribe(signal);
  }

  /**
   * A Range with limit 1 on the election prefix, shared per election and client like the stream.
   * Chosen over a watch progress request because it is one unary call that both modes answer
   * (service mode observes through the election service, not a watch), and on a healthy stream
   * it is sent at most once per staleAfter / 2.
   */
  confirm(maxAgeMs: number): Promise<Confirmation> {
    let shared = this.shares.probes.get(this.prefix);
    if (!shared) {
      shared = new SharedRead(systemClock, async () => (await readLeader(this.client, this.prefix)).record);
      this.shares.probes.set(this.prefix, shared);
    }
    return shared.confirm(maxAgeMs);
  }

  /** The whole line, read with the client recipe's calls: both modes share the keys. */
  participants(): Promise<ParticipantRecord[]> {
    return readLine(this.client, this.prefix);
  }

  /** Deletes the leader's entry, guarded by its create revision (the same in both modes). */
  async depose(expectedToken?: bigint): Promise<DeposeRecord> {
    return deleteLeaderEntry(this.client, (await readLeader(this.client, this.prefix)).record, expectedToken);
  }

  /** One txn over the keys both modes share (see transfer.ts). */
  transfer(leader: EntryRef, target: EntryRef, line?: readonly EntryRef[]): Promise<TransferRecord> {
    return transferTxn(this.client, this.prefix, leader, target, line);
  }
}
