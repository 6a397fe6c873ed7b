import pg from 'pg';
import type { Listener, ListenerEvents } from './adapter.js';

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
/** A silent connection (paused server, dead peer) is found by this ping, not by TCP minutes later. */
const PING_EVERY_MS = 2000;
const PING_TIMEOUT_MS = 3000;

/**
 * ballot's own LISTEN connection on node-postgres. Written here rather than taken from a library
 * because its one job is liveness: NOTIFY is lost while a connection is down, so after every
 * reconnect it LISTENs again on every channel and then tells its owner to read the state afresh.
 */
export class PgListener implements Listener {
  private readonly channels = new Set<string>();
  private client?: pg.Client;
  private connecting?: Promise<pg.Client | undefined>;
  private closed = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  /** Set once a connection has been up: the next one is a reconnect, so subscribers must resync. */
  private everConnected = false;
  /** A LISTEN was asked for while no connection was up: its subscriber has not read since. */
  private missed = false;
  /** The statements sent on the connection, one at a time (pg 9 will refuse overlapping queries). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly events: ListenerEvents,
  ) {}

  async listen(channel: string): Promise<void> {
    this.channels.add(channel);
    const client = await this.connection();
    // Down now: the next connection LISTENs on every channel in the set, then resyncs.
    if (!client) this.missed = true;
    else await this.send(client, `LISTEN ${quote(channel)}`).catch(() => undefined);
  }

  async unlisten(channel: string): Promise<void> {
    this.channels.delete(channel);
    const client = this.client;
    if (client) await this.send(client, `UNLISTEN ${quote(channel)}`).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.pingTimer);
    const client = this.client ?? (await this.connecting);
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  /** Sends one statement after every earlier one has finished. */
  private send(client: pg.Client, text: string): Promise<unknown> {
    const sent = this.queue.then(() => client.query(text));
    this.queue = sent.catch(() => undefined);
    return sent;
  }

  /** The live connection, connecting first if there is none; undefined while the server is unreachable. */
  private connection(): Promise<pg.Client | undefined> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<pg.Client | undefined> {
    if (this.closed) return undefined;
    const client = new pg.Client({ ...this.config, connectionTimeoutMillis: PING_TIMEOUT_MS });
    client.on('error', () => this.drop(client));
    client.on('end', () => this.drop(client));
    client.on('notification', (n) => this.events.notification(n.channel, n.payload ?? ''));
    // A server that stops answering after the handshake must not hold every subscriber up.
    const stall = setTimeout(() => client.connection.stream.destroy(), PING_TIMEOUT_MS * 2);
    try {
      await client.connect();
      for (const channel of this.channels) await this.send(client, `LISTEN ${quote(channel)}`);
    } catch {
      clearTimeout(stall);
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      this.scheduleRetry();
      return undefined;
    }
    clearTimeout(stall);
    if (this.closed) {
      await client.end().catch(() => undefined);
      return undefined;
    }
    this.client = client;
    this.retryMs = RETRY_MIN_MS;
    this.schedulePing(client);
    if (this.everConnected || this.missed) this.events.resync();
    this.everConnected = true;
    this.missed = false;
    return client;
  }

  private drop(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    clearTimeout(this.pingTimer);
    client.connection.stream.destroy();
    // With no channel to keep, the next listen() connects again.
    if (!this.closed && this.channels.size > 0) this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connection();
    }, this.retryMs);
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  private schedulePing(client: pg.Client): void {
    this.pingTimer = setTimeout(() => {
      const timeout = setTimeout(() => this.drop(client), PING_TIMEOUT_MS);
      this.send(client, 'SELECT 1').then(
        () => {
          clearTimeout(timeout);
          if (this.client === client) this.schedulePing(client);
        },
        () => {
          clearTimeout(timeout);
          this.drop(client);
        },
      );
    }, PING_EVERY_MS);
    this.pingTimer.unref();
  }
}

/** Channel names are built by ballot from hex digits and underscores; quoted all the same. */
function quote(channel: string): string {
  return `"${channel.replaceAll('"', '""')}"`;
}
