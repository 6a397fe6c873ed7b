// A service that runs its scheduler only while it is the leader of the election "scheduler".
// Run two copies; stop the leader with Ctrl-C and watch the other take over at once.
//   node --import tsx examples/elector-service.ts                        (etcd at 127.0.0.1:2379)
//   BALLOT_BACKEND=memory node --import tsx examples/elector-service.ts  (no server, one process)
//   BALLOT_BACKEND=postgres DATABASE_URL=postgres://... node --import tsx examples/elector-service.ts
//   BALLOT_BACKEND=zookeeper ZOOKEEPER_CONNECT=127.0.0.1:2181 node --import tsx examples/elector-service.ts
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { backendFromEnv, BallotError, LeaderElector, type Term } from 'ballot';

// $BALLOT_BACKEND picks the backend: etcd (the default), memory, postgres or zookeeper, each
// connecting as its own tools do ($ETCDCTL_ENDPOINTS, $DATABASE_URL or PG*, $ZOOKEEPER_CONNECT).
const backend = backendFromEnv();
const elector = new LeaderElector({
  backend,
  election: 'scheduler',
  value: `${hostname()}:${process.pid}`, // what observers see while we lead
  ttl: 5, // if this process dies, another takes over within about 5 s
});

// Keep data keys outside every election's key space: election "scheduler" owns "scheduler/...".
const LAST_RUN_KEY = 'state/scheduler/last-run';

elector.on('elected', (term) => console.log(`elected: leading "scheduler" with token ${term.token}`));
elector.on('deposed', (term, reason) => console.log(`deposed: term ${term.token} ended (${reason})`));
elector.on('retrying', (err, ms) => console.error(`campaign failed, retrying in ${ms} ms: ${err.message}`));
elector.on('error', (err) => console.error(`elector gave up: ${err.message}`));

// On Ctrl-C or `kill`, leave the election at once instead of making the others wait for the TTL.
// `once`: a second Ctrl-C kills the process the usual way.
const stop = (signal: NodeJS.Signals) => {
  console.log(`${signal}: stopping`);
  void elector.stop();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

/** The leader's work: one run per second until the term ends. */
async function lead(term: Term): Promise<void> {
  while (!term.signal.aborted) {
    try {
      // A guarded write commits only while this term still leads, as the server sees it: a
      // deposed leader can never overwrite its successor's result.
      const { committed } = await term.guard((tx) => tx.put(LAST_RUN_KEY, new Date().toISOString()));
      if (!committed) return; // not written: this term no longer leads, so its work is over
      console.log(`wrote ${LAST_RUN_KEY}`);
    } catch (err) {
      if (err instanceof BallotError && err.code === 'NOT_LEADER') return; // the term has ended
      // E.g. UNAVAILABLE: the write may or may not have landed. Try again next round.
      console.error(`write failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    // Pass term.signal to whatever the leader waits on: it aborts the moment the term ends.
    await sleep(1000, undefined, { signal: term.signal }).catch(() => {});
  }
}

try {
  // Yields each term this candidate wins, and ends once the elector stops.
  for await (const term of elector.terms()) await lead(term);
} finally {
  await elector.stop(); // resigns (the next candidate is elected now) and closes the session
  await backend.close(); // closes the connection, so the process can exit by itself
  console.log('stopped');
}
