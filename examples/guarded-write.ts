// Fencing: a write guarded by a term lands only while that term leads. Two candidates, "a" and
// "b", take turns leading the election "reports"; a's late write after b took over is refused.
//   node --import tsx examples/guarded-write.ts          (or BALLOT_BACKEND=memory: no server; or postgres, zookeeper)
import { backendFromEnv, BallotError, type GuardBuilder, type Term } from 'ballot';

// $BALLOT_BACKEND picks the backend: etcd (the default), memory, postgres or zookeeper, each
// connecting as its own tools do ($ETCDCTL_ENDPOINTS, $DATABASE_URL or PG*, $ZOOKEEPER_CONNECT).
const backend = backendFromEnv();

// #region readme
// The report lives outside the election's own keys ("reports/..."): ballot owns those.
const KEY = 'state/reports/latest';
// Each candidate has its own session: one lease, kept alive in the background.
const a = await backend.session({ ttl: 5 });
const b = await backend.session({ ttl: 5 });

const termA = await a.election('reports').campaign('a'); // resolves once "a" leads
console.log(`a leads with token ${termA.token}`);
const first = await termA.guard((tx) => tx.put(KEY, 'report by a'));
if (!first.committed) throw new Error('a lost the lead before its write landed');
console.log(`a's write committed: ${first.committed}`);

// "b" queues behind "a"; when "a" resigns, "b" leads with a greater token.
const bLeads = b.election('reports').campaign('b');
await a.election('reports').resign();
const termB = await bLeads;
console.log(`b leads with token ${termB.token}`);
await termB.guard((tx) => tx.put(KEY, 'report by b'));

// A's term is over: its guard cannot land, however late it arrives.
const late = await landed(termA, (tx) => tx.put(KEY, 'stale report by a'));
console.log(`a's stale write committed: ${late}`);
console.log(`${KEY} = ${await backend.get(KEY)}`); // "report by b"

/** Runs a guarded write and says whether it landed; a term that has ended may also throw NOT_LEADER. */
async function landed(term: Term, build: (tx: GuardBuilder) => unknown): Promise<boolean> {
  try {
    return (await term.guard(build)).committed;
  } catch (err) {
    if (err instanceof BallotError && err.code === 'NOT_LEADER') return false;
    throw err;
  }
}
// #endregion

await backend.close(); // closes both sessions (revoking their leases), then the connection
