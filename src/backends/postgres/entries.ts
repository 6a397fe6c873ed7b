import type { Candidacy, Entry, Won } from '../../core/contract.js';
import { BackendError, BackendUnavailableError, EntryDeletedError } from '../../core/errors.js';
import type { EntryRecipe } from '../shared/compose.js';
import type { OwnWatch } from '../shared/own-watch.js';
import type { Wake } from '../../postgres/notifier.js';
import { Bell } from '../shared/bell.js';
import { entryChannel } from './channels.js';
import { run, type PgContext } from './context.js';
import type { PgView } from './view.js';

/** After a failed step (server unreachable), try again this soon; the session's deadline bounds it all. */
const RETRY_MS = 250;
/** A waiter whose predecessor's session is due to expire looks again this long after the due time. */
const EXPIRY_SLACK_MS = 5;

/** What one step of waiting found. */
type Step = { kind: 'deleted' } | { kind: 'leads' } | { kind: 'waits'; pred: bigint; predMsLeft: number };

/**
 * One session's entry in one election on PostgreSQL. join inserts the row under the election's
 * advisory lock; lead waits on the entry just ahead only: a LISTEN on that entry's channel (its
 * deletion notifies it), plus a timer at its session's expiry, because an expiry sends nothing:
 * the waiter then deletes the expired session itself and looks again.
 */
export class PgEntries implements EntryRecipe {
  constructor(
    private readonly ctx: PgContext,
    private readonly view: PgView,
    private readonly session: string,
  ) {}

  async join(value: string): Promise<Candidacy> {
    const params = [this.view.name, this.session, value, this.view.channel];
    const { rows } = await run(this.ctx, this.ctx.sql.join, params, `joining "${this.view.name}"`);
    const seq = rows[0]?.['seq'];
    if (seq === undefined)
      throw new BackendError(
        `postgres at ${this.ctx.adapter.where}: session ${this.session} has expired on the server, so it cannot join "${this.view.name}"`,
      );
    return {
      key: this.view.entryKey(this.session),
      value,
      liveness: this.session,
      token: BigInt(String(seq)),
    };
  }

  async lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Won> {
    const e = entryOf(c);
    const bell = new Bell();
    // A NOTIFY on our own channel while waiting is our entry's deletion (or a reconnect's doubt):
    // never lead on a predecessor's 'led' after it without reading again.
    let ownNoticed = false;
    const own = await this.watchOwn(e, () => {
      ownNoticed = true;
      bell.ring();
    });
    let pred: { seq: bigint; unsubscribe: () => void; led: boolean } | undefined;
    try {
      for (;;) {
        signal.throwIfAborted();
        // The entry just ahead was deleted while it led: nothing is ahead of this one now (joins
        // only come after it), so it leads without reading again: one round trip, the delete's.
        if (pred?.led && !ownNoticed) break;
        let step: Step;
        try {
          step = await this.step(e);
        } catch (err) {
          if (!(err instanceof BackendUnavailableError)) throw err;
          await bell.wait(RETRY_MS, signal);
          continue;
        }
        if (step.kind === 'deleted') throw new EntryDeletedError(e.key);
        if (step.kind === 'leads') break;
        if (pred?.seq !== step.pred) {
          pred?.unsubscribe();
          const next = { seq: step.pred, unsubscribe: () => {}, led: false };
          next.unsubscribe = await this.ctx.notifier.subscribe(this.channelOf(step.pred), (wake) => {
            if (wake.kind === 'notify' && wake.payload === 'led') next.led = true;
            bell.ring();
          });
          pred = next;
          // It may have gone between the read and the LISTEN: look again before waiting.
          continue;
        }
        await bell.wait(step.predMsLeft + EXPIRY_SLACK_MS, signal);
      }
    } catch (err) {
      own.stop();
      throw err;
    } finally {
      pred?.unsubscribe();
    }
    return { ...e, unwatch: own.leading(onGone, bell.pending || ownNoticed) };
  }

  async tryLead(c: Candidacy, onGone: () => void): Promise<Won | null> {
    const e = entryOf(c);
    // A deletion notice during the step must not be lost: once leading, it is checked at once.
    let rang = false;
    const own = await this.watchOwn(e, () => (rang = true));
    let step: Step;
    try {
      step = await this.step(e);
    } catch (err) {
      own.stop();
      throw err;
    }
    if (step.kind !== 'leads') own.stop();
    if (step.kind === 'deleted') throw new EntryDeletedError(e.key);
    if (step.kind === 'waits') return null;
    return { ...e, unwatch: own.leading(onGone, rang) };
  }

  async proclaim(e: Entry, value: string): Promise<boolean> {
    const params = [this.view.name, this.session, e.token.toString(), value];
    const { rowCount } = await run(
      this.ctx,
      this.ctx.sql.proclaim,
      params,
      `proclaiming in "${this.view.name}"`,
    );
    return rowCount > 0;
  }

  async remove(e: Candidacy | Entry): Promise<void> {
    for (const guard of this.ctx.inflight.get(e.key) ?? []) guard.abort();
    const params = [this.view.name, this.session, e.token === undefined ? null : e.token.toString()];
    await run(this.ctx, this.ctx.sql.remove, params, `leaving "${this.view.name}"`);
  }

  private channelOf(seq: bigint): string {
    return entryChannel(this.view.channel, seq);
  }

  private async step(e: Entry): Promise<Step> {
    const params = [this.view.name, this.session, e.token.toString()];
    const { rows } = await run(this.ctx, this.ctx.sql.step, params, `waiting to lead "${this.view.name}"`);
    const row = rows[0];
    if (!row || row['mine'] !== true) return { kind: 'deleted' };
    if (row['pred_seq'] === null || row['pred_seq'] === undefined) return { kind: 'leads' };
    return { kind: 'waits', pred: BigInt(String(row['pred_seq'])), predMsLeft: Number(row['pred_ms']) };
  }

  /**
   * LISTENs on the entry's own channel (its deletion is announced there) before the first step, so
   * a deletion is never missed; while waiting, a notice wakes `wake`; once leading, it ends the term.
   */
  private async watchOwn(e: Entry, wake: () => void): Promise<OwnWatch> {
    let react: (w: Wake) => void = wake;
    const unsubscribe = await this.ctx.notifier.subscribe(this.channelOf(e.token), (w) => react(w));
    const params = [this.view.name, this.session, e.token.toString()];
    return {
      stop: unsubscribe,
      leading: (onGone, missed) => {
        let done = false;
        const gone = () => {
          if (done) return;
          done = true;
          unsubscribe();
          onGone();
        };
        // After a reconnect a NOTIFY may have been lost: read whether the entry is still there.
        const check = () =>
          void run(
            this.ctx,
            this.ctx.sql.entryExists,
            params,
            `checking the entry of "${this.view.name}"`,
          ).then(
            (r) => r.rowCount === 0 && gone(),
            () => undefined, // unreachable: the session's deadline decides, as for any lost contact
          );
        react = (w) => (w.kind === 'notify' ? gone() : check());
        if (missed) check();
        return () => {
          done = true;
          unsubscribe();
        };
      },
    };
  }
}

/** The subscription to an entry's own channel, from joining until its term ends. */
function entryOf(c: Candidacy): Entry {
  if (c.token === undefined) throw new TypeError(`candidacy ${c.key} has no sequence number`);
  return { key: c.key, token: c.token, liveness: c.liveness };
}
