// Testing your own leader logic without a server or real waiting: the memory backend on a
// ManualClock, where time moves only when the test says so, and partition() cuts a session off
// as a network fault would.
//   node --import tsx --test examples/leader-logic.test.ts
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, memory, TermEndedError, type Term } from 'ballot';

/** The code under test: your leader's work. Here: it runs until its term ends, then records why. */
class Scheduler {
  running = false;
  stoppedBecause?: string;

  async lead(term: Term): Promise<void> {
    this.running = true;
    await new Promise((resolve) => term.signal.addEventListener('abort', resolve, { once: true }));
    this.running = false;
    this.stoppedBecause = (term.signal.reason as TermEndedError).reason;
  }
}

test('a leader cut off from the backend stops before another candidate takes over', async () => {
  const clock = new ManualClock();
  const backend = memory({ clock });
  const a = await backend.session({ ttl: 10 });
  const b = await backend.session({ ttl: 10 });

  const scheduler = new Scheduler();
  const termA = await a.election('scheduler').campaign('a');
  void scheduler.lead(termA);
  const bLeads = b.election('scheduler').campaign('b'); // b queues behind a
  await clock.advance(60_000);
  assert.equal(scheduler.running, true, 'keepalives hold the term while connected');

  backend.partition(a); // a's keepalives go unanswered from now on
  await clock.advance(11_000); // past the 10 s TTL
  assert.equal(termA.signal.aborted, true);
  assert.equal(scheduler.running, false, 'the leader stopped its work');
  assert.equal(scheduler.stoppedBecause, 'unreachable');

  const termB = await bLeads;
  assert.ok(termB.token > termA.token, 'the new leader has a greater fencing token');
  assert.ok(termA.ended!.at <= termB.startedAt, 'no overlap: a stopped before b began');

  backend.heal(a);
  await backend.close();
});
