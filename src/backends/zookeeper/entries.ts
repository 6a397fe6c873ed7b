import zk from 'node-zookeeper-client';
import type { Candidacy, Entry, Won } from '../../core/contract.js';
import { BackendError, BackendUnavailableError, EntryDeletedError } from '../../core/errors.js';
import type { ZkConnection } from '../../zookeeper/connection.js';
import { translate, zkCode } from '../../zookeeper/errors.js';
import { Bell } from '../shared/bell.js';
import type { EntryRecipe } from '../shared/compose.js';
import type { OwnWatch } from '../shared/own-watch.js';
import { attempt, type ZkContext } from './context.js';
import { candidatePrefix, candidateUuid, type NodeKind } from './nodes.js';
import { isTransient, readLine, type ZkView } from './view.js';

/** After a failed step (no reply, connection lost), try again this soon; the session's deadline bounds it all. */
const RETRY_MS = 250;
/** Look again at least this often while waiting, whatever the watches say. */
const MAX_WAIT_MS = 60_000;
const CREATE_ATTEMPTS = 3;

/**
 * One session's candidate node in one election, as Curator's LeaderLatch runs it: an
 * EPHEMERAL_SEQUENTIAL node holding the participant id; waiting is a data watch on the node just
 * ahead (getData, as Curator does: a node already gone answers NoNode and leaves no watch), then
 * the children are read again. Only the next candidate wakes when one leaves.
 */
export class ZkEntries implements EntryRecipe {
  constructor(
    private readonly ctx: ZkContext,
    private readonly view: ZkView,
    private readonly conn: ZkConnection,
    private readonly kind: NodeKind,
  ) {}

  join(value: string): Promise<Candidacy> {
    return attempt(this.ctx.where, `joining "${this.view.name}"`, async () => {
      const data = Buffer.from(value, 'utf8');
      const found = await this.find();
      // A node of this session found again (a lost reply, an earlier join) takes the new value.
      if (found !== undefined && !(await this.conn.setData(found, data))) throw new EntryDeletedError(found);
      const path = found ?? (await this.create(data));
      const read = await this.conn.getData(path);
      if (!read) throw new EntryDeletedError(path);
      // A node of another session with our name would make two leaders (Curator's CURATOR-696):
      // ephemeralOwner never changes, so one check right after joining is enough.
      const session = this.conn.sessionId;
      if (read.owner.toString(16).padStart(16, '0') !== session)
        throw new BackendError(
          `ZooKeeper at ${this.ctx.where}: candidate node ${path} belongs to session ${read.owner.toString(16)}, not ${session}`,
        );
      return { key: path, value, liveness: session, token: read.czxid };
    });
  }

  async lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Won> {
    const e = entryOf(c);
    const bell = new Bell();
    // Unreachable for a moment: keep trying until the signal (the session's deadline) says stop.
    let own: OwnWatch | undefined;
    while (!own) {
      try {
        own = await this.watchOwn(e, bell.ring);
      } catch (err) {
        if (!isTransient(err) || signal.aborted) throw signal.aborted ? signal.reason : err;
        await bell.wait(RETRY_MS, signal);
      }
    }
    const stopReconnect = this.conn.onReconnect(bell.ring);
    try {
      for (;;) {
        signal.throwIfAborted();
        let ahead: string | null;
        try {
          ahead = await this.nodeAhead(e);
        } catch (err) {
          if (!isTransient(err)) throw err;
          await bell.wait(RETRY_MS, signal);
          continue;
        }
        if (ahead === null) break;
        // Gone already: NoNode, and no watch is left behind.
        let present: boolean;
        try {
          present = (await this.conn.getData(ahead, bell.ring)) !== undefined;
        } catch (err) {
          if (!isTransient(err)) throw err;
          await bell.wait(RETRY_MS, signal);
          continue;
        }
        if (present) await bell.wait(MAX_WAIT_MS, signal);
      }
    } catch (err) {
      own.stop();
      throw signal.aborted ? err : translate(err, this.ctx.where, `waiting to lead "${this.view.name}"`);
    } finally {
      stopReconnect();
    }
    return { ...e, unwatch: own.leading(onGone, bell.pending) };
  }

  async tryLead(c: Candidacy, onGone: () => void): Promise<Won | null> {
    const e = entryOf(c);
    // A change that comes while the line is read (its event can arrive with the reply) is checked once leading.
    let rang = false;
    const own = await this.watchOwn(e, () => (rang = true));
    let ahead: string | null;
    try {
      ahead = await attempt(this.ctx.where, `trying to lead "${this.view.name}"`, () => this.nodeAhead(e));
    } catch (err) {
      own.stop();
      throw err;
    }
    if (ahead !== null) {
      own.stop();
      return null;
    }
    return { ...e, unwatch: own.leading(onGone, rang) };
  }

  proclaim(e: Entry, value: string): Promise<boolean> {
    return attempt(this.ctx.where, `proclaiming in "${this.view.name}"`, () =>
      this.conn.setData(e.key, Buffer.from(value, 'utf8')),
    );
  }

  async remove(e: Candidacy | Entry): Promise<void> {
    await attempt(this.ctx.where, `leaving "${this.view.name}"`, () => this.conn.remove(e.key));
  }

  /** The node just ahead of `e` in line, null when `e` leads; EntryDeletedError when `e` is gone. */
  private async nodeAhead(e: Entry): Promise<string | null> {
    const line = await readLine(this.conn, this.view.path, this.kind);
    const at = line.indexOf(e.key);
    if (at < 0) throw new EntryDeletedError(e.key);
    return at === 0 ? null : line[at - 1]!;
  }

  /** This session's node in the election, found by its uuid, or undefined. */
  private async find(): Promise<string | undefined> {
    const prefix = candidatePrefix(this.uuid(), this.kind);
    const children = (await this.conn.getChildren(this.view.path)) ?? [];
    const mine = children.find((child) => child.startsWith(prefix));
    return mine === undefined ? undefined : `${this.view.path}/${mine}`;
  }

  /**
   * Creates the node, creating missing parents (ZooKeeper may have removed Curator's container
   * parents). After a lost reply the create may have happened: look for the node by its uuid
   * before creating again, or a second node of ours would stand in line.
   */
  private async create(data: Buffer): Promise<string> {
    const prefix = `${this.view.path}/${candidatePrefix(this.uuid(), this.kind)}`;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.conn.create(prefix, data, zk.CreateMode.EPHEMERAL_SEQUENTIAL);
      } catch (err) {
        const noParent = zkCode(err) === zk.Exception.NO_NODE;
        if (!noParent && !isTransient(err)) throw err;
        if (!noParent) {
          const found = await this.findAfterLoss();
          if (found) return found;
        }
        if (attempt >= CREATE_ATTEMPTS) throw err;
        if (noParent) await this.conn.mkdirp(this.view.path);
      }
    }
  }

  /**
   * Looks for the node a create without reply may have made. Only a lookup that answered may
   * say "not there": creating again after one without reply could leave two nodes of this
   * session in line, the second waiting forever on the first.
   */
  private async findAfterLoss(): Promise<string | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.find();
      } catch (err) {
        if (!isTransient(err) || attempt >= CREATE_ATTEMPTS) throw err;
      }
    }
  }

  private uuid(): string {
    return candidateUuid(this.conn.sessionId, this.view.path, this.kind);
  }

  /**
   * Watches the candidate's own node from joining on (before the first look, so a deletion is
   * never missed): while waiting, any change wakes `wake`; once leading, its deletion ends the term.
   * One watch at a time, set again after each data change (a proclaim).
   */
  private async watchOwn(e: Entry, wake: () => void): Promise<OwnWatch> {
    let react: (type: number) => void = () => wake();
    let stopped = false;
    const arm = async (): Promise<boolean> => {
      const exists = await this.conn.exists(e.key, (type) => {
        if (stopped) return;
        react(type);
        if (type !== zk.Event.NODE_DELETED) void arm().catch(() => undefined);
      });
      // Deleted between a change's event and this read: no deletion event will come.
      if (!exists && !stopped) react(zk.Event.NODE_DELETED);
      return exists;
    };
    await attempt(this.ctx.where, `watching the entry of "${this.view.name}"`, arm);
    return {
      stop: () => (stopped = true),
      leading: (onGone, missed) => {
        const gone = () => {
          if (stopped) return;
          stopped = true;
          stopReconnect();
          onGone();
        };
        const check = () =>
          void this.conn.exists(e.key).then(
            (exists) => !exists && gone(),
            () => undefined, // no reply: the session's deadline decides, as for any lost contact
          );
        react = (type) => (type === zk.Event.NODE_DELETED ? gone() : undefined);
        // After a reconnect a watch event may have been missed: read whether the node is still there.
        const stopReconnect = this.conn.onReconnect(check);
        if (missed) check();
        return () => {
          stopped = true;
          stopReconnect();
        };
      },
    };
  }
}

/** The watch on a candidate's own node, from joining until its term ends. */
function entryOf(c: Candidacy): Entry {
  if (c.token === undefined) throw new BackendUnavailableError(`candidacy ${c.key} has no czxid`);
  return { key: c.key, token: c.token, liveness: c.liveness };
}
