// The steps LeaderElector takes for you, one call each: session, campaign, proclaim, observe,
// resign, close. Use them when you want to drive each step yourself.
//   node --import tsx examples/lower-level.ts          (or BALLOT_BACKEND=memory: no server; or postgres, zookeeper)
import { backendFromEnv } from 'ballot';

// $BALLOT_BACKEND picks the backend: etcd (the default), memory, postgres or zookeeper, each
// connecting as its own tools do ($ETCDCTL_ENDPOINTS, $DATABASE_URL or PG*, $ZOOKEEPER_CONNECT).
const backend = backendFromEnv();

// #region readme
const signal = AbortSignal.timeout(30_000); // give up campaigning after 30 s
const session = await backend.session({ ttl: 5 }); // one lease + keepalive, shared by all elections
const election = session.election('scheduler');

// Anyone can watch an election, with or without a session. An observer reports the leader as it
// is now: changes that follow each other quickly may reach it as the last one only.
const watching = new AbortController();
const observer = (async () => {
  for await (const change of backend.observe('scheduler', { signal: watching.signal }))
    console.log(`observed: ${change.kind === 'leader' ? `leader ${change.value}` : change.kind}`);
})();

const term = await election.campaign('pod-1', { signal }); // resolves once leader
console.log(`leader with token ${term.token}`); // bigint fencing token (etcd: the key's create revision)
term.signal.addEventListener('abort', () => console.log(`term ended: ${term.ended?.reason}`));
await election.proclaim('pod-1:v2'); // change the leader's value, guarded by the term
console.log(`leader now: ${(await backend.leader('scheduler'))?.value}`); // a one-off read
await election.resign(); // the term ends before the delete is sent; retry if it throws

watching.abort(); // ends the observer's loop
await observer;
await session.close(); // revokes the lease
await backend.close(); // closes the connection
// #endregion
