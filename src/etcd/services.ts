import { BackendError } from '../core/errors.js';
import type { Connection } from './connection.js';
import { isElectionWithoutLeader } from './errors.js';
import type { KeyValue, LeaderKey, LeaderResponse } from './messages.js';

/** etcd's server-side v3election and v3lock services: the server runs the recipe for the client. */
export class ConcurrencyServices {
  private readonly connection: Connection;

  constructor(connection: Connection) {
    this.connection = connection;
  }

  /** Blocks until this lease's entry leads `name`; no deadline, cancelled by `signal`. */
  async campaign(name: string, lease: string, value: string, signal: AbortSignal): Promise<LeaderKey> {
    const response = await this.connection.call(
      '/v3electionpb.Election/Campaign',
      { name: Buffer.from(name), lease, value: Buffer.from(value) },
      { timeout: Infinity, signal },
    );
    if (!response.leader) throw new BackendError('etcd Campaign answered without a leader key');
    return response.leader;
  }

  /**
   * Sets the leader's value; the server checks that `leader` still holds its revision. Never resent
   * after an ambiguous failure (a repeat could find the key deleted after the first was applied).
   */
  async proclaim(leader: LeaderKey, value: string): Promise<void> {
    await this.connection.call(
      '/v3electionpb.Election/Proclaim',
      { leader, value: Buffer.from(value) },
      { retry: false },
    );
  }

  /** The leader's key and value, or null when the election has none. */
  async leader(name: string): Promise<KeyValue | null> {
    try {
      const response = await this.connection.call('/v3electionpb.Election/Leader', {
        name: Buffer.from(name),
      });
      return response.kv;
    } catch (err) {
      if (isElectionWithoutLeader(err)) return null;
      throw err;
    }
  }

  /** Deletes the leader entry if it still has its revision. */
  async resign(leader: LeaderKey): Promise<void> {
    await this.connection.call('/v3electionpb.Election/Resign', { leader });
  }

  /** Streams the leader each time it changes (never "none": the server does not report it). */
  observe(
    name: string,
    signal: AbortSignal,
  ): Promise<{ index: number; stream: AsyncIterable<LeaderResponse> }> {
    return this.connection.serverStream(
      '/v3electionpb.Election/Observe',
      { name: Buffer.from(name) },
      signal,
    );
  }

  /** Blocks until this lease holds the lock `name`; resolves to its key. */
  async lock(name: string, lease: string, signal: AbortSignal): Promise<string> {
    const response = await this.connection.call(
      '/v3lockpb.Lock/Lock',
      { name: Buffer.from(name), lease },
      { timeout: Infinity, signal },
    );
    return response.key.toString();
  }

  /** Releases a lock by deleting its key. */
  async unlock(key: string): Promise<void> {
    await this.connection.call('/v3lockpb.Lock/Unlock', { key: Buffer.from(key) });
  }
}
