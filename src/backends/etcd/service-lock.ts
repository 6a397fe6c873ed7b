import type { Candidacy, Unwatch } from '../../core/contract.js';
import { EntryDeletedError } from '../../core/errors.js';
import type { EtcdClient } from '../../etcd/client.js';
import { watchDeletion } from './deletion.js';
import { EtcdElection } from './election.js';
import { entryKey, escapeName, type KeySpaces } from './keys.js';
import { campaignThroughTokenExpiry } from './service-election.js';

/**
 * A mutex run by etcd's server-side v3lock service. Lock blocks on the server; its reply names the
 * key but not its create revision, so one read fetches the token that guards and fencing need.
 * Same key layout as Go's concurrency.Mutex, so client-side holders and `etcdctl lock` queue with it.
 */
export class ServiceLock extends EtcdElection {
  constructor(
    client: EtcdClient,
    private readonly lockName: string,
    private readonly leaseId: string,
    keySpaces: KeySpaces,
  ) {
    super(client, lockName, leaseId, keySpaces);
  }

  override async join(): Promise<Candidacy> {
    return { key: entryKey(this.lockName, this.leaseId), token: 0n, lease: this.leaseId };
  }

  override async lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Unwatch> {
    const key = await campaignThroughTokenExpiry(
      () => this.services.lock(escapeName(this.lockName), this.leaseId, signal),
      this.client,
    );
    const held = (await this.client.range({ key: Buffer.from(key) })).kvs[0];
    if (!held) throw new EntryDeletedError(key);
    c.token = BigInt(held.create_revision);
    return watchDeletion(this.client, c.key, c.token, c.token + 1n, onGone);
  }

  /** v3lock has no try-lock, so this one step uses the (identical) client-side layout. */
  override async tryLead(c: Candidacy, onGone: () => void): Promise<Unwatch | null> {
    c.token = (await super.join('')).token;
    return super.tryLead(c, onGone);
  }

  override async proclaim(): Promise<boolean> {
    return false; // a lock has no value to change
  }

  override async remove(c: Candidacy): Promise<void> {
    if (c.token === 0n) await this.client.deleteRange({ key: Buffer.from(c.key) });
    else await this.services.unlock(c.key);
  }
}
