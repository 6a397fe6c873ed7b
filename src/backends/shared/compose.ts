import type { ElectionDriver, ElectionView, Entry } from '../../core/contract.js';
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
  return {
    join: (value) => recipe.join(value),
    lead: (c, signal, onGone) => recipe.lead(c, signal, onGone),
    tryLead: (c, onGone) => recipe.tryLead(c, onGone),
    proclaim: (e, value) => recipe.proclaim(e, value),
    remove: (e) => recipe.remove(e),
    guard: fence,
    leader: () => view.leader(),
    observe: (signal) => view.observe(signal),
    confirm: (maxAgeMs) => view.confirm(maxAgeMs),
    participants: () => view.participants(),
    depose: (expectedToken) => view.depose(expectedToken),
    transfer: (leader, target, line) => view.transfer(leader, target, line),
  };
}
