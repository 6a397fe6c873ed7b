import type { Candidacy, Entry, Won } from '../../core/contract.js';
import { EntryDeletedError } from '../../core/errors.js';
import type { EntryRecipe } from '../shared/compose.js';
import type { EtcdClient } from '../../etcd/client.js';
import {
  joinUnwatch,
  leadFellBack,
  oldestEntry,
  superviseCampaign,
  type ServiceStalls,
} from './campaign-watchdog.js';
import { watchDeletion } from './deletion.js';
import type { EtcdElection } from './election.js';
import { entryKey, escapeName } from './keys.js';
import { campaignThroughTokenExpiry } from './service-election.js';

/**
 * A mutex run by etcd's server-side v3lock service. Lock blocks on the server; its reply names the
 * key but not its create revision, so one read fetches the token that guards and fencing need.
 * Same key layout as Go's concurrency.Mutex, so client-side holders and `etcdctl lock` queue with it.
 * Reads, observers and the fence come from composeDriver; tryLead goes through the client `recipe`,
 * and so does lead() after repeated stalls of Lock (see campaign-watchdog.ts).
 */
export class ServiceLock implements EntryRecipe {
  constructor(
    private readonly client: EtcdClient,
    private readonly name: string,
    private readonly lease: string,
    private readonly recipe: EtcdElection,
    private readonly stalls: ServiceStalls,
  ) {}

  async join(value: string): Promise<Candidacy> {
    return { key: entryKey(this.name, this.lease), value, liveness: this.lease };
  }

  async lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Won> {
    if (this.stalls.fellBack('mutex', this.name))
      return this.recipe.lead(await this.recipe.join(c.value), signal, onGone);
    const outcome = await superviseCampaign(
      this.client,
      this.stalls,
      {
        call: (s) =>
          campaignThroughTokenExpiry(
            () => this.client.services.lock(escapeName(this.name), this.lease, s),
            this.client,
          ),
        key: c.key,
        name: this.name,
        kind: 'mutex',
      },
      signal,
    );
    if (outcome.kind === 'fell-back') return leadFellBack(this.recipe, c, outcome, signal, onGone);
    let token: bigint;
    try {
      // The reply names the key but not its revision; one read fetches the token and confirms that
      // our key is still there and the oldest (Lock, like Campaign, never looks at it again).
      const oldest = await oldestEntry(this.client, this.name);
      if (oldest?.key.toString() !== outcome.value) throw new EntryDeletedError(outcome.value);
      token = BigInt(oldest.create_revision);
    } catch (err) {
      outcome.release();
      throw err;
    }
    const unwatch = watchDeletion(this.client, c.key, token, token + 1n, onGone);
    return { key: c.key, token, liveness: this.lease, unwatch: joinUnwatch(unwatch, outcome.release) };
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
}
