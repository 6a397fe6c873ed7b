/**
 * Leadership transfer on etcd, the same in both modes (the service's keys are the recipe's keys):
 * one txn that deletes the leader's key and every key older than the target's, guarded by both
 * create revisions. The target then has no older key, so its ordinary predecessor wait (or the
 * service's Campaign) makes it leader.
 */
import type { EntryRef, TransferRecord } from '../../core/contract.js';
import { BackendUnavailableError } from '../../core/errors.js';
import type { EtcdClient } from '../../etcd/client.js';
import type { RequestOp } from '../../etcd/messages.js';
import { prefixEnd } from './keys.js';
import { ownedBy } from './fence.js';

/** Runs the transfer txn; see the TRANSFER section of contract.ts. */
export async function transferTxn(
  client: EtcdClient,
  prefix: string,
  leader: EntryRef,
  target: EntryRef,
): Promise<TransferRecord> {
  if (target.token <= leader.token) return 'target-gone';
  // Keys created after this read are newer than the target's, so this list is every key the txn
  // must delete; one deleted meanwhile makes its delete a no-op.
  const ahead = await client.range({
    key: Buffer.from(prefix),
    range_end: prefixEnd(prefix),
    sort_order: 'ASCEND',
    sort_target: 'CREATE',
    keys_only: true,
    max_create_revision: (target.token - 1n).toString(),
  });
  if (ahead.kvs[0]?.key.toString() !== leader.key) return 'not-leader';
  const deletes: RequestOp[] = ahead.kvs.map((kv) => ({ request_delete_range: { key: kv.key } }));
  let response;
  try {
    // Never resent: a lost reply to an applied txn would make the repeat fail its compares.
    response = await client.txn(
      {
        compare: [ownedBy(leader), ownedBy(target)],
        success: deletes,
        failure: [{ request_range: { key: Buffer.from(leader.key), keys_only: true } }],
      },
      { retry: false },
    );
  } catch (err) {
    if (!(err instanceof BackendUnavailableError)) throw err;
    throw new BackendUnavailableError(
      `transfer outcome unknown (it may or may not have been applied): ${err.message}`,
      { cause: err },
    );
  }
  if (response.succeeded) return 'transferred';
  const held = response.responses[0]?.response_range?.kvs[0];
  return held && BigInt(held.create_revision) === leader.token ? 'target-gone' : 'not-leader';
}
