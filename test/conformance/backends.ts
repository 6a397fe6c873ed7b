import { etcdHarness } from './etcd-harness.js';
import type { BackendHarness } from './harness.js';
import { memoryHarness } from './memory-harness.js';
import { postgresHarness } from './postgres-harness.js';
import { zookeeperHarness } from './zookeeper-harness.js';

/**
 * Every backend the conformance suite runs against, and the only test/conformance file that names one.
 *
 * Adding a backend takes:
 * 1. its folder under src/backends/ implementing src/core/contract.ts, with a factory that returns
 *    a Backend (like etcd() and memory());
 * 2. a harness beside this file, `<name>-harness.ts`, implementing BackendHarness (harness.ts):
 *    setup/teardown of its server, candidate(ttl) on a client of its own with partition()/heal()
 *    (cut that client off silently, then reconnect it), and sharedBackend(), one client for the
 *    herd test and the operator's participants()/depose();
 * 3. one line in this list.
 * The suite (suite.test.ts) then runs every election, mutex, guard, participants and depose test
 * against it; it reads entries through participants() and deletes them through depose(), so it
 * needs no key layout, and lint refuses a backend import in it.
 */
export const backends: (() => BackendHarness)[] = [
  memoryHarness,
  () => etcdHarness(),
  () => etcdHarness('service'),
  () => postgresHarness(),
  () => postgresHarness('postgres.js'),
  zookeeperHarness,
];
