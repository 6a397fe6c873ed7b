import type {
  Candidacy,
  Confirmation,
  DeposeRecord,
  ElectionDriver,
  ElectionView,
  Entry,
  EntryRef,
  LeaderRecord,
  ParticipantRecord,
  TransferRecord,
  Won,
} from '../../core/contract.js';
import type { GuardBody, GuardResult } from '../../core/guard.js';

/**
 * How a backend runs an entry: joins, waits to lead, changes its value and leaves. etcd has three
 * (the client-side recipe, v3election, v3lock); PostgreSQL has one.
 */
export type EntryRecipe = Pick<ElectionDriver, 'join' | 'lead' | 'tryLead' | 'proclaim' | 'remove'>;

/** A backend's guarded write (etcd: fence.ts; PostgreSQL: its fenced transaction). */
export type Fence<Tx> = (e: Entry, body: GuardBody<Tx>) => Promise<GuardResult>;

/**
 * An election driver from its parts: an entry recipe, the read side (leader, observe, confirm,
 * participants, depose) and the fence, which etcd shares across its modes. Composed here so that
 * no recipe has to forward the shared parts itself.
 */
export function composeDriver<Tx>(
  recipe: EntryRecipe,
  view: ElectionView,
  fence: Fence<Tx>,
): ElectionDriver<Tx> {
  return new ComposedDriver(recipe, view, fence);
}

/**
 * A class, not an object of arrow functions: a session holds one driver per election, and
 * prototype methods cost nothing per election where a dozen closures cost a few hundred bytes each.
 */
class ComposedDriver<Tx> implements ElectionDriver<Tx> {
  constructor(
    private readonly recipe: EntryRecipe,
    private readonly view: ElectionView,
    readonly guard: Fence<Tx>,
  ) {}

  join(value: string): Promise<Candidacy> {
    return this.recipe.join(value);
  }
  lead(c: Candidacy, signal: AbortSignal, onGone: () => void): Promise<Won> {
    return this.recipe.lead(c, signal, onGone);
  }
  tryLead(c: Candidacy, onGone: () => void): Promise<Won | null> {
    return this.recipe.tryLead(c, onGone);
  }
  proclaim(e: Entry, value: string): Promise<boolean> {
    return this.recipe.proclaim(e, value);
  }
  remove(e: Candidacy | Entry): Promise<void> {
    return this.recipe.remove(e);
  }
  leader(): Promise<LeaderRecord | null> {
    return this.view.leader();
  }
  observe(signal: AbortSignal): AsyncIterable<LeaderRecord | null> {
    return this.view.observe(signal);
  }
  confirm(maxAgeMs: number): Promise<Confirmation> {
    return this.view.confirm(maxAgeMs);
  }
  participants(): Promise<ParticipantRecord[]> {
    return this.view.participants();
  }
  depose(expectedToken?: bigint): Promise<DeposeRecord> {
    return this.view.depose(expectedToken);
  }
  transfer(leader: EntryRef, target: EntryRef, line?: readonly EntryRef[]): Promise<TransferRecord> {
    return this.view.transfer(leader, target, line);
  }
}
