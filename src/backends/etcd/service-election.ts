import type { Candidacy, Entry, Won } from '../../core/contract.js';
import { AuthError, EntryDeletedError } from '../../core/errors.js';
import type { EntryRecipe } from '../shared/compose.js';
import type { EtcdClient } from '../../etcd/client.js';
import { isInvalidAuthToken, isNotElectionLeader, outcomeUnknown } from '../../etcd/errors.js';
import type { LeaderKey } from '../../etcd/messages.js';
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

/**
 * The same election run by etcd's server-side v3election service: Campaign blocks on the server
 * until we lead, and Proclaim, Leader, Resign and Observe are RPCs. The lease and its deadline stay
 * ours (the server never keeps it alive), and guards are the same create-revision txn as the
 * client-side recipe (guardTxn), so a Term means the same thing in both modes. Reads, observers
 * and the fence come from composeDriver; tryLead, which the service lacks, goes through the client
 * `recipe`. A Campaign that stalls with our entry already the oldest is re-issued, and after
 * repeated stalls the election runs through `recipe` on this backend (campaign-watchdog.ts).
 */
export class ServiceElection implements EntryRecipe {
  /** The name etcd's service sees: escaped, so that it builds the same prefix as the client recipe. */
  private readonly keyName: string;

  constructor(
    private readonly client: EtcdClient,
    private readonly name: string,
    private readonly lease: string,
    private readonly recipe: EtcdElection,
    private readonly stalls: ServiceStalls,
  ) {
    this.keyName = escapeName(name);
  }

  async join(value: string): Promise<Candidacy> {
    // The server creates the entry inside Campaign; its revision (the token) is known after it.
    return { key: entryKey(this.name, this.lease), value, liveness: this.lease };
  }

  async lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Won> {
    if (this.stalls.fellBack('election', this.name)) return this.leadClientSide(c, signal, onGone);
    const outcome = await superviseCampaign(
      this.client,
      this.stalls,
      {
        call: (s) =>
          campaignThroughTokenExpiry(
            () => this.client.services.campaign(this.keyName, this.lease, c.value, s),
            this.client,
          ),
        key: c.key,
        name: this.name,
        kind: 'election',
      },
      signal,
    );
    if (outcome.kind === 'fell-back') return leadFellBack(this.recipe, c, outcome, signal, onGone);
    const leader = outcome.value;
    try {
      // etcd's Campaign returns once every older key is gone without looking at our own key again,
      // so a candidate deleted together with them (a lease revoked early, a transfer past it, an
      // operator) would "win". One read confirms, at or after Campaign's revision, that our entry
      // is still there with that revision and is the oldest: else no term begins.
      const oldest = await oldestEntry(this.client, this.name);
      if (oldest?.key.toString() !== c.key || oldest.create_revision !== leader.rev)
        throw new EntryDeletedError(c.key);
    } catch (err) {
      outcome.release();
      throw err;
    }
    const token = BigInt(leader.rev);
    const unwatch = watchDeletion(this.client, c.key, token, token + 1n, onGone);
    return { key: c.key, token, liveness: this.lease, unwatch: joinUnwatch(unwatch, outcome.release) };
  }

  /** After repeated stalls: the same election through the client recipe, on the same keys. */
  private async leadClientSide(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Won> {
    return this.recipe.lead(await this.recipe.join(c.value), signal, onGone);
  }

  /** v3election cannot try without waiting, so this one step uses the (identical) client-side layout. */
  async tryLead(c: Candidacy, onGone: () => void): Promise<Won | null> {
    return this.recipe.tryLead(await this.recipe.join(c.value), onGone);
  }

  async proclaim(e: Entry, value: string): Promise<boolean> {
    try {
      await this.client.services.proclaim(this.leaderKey(e), value);
      return true;
    } catch (err) {
      if (isNotElectionLeader(err)) return false;
      throw outcomeUnknown('proclaim', err);
    }
  }

  async remove(e: Candidacy | Entry): Promise<void> {
    // A campaign that never returned has no revision to resign with; the key is this lease's own.
    if (e.token === undefined) await this.client.deleteRange({ key: Buffer.from(e.key) });
    else await this.client.services.resign(this.leaderKey({ key: e.key, token: e.token }));
  }

  private leaderKey(e: Pick<Entry, 'key' | 'token'>): LeaderKey {
    return {
      name: Buffer.from(this.keyName),
      key: Buffer.from(e.key),
      rev: e.token.toString(),
      lease: this.lease,
    };
  }
}

/**
 * Runs a blocking Campaign or Lock, re-issuing it when the server's own wake-up read failed because
 * our auth token expired while we waited (etcd #17623, #11381: it reports "invalid auth token",
 * not UNAUTHENTICATED). Re-issuing resumes the same entry, so the candidate keeps its place in line.
 */
export async function campaignThroughTokenExpiry<T>(call: () => Promise<T>, client: EtcdClient): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof AuthError) || !isInvalidAuthToken(err)) throw err;
      client.connection.invalidateToken();
    }
  }
}
