import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { etcd, type Backend, type Term } from '../src/index.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { eventually, sleep } from './helpers.js';

// A candidate that joined moments before a transfer passed it over (etcd client mode). etcd puts a
// watch that starts in the past into its "unsynced" group and catches it up every 100 ms; the
// candidate's watch on its own key is such a watch when anything was written after it joined, while
// the watch on its predecessor, started from the revision just read, is live. The transfer deletes
// the passed-over candidate a revision before the leader, yet the leader's deletion can arrive
// first; the candidate must not take it as a win on an entry etcd has already deleted.

let counter = 0;
const fresh = () => `young-${process.pid}-${++counter}`;

describe('transfer past a candidate that has just joined (etcd client mode)', () => {
  let node: EtcdNode;
  let backend: Backend<unknown>;
  before(async () => {
    node = await startEtcd();
    backend = etcd({ endpoints: [node.endpoint] }) as Backend<unknown>;
  });
  after(async () => {
    await backend?.close();
    await node?.stop();
  });

  test('never begins a term on an entry the transfer already deleted', async () => {
    const rounds = 20;
    let earlyTerms = 0;
    let passedOver = 0;
    for (let i = 0; i < rounds; i++) {
      const election = fresh();
      const [a, b, c] = await Promise.all([1, 2, 3].map(() => backend.session({ ttl: 10 })));
      try {
        const leader = await a!.election(election).campaign('a');
        const settle = (term: Term<unknown>) => term;
        const failed = (err: Error & { code?: string }) => err;
        // b and c join at once: whichever is written first has its own-key watch start before the
        // other's join, so that watch is unsynced on etcd until the next 100 ms tick. The transfer
        // goes to the last in line, as soon as both wait on their predecessors.
        const campaigns = new Map([
          ['b', b!.election(election).campaign('b').then(settle, failed)],
          ['c', c!.election(election).campaign('c').then(settle, failed)],
        ]);
        let line: Awaited<ReturnType<typeof backend.participants>> = [];
        await eventually(
          async () => (line = await backend.participants(election)).length === 3,
          5000,
          'line',
        );
        await sleep(5);
        const [passed, target] = [line[1]!.value, line[2]!.value];
        await a!.election(election).transfer(target, { timeout: 5000 });
        assert.equal(leader.active, false);
        const outcome = await campaigns.get(passed)!;
        if (outcome instanceof Error) {
          assert.equal((outcome as Error & { code?: string }).code, 'ENTRY_DELETED', String(outcome));
          passedOver++;
        } else {
          // A term may begin only on an entry that still exists: it must still be active a moment
          // later, and etcd must hold its key with its token.
          await sleep(250);
          if (!outcome.active && outcome.ended?.reason === 'key-deleted') earlyTerms++;
        }
        const term = await campaigns.get(target)!;
        assert.ok(!(term instanceof Error), String(term));
        assert.equal(term.active, true);
      } finally {
        await Promise.all([a, b, c].map((s) => s?.close()));
      }
    }
    assert.equal(
      earlyTerms,
      0,
      `${earlyTerms} of ${rounds} passed-over candidates began a term etcd had ended`,
    );
    assert.ok(passedOver > 0);
  });
});
