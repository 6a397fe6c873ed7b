// A distributed mutex: one holder at a time, waiters served first come, first served. On etcd it
// shares its keys with `etcdctl lock` and Go's concurrency.Mutex.
//   node --import tsx examples/mutex.ts          (or BALLOT_BACKEND=memory: no server; or postgres, zookeeper)
import { backendFromEnv } from 'ballot';

// $BALLOT_BACKEND picks the backend: etcd (the default), memory, postgres or zookeeper, each
// connecting as its own tools do ($ETCDCTL_ENDPOINTS, $DATABASE_URL or PG*, $ZOOKEEPER_CONNECT).
const backend = backendFromEnv();

// #region readme
const session = await backend.session({ ttl: 5 });
const other = await backend.session({ ttl: 5 }); // stands for another process
const mutex = session.mutex('nightly-backup');
// Wait at most 30 s for the lock; aborting the signal gives up and leaves the queue.
const lock = await mutex.lock({ signal: AbortSignal.timeout(30_000) });
console.log(`locked "nightly-backup" with token ${lock.token}`);
try {
  // lock.signal aborts if the lock is lost (e.g. the session expired): pass it to the work.
  // A fenced write commits only while the lock is still held, whatever this process believes.
  const { committed } = await lock.guard((tx) =>
    tx.put('state/nightly-backup/last-run', new Date().toISOString()),
  );
  console.log(`fenced write committed: ${committed}`);
  // Anyone else has to wait; tryLock() does not: it resolves null at once while the lock is held.
  const busy = await other.mutex('nightly-backup').tryLock();
  console.log(`another session's tryLock: ${busy === null ? 'busy' : 'acquired'}`);
} finally {
  await mutex.unlock();
  console.log('unlocked');
}
// #endregion

const next = await other.mutex('nightly-backup').tryLock();
console.log(`after unlock, the other session's tryLock: ${next === null ? 'busy' : 'acquired'}`);
await backend.close(); // closes both sessions (releasing what they hold), then the connection
