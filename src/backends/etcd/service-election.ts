import { Channel } from '../../core/channel.js';
import { sleep, systemClock } from '../../core/clock.js';
import type { Candidacy, LeaderRecord, Unwatch } from '../../core/contract.js';
import { AuthError, BackendUnavailableError, ClosedError } from '../../core/errors.js';
import type { EtcdClient } from '../../etcd/client.js';
import { isInvalidAuthToken, isNotElectionLeader, isServiceError } from '../../etcd/errors.js';
import type { LeaderKey } from '../../etcd/messages.js';
import { watchDeletion } from './deletion.js';
import { EtcdElection, toRecord } from './election.js';
import { entryKey, escapeName, type KeySpaces } from './keys.js';

/**
 * The same election run by etcd's server-side v3election service: Campaign blocks on the server
 * until we lead, and Proclaim, Leader, Resign and Observe are RPCs. The lease and its deadline stay
 * ours (the server never keeps it alive), and guards are the same create-revision txn as the
 * client-side recipe, so a Term means the same thing in both modes.
 */
export class ServiceElection extends EtcdElection {
  private readonly values = new WeakMap<Candidacy, string>();
  /** The name etcd's service sees: escaped, so that it builds the same prefix as the client recipe. */
  private readonly keyName: string;

  constructor(
    client: EtcdClient,
    private readonly electionName: string,
    private readonly leaseId: string,
    keySpaces: KeySpaces,
  ) {
    super(client, electionName, leaseId, keySpaces);
    this.keyName = escapeName(electionName);
  }

  override async join(value: string): Promise<Candidacy> {
    // The server creates the entry inside Campaign; its revision (the token) is known after it.
    const c: Candidacy = { key: entryKey(this.electionName, this.leaseId), token: 0n, lease: this.leaseId };
    this.values.set(c, value);
    return c;
  }

  override async lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Unwatch> {
    const leader = await campaignThroughTokenExpiry(
      () => this.services.campaign(this.keyName, this.leaseId, this.values.get(c) ?? '', signal),
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
      if (isNotElectionLeader(err)) return false;
      throw err;
    }
  }

  override async remove(c: Candidacy): Promise<void> {
    // A campaign that never returned has no revision to resign with; the key is this lease's own.
    if (c.token === 0n) await this.client.deleteRange({ key: Buffer.from(c.key) });
    else await this.services.resign(this.leaderKey(c));
  }

  override async leader(): Promise<LeaderRecord | null> {
    const kv = await this.services.leader(this.keyName);
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
   * and it falls silent if the member serving it stalls, so the current leader's key is also watched
   * here: when it goes, the leader is read again. Every view carries the revision it was read at, and
   * an older view never replaces a newer one. Transient failures are retried; any other error ends
   * the observation with that error. Never rejects.
   */
  private async follow(changes: Channel<LeaderRecord | null>, signal: AbortSignal): Promise<void> {
    let seen = -1n;
    let done = false;
    let stopDeletion: Unwatch | undefined;
    const track = (record: LeaderRecord | null, revision: bigint) => {
      if (done || signal.aborted || revision < seen) return;
      seen = revision;
      stopDeletion?.();
      stopDeletion = undefined;
      changes.push(record);
      if (record)
        stopDeletion = watchDeletion(this.client, record.key, record.token, revision + 1n, () => {
          void reread();
        });
    };
    const reread = async () => {
      for (let delay = 50; !done && !signal.aborted; delay = Math.min(delay * 2, 1000)) {
        try {
          const read = await this.readLeader();
          return track(read.record, read.revision);
        } catch {
          await sleep(systemClock, delay, signal);
        }
      }
    };
    let backoff = 50;
    try {
      while (!signal.aborted) {
        let index: number | undefined;
        try {
          // The first view is read at a known revision; the server's stream reports the changes.
          const read = await this.readLeader();
          track(read.record, read.revision);
          const opened = await this.services.observe(this.keyName, signal);
          index = opened.index;
          for await (const response of opened.stream) {
            backoff = 50;
            const kv = response.kv;
            if (kv) track(toRecord(kv), BigInt(response.header?.revision ?? kv.mod_revision));
          }
        } catch (err) {
          if (signal.aborted) return;
          const error = this.classify(err, index);
          if (error) return changes.close(error);
        }
        await sleep(systemClock, backoff, signal);
        backoff = Math.min(backoff * 2, 1000);
      }
    } finally {
      done = true;
      stopDeletion?.();
    }
  }

  /** Decides whether the observer retries after `err` (undefined) or ends with the returned error. */
  private classify(err: unknown, index: number | undefined): Error | undefined {
    const connection = this.client.connection;
    const error = isServiceError(err) ? connection.translate('Observe', err) : err;
    if (error instanceof BackendUnavailableError) {
      if (index !== undefined) connection.failover(index);
      return undefined;
    }
    if (error instanceof AuthError && isInvalidAuthToken(error)) {
      connection.invalidateToken();
      return undefined;
    }
    if (error instanceof AuthError || error instanceof ClosedError) return error;
    // Anything else (a reset stream, an odd server reply) is worth another try after the backoff.
    return undefined;
  }

  private leaderKey(c: Candidacy): LeaderKey {
    return {
      name: Buffer.from(this.keyName),
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
      if (!(err instanceof AuthError) || !isInvalidAuthToken(err)) throw err;
      client.connection.invalidateToken();
    }
  }
}
