import type {
  Candidacy,
  Confirmation,
  DeposeRecord,
  ElectionDriver,
  ElectionView,
  Entry,
  LeaderRecord,
  ParticipantRecord,
  Won,
} from '../../core/contract.js';
import { EntryDeletedError } from '../../core/errors.js';
import type { GuardBody, GuardResult } from '../../core/guard.js';
import type { EtcdClient } from '../../etcd/client.js';
import { watchDeletion } from './deletion.js';
import type { EtcdElection } from './election.js';
import type { EtcdTxn } from './txn.js';
import { guardTxn } from './fence.js';
import { entryKey, escapeName, type KeySpaces } from './keys.js';
import { campaignThroughTokenExpiry } from './service-election.js';

/**
 * A mutex run by etcd's server-side v3lock service. Lock blocks on the server; its reply names the
 * key but not its create revision, so one read fetches the token that guards and fencing need.
 * Same key layout as Go's concurrency.Mutex, so client-side holders and `etcdctl lock` queue with it.
 * Reads, observers and the fence are the shared ones; tryLead goes through the client `recipe`.
 */
export class ServiceLock implements ElectionDriver<EtcdTxn> {
  constructor(
    private readonly client: EtcdClient,
    private readonly name: string,
    private readonly lease: string,
    private readonly keySpaces: KeySpaces,
    private readonly view: ElectionView,
    private readonly recipe: EtcdElection,
  ) {}

  async join(value: string): Promise<Candidacy> {
    return { key: entryKey(this.name, this.lease), value, liveness: this.lease };
  }

  async lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Won> {
    const key = await campaignThroughTokenExpiry(
      () => this.client.services.lock(escapeName(this.name), this.lease, signal),
      this.client,
    );
    const held = (await this.client.range({ key: Buffer.from(key) })).kvs[0];
    if (!held) throw new EntryDeletedError(key);
    const token = BigInt(held.create_revision);
    const unwatch = watchDeletion(this.client, c.key, token, token + 1n, onGone);
    return { key: c.key, token, liveness: this.lease, unwatch };
  }

  /** v3lock has no try-lock, so this one step uses the (identical) client-side layout. */
  async tryLead(c: Candidacy, onGone: () => void): Promise<Won | null> {
    return this.recipe.tryLead(await this.recipe.join(c.value), onGone);
  }

  async proclaim(): Promise<boolean> {
    return false; // a lock has no value to change
  }

  async remove(e: Candidacy | Entry): Promise<void> {
    if (e.token === undefined) await this.client.deleteRange({ key: Buffer.from(e.key) });
    else await this.client.services.unlock(e.key);
  }

  guard(e: Entry, body: GuardBody<EtcdTxn>): Promise<GuardResult> {
    return guardTxn(this.client, this.keySpaces, e, body);
  }

  leader(): Promise<LeaderRecord | null> {
    return this.view.leader();
  }

  observe(signal: AbortSignal): AsyncIterable<LeaderRecord | null> {
    return this.view.observe(signal);
  }

  confirm(maxAgeMs: number): Promise<Confirmation> {
    return this.view.confirm(maxAgeMs);
  }

  participants(): Promise<ParticipantRecord[]> {
    return this.view.participants();
  }

  depose(expectedToken?: bigint): Promise<DeposeRecord> {
    return this.view.depose(expectedToken);
  }
}
