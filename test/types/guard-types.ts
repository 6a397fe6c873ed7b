/**
 * Type-level checks of term.guard(), compiled by `tsc --noEmit` (never run): each backend hands
 * the body its own transaction type, and the type flows from etcd()/memory() through sessions,
 * elections, mutexes and LeaderElector. A `@ts-expect-error` line that compiles fails tsc.
 */
import {
  LeaderElector,
  etcd,
  memory,
  type Backend,
  type EtcdTxn,
  type GuardResult,
  type MemoryTxn,
  type Term,
} from '../../src/index.js';

/** Never called: only compiled. */
export async function guardTypes(): Promise<void> {
  const backend = etcd();
  const session = await backend.session();
  const term = await session.election('x').campaign('v');
  // An etcd term's body gets an EtcdTxn: put, delete and get, chained.
  await term.guard((tx) => {
    const exact: EtcdTxn = tx;
    exact.put('k', 'v').delete('k').get('k');
  });
  // @ts-expect-error an etcd transaction runs no SQL
  await term.guard((tx) => tx.query('SELECT 1'));
  // @ts-expect-error put needs a string value
  await term.guard((tx) => tx.put('k', 1));

  // What the body returns is `result`; the chained tx itself is not.
  const counted: GuardResult<number> = await term.guard(async (tx) => {
    tx.put('k', 'v');
    return 1;
  });
  // @ts-expect-error result is a number here, not a string
  const wrong: string | undefined = counted.result;
  const chained = await term.guard((tx) => tx.put('k', 'v'));
  // @ts-expect-error a chained body's result is never its transaction
  chained.result?.put('k', 'v');

  // Mutexes and electors carry the same type; memory's has the same methods.
  const lock = await session.mutex('m').lock();
  await lock.guard((tx) => tx.put('k', 'v').get('k'));
  const elector = new LeaderElector({ backend, election: 'e', value: 'v' });
  elector.on('elected', (t) => void t.guard((tx: EtcdTxn) => tx.delete('k')));
  const mem = await (await memory().session()).election('x').campaign('v');
  await mem.guard((tx) => {
    const exact: MemoryTxn = tx;
    exact.put('k', 'v');
  });
  // Code written before backends were typed compiles unchanged: Backend and Term default to a KV tx.
  const plain: Backend = Math.random() > 0.5 ? etcd() : memory();
  const plainTerm: Term = await (await plain.session()).election('x').campaign('v');
  await plainTerm.guard((tx) => tx.put('k', 'v'));
  void wrong;
}
