import type * as grpc from '@grpc/grpc-js';
import { BackendError } from '../core/errors.js';
import { CompactedError } from './compacted-error.js';
import type { Connection } from './connection.js';
import { isUnauthenticated } from './errors.js';
import type { WatchCreateRequest, WatchEvent, WatchRequest, WatchResponse } from './messages.js';

/** What to watch. */
export interface WatchSpec {
  /** The key; a string is sent as UTF-8 (kept as a string, it holds no Buffer pool slab while watched). */
  key: Buffer | string;
  /** Watch [key, rangeEnd) instead of one key. */
  rangeEnd?: Buffer;
  /** First revision to deliver; required so that nothing between a read and its watch is missed. */
  startRevision: bigint;
  /** Skip PUT or DELETE events on the server. */
  filters?: ('NOPUT' | 'NODELETE')[];
  /** Deliver each event with the key's previous version (prev_kv). */
  prevKv?: boolean;
}

/** Callbacks of one watcher. They run on the event loop in the order etcd sent the events. */
export interface WatchHandler {
  /** A batch of events, all at or after the watcher's next revision. */
  onEvents(events: WatchEvent[]): void;
  /** The watcher ended for good: compaction (CompactedError) or a server-side cancel. Never swallowed. */
  onEnd(err: Error): void;
  /** etcd registered the watcher; `revision` is its reply's header revision (on etcd 3.4 it may lag). */
  onCreated?(revision: bigint): void;
}

/** A live watcher; cancel() stops it. */
export interface Watcher {
  cancel(): void;
}

/** One watcher as the hub keeps it; it is also the Watcher handed out, so a watch costs one object. */
class Entry implements Watcher {
  /** Next revision this watcher needs: where it resumes after a reconnect. */
  next: bigint;
  id?: string = undefined;
  cancelled = false;

  constructor(
    private readonly hub: WatchHub,
    readonly spec: WatchSpec,
    readonly handler: WatchHandler,
  ) {
    this.next = spec.startRevision;
  }

  cancel(): void {
    this.hub.cancel(this);
  }
}

/**
 * Create requests in flight on the stream at most; the rest wait for `created` replies. 10,000 creates
 * written at once sit in grpc-js's write buffer, which copies what is left of it after every write:
 * hundreds of MB of garbage for one mass campaign. etcd answers creates in order, so a short
 * pipeline keeps it as busy.
 */
const MAX_CREATING = 64;

type WatchStreamT = grpc.ClientDuplexStream<WatchRequest, WatchResponse>;

/**
 * One Watch stream per client, multiplexing every watcher. After a broken stream every watcher is
 * recreated from the revision after the last one it saw, so none misses an event; if that revision
 * was compacted meanwhile, the watcher is told (onEnd with CompactedError) rather than silently skipped.
 */
export class WatchHub {
  /** Watch events delivered to watchers since the hub started (for herd measurements). */
  delivered = 0;
  private readonly connection: Connection;
  private stream?: WatchStreamT;
  /** The endpoint the stream runs on. */
  private streamIndex?: number;
  private readonly stopListening: () => void;
  private opening = false;
  private reopenTimer?: NodeJS.Timeout;
  private backoff = 50;
  /** Watchers whose create request was sent and is awaiting its `created` reply, in order. */
  private creating: Entry[] = [];
  private readonly active = new Map<string, Entry>();
  private readonly waiting = new Set<Entry>();
  private closed = false;
  /** Cancel requests waiting for the end of the current turn (see queueCancel). */
  private pendingCancels: string[] = [];
  private cancelFlush?: NodeJS.Immediate;

  constructor(connection: Connection) {
    this.connection = connection;
    // A member that stopped answering calls or keepalives delivers no events either: move off it.
    this.stopListening = connection.onUnresponsive((index) => {
      if (this.stream && this.streamIndex === index) this.broken();
    });
  }

  /** Starts a watcher on the shared stream. */
  watch(spec: WatchSpec, handler: WatchHandler): Watcher {
    const entry = new Entry(this, spec, handler);
    this.waiting.add(entry);
    this.flush();
    return entry;
  }

  /** Closes the stream; watchers get no further callbacks. */
  close(): void {
    this.closed = true;
    this.stopListening();
    clearTimeout(this.reopenTimer);
    if (this.cancelFlush) clearImmediate(this.cancelFlush);
    this.cancelFlush = undefined;
    this.pendingCancels = [];
    this.dropStream();
    this.waiting.clear();
    this.active.clear();
    this.creating = [];
  }

  /** @internal Entry.cancel(). */
  cancel(entry: Entry): void {
    if (entry.cancelled) return;
    entry.cancelled = true;
    this.waiting.delete(entry);
    if (entry.id !== undefined && this.active.get(entry.id) === entry) {
      this.active.delete(entry.id);
      this.queueCancel(entry.id);
    }
  }

  /**
   * Sends the cancel request after this turn. A cancel is never urgent (the entry already gets no
   * callbacks), and it is often issued on a handover's path: a leader resigning, a waiter whose
   * predecessor just went. Written at once, it would go out ahead of the request that matters.
   */
  private queueCancel(id: string): void {
    const stream = this.stream;
    if (!stream) return;
    this.pendingCancels.push(id);
    this.cancelFlush ??= setImmediate(() => {
      this.cancelFlush = undefined;
      const ids = this.pendingCancels;
      this.pendingCancels = [];
      // A stream that broke meanwhile took these watchers with it; the new one never had them.
      if (this.stream !== stream) return;
      for (const watchId of ids) stream.write({ cancel_request: { watch_id: watchId } });
    });
  }

  /** Sends create requests for waiting watchers, opening the stream first if needed. */
  private flush(): void {
    if (this.closed || this.waiting.size === 0) return;
    if (!this.stream) {
      void this.open();
      return;
    }
    for (const entry of this.waiting) {
      if (this.creating.length >= MAX_CREATING) return;
      this.waiting.delete(entry);
      this.creating.push(entry);
      const create: WatchCreateRequest = {
        key: typeof entry.spec.key === 'string' ? Buffer.from(entry.spec.key) : entry.spec.key,
        start_revision: entry.next.toString(),
        progress_notify: true,
      };
      if (entry.spec.rangeEnd) create.range_end = entry.spec.rangeEnd;
      if (entry.spec.filters) create.filters = entry.spec.filters;
      if (entry.spec.prevKv) create.prev_kv = true;
      this.stream.write({ create_request: create });
    }
  }

  private async open(): Promise<void> {
    if (this.opening || this.stream || this.closed) return;
    this.opening = true;
    try {
      const { stream, index } = await this.connection.stream('/etcdserverpb.Watch/Watch');
      if (this.closed) {
        stream.cancel();
        return;
      }
      this.stream = stream;
      this.streamIndex = index;
      stream.on('data', (response: WatchResponse) => this.onResponse(response));
      stream.on('error', (err: grpc.ServiceError) => {
        if (this.stream !== stream) return;
        if (isUnauthenticated(err)) this.connection.invalidateToken();
        this.connection.failover(index);
        this.broken();
      });
      stream.on('end', () => this.stream === stream && this.broken());
      this.flush();
    } catch {
      this.broken();
    } finally {
      this.opening = false;
    }
  }

  private onResponse(response: WatchResponse): void {
    this.backoff = 50;
    if (response.created) {
      const entry = this.creating.shift();
      if (!entry) return;
      this.flush();
      entry.id = response.watch_id;
      if (entry.cancelled) {
        this.stream?.write({ cancel_request: { watch_id: response.watch_id } });
        return;
      }
      if (response.canceled) return this.end(entry, response);
      this.active.set(response.watch_id, entry);
      entry.handler.onCreated?.(BigInt(response.header.revision));
      return;
    }
    const entry = this.active.get(response.watch_id);
    if (!entry) return;
    if (response.canceled) {
      this.active.delete(response.watch_id);
      this.end(entry, response);
      return;
    }
    const last = response.events.at(-1);
    if (last) {
      entry.next = BigInt(last.kv.mod_revision) + 1n;
      this.delivered += response.events.length;
      entry.handler.onEvents(response.events);
    } else {
      // A progress notification: nothing happened up to the header revision.
      const progressed = BigInt(response.header.revision) + 1n;
      if (progressed > entry.next) entry.next = progressed;
    }
  }

  private end(entry: Entry, response: WatchResponse): void {
    entry.cancelled = true;
    const compacted = BigInt(response.compact_revision || '0');
    entry.handler.onEnd(
      compacted > 0n
        ? new CompactedError(compacted)
        : new BackendError(`etcd cancelled a watch: ${response.cancel_reason || 'no reason given'}`),
    );
  }

  /** The stream failed: requeue every live watcher from its next revision and reopen after a backoff. */
  private broken(): void {
    this.dropStream();
    for (const entry of [...this.creating, ...this.active.values()])
      if (!entry.cancelled) this.waiting.add(entry);
    this.creating = [];
    this.active.clear();
    if (this.closed || this.waiting.size === 0) return;
    clearTimeout(this.reopenTimer);
    this.reopenTimer = setTimeout(() => this.flush(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, 1000);
  }

  private dropStream(): void {
    const stream = this.stream;
    this.stream = undefined;
    if (stream) {
      stream.removeAllListeners('data');
      stream.on('error', () => undefined);
      stream.cancel();
    }
  }
}
