import { etcdHarness } from './etcd-harness.js';
import type { BackendHarness } from './harness.js';
import { memoryHarness } from './memory-harness.js';

/** Every backend the conformance suite runs against: a new backend adds one line here. */
export const backends: (() => BackendHarness)[] = [
  memoryHarness,
  () => etcdHarness(),
  () => etcdHarness('service'),
];
