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
import { BackendUnavailableError } from '../../core/errors.js';
import { SharedRead } from '../../core/liveness.js';
import { Multicast } from '../../core/multicast.js';
import type { MultiOp, NodeRead, ZkConnection } from '../../zookeeper/connection.js';
import { Bell } from '../shared/bell.js';
import { attempt, type ZkContext } from './context.js';
import { electionPath, sortLine, type LineKind } from './nodes.js';

const RETRY_MS = 500;
/** Read again at least this often, whatever the watches say. */
const MAX_QUIET_MS = 60_000;

/** A record of a node as read: the token is its czxid, the liveness its owner session ('' for none). */
export function toRecord(path: string, read: NodeRead): LeaderRecord {
  return {
    key: path,
    value: read.data.toString('utf8'),
    token: read.czxid,
    liveness: read.owner === 0n ? '' : read.owner.toString(16).padStart(16, '0'),
  };
}

/** The line of an election as read once: each candidate's path, in order. */
export async function readLine(
  conn: ZkConnection,
  path: string,
  kind: LineKind,
  watch?: () => void,
): Promise<string[]> {
  const children = await conn.getChildren(path, watch);
  return sortLine(children ?? [], kind).map((child) => `${path}/${child}`);
}

/**
 * The read side of one election on ZooKeeper, on the backend's reader connection (no session of
 * the user's). The leader is the lowest candidate; a candidate that vanishes between the listing
 * and its read is skipped. Observers of one election share one stream: a data watch on the leader
 * (its deletion or new value), or, with no leader, a children watch on the election's node.
 */
export class ZkView implements ElectionView {
  readonly path: string;

  constructor(
    private readonly ctx: ZkContext,
    readonly name: string,
    readonly kind: LineKind,
  ) {
    this.path = electionPath(name);
  }

  leader(): Promise<LeaderRecord | null> {
    return attempt(this.ctx.where, `reading the leader of "${this.name}"`, async () =>
      this.readLeader(await this.ctx.reader()),
    );
  }

  observe(signal: AbortSignal): AsyncIterable<LeaderRecord | null> {
    const id = `${this.kind}:${this.path}`;
    let shared = this.ctx.observers.get(id);
    if (!shared) {
      shared = new Multicast((s) => this.follow(s));
      this.ctx.observers.set(id, shared);
    }
    return shared.subscribe(signal);
  }

  confirm(maxAgeMs: number): Promise<Confirmation> {
    const id = `${this.kind}:${this.path}`;
    let shared = this.ctx.probes.get(id);
    if (!shared) {
      shared = new SharedRead(systemClock, () => this.leader());
      this.ctx.probes.set(id, shared);
    }
    return shared.confirm(maxAgeMs);
  }

  participants(): Promise<ParticipantRecord[]> {
    return attempt(this.ctx.where, `reading the line of "${this.name}"`, async () => {
      const conn = await this.ctx.reader();
      const line = await readLine(conn, this.path, this.kind);
      const reads = await Promise.all(line.map((p) => conn.getData(p)));
      const records: ParticipantRecord[] = [];
      line.forEach((p, i) => {
        const read = reads[i];
        if (!read) return; // gone between the listing and the read
        const record = toRecord(p, read);
        // Another client's session time left is not visible in ZooKeeper.
        records.push({
          key: p,
          value: record.value,
          token: record.token,
          lease: record.liveness || null,
          ttl: null,
        });
      });
      return records;
    });
  }

  depose(expectedToken?: bigint): Promise<DeposeRecord> {
    return attempt(this.ctx.where, `deposing the leader of "${this.name}"`, async () => {
      const conn = await this.ctx.reader();
      for (;;) {
        const leader = await this.readLeader(conn);
        if (!leader) return { outcome: 'none' };
        if (expectedToken !== undefined && leader.token !== expectedToken)
          return { outcome: 'changed', leader };
        // A candidate's path is unique (its uuid and sequence), so deleting it removes that entry only.
        if (await conn.remove(leader.key)) return { outcome: 'deposed', leader };
        if (expectedToken !== undefined) return { outcome: 'changed', leader };
      }
    });
  }

  /**
   * One multi: check(target), delete(leader), then a delete of every node below the target's (as
   * listed just before: sequence numbers only grow, so none can be added below it). Paths carry a
   * unique sequence, so a check on a path is a check on that entry; the czxids are compared first.
   * A node between them that went meanwhile fails the multi at its delete: list and send again.
   */
  transfer(leader: EntryRef, target: EntryRef, known?: readonly EntryRef[]): Promise<TransferRecord> {
    return attempt(this.ctx.where, `transferring the leadership of "${this.name}"`, async () => {
      const conn = await this.ctx.reader();
      for (let tries = 0; tries < 5; tries++) {
        // The caller's read serves the first try; a retry lists again.
        const line =
          tries === 0 && known ? known.map((e) => e.key) : await readLine(conn, this.path, this.kind);
        const at = line.indexOf(target.key);
        // Both czxids in one round trip: a path restarted with a recreated parent is another entry.
        const [held, waiting] = await Promise.all([conn.getData(leader.key), conn.getData(target.key)]);
        if (line[0] !== leader.key || held?.czxid !== leader.token) return 'not-leader';
        if (at < 0 || waiting?.czxid !== target.token) return 'target-gone';
        const ops: MultiOp[] = [
          { op: 'check', path: target.key, version: -1 },
          ...line.slice(0, at).map((path): MultiOp => ({ op: 'remove', path, version: -1 })),
        ];
        const outcome = await conn.multi(ops);
        if (outcome.ok) return 'transferred';
        if (outcome.index === 0) return 'target-gone';
        if (outcome.index === 1) return 'not-leader';
      }
      return 'not-leader';
    });
  }

  /** The lowest candidate, read again if it vanished between the listing and the read. */
  async readLeader(
    conn: ZkConnection,
    watch?: { children: () => void; leader: () => void },
  ): Promise<LeaderRecord | null> {
    for (;;) {
      const line = await readLine(conn, this.path, this.kind);
      const first = line[0];
      if (first === undefined) {
        // No leader: watch for the first candidate (a children watch; the node may not exist yet).
        if (watch && !(await conn.getChildren(this.path, watch.children))) {
          // Created since that listing (the first candidate's mkdirp): an exists watch on it would
          // fire only when it changes or goes, never when a candidate joins. List it again, with
          // a children watch this time.
          if (await conn.exists(this.path, watch.children)) continue;
        }
        if (!watch) return null;
        // The first candidate may have come between the two reads.
        if ((await readLine(conn, this.path, this.kind)).length === 0) return null;
        continue;
      }
      const read = await conn.getData(first, watch?.leader);
      if (read) return toRecord(first, read);
    }
  }

  /** The shared source of observe(). */
  private async *follow(signal: AbortSignal): AsyncGenerator<LeaderRecord | null, void, undefined> {
    const bell = new Bell();
    let last: string | undefined;
    let conn: ZkConnection | undefined;
    let stopReconnect: (() => void) | undefined;
    try {
      while (!signal.aborted) {
        let record: LeaderRecord | null;
        try {
          const current = await this.ctx.reader();
          if (current !== conn) {
            stopReconnect?.();
            conn = current;
            stopReconnect = conn.onReconnect(bell.ring);
          }
          record = await this.readLeader(conn, { children: bell.ring, leader: bell.ring });
        } catch (err) {
          // Unreachable for now: observers turn 'unknown' through confirm(); keep trying.
          if (!(err instanceof BackendUnavailableError) && !isTransient(err)) throw err;
          await bell.wait(RETRY_MS, signal);
          continue;
        }
        const id = record ? `${record.key}\0${record.token}\0${record.value}` : '';
        if (id !== last) {
          last = id;
          yield record;
        }
        await bell.wait(MAX_QUIET_MS, signal);
      }
    } finally {
      stopReconnect?.();
    }
  }
}

/** A raw client error that a retry may cure (connection loss, timeout). */
export function isTransient(err: unknown): boolean {
  return (
    err instanceof BackendUnavailableError ||
    (err instanceof Error && /CONNECTION_LOSS|SESSION_EXPIRED|no reply/.test(err.message))
  );
}
