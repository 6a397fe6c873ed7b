/**
 * Chaos schedules that found bugs in the library. The CI pass replays each on every run, and the
 * soak's report lists them; each bug also has a deterministic test in test/chaos-regressions.test.ts.
 */

/** One schedule that once found a bug. */
export interface RegressionSchedule {
  scenario: string;
  seed: string;
  /** What went wrong, in one line. */
  bug: string;
  /** How it was fixed. */
  fix: string;
}

/** Every schedule that found a bug, oldest first. */
export const REGRESSION_SCHEDULES: readonly RegressionSchedule[] = [
  {
    scenario: 'follower-partition-resign',
    seed: '0xe92c47d3',
    bug: 'a waiting candidate whose session deadline passed crashed with a stack overflow (Session.lose re-entered itself)',
    fix: 'Session records the loss before ending terms, and passes the error to each election (958c569)',
  },
  {
    scenario: 'raft-leader-killed-during-handover',
    seed: '0x67de2276',
    bug: "after a resign whose delete failed, the next term reused the resigned term's entry and token",
    fix: 'campaign() first finishes the delete of a resigned entry, so every term gets a new entry (958c569)',
  },
  {
    scenario: 'raft-leader-killed-during-handover',
    seed: '0x86e34d08',
    bug: 'a guarded write etcd applied was reported refused: its txn was sent again after the connection dropped',
    fix: 'a guard txn is never resent; a lost reply is reported as an unknown outcome (958c569)',
  },
  {
    scenario: 'cluster-restart',
    seed: '0xb106cd48',
    bug: 'sessions expiring during the outage crashed waiting candidates with a stack overflow',
    fix: 'the same as the first (958c569)',
  },
  {
    scenario: 'zk-leader-sigkill',
    seed: '0x3588cb2f',
    bug:
      "a ZooKeeper observer that found no election node, which then appeared before its exists call, reported 'no leader' " +
      'while one led (its exists watch fires only when the node changes or goes, never when a candidate joins)',
    fix: 'the observer lists the node again with a children watch once exists finds it (9928894)',
  },
];
