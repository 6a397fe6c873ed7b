import { Channel } from '../../core/channel.js';
import { sleep, systemClock } from '../../core/clock.js';
import type { Candidacy, LeaderRecord, Unwatch } from '../../core/contract.js';
import { AuthError, BackendUnavailableError } from '../../core/errors.js';
import type { EtcdClient } from '../../etcd/client.js';
import type { KeyValue, LeaderKey } from '../../etcd/messages.js';
import { watchDeletion } from './deletion.js';
import { EtcdElection, toRecord } from './election.js';
import { entryKey } from './keys.js';

/**
 * The same election run by etcd's server-side v3election service: Campaign blocks on the server
 * until we lead, and Proclaim, Leader, Resign and Observe are RPCs. The lease and its deadline stay
 * ours (the server never keeps it alive), and guards are the same create-revision txn as the
 * client-side recipe, so a Term means the same thing in both modes.
 */
export class ServiceElection extends EtcdElection {
  private readonly values = new WeakMap<Candidacy, string>();

  constructor(
    client: EtcdClient,
    private readonly electionName: string,
    private readonly leaseId: string,
  ) {
    super(client, electionName, leaseId);
  }

  override async join(value: string): Promise<Candidacy> {
    // The server creates the entry inside Campaign; its revision (the token) is known after it.
    const c: Candidacy = { key: entryKey(this.electionName, this.leaseId), token: 0n, lease: this.leaseId };
    this.values.set(c, value);
    return c;
  }

  override async lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Unwatch> {
    const leader = await campaignThroughTokenExpiry(
      () => this.services.campaign(this.electionName, this.leaseId, this.values.get(c) ?? '', signal),
      this.client,
    );
    c.token = BigInt(leader.rev);
    return watchDeletion(this.client, c.key, c.token, c.token + 1n, onGone);
  }

  /** v3election cannot try without waiting, so this one step uses the (identical) client-side layout. */
  override async tryLead(c: Candidacy, onGone: () => void): Promise<Unwatch | null> {
    c.token = (await super.join(this.values.get(c) ?? '')).token;
    return super.tryLead(c, onGone);
  }

  override async proclaim(c: Candidacy, value: string): Promise<boolean> {
    try {
      await this.services.proclaim(this.leaderKey(c), value);
      return true;
    } catch (err) {
      if (/not leader/.test((err as Error).message)) return false;
      throw err;
    }
  }

  override async remove(c: Candidacy): Promise<void> {
    // A campaign that never returned has no revision to resign with; the key is this lease's own.
    if (c.token === 0n) await this.client.deleteRange({ key: Buffer.from(c.key) });
    else await this.services.resign(this.leaderKey(c));
  }

  override async leader(): Promise<LeaderRecord | null> {
    const kv = await this.services.leader(this.electionName);
    return kv ? toRecord(kv) : null;
  }

  override async *observe(signal: AbortSignal): AsyncGenerator<LeaderRecord | null, void, undefined> {
    const changes = new Channel<LeaderRecord | null>();
    void this.follow(changes, signal).finally(() => changes.close());
    let last: string | undefined;
    for await (const change of changes) {
      const id = change ? `${change.key}\0${change.token}\0${change.value}` : '';
      if (id === last) continue;
      last = id;
      yield change;
    }
  }

  /**
   * Feeds leader changes from the server's Observe stream. That stream never reports "no leader",
   * so the current leader's key is also watched for deletion, and then the leader is read again.
   */
  private async follow(changes: Channel<LeaderRecord | null>, signal: AbortSignal): Promise<void> {
    let stopDeletion: Unwatch | undefined;
    const track = (kv: KeyValue | null) => {
      stopDeletion?.();
      stopDeletion = undefined;
      changes.push(kv ? toRecord(kv) : null);
      if (!kv) return;
      stopDeletion = watchDeletion(
        this.client,
        kv.key.toString(),
        BigInt(kv.create_revision),
        BigInt(kv.mod_revision) + 1n,
        () => {
          this.services.leader(this.electionName).then(
            (next) => !signal.aborted && !next && track(null),
            () => undefined,
          );
        },
      );
    };
    let backoff = 50;
    try {
      while (!signal.aborted) {
        try {
          track(await this.services.leader(this.electionName));
          const { stream } = await this.services.observe(this.electionName, signal);
          for await (const response of stream) {
            backoff = 50;
            track(response.kv);
          }
        } catch (err) {
          if (signal.aborted) return;
          if (!(err instanceof BackendUnavailableError) && !isStreamError(err)) throw err;
        }
        await sleep(systemClock, backoff, signal);
        backoff = Math.min(backoff * 2, 1000);
      }
    } finally {
      stopDeletion?.();
    }
  }

  private leaderKey(c: Candidacy): LeaderKey {
    return {
      name: Buffer.from(this.electionName),
      key: Buffer.from(c.key),
      rev: c.token.toString(),
      lease: this.leaseId,
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
      if (!(err instanceof AuthError) || !/invalid auth token/.test(err.message)) throw err;
      client.connection.invalidateToken();
    }
  }
}

function isStreamError(err: unknown): boolean {
  return typeof (err as { code?: unknown }).code === 'number';
}
