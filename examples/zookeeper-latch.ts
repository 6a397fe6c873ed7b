// Leader election on the ZooKeeper you already run, in the same election as Java services using
// Apache Curator's LeaderLatch: the election's name is the latch's znode path.
//   ZOOKEEPER_CONNECT=127.0.0.1:2181 node --import tsx examples/zookeeper-latch.ts
import { BallotError, zookeeper } from 'ballot';

// #region readme
// $ZOOKEEPER_CONNECT (host:port[,host:port...][/chroot]), else 127.0.0.1:2181, as zkCli.sh.
const backend = zookeeper();
const a = await backend.session({ ttl: 4 }); // one ZooKeeper session; ttl = the session timeout asked for
const b = await backend.session({ ttl: 4 });
console.log(`session timeout granted: ${a.ttl} s`); // the server fits it into its own range

// A name that starts with "/" is a znode path: a Curator LeaderLatch on the same path takes turns
// with these candidates. Each candidate is an EPHEMERAL_SEQUENTIAL node holding its id.
const LATCH = '/services/jobs/leader';
const termA = await a.election(LATCH).campaign('pod-a');
console.log(`pod-a leads with token ${termA.token}`); // the leader node's czxid

// A guard is one multi: check(the leader's node), then your writes; all apply, or none.
await termA.guard((tx) => tx.put('/services/jobs/owner', 'pod-a'));

const bLeads = b.election(LATCH).campaign('pod-b'); // pod-b's node watches pod-a's
await a.election(LATCH).resign(); // deletes pod-a's node; pod-b's watch on it fires
const termB = await bLeads;
console.log(`pod-b leads with token ${termB.token}`);
console.log(`leader seen by any reader: ${(await backend.leader(LATCH))?.value}`); // as Curator's getLeader()
await termB.guard((tx) => tx.put('/services/jobs/owner', 'pod-b'));

// pod-a's node is gone, so its check fails and its late write never lands.
try {
  const late = await termA.guard((tx) => tx.put('/services/jobs/owner', 'stale pod-a'));
  console.log(`pod-a's late write committed: ${late.committed}`);
} catch (err) {
  if (!(err instanceof BallotError && err.code === 'NOT_LEADER')) throw err;
  console.log(`pod-a's late write: refused (${err.code})`);
}
console.log(`owner: ${await backend.get('/services/jobs/owner')}`); // pod-b
// #endregion

await backend.close(); // closes both sessions: their ephemeral nodes go with them
