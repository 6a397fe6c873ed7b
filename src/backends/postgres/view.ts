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
import { electionPrefix } from '../shared/names.js';
import { Bell } from '../shared/bell.js';
import { electionChannel } from './channels.js';
import { run, type PgContext } from './context.js';

/** A leader read, with how long its session has left on the database's clock. */
interface LeaderRead {
  record: LeaderRecord | null;
  msLeft: number;
}

const RETRY_MS = 500;
/** Read again at least this often while a leader is known, whatever its TTL. */
const MAX_QUIET_MS = 60_000;

/**
 * The read side of one election on PostgreSQL: needs no session. Observers of one election on one
 * backend object share one LISTEN and one read per change (the trigger notifies the election's
 * channel on leader changes only), plus a read when the leader's session would expire, since an
 * expiry changes no row until someone reaps it.
 */
export class PgView implements ElectionView {
  readonly channel: string;
  private readonly prefix: string;

  constructor(
    private readonly ctx: PgContext,
    readonly name: string,
  ) {
    this.channel = electionChannel(ctx.schema, name);
    this.prefix = electionPrefix(name);
  }

  /** The key of the entry of `session` in this election. */
  entryKey(session: string): string {
    return `${this.prefix}${session}`;
  }

  async leader(): Promise<LeaderRecord | null> {
    return (await this.read()).record;
  }

  observe(signal: AbortSignal): AsyncIterable<LeaderRecord | null> {
    let shared = this.ctx.observers.get(this.channel);
    if (!shared) {
      shared = new Multicast((s) => this.follow(s));
      this.ctx.observers.set(this.channel, shared);
    }
    return shared.subscribe(signal);
  }

  confirm(maxAgeMs: number): Promise<Confirmation> {
    let shared = this.ctx.probes.get(this.channel);
    if (!shared) {
      shared = new SharedRead(this.ctx.clock, () => this.leader());
      this.ctx.probes.set(this.channel, shared);
    }
    return shared.confirm(maxAgeMs);
  }

  async participants(): Promise<ParticipantRecord[]> {
    const { rows } = await run(
      this.ctx,
      this.ctx.sql.participants,
      [this.name],
      `reading the line of "${this.name}"`,
    );
    return rows.map((row) => {
      const msLeft = Number(row['ms_left']);
      return {
        key: this.entryKey(String(row['session_id'])),
        value: String(row['value']),
        token: BigInt(String(row['seq'])),
        lease: String(row['session_id']),
        ttl: msLeft <= 0 ? -1 : Math.ceil(msLeft / 1000),
      };
    });
  }

  async depose(expectedToken?: bigint): Promise<DeposeRecord> {
    const params = [this.name, expectedToken === undefined ? null : expectedToken.toString()];
    const { rows } = await run(
      this.ctx,
      this.ctx.sql.depose,
      params,
      `deposing the leader of "${this.name}"`,
    );
    const row = rows[0];
    if (!row) return { outcome: 'none' };
    const leader = this.toRecord(row);
    return Number(row['deleted']) > 0 ? { outcome: 'deposed', leader } : { outcome: 'changed', leader };
  }

  /**
   * Two statements under the same checks (see Statements.transfer): the rows between leader and
   * target, then the leader's. One would do for atomicity, but the delete trigger tells the
   * candidate right behind the leader 'led' and that candidate leads on it without reading again
   * (one round trip); its own row's NOTIFY from the same statement may reach it later. From an
   * earlier transaction it arrives first, so a passed-over candidate never starts a term. With
   * nobody between them (as the caller's line shows), only the second runs.
   */
  async transfer(leader: EntryRef, target: EntryRef, line?: readonly EntryRef[]): Promise<TransferRecord> {
    if (target.token <= leader.token) return 'target-gone';
    // The caller's line holds every entry older than the target: with none between, one statement.
    const between = line?.some((e) => e.token > leader.token && e.token < target.token) ?? true;
    for (const withLeader of between ? [false, true] : [true]) {
      const { rows } = await run(
        this.ctx,
        this.ctx.sql.transfer,
        [this.name, leader.token.toString(), target.token.toString(), withLeader],
        `transferring the leadership of "${this.name}"`,
      );
      const row = rows[0] ?? {};
      if (Number(row['leads']) === 0) return 'not-leader';
      if (Number(row['target']) === 0) return 'target-gone';
    }
    return 'transferred';
  }

  private async read(): Promise<LeaderRead> {
    const { rows } = await run(
      this.ctx,
      this.ctx.sql.leader,
      [this.name],
      `reading the leader of "${this.name}"`,
    );
    const row = rows[0];
    return row
      ? { record: this.toRecord(row), msLeft: Number(row['ms_left']) }
      : { record: null, msLeft: Infinity };
  }

  private toRecord(row: Record<string, unknown>): LeaderRecord {
    const session = String(row['session_id']);
    return {
      key: this.entryKey(session),
      value: String(row['value']),
      token: BigInt(String(row['seq'])),
      liveness: session,
    };
  }

  /** The shared source of observe(): a read after every change notice, reconnect and leader expiry. */
  private async *follow(signal: AbortSignal): AsyncGenerator<LeaderRecord | null, void, undefined> {
    const bell = new Bell();
    const unsubscribe = await this.ctx.notifier.subscribe(this.channel, bell.ring);
    let last: string | undefined;
    try {
      while (!signal.aborted) {
        let next: LeaderRead;
        try {
          next = await this.read();
        } catch (err) {
          // Unreachable for now: observers turn 'unknown' through confirm(); keep trying.
          if (!(err instanceof BackendUnavailableError)) throw err;
          await bell.wait(RETRY_MS, signal);
          continue;
        }
        const id = next.record ? `${next.record.key}\0${next.record.token}\0${next.record.value}` : '';
        if (id !== last) {
          last = id;
          yield next.record;
        }
        await bell.wait(Math.min(MAX_QUIET_MS, next.msLeft + 1), signal);
      }
    } finally {
      unsubscribe();
    }
  }
}
