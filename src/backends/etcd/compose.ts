import type { ElectionDriver, ElectionView, Entry } from '../../core/contract.js';
import type { GuardBody, GuardResult } from '../../core/guard.js';
import type { EtcdTxn } from './txn.js';

/**
 * What differs between etcd's three ways to run an entry (the client-side recipe, v3election,
 * v3lock): how it joins, waits to lead, changes its value and leaves.
 */
export type EntryRecipe = Pick<ElectionDriver<EtcdTxn>, 'join' | 'lead' | 'tryLead' | 'proclaim' | 'remove'>;

/** The guarded write every mode shares (see fence.ts). */
export type Fence = (e: Entry, body: GuardBody<EtcdTxn>) => Promise<GuardResult>;

/**
 * An election driver from its parts: an entry recipe, the read side (leader, observe, confirm,
 * participants, depose) and the fence, which are the same in every mode. Composed here so that
 * no recipe has to forward the shared parts itself.
 */
export function composeDriver(
  recipe: EntryRecipe,
  view: ElectionView,
  fence: Fence,
): ElectionDriver<EtcdTxn> {
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
  };
}
