/**
 * Leadership transfer on etcd, the same in both modes (the service's keys are the recipe's keys).
 * The leader's key goes in one txn guarded by both create revisions (the leader's and the
 * target's); the target then has no older key, so its ordinary predecessor wait (or the service's
 * Campaign) makes it leader.
 *
 * Candidates between the two go in an earlier txn under the same compares, not in the leader's:
 * a candidate right behind the leader takes the leader's deletion alone as its win (the recipe's
 * one-round-trip handover), and its own key's deletion at the same revision would reach it on
 * another watcher, in no set order. So that earlier txn also writes the leader's key (value and
 * lease unchanged): the candidate right behind watches that key, and on one watch etcd delivers
 * in revision order, so it learns of the write before the deletion and reads again instead of
 * winning (deletion.ts, `modRevision`), finding its own key gone. Its own-key watch cannot be
 * trusted for this: etcd catches a watch that starts at a past revision up every 100 ms. If the
 * second txn then finds the target gone, the passed-over candidates have re-queued but the leader
 * keeps leading.
 */
import type { EntryRef, TransferRecord } from '../../core/contract.js';
import { BackendUnavailableError } from '../../core/errors.js';
import type { EtcdClient } from '../../etcd/client.js';
import type { RequestOp, TxnResponse } from '../../etcd/messages.js';
import { prefixEnd } from './keys.js';
import { ownedBy } from './fence.js';

const EMPTY = Buffer.alloc(0);

/** Runs the transfer; see the TRANSFER section of contract.ts. */
export async function transferTxn(
  client: EtcdClient,
  prefix: string,
  leader: EntryRef,
  target: EntryRef,
  line?: readonly EntryRef[],
): Promise<TransferRecord> {
  if (target.token <= leader.token) return 'target-gone';
  // Keys created after a read that found the target are newer than the target's, so that read
  // lists every key the txns must delete; one deleted meanwhile makes its delete a no-op.
  const ahead = (line ?? (await readAhead(client, prefix, target))).filter((e) => e.token < target.token);
  if (ahead[0]?.key !== leader.key) return 'not-leader';
  const between = ahead
    .slice(1)
    .map((e): RequestOp => ({ request_delete_range: { key: Buffer.from(e.key) } }));
  const mark: RequestOp = {
    request_put: { key: Buffer.from(leader.key), value: EMPTY, ignore_value: true, ignore_lease: true },
  };
  // Deletes are idempotent under unchanged compares, so the first txn may be resent.
  if (between.length > 0) {
    const first = await client.txn(guarded(leader, target, [mark, ...between]));
    if (!first.succeeded) return refused(first, leader);
  }
  let response: TxnResponse;
  try {
    // Never resent: a lost reply to an applied txn would make the repeat fail its compares.
    response = await client.txn(
      guarded(leader, target, [{ request_delete_range: { key: Buffer.from(leader.key) } }]),
      { retry: false },
    );
  } catch (err) {
    if (!(err instanceof BackendUnavailableError)) throw err;
    throw new BackendUnavailableError(
      `transfer outcome unknown (it may or may not have been applied): ${err.message}`,
      { cause: err },
    );
  }
  return response.succeeded ? 'transferred' : refused(response, leader);
}

async function readAhead(client: EtcdClient, prefix: string, target: EntryRef): Promise<EntryRef[]> {
  const response = await client.range({
    key: Buffer.from(prefix),
    range_end: prefixEnd(prefix),
    sort_order: 'ASCEND',
    sort_target: 'CREATE',
    keys_only: true,
    max_create_revision: (target.token - 1n).toString(),
  });
  return response.kvs.map((kv) => ({ key: kv.key.toString(), token: BigInt(kv.create_revision) }));
}

function guarded(leader: EntryRef, target: EntryRef, success: RequestOp[]) {
  return {
    compare: [ownedBy(leader), ownedBy(target)],
    success,
    failure: [{ request_range: { key: Buffer.from(leader.key), keys_only: true } }],
  };
}

/** Which compare failed: the leader's key (read in the failure branch) or else the target's. */
function refused(response: TxnResponse, leader: EntryRef): TransferRecord {
  const held = response.responses[0]?.response_range?.kvs[0];
  return held && BigInt(held.create_revision) === leader.token ? 'target-gone' : 'not-leader';
}
